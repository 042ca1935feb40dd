//! `strongroom-witness`: `serve` (configuration from the environment, see
//! README.md), `keygen --name NAME --out FILE`, `vkey` (print the verifier
//! key of the configured key).

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use strongroom_formats::c2sp::cosignature::CosignatureSigner;
use strongroom_witness::config::{Config, read_logs, read_seed};
use strongroom_witness::server::{self, Witness};
use strongroom_witness::store;
use zeroize::Zeroizing;

/// Exit status for bad configuration (EX_USAGE), before any port is bound.
const EXIT_CONFIG: u8 = 64;

#[derive(Parser, Debug)]
#[command(
    name = "strongroom-witness",
    version,
    about = "A C2SP tlog-witness (cosignature/v1)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve add-checkpoint (WITNESS_NAME, WITNESS_KEY_FILE, WITNESS_LOGS_FILE, DATABASE_URL, WITNESS_LISTEN, WITNESS_RATE_PER_SEC).
    Serve,
    /// Create a new witness key (hex seed, mode 0600; never overwrites) and print its verifier key.
    Keygen {
        /// The witness's key name, e.g. witness.example.org/w1.
        #[arg(long)]
        name: String,
        /// Where to write the key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the verifier key of WITNESS_NAME and WITNESS_KEY_FILE.
    Vkey,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => serve(),
        Command::Keygen { name, out } => keygen(&name, &out),
        Command::Vkey => vkey(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("strongroom-witness: {message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

fn signer(name: &str, seed: &[u8; 32]) -> Result<CosignatureSigner, Failure> {
    CosignatureSigner::from_seed(name, seed)
        .map_err(|e| (EXIT_CONFIG, format!("WITNESS_NAME: {e}")))
}

fn keygen(name: &str, out: &PathBuf) -> Result<(), Failure> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| (1, format!("no randomness: {e}")))?;
    let s = signer(name, &seed)?;
    let vkey = s.verifier_key().map_err(|e| (1, e.to_string()))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| (1, format!("{}: {e}", out.display())))?;
    let text = Zeroizing::new(format!("{}\n", hex::encode(seed.as_ref())));
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| (1, format!("{}: {e}", out.display())))?;
    println!("{vkey}");
    Ok(())
}

fn vkey() -> Result<(), Failure> {
    let name = std::env::var("WITNESS_NAME")
        .map_err(|_| (EXIT_CONFIG, "WITNESS_NAME: is required".to_owned()))?;
    let path = std::env::var("WITNESS_KEY_FILE")
        .map_err(|_| (EXIT_CONFIG, "WITNESS_KEY_FILE: is required".to_owned()))?;
    let seed = read_seed(&PathBuf::from(path)).map_err(|e| (EXIT_CONFIG, e.to_string()))?;
    let vkey = signer(&name, &seed)?
        .verifier_key()
        .map_err(|e| (1, e.to_string()))?;
    println!("{vkey}");
    Ok(())
}

fn serve() -> Result<(), Failure> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg =
        Config::from_source(|k| std::env::var(k).ok()).map_err(|e| (EXIT_CONFIG, e.to_string()))?;
    let signer = signer(&cfg.name, &cfg.seed)?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| (1, e.to_string()))?;
    rt.block_on(async move {
        let pool = store::open(&cfg.database_url)
            .await
            .map_err(|e| (1, format!("{e}: {:?}", e.0)))?;
        let witness = Witness::new(signer, cfg.logs, pool, cfg.rate_per_sec)
            .map_err(|e| (1, e.to_string()))?;
        let witness = Arc::new(witness);
        reload_on_hangup(witness.clone(), cfg.logs_file.clone())?;
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| (1, format!("cannot listen on {}: {e}", cfg.listen)))?;
        let addr = listener.local_addr().map_err(|e| (1, e.to_string()))?;
        println!("listening on http://{addr}");
        let _ = std::io::stdout().flush();
        server::run(listener, witness, shutdown()).await;
        Ok(())
    })
}

/// Re-reads the logs file on every SIGHUP (a bad file is logged and the
/// logs followed so far are kept).
fn reload_on_hangup(witness: Arc<Witness>, path: PathBuf) -> Result<(), Failure> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).map_err(|e| (1, format!("SIGHUP: {e}")))?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match read_logs(&path) {
                Ok(logs) => {
                    tracing::info!(logs = logs.len(), "logs file re-read");
                    witness.set_logs(logs);
                }
                Err(e) => tracing::error!(error = %e, "logs file not re-read; keeping the old one"),
            }
        }
    });
    Ok(())
}

/// SIGTERM or SIGINT.
async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutting down");
}
