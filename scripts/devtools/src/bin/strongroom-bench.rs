//! `strongroom-bench`: the measurements of `scripts/bench`. Each subcommand
//! repeats one measurement and prints its figures as a JSON array on
//! stdout; `report` merges them with the machine description into
//! `target/bench/report.json` and prints the table. Dev-only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use strongroom_devtools::bench::figure::{Figure, Goal};
use strongroom_devtools::bench::figures::{
    BoxError, attest_figures, latency_figures, report, rpc_figures, rss_figures, submit_figure,
    tiles_figure,
};
use strongroom_devtools::bench::{aggregate, attest, profile, returns, track_record};
use strongroom_devtools::stack::Stack;

#[derive(Parser)]
#[command(
    name = "strongroom-bench",
    about = "DEV ONLY: Strongroom figures next to their ceilings"
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// submit_key end to end vs min(HPKE open on one core, durable INSERTs).
    Submit {
        #[arg(long)]
        stack: PathBuf,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Credentials submitted per run.
        #[arg(long, default_value_t = 2000)]
        count: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Seconds of each ceiling measurement.
        #[arg(long, default_value_t = 3.0)]
        ceiling_secs: f64,
    },
    /// One submit_key burst recorded system-wide by `perf record -a -g`
    /// (root; Debian package linux-perf); prints the burst as JSON.
    Profile {
        #[arg(long)]
        stack: PathBuf,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Credentials submitted (sealed before perf starts).
        #[arg(long, default_value_t = 6000)]
        count: usize,
        /// Where perf writes its data.
        #[arg(long)]
        perf_data: PathBuf,
        /// Samples per second per CPU.
        #[arg(long, default_value_t = 999)]
        frequency: u32,
    },
    /// Enclave RPC vs echo, from `cargo bench -p strongroom-protocol --bench rpc -- --json` outputs.
    Rpc { files: Vec<PathBuf> },
    /// Exact-decimal aggregation vs the f64 floor.
    Aggregate {
        #[arg(long, default_value_t = 1_000_000)]
        trades: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The returns block over ten years of daily equity (series
    /// construction + metrics), against 10 ms.
    Returns {
        #[arg(long, default_value_t = 3_650)]
        days: usize,
        #[arg(long, default_value_t = 50)]
        assets: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// request_aggregates latency on the generated fixture's account.
    AggregatesLatency {
        #[arg(long)]
        stack: PathBuf,
        /// Requests per round (one session per round).
        #[arg(long, default_value_t = 8)]
        requests: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Trades in the fixture (checked in the first answer of each round).
        #[arg(long)]
        expect_trades: Option<u64>,
        /// Sleep this long after every `pause_every` rounds (the mock's weight window).
        #[arg(long, default_value_t = 0)]
        pause_secs: u64,
        #[arg(long, default_value_t = 3)]
        pause_every: usize,
    },
    /// Tiles served per second (`/tile/0/000[.p/W]`) vs `/healthz`; needs a non-empty log.
    Tiles {
        #[arg(long)]
        stack: PathBuf,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Seconds of each measurement.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
    /// The host's mean witness round vs the mean request_aggregates, from /metrics.
    Witnessing {
        #[arg(long)]
        stack: PathBuf,
    },
    /// Attestation verification vs attestation-doc-validation.
    Attest {
        #[arg(long)]
        doc: PathBuf,
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Samples process RSS under load (the soak) against a growth bound.
    Rss {
        /// NAME=PID, repeatable.
        #[arg(long = "pid")]
        pids: Vec<String>,
        #[arg(long, default_value_t = 5)]
        interval: u64,
        #[arg(long, default_value_t = 600)]
        duration: u64,
        /// Growth is measured from the first sample after this many seconds.
        #[arg(long, default_value_t = 60)]
        warmup: u64,
        /// Allowed growth after the warm-up, MiB.
        #[arg(long, default_value_t = 64)]
        bound_mib: u64,
        /// Write every sample here.
        #[arg(long)]
        samples: Option<PathBuf>,
    },
    /// Issue 18's track record: the first computation of a 300-symbol,
    /// 100,000-trade account under Binance's limits, refreshes after 100
    /// new trades (limits raised), the enclave's peak memory. Starts its own
    /// stacks (STRONGROOM_BIN_DIR: the built binaries; DATABASE_URL or
    /// scripts/pg: PostgreSQL).
    TrackRecord {
        #[arg(long, default_value_t = 300)]
        symbols: usize,
        #[arg(long, default_value_t = 100_000)]
        trades: usize,
        /// Timed refreshes.
        #[arg(long, default_value_t = 7)]
        refreshes: usize,
        /// New trades before each refresh.
        #[arg(long, default_value_t = 100)]
        batch_trades: usize,
        /// Seconds between two batches of new trades.
        #[arg(long, default_value_t = 10)]
        batch_every_secs: u64,
        /// Exchange and enclave weight limit for the refreshes.
        #[arg(long, default_value_t = 1_000_000)]
        raised_limit: u32,
        /// Where the generated fixtures go.
        #[arg(long, default_value = "target/bench")]
        work_dir: PathBuf,
        /// Only the refreshes (and memory), not the first computation.
        #[arg(long)]
        skip_first: bool,
    },
    /// Prints the document's timestamp as `YYYY-MM-DD HH:MM:SS` (UTC), for faketime.
    DocTime { doc: PathBuf },
    /// Merges figure files into the report and prints the table.
    Report {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "full")]
        mode: String,
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Args::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strongroom-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print(figures: &[Figure]) -> Result<(), BoxError> {
    println!("{}", serde_json::to_string(figures)?);
    Ok(())
}

fn run(cmd: Cmd) -> Result<(), BoxError> {
    match cmd {
        Cmd::Submit {
            stack,
            concurrency,
            count,
            runs,
            ceiling_secs,
        } => print(&submit_figure(
            &Stack::load(&stack)?,
            concurrency,
            count,
            runs,
            ceiling_secs,
        )?),
        Cmd::Profile {
            stack,
            concurrency,
            count,
            perf_data,
            frequency,
        } => {
            let burst = profile::profile_submit(
                &Stack::load(&stack)?,
                concurrency,
                count,
                &perf_data,
                frequency,
            )?;
            println!("{}", serde_json::to_string(&burst)?);
            Ok(())
        }
        Cmd::Rpc { files } => print(&rpc_figures(&files)?),
        Cmd::Aggregate { trades, runs } => {
            let (exact, floor) = aggregate::rates(trades, runs)?;
            let note = format!(
                "{trades} generated trades, 3 symbols; ceiling = the same ordered FIFO loop in f64"
            );
            let mut f = Figure::from_runs(
                "aggregate_exact_decimal",
                "trades/s",
                &exact,
                &floor,
                Goal::AtLeast(5e6),
                note,
            );
            f.goal = format!("{} (ratio to f64 floor reported)", f.goal);
            print(&[f])
        }
        Cmd::Returns { days, assets, runs } => {
            let (metrics, rebuild) = returns::times_ms(days, assets, runs)?;
            print(&[
                Figure::from_runs(
                    "returns_metrics_ten_years",
                    "ms",
                    &metrics,
                    &[],
                    Goal::AtMost(10.0),
                    format!(
                        "strongroom_formats::returns::compute over {days} daily entries \
                         (each day's equity already valued once, in its daily snapshot), \
                         exact decimals, one core"
                    ),
                ),
                Figure::from_runs(
                    "returns_rebuild_ten_years",
                    "ms",
                    &rebuild,
                    &[],
                    Goal::None,
                    format!(
                        "worst case: value {assets} assets (1 in 8 via BTC) on each of {days} \
                         days from raw snapshots and closes, with flows \
                         (strongroom_enclave_core::equity::build), then compute"
                    ),
                ),
            ])
        }
        Cmd::AggregatesLatency {
            stack,
            requests,
            rounds,
            expect_trades,
            pause_secs,
            pause_every,
        } => {
            let stack = Stack::load(&stack)?;
            print(&latency_figures(
                &stack,
                requests,
                rounds,
                expect_trades,
                pause_secs,
                pause_every,
            )?)
        }
        Cmd::Tiles {
            stack,
            concurrency,
            runs,
            seconds,
        } => print(&tiles_figure(
            &Stack::load(&stack)?,
            concurrency,
            runs,
            seconds,
        )?),
        Cmd::Witnessing { stack } => print(
            &strongroom_devtools::bench::witnessing::witnessing_figure(&Stack::load(&stack)?)?,
        ),
        Cmd::Attest { doc, seconds, runs } => {
            let bytes = std::fs::read(&doc)?;
            let name = doc
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            print(&attest_figures(&bytes, &name, seconds, runs)?)
        }
        Cmd::DocTime { doc } => {
            let t = attest::doc_time(&std::fs::read(doc)?)?;
            let secs = t.duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
            let dt = time::OffsetDateTime::from_unix_timestamp(secs)?;
            println!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            );
            Ok(())
        }
        Cmd::Report { out, mode, files } => report(&out, &mode, &files),
        Cmd::TrackRecord {
            symbols,
            trades,
            refreshes,
            batch_trades,
            batch_every_secs,
            raised_limit,
            work_dir,
            skip_first,
        } => print(&track_record::track_record_figures(&track_record::Opts {
            symbols,
            trades,
            refreshes,
            batch_trades,
            batch_every_secs,
            raised_limit,
            work_dir,
            skip_first,
        })?),
        Cmd::Rss {
            pids,
            interval,
            duration,
            warmup,
            bound_mib,
            samples,
        } => print(&rss_figures(
            &pids,
            interval,
            duration,
            warmup,
            bound_mib,
            samples.as_deref(),
        )?),
    }
}
