//! The track-record figures of issue 18 (`strongroom-bench track-record`):
//! the first computation of an account with 100,000 trades over 300
//! symbols on the local mock exchange under Binance's published limits
//! (wall time, exchange weight, the busiest exchange minute), refreshes
//! after 100 new trades (p50), and the enclave's memory during both.
//!
//! Each part runs on a stack of its own (`strongroom_testkit::Stack`: mock
//! exchange, simulator enclave, host, PostgreSQL). The refreshes run with
//! the exchange's and the enclave's weight limits raised: on Binance a
//! complete refresh of 300 symbols is one myTrades call per symbol, 300 × 20
//! = 6,000 weight, a whole minute's budget, so under the real limit every
//! refresh would wait for the next minute.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use strongroom_testkit::seal::submission;
use strongroom_testkit::{Stack as KitStack, StackOpts};
use strongroom_verifier::client::{AggregatesRequest, Client, JobProgress};
use strongroom_verifier::{parse_answer, verify_result};

use super::figure::{Figure, Goal};
use super::figures::BoxError;
use super::submit::trust;
use crate::generate_large::{
    FutureBatches, LARGE_API_KEY, LARGE_API_SECRET, LargeParams, append_future_batches,
    generate_large,
};
use crate::stack::Stack;

/// Binance's `/api` request weight per minute (and the mock's default).
pub const BINANCE_WEIGHT_PER_MINUTE: f64 = 6_000.0;
/// The enclave's memory budget per computation (README "Limits": about
/// 450 MiB per computation at worst in a 2 GiB enclave,
/// `infra/allocator.yaml` `memory_mib: 2048`).
pub const ENCLAVE_BUDGET_MIB: f64 = 450.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Generated assets (one market each, plus BTCUSDT).
    pub symbols: usize,
    /// Trades of the account before any refresh.
    pub trades: usize,
    /// Timed refreshes.
    pub refreshes: usize,
    /// New trades per refresh.
    pub batch_trades: usize,
    /// Seconds between two batches of new trades.
    pub batch_every_secs: u64,
    /// Weight limit of the mock and the enclave during the refreshes.
    pub raised_limit: u32,
    /// Where the fixtures go.
    pub work_dir: PathBuf,
    /// Skip the first computation (only the refreshes and memory).
    pub skip_first: bool,
}

/// One request the mock exchange logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub path: String,
    pub status: u16,
    /// `X-MBX-USED-WEIGHT-1M` after it: the weight of the current minute.
    pub used_weight: Option<u32>,
    /// The request's own weight.
    pub weight: u32,
}

/// The mock's `request` lines (ANSI colours stripped).
pub fn logged_requests(log: &str) -> Vec<LoggedRequest> {
    strip_ansi(log)
        .lines()
        .filter(|l| l.contains(" request") && l.contains("path="))
        .filter_map(|l| {
            let mut r = LoggedRequest {
                path: String::new(),
                status: 0,
                used_weight: None,
                weight: 0,
            };
            for tok in l.split_whitespace() {
                let Some((k, v)) = tok.split_once('=') else {
                    continue;
                };
                let v = v.trim_matches('"');
                match k {
                    "path" => r.path = v.to_owned(),
                    "status" => r.status = v.parse().ok()?,
                    "used_weight" => r.used_weight = v.parse().ok(),
                    "weight" => r.weight = v.parse().unwrap_or(0),
                    _ => {}
                }
            }
            (!r.path.is_empty()).then_some(r)
        })
        .collect()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What the exchange saw of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WeightSpent {
    /// Requests answered (not refused).
    pub requests: u64,
    /// Their weight, summed.
    pub weight: u64,
    /// The largest minute weight the exchange reported.
    pub peak_minute: u32,
    /// Exchange minutes with requests in them (the count restarts when the
    /// reported minute weight drops).
    pub minutes: u32,
    /// 429/418 answers.
    pub refused: u64,
}

/// Sums `/api` requests (the budget of 6,000 a minute; `/sapi` endpoints
/// have budgets of their own).
pub fn weight_spent(reqs: &[LoggedRequest]) -> WeightSpent {
    let mut w = WeightSpent::default();
    let mut last: Option<u32> = None;
    for r in reqs.iter().filter(|r| r.path.starts_with("/api/")) {
        if r.status == 429 || r.status == 418 {
            w.refused += 1;
            continue;
        }
        w.requests += 1;
        w.weight += u64::from(r.weight);
        if let Some(u) = r.used_weight {
            w.peak_minute = w.peak_minute.max(u);
            if last.is_none_or(|l| u < l) {
                w.minutes += 1;
            }
            last = Some(u);
        }
    }
    w
}

/// Samples a process's VmRSS in the background; `stop` gives the largest
/// sample and the kernel's high-water mark (VmHWM), KiB.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
    pid: u32,
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(status_kib(pid, "VmRSS:").unwrap_or(0));
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        Self { stop, thread, pid }
    }

    fn stop(self) -> (f64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        let sampled = self.thread.join().unwrap_or(0);
        let hwm = status_kib(self.pid, "VmHWM:").unwrap_or(0);
        (sampled as f64 / 1024.0, hwm as f64 / 1024.0)
    }
}

