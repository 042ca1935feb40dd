//! `strongroom-kms-double`: DEV ONLY local AWS KMS test double (see
//! `strongroom_devtools::kms_double`). Prints one JSON line
//! `{"url", "ca_pem", "key_id", "region"}` on stdout once listening.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use strongroom_devtools::kms_double::server::run;
use strongroom_devtools::kms_double::service::KmsDouble;
use strongroom_devtools::kms_double::sigv4::Verifier;
use strongroom_devtools::output::write_atomic;
use strongroom_devtools::tls;
use strongroom_verifier::{PcrSet, Policy, TrustRoot};

/// Exit status for bad configuration (sysexits EX_USAGE).
const EXIT_CONFIG: u8 = 64;

#[derive(Parser, Debug)]
#[command(
    name = "strongroom-kms-double",
    about = "DEV ONLY: local AWS KMS test double (SigV4, Recipient attestation, CMS answers)"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// pcrs.json the Recipient's PCRs must match (repeatable: any one).
    #[arg(long, required = true)]
    policy: Vec<PathBuf>,
    /// DEV: trust this root (PEM) for Recipient attestation documents.
    #[arg(long)]
    trust_dev_root: PathBuf,
    /// Read --trust-dev-root and --policy on the first request that needs
    /// them instead of at start (they may not exist yet: the first dev
    /// enclave writes them).
    #[arg(long)]
    lazy_trust: bool,
    /// The KMS key id served (also answers to its ARN).
    #[arg(long)]
    key_id: String,
    /// SigV4 region.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Access key id accepted.
    #[arg(long, default_value = "AKIDSTRONGROOMDEV")]
    access_key: String,
    /// Its secret.
    #[arg(long, default_value = "strongroom-dev-secret-not-for-production")]
    secret: String,
    /// Where to write the dev CA certificate (PEM); default: a file in the temp dir.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// Names in the server certificate.
    #[arg(long = "san", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
    sans: Vec<String>,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("strongroom-kms-double: {msg}");
    ExitCode::from(EXIT_CONFIG)
}

fn load_trust(policies: &[PathBuf], root: &Path) -> Result<(TrustRoot, Policy), String> {
    let mut policy = Policy::default();
    for p in policies {
        policy = policy.allow_pcrs(PcrSet::from_file(p).map_err(|e| e.to_string())?);
    }
    let pem = std::fs::read_to_string(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let root = TrustRoot::dev_from_pem(&pem).map_err(|e| e.to_string())?;
    Ok((root, policy))
}

fn build(args: &Args) -> Result<KmsDouble, String> {
    let verifier = Verifier {
        access_key: args.access_key.clone(),
        secret: args.secret.clone(),
        region: args.region.clone(),
    };
    if args.lazy_trust {
        let (policies, root) = (args.policy.clone(), args.trust_dev_root.clone());
        let load = Box::new(move || load_trust(&policies, &root));
        return KmsDouble::new_lazy(verifier, args.key_id.clone(), load).map_err(|e| e.to_string());
    }
    let (root, policy) = load_trust(&args.policy, &args.trust_dev_root)?;
    KmsDouble::new(verifier, args.key_id.clone(), root, policy).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let kms = match build(&args) {
        Ok(k) => Arc::new(k),
        Err(e) => return fail(e),
    };
    let dev = match tls::dev_tls(&args.sans) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let ca_out = args.ca_out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "strongroom-kms-double-{}.ca.pem",
            std::process::id()
        ))
    });
    let ca_path = match write_atomic(&ca_out, dev.ca_pem.as_bytes()) {
        Ok(p) => p,
        Err(e) => return fail(format!("cannot write {}: {e}", ca_out.display())),
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {}: {e}", args.listen)),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let line = serde_json::json!({"url": format!("https://{host}:{}", addr.port()), "ca_pem": ca_path,
        "key_id": kms.key_id, "arn": kms.arn(), "region": args.region});
    println!("{line}");
    tracing::warn!(%addr, "DEV KMS double serving (not AWS KMS; trusts the simulator's dev root)");
    let acceptor = tokio_rustls::TlsAcceptor::from(dev.server_config);
    run(listener, acceptor, kms, shutdown_signal()).await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
