//! `strongroom-mock-exchange`: the Binance spot REST subset over TLS with a
//! freshly generated dev CA. Dev-only; see the crate README.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use strongroom_devtools::binance::{Exchange, ExchangeConfig};
use strongroom_devtools::fixture::Fixture;
use strongroom_devtools::limiter::WeightBudget;
use strongroom_devtools::output::write_atomic;
use strongroom_devtools::server::{ServerLimits, run};
use strongroom_devtools::{generate, generate_large, tls};

/// Exit status for bad configuration (sysexits EX_USAGE).
const EXIT_CONFIG: u8 = 64;

#[derive(Parser, Debug)]
#[command(
    name = "strongroom-mock-exchange",
    about = "DEV ONLY: Binance spot REST subset over TLS with a generated dev CA"
)]
struct Args {
    /// Fixture file (DESIGN.md format) to serve.
    #[arg(long, required_unless_present = "generate_fixture")]
    fixture: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write the dev CA certificate (PEM).
    #[arg(long, required_unless_present = "generate_fixture")]
    ca_out: Option<PathBuf>,
    /// Names in the server certificate (DNS names or IPs).
    #[arg(long = "san", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
    sans: Vec<String>,
    /// Request weight allowed per window (Binance: 6000 per minute).
    #[arg(long, default_value_t = 6000)]
    weight_limit: u32,
    /// Weight window length in ms.
    #[arg(long, default_value_t = 60_000)]
    weight_window_ms: i64,
    /// 429s tolerated per window before answering 418 (0: never).
    #[arg(long, default_value_t = 0)]
    ban_after: u32,
    /// Weight each window starts with, as if other clients behind the same
    /// IP had used it (tests of a budget shared per egress address).
    #[arg(long, default_value_t = 0)]
    background_weight: u32,
    /// Exchange clock offset from this machine's clock, ms.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    clock_skew_ms: i64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    max_connections: usize,
    /// Write a generated fixture to this path and exit.
    #[arg(long)]
    generate_fixture: Option<PathBuf>,
    /// Trades in the generated fixture (default 12,000; with --large 120,000).
    #[arg(long)]
    trades: Option<usize>,
    /// Generate the large v2 fixture (hundreds of symbols, flows, snapshots,
    /// klines) instead of the two-symbol history.
    #[arg(long, requires = "generate_fixture")]
    large: bool,
    /// Generated assets (one market each) with --large.
    #[arg(long, default_value_t = 320, requires = "large")]
    symbols: usize,
    /// Seed of the generated fixture.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// With --large: append this many batches of future trades (the mock
    /// serves a trade only once its time has passed), batch k at
    /// generation time + k × --batch-every-secs.
    #[arg(long, default_value_t = 0, requires = "large")]
    future_batches: usize,
    /// Trades per future batch, spread over the symbols.
    #[arg(long, default_value_t = 100, requires = "large")]
    batch_trades: usize,
    /// Seconds between two future batches.
    #[arg(long, default_value_t = 10, requires = "large")]
    batch_every_secs: u64,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("strongroom-mock-exchange: {msg}");
    ExitCode::from(EXIT_CONFIG)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    if let Some(out) = &args.generate_fixture {
        let f = if args.large {
            let mut f = generate_large::generate_large(generate_large::LargeParams {
                symbols: args.symbols,
                trades: args.trades.unwrap_or(120_000),
                seed: args.seed,
            });
            let batches = generate_large::FutureBatches {
                batches: args.future_batches,
                batch_trades: args.batch_trades,
                every_ms: i64::try_from(args.batch_every_secs.saturating_mul(1000)).unwrap_or(0),
                start_ms: strongroom_devtools::server::now_ms(),
            };
            generate_large::append_future_batches(&mut f, batches, args.seed);
            f
        } else {
            generate::generate(args.trades.unwrap_or(12_000), args.seed)
        };
        return match serde_json::to_vec(&f)
            .map_err(std::io::Error::other)
            .and_then(|b| write_atomic(out, &b))
        {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => fail(format!("cannot write fixture: {e}")),
        };
    }
    let (Some(fixture_path), Some(ca_out)) = (&args.fixture, &args.ca_out) else {
        return fail("--fixture and --ca-out are required");
    };
    let fixture = match Fixture::load(fixture_path) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let config = ExchangeConfig {
        budget: WeightBudget {
            limit: args.weight_limit,
            window_ms: args.weight_window_ms,
            ban_after: args.ban_after,
            background: args.background_weight,
        },
        clock_skew_ms: args.clock_skew_ms,
    };
    let exchange = match Exchange::new(&fixture, config) {
        Ok(e) => Arc::new(e),
        Err(e) => return fail(e),
    };
    let dev = match tls::dev_tls(&args.sans) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let ca_path = match write_atomic(ca_out, dev.ca_pem.as_bytes()) {
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
    let line =
        serde_json::json!({"url": format!("https://{host}:{}", addr.port()), "ca_pem": ca_path});
    println!("{line}");
    tracing::warn!(%addr, "DEV mock exchange serving (not a real exchange)");
    let limits = ServerLimits {
        max_connections: args.max_connections,
        ..ServerLimits::default()
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(dev.server_config);
    run(listener, acceptor, exchange, limits, shutdown_signal()).await;
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