/// A stack on `fixture`, the large account's credential submitted (v2,
/// the open policy: any window, no interval); (stack, its description,
/// session id).
fn start(
    rt: &tokio::runtime::Runtime,
    fixture: &Path,
    mock_args: Vec<String>,
    enclave_args: Vec<String>,
) -> Result<(KitStack, Stack, String), BoxError> {
    let opts = StackOpts {
        fixture: Some(fixture.to_owned()),
        mock_args,
        enclave_args,
        // The computation may take minutes (a job): the host must not cut it.
        host_env: vec![
            ("AGGREGATES_TIMEOUT_MS".into(), "3600000".into()),
            ("REQUEST_TIMEOUT_MS".into(), "600000".into()),
        ],
        ..StackOpts::default()
    };
    let kit = rt.block_on(KitStack::start(opts));
    let desc = Stack::load(&kit.write_description())?;
    let session = rt.block_on(async {
        let c = kit.client();
        let q = c.quote().await?;
        if q.status != 200 {
            return Err(format!("quote answered {}", q.status));
        }
        let body = submission(&q.json(), LARGE_API_KEY, LARGE_API_SECRET, "track-record");
        let r = c.submit(&body).await?;
        if r.status != 201 {
            return Err(format!("submit answered {}", r.status));
        }
        r.json()["session_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no session_id".to_owned())
    })?;
    Ok((kit, desc, session))
}

/// One computation, followed to its end: (answer bytes, the largest
/// progress reported, seconds).
fn compute(
    client: &Client,
    session: &str,
) -> Result<(Vec<u8>, Option<JobProgress>, f64), BoxError> {
    let body = AggregatesRequest {
        session_id: session.to_owned(),
        from: None,
        to: None,
        symbols: None,
        owner_authorization: None,
    };
    let mut last: Option<JobProgress> = None;
    let t = Instant::now();
    let raw = client.request_aggregates_follow(&body, |p| {
        eprintln!(
            "  job: {}/{} symbols, weight {} ({:.0} s)",
            p.symbols_done,
            p.symbols_total,
            p.weight_used,
            t.elapsed().as_secs_f64()
        );
        last = Some(p.clone());
    })?;
    Ok((raw, last, t.elapsed().as_secs_f64()))
}

/// The verified answer's (symbols, selection.complete, trades).
fn check(raw: &[u8], stack: &Stack) -> Result<(usize, bool, u64), BoxError> {
    let (root, policy) = trust(stack)?;
    let answer = parse_answer(raw)?;
    verify_result(&answer, &root, &policy)?;
    let a = &answer.aggregates;
    let symbols = a["symbols"].as_object().map_or(0, serde_json::Map::len);
    let trades = a["symbols"]
        .as_object()
        .map(|m| m.values().filter_map(|s| s["trade_count"].as_u64()).sum())
        .unwrap_or(0);
    Ok((
        symbols,
        a["selection"]["complete"] == Value::Bool(true),
        trades,
    ))
}

fn write_fixture(path: &Path, f: &crate::fixture::Fixture) -> Result<(), BoxError> {
    std::fs::write(path, serde_json::to_vec(f)?)?;
    Ok(())
}

