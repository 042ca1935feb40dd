//! `strongroom-loadgen`: many tenants running the whole flow concurrently
//! against a local stack (`scripts/demo --serve`). Dev-only; see the crate
//! README.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::Parser;
use strongroom_devtools::loadgen::{self, Credential, Plan, Trust, tenants};
use strongroom_devtools::stack::Stack;
use strongroom_verifier::client::Client;
use strongroom_verifier::{PcrSet, TrustRoot};
use zeroize::Zeroizing;

/// Exit status for bad arguments (sysexits EX_USAGE).
const EXIT_USAGE: u8 = 64;

#[derive(Parser)]
#[command(
    name = "strongroom-loadgen",
    about = "DEV ONLY: concurrent tenants looping quote -> verify+seal -> submit -> aggregates -> revoke against a local stack"
)]
struct Args {
    /// stack.json written by `scripts/demo --serve`.
    #[arg(long, default_value = "target/strongroom-dev/stack.json")]
    stack: PathBuf,
    /// Tenants to create (0: use the stack's own tenant only).
    #[arg(long, default_value_t = 4)]
    tenants: usize,
    /// Run time, seconds.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Worker threads (concurrent flows).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Stop after this many iterations even before the time is up.
    #[arg(long)]
    max_iterations: Option<u64>,
    /// Write the JSON report here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Skip attestation verification of quotes (seal to the quoted key as is).
    #[arg(long)]
    no_verify: bool,
    /// Skip request_aggregates (quote, submit and revoke only).
    #[arg(long)]
    no_aggregates: bool,
    /// Exchange credential sealed by every iteration (fixture account).
    #[arg(long, default_value = "demo-api-key")]
    exchange_key: String,
    /// Its secret (dev fixture data, not a real secret).
    #[arg(long, default_value = "demo-api-secret")]
    exchange_secret: String,
    /// Symbols to request (repeatable; default: the enclave discovers them).
    #[arg(long = "symbol")]
    symbols: Vec<String>,
    /// The host binary used to create tenants (default: next to this one).
    #[arg(long)]
    host_bin: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.concurrency == 0
        || args.concurrency > loadgen::MAX_CONCURRENCY
        || args.duration == 0
        || args.duration > loadgen::MAX_DURATION_SECS
    {
        eprintln!(
            "strongroom-loadgen: --concurrency must be 1..={} and --duration 1..={}",
            loadgen::MAX_CONCURRENCY,
            loadgen::MAX_DURATION_SECS
        );
        return ExitCode::from(EXIT_USAGE);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strongroom-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let stack = Stack::load(&args.stack)?;
    let keys = tenant_keys(args, &stack)?;
    // No call outlives the run by more than the grace.
    let call_timeout = Duration::from_secs(args.duration) + loadgen::GRACE;
    let clients = keys
        .iter()
        .map(|k| Ok(Client::new(&stack.host_url, k)?.with_timeout(call_timeout)))
        .collect::<Result<Vec<_>, strongroom_verifier::ClientError>>()?;
    let trust = if args.no_verify {
        None
    } else {
        let pem = std::fs::read_to_string(&stack.dev_root_pem)?;
        let pcrs = stack
            .pcrs_json
            .as_deref()
            .map(PcrSet::from_file)
            .transpose()?;
        Some(Trust {
            root: TrustRoot::dev_from_pem(&pem)?,
            pcrs,
        })
    };
    let plan = Plan {
        clients,
        trust,
        credential: Credential {
            api_key: Zeroizing::new(args.exchange_key.clone()),
            api_secret: Zeroizing::new(args.exchange_secret.clone()),
            ttl: 3600,
            symbols: (!args.symbols.is_empty()).then(|| args.symbols.clone()),
        },
        concurrency: args.concurrency,
        duration: Duration::from_secs(args.duration),
        max_iterations: args.max_iterations,
        with_aggregates: !args.no_aggregates,
        progress: (!args.quiet).then_some(Duration::from_secs(1)),
    };
    let outcome = loadgen::run(plan);
    let mut report = outcome
        .recorder
        .report(config_json(args, keys.len()), outcome.elapsed);
    report.abandoned_in_flight = outcome.abandoned;
    print!("{}", report.to_markdown());
    if let Some(path) = &args.report {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
        eprintln!("report written to {}", path.display());
    }
    Ok(())
}

fn tenant_keys(
    args: &Args,
    stack: &Stack,
) -> Result<Vec<Zeroizing<String>>, Box<dyn std::error::Error>> {
    if args.tenants == 0 {
        return Ok(vec![Zeroizing::new(stack.api_key.clone())]);
    }
    let host_bin = match &args.host_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("strongroom-host"),
    };
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let prefix = format!("loadgen-{stamp}-{}", std::process::id());
    eprintln!("creating {} tenants ({prefix}-*)", args.tenants);
    Ok(tenants::create(
        &host_bin,
        &stack.database_url,
        &prefix,
        args.tenants,
    )?)
}

fn config_json(args: &Args, tenants: usize) -> serde_json::Value {
    serde_json::json!({
        "stack": args.stack,
        "tenants": tenants,
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "max_iterations": args.max_iterations,
        "verify": !args.no_verify,
        "aggregates": !args.no_aggregates,
        "symbols": args.symbols,
    })
}