fn mock_log(kit: &KitStack) -> Vec<LoggedRequest> {
    logged_requests(&std::fs::read_to_string(&kit.mock.log).unwrap_or_default())
}

/// The first computation under Binance's limits.
fn first_computation(
    rt: &tokio::runtime::Runtime,
    o: &Opts,
    params: LargeParams,
) -> Result<(Vec<Figure>, f64), BoxError> {
    let fixture = o.work_dir.join("track-record-first.json");
    write_fixture(&fixture, &generate_large(params))?;
    let (kit, stack, session) = start(rt, &fixture, vec![], vec![])?;
    let client =
        Client::new(&stack.host_url, &stack.api_key)?.with_timeout(Duration::from_secs(3600));
    let rss = RssSampler::start(kit.enclave_pid());
    eprintln!(
        "first computation: {} trades over {} symbols, Binance's limits",
        o.trades,
        o.symbols + 1
    );
    let outcome = compute(&client, &session);
    let (rss_sampled, rss_hwm) = rss.stop();
    let spent = weight_spent(&mock_log(&kit));
    let names = [
        "track_record_first_computation_time",
        "track_record_first_computation_weight",
        "track_record_first_computation_peak_minute_weight",
    ];
    let (raw, progress, secs) = match outcome {
        Ok(x) => x,
        Err(e) => {
            let why = format!(
                "first computation failed: {e}; the mock served {} /api requests, weight {}, \
                 peak minute {}, {} refused",
                spent.requests, spent.weight, spent.peak_minute, spent.refused
            );
            eprintln!("{why}{}", kit.logs_tail());
            return Ok((
                vec![
                    Figure::unmeasured(names[0], "s", "(reported)", why.clone()),
                    Figure::unmeasured(names[1], "weight", "(reported)", why.clone()),
                    Figure::unmeasured(names[2], "weight", "ratio <= 1", why),
                ],
                rss_hwm.max(rss_sampled),
            ));
        }
    };
    let want_symbols = o.symbols + 1;
    let mut problems = Vec::new();
    let (symbols, complete, trades) = check(&raw, &stack).unwrap_or_else(|e| {
        problems.push(format!("the answer does not verify: {e}"));
        (0, false, 0)
    });
    if symbols < want_symbols || !complete {
        problems.push(format!(
            "{symbols} symbols (selection.complete {complete}), the fixture has {want_symbols}"
        ));
    }
    if trades != o.trades as u64 {
        problems.push(format!("{trades} trades, the fixture has {}", o.trades));
    }
    let job_weight = progress
        .as_ref()
        .map_or("no job (answered 200)".to_owned(), |p| {
            format!("{} by the job's progress", p.weight_used)
        });
    let mut note = format!(
        "{trades} trades over {symbols} symbols (selection.complete {complete}), \
         credential v2 with symbol discovery, mock exchange at Binance's 6,000/min and the \
         enclave's default limit and margin; {secs:.1} s wall ({} exchange minutes with \
         requests); weight {job_weight}, {} summed over the {} /api requests the mock \
         served ({} refused); enclave RSS peak {rss_hwm:.0} MiB",
        spent.minutes, spent.weight, spent.requests, spent.refused
    );
    if !problems.is_empty() {
        note = format!("WRONG ANSWER: {}; {note}", problems.join("; "));
    }
    eprintln!("first computation: {note}");
    let ok = problems.is_empty();
    let mut figs = vec![
        Figure::from_runs(names[0], "s", &[secs], &[], Goal::None, note),
        Figure::from_runs(
            names[1],
            "weight",
            &[spent.weight as f64],
            &[],
            Goal::None,
            "the mock's own count (request weights as Binance documents them)".into(),
        ),
        Figure::from_runs(
            names[2],
            "weight",
            &[f64::from(spent.peak_minute)],
            &[BINANCE_WEIGHT_PER_MINUTE],
            Goal::RatioAtMost(1.0),
            "largest X-MBX-USED-WEIGHT-1M the mock answered; ceiling = Binance's 6,000 a minute"
                .into(),
        ),
    ];
    if !ok {
        for f in &mut figs {
            f.met = false;
        }
    }
    drop(kit);
    Ok((figs, rss_hwm.max(rss_sampled)))
}

/// Refreshes after `batch_trades` new trades, limits raised.
fn refreshes(
    rt: &tokio::runtime::Runtime,
    o: &Opts,
    params: LargeParams,
) -> Result<(Vec<Figure>, f64), BoxError> {
    let every_ms = i64::try_from(o.batch_every_secs * 1000)?;
    // Batches for half an hour (covers the stack's start and the first,
    // full computation): each refresh waits for the next one to appear.
    let batches = usize::try_from(1800 / o.batch_every_secs.max(1))?.max(o.refreshes + 2);
    let start_ms = crate::server::now_ms();
    let mut f = generate_large(params);
    append_future_batches(
        &mut f,
        FutureBatches {
            batches,
            batch_trades: o.batch_trades,
            every_ms,
            start_ms,
        },
        params.seed,
    );
    let fixture = o.work_dir.join("track-record-refresh.json");
    write_fixture(&fixture, &f)?;
    drop(f);
    let limit = o.raised_limit.to_string();
    let (kit, stack, session) = start(
        rt,
        &fixture,
        vec!["--weight-limit".into(), limit.clone()],
        vec!["--exchange-weight-limit".into(), limit],
    )?;
    let client =
        Client::new(&stack.host_url, &stack.api_key)?.with_timeout(Duration::from_secs(3600));
    eprintln!("refreshes: first a full computation with the limits raised");
    let (_, _, warm_secs) = compute(&client, &session)?;
    let appeared = |now: i64| usize::try_from((now - start_ms) / every_ms).unwrap_or(0);
    let rss = RssSampler::start(kit.enclave_pid());
    let (mut times, mut weights, mut problems) = (vec![], vec![], vec![]);
    for i in 0..o.refreshes {
        // Wait for the next batch (and a little: the mock's clock is ours).
        let k = appeared(crate::server::now_ms()) + 1;
        if k > batches {
            return Err("ran out of planted batches".into());
        }
        let due = start_ms + i64::try_from(k)? * every_ms + 200;
        let wait = due - crate::server::now_ms();
        if wait > 0 {
            std::thread::sleep(Duration::from_millis(u64::try_from(wait)?));
        }
        let before = mock_log(&kit).len();
        let (raw, progress, secs) = compute(&client, &session)?;
        let after = mock_log(&kit);
        let spent = weight_spent(&after[before.min(after.len())..]);
        let (symbols, complete, trades) = check(&raw, &stack)?;
        let want = (o.trades + k * o.batch_trades) as u64;
        if trades != want || !complete {
            problems.push(format!(
                "refresh {i}: {trades} trades (want {want}), {symbols} symbols, complete {complete}"
            ));
        }
        eprintln!(
            "refresh {i}: {:.0} ms, batch {k}, {trades} trades, weight {} ({} requests){}",
            secs * 1e3,
            spent.weight,
            spent.requests,
            if progress.is_some() {
                ", via a job"
            } else {
                ""
            }
        );
        times.push(secs * 1e3);
        weights.push(spent.weight as f64);
    }
    let (rss_sampled, rss_hwm) = rss.stop();
    let max = times.iter().copied().fold(0.0, f64::max);
    let mean_w = weights.iter().sum::<f64>() / weights.len().max(1) as f64;
    let mut note = format!(
        "{} refreshes, each after {} new trades spread over the symbols (batch every {} s), \
         {} trades over {} symbols before; mock exchange and enclave weight limits RAISED to \
         {} a minute (a complete refresh of {} symbols costs {} × 20 weight, Binance's \
         whole minute); max {max:.0} ms; weight per refresh {mean_w:.0} (mock's count); \
         the full computation before them took {warm_secs:.1} s with the raised limits; \
         enclave RSS peak during the refreshes {rss_sampled:.0} MiB (VmHWM since start, \
         the full computation included, {rss_hwm:.0} MiB)",
        o.refreshes,
        o.batch_trades,
        o.batch_every_secs,
        o.trades,
        o.symbols + 1,
        o.raised_limit,
        o.symbols + 1,
        o.symbols + 1,
    );
    if !problems.is_empty() {
        note = format!("WRONG ANSWER: {}; {note}", problems.join("; "));
    }
    let mut p50 = Figure::from_runs(
        "track_record_refresh_p50_raised_limits",
        "ms",
        &times,
        &[],
        Goal::AtMost(1000.0),
        note,
    );
    p50.met &= problems.is_empty();
    let w = Figure::from_runs(
        "track_record_refresh_weight",
        "weight",
        &weights,
        &[BINANCE_WEIGHT_PER_MINUTE],
        Goal::None,
        "exchange weight of one refresh (mock's count); ceiling = Binance's minute".into(),
    );
    drop(kit);
    Ok((vec![p50, w], rss_sampled.max(rss_hwm)))
}

/// Every track-record figure.
pub fn track_record_figures(o: &Opts) -> Result<Vec<Figure>, BoxError> {
    if std::env::var_os(strongroom_testkit::bin::BIN_DIR_VAR).is_none() {
        return Err(format!(
            "set {} to the directory of the built binaries (scripts/bench does)",
            strongroom_testkit::bin::BIN_DIR_VAR
        )
        .into());
    }
    std::fs::create_dir_all(&o.work_dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let params = LargeParams {
        symbols: o.symbols,
        trades: o.trades,
        seed: 1,
    };
    let mut figs = Vec::new();
    let mut first_rss = None;
    if !o.skip_first {
        let (f, rss) = first_computation(&rt, o, params)?;
        figs.extend(f);
        first_rss = Some(rss);
    }
    let (f, refresh_rss) = refreshes(&rt, o, params).unwrap_or_else(|e| {
        let why = format!("refreshes failed: {e}");
        eprintln!("{why}");
        let f = vec![
            Figure::unmeasured(
                "track_record_refresh_p50_raised_limits",
                "ms",
                "< 1000 ms",
                why.clone(),
            ),
            Figure::unmeasured("track_record_refresh_weight", "weight", "(reported)", why),
        ];
        (f, 0.0)
    });
    figs.extend(f);
    let peak = first_rss.unwrap_or(0.0).max(refresh_rss);
    let first = first_rss.map_or("not run".to_owned(), |r| format!("{r:.0} MiB"));
    figs.push(Figure::from_runs(
        "track_record_enclave_peak_rss",
        "MiB",
        &[peak],
        &[ENCLAVE_BUDGET_MIB],
        Goal::RatioAtMost(1.0),
        format!(
            "the simulator enclave process's VmHWM/VmRSS (sampled every 100 ms): first \
             computation {first}, refreshes (stack with raised limits, its full computation \
             included) {refresh_rss:.0} MiB; ceiling = the README's budget of about 450 MiB \
             per computation in a 2 GiB enclave (infra/allocator.yaml memory_mib 2048)"
        ),
    ));
    Ok(figs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mock_log_gives_weight_and_busiest_minute() {
        let line = |path: &str, status: u16, used: u32, w: u32| {
            format!(
                "2026-12-07T06:00:00Z  INFO strongroom_devtools::server: request \
                 \u{1b}[3mpath\u{1b}[0m\u{1b}[2m=\u{1b}[0m{path} \u{1b}[3mstatus\u{1b}[0m\
                 \u{1b}[2m=\u{1b}[0m{status} used_weight=\"{used}\" weight={w}\n"
            )
        };
        let mut log = String::from("2026-12-07T06:00:00Z  INFO listening\n");
        log += &line("/api/v3/exchangeInfo", 200, 20, 20);
        log += &line("/api/v3/myTrades", 200, 5_980, 20);
        log += &line("/api/v3/myTrades", 429, 5_980, 20);
        log += &line("/sapi/v1/accountSnapshot", 200, 0, 2_400);
        log += &line("/api/v3/myTrades", 200, 20, 20); // a new minute
        log += &line("/api/v3/myTrades", 200, 40, 20);
        let reqs = logged_requests(&log);
        assert_eq!(reqs.len(), 6);
        assert_eq!(reqs[1].path, "/api/v3/myTrades");
        assert_eq!((reqs[1].status, reqs[1].used_weight), (200, Some(5_980)));
        assert_eq!(
            weight_spent(&reqs),
            WeightSpent {
                requests: 4,
                weight: 80,
                peak_minute: 5_980,
                minutes: 2,
                refused: 1,
            }
        );
    }
}
