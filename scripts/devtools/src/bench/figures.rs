//! The figures of `scripts/bench`, each built from repeated runs of one
//! measurement next to its ceiling (used by the `strongroom-bench` binary).

use std::path::{Path, PathBuf};
use std::time::Duration;

use strongroom_verifier::client::Client;

use super::figure::{Figure, Goal, table};
use super::{attest, hpke_open, machine, pg_insert, submit, tiles};
use crate::stack::Stack;
use crate::stats::{percentile, spread};

/// Any failure of a measurement.
pub type BoxError = Box<dyn std::error::Error>;

pub fn submit_figure(
    stack: &Stack,
    concurrency: usize,
    count: usize,
    runs: usize,
    secs: f64,
) -> Result<Vec<Figure>, BoxError> {
    let client =
        Client::new(&stack.host_url, &stack.api_key)?.with_timeout(Duration::from_secs(60));
    let recipient = submit::attested_recipient(&client, stack)?;
    let cred = submit::bench_credential();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("bench-worker")
        .enable_all()
        .build()?;
    let (sync_commit, fsync) = rt.block_on(pg_insert::durability(&stack.database_url))?;
    let dur = Duration::from_secs_f64(secs);
    let (mut e2e, mut hpke, mut pg, mut ceiling) = (vec![], vec![], vec![], vec![]);
    let mut errors = std::collections::BTreeMap::<String, u64>::new();
    for run in 0..runs {
        let h = hpke_open::open_rate(dur)?;
        let p = rt.block_on(pg_insert::insert_rate(
            &stack.database_url,
            concurrency,
            dur,
        ))?;
        let b = submit::submit_burst(&client, &recipient, &cred, count, concurrency)?;
        eprintln!(
            "submit run {run}: e2e {:.0}/s ({} ok), hpke open {h:.0}/s, insert {p:.0}/s, errors {:?}",
            b.ok_per_s, b.ok, b.errors
        );
        for (k, v) in b.errors {
            *errors.entry(k).or_default() += v;
        }
        e2e.push(b.ok_per_s);
        hpke.push(h);
        pg.push(p);
        ceiling.push(h.min(p));
    }
    let med = |v: &[f64]| spread(v).map_or(0.0, |s| s.median);
    let mut note = format!(
        "ceiling = min(HPKE open on 1 core {:.0}/s, durable INSERT at concurrency {concurrency} {:.0}/s); synchronous_commit={sync_commit}, fsync={fsync}; {count} submits per run",
        med(&hpke),
        med(&pg)
    );
    if !errors.is_empty() {
        note.push_str(&format!("; errors {errors:?}"));
    }
    Ok(vec![Figure::from_runs(
        "submit_key_throughput",
        "req/s",
        &e2e,
        &ceiling,
        Goal::RatioAtLeast(0.8),
        note,
    )])
}

pub fn rpc_figures(files: &[PathBuf]) -> Result<Vec<Figure>, BoxError> {
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f)?;
        let line = text
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('['))
            .ok_or("no JSON array in rpc bench output")?;
        let arr: Vec<serde_json::Value> = serde_json::from_str(line)?;
        rows.extend(arr);
    }
    let pick = |k: u64, field: &str| -> Vec<f64> {
        rows.iter()
            .filter(|r| r["in_flight"].as_u64() == Some(k))
            .filter_map(|r| r[field].as_f64())
            .collect()
    };
    let mut out = Vec::new();
    for k in [64u64, 1] {
        let note = format!(
            "{k} in flight over a unix socket; ceiling = bare length-prefixed echo on the same kind of socket"
        );
        out.push(Figure::from_runs(
            &format!("rpc_throughput_{k}_in_flight"),
            "req/s",
            &pick(k, "rpc_rps"),
            &pick(k, "echo_rps"),
            Goal::RatioAtLeast(0.5),
            note.clone(),
        ));
        out.push(Figure::from_runs(
            &format!("rpc_p50_{k}_in_flight"),
            "µs",
            &pick(k, "rpc_p50_us"),
            &pick(k, "echo_p50_us"),
            Goal::RatioAtMost(2.0),
            note,
        ));
    }
    Ok(out)
}

pub fn latency_figures(
    stack: &Stack,
    requests: usize,
    rounds: usize,
    expect: Option<u64>,
    pause: u64,
    every: usize,
) -> Result<Vec<Figure>, BoxError> {
    let client =
        Client::new(&stack.host_url, &stack.api_key)?.with_timeout(Duration::from_secs(300));
    let cred = submit::generated_credential();
    let (mut p50, mut p99, mut all) = (vec![], vec![], vec![]);
    for round in 0..rounds {
        if pause > 0 && round > 0 && round % every.max(1) == 0 {
            eprintln!("pausing {pause} s for the mock exchange's weight window");
            std::thread::sleep(Duration::from_secs(pause));
        }
        let mut lat = submit::aggregates_latency(&client, stack, &cred, requests, expect)?;
        lat.sort_by(f64::total_cmp);
        eprintln!("aggregates round {round}: {lat:.1?} ms");
        p50.extend(percentile(&lat, 50.0));
        p99.extend(percentile(&lat, 99.0));
        all.extend(lat);
    }
    all.sort_by(f64::total_cmp);
    let trades = expect.map_or("the fixture's".to_owned(), |t| t.to_string());
    let note = format!(
        "{trades} trades from the local mock exchange over TLS through the egress proxy, symbols given, {requests} sequential requests per session × {rounds} sessions; p99 over all {} requests {:.1} ms",
        all.len(),
        percentile(&all, 99.0).unwrap_or(f64::NAN)
    );
    Ok(vec![
        Figure::from_runs(
            "request_aggregates_p50",
            "ms",
            &p50,
            &[],
            Goal::AtMost(150.0),
            note,
        ),
        Figure::from_runs(
            "request_aggregates_p99",
            "ms",
            &p99,
            &[],
            Goal::None,
            String::new(),
        ),
    ])
}

/// Tiles served per second vs `/healthz` on the same keep-alive connections.
pub fn tiles_figure(
    stack: &Stack,
    concurrency: usize,
    runs: usize,
    secs: f64,
) -> Result<Vec<Figure>, BoxError> {
    let host = tiles::authority(&stack.host_url)?;
    let path = tiles::first_tile_path(&host)?;
    let dur = Duration::from_secs_f64(secs);
    let (mut served, mut ceiling) = (vec![], vec![]);
    for run in 0..runs {
        let t = tiles::rate(&host, &path, concurrency, dur)?;
        let h = tiles::rate(&host, "/healthz", concurrency, dur)?;
        eprintln!("tiles run {run}: {path} {t:.0}/s, /healthz {h:.0}/s");
        served.push(t);
        ceiling.push(h);
    }
    let note = format!(
        "GET {path} (one row from PostgreSQL per answer) on {concurrency} keep-alive connections, {secs} s per run; ceiling = GET /healthz on the same connections (no database)"
    );
    Ok(vec![Figure::from_runs(
        "tiles_served",
        "tiles/s",
        &served,
        &ceiling,
        Goal::None,
        note,
    )])
}

pub fn attest_figures(
    doc: &[u8],
    name: &str,
    secs: f64,
    runs: usize,
) -> Result<Vec<Figure>, BoxError> {
    let r = attest::rates(doc, Duration::from_secs_f64(secs), runs)?;
    if let Some(e) = &r.peer_error {
        let why = format!(
            "peer attestation-doc-validation refused {name}: {e} (it reads the wall clock; scripts/bench runs this under faketime at the document's time)"
        );
        return Ok(vec![
            Figure::unmeasured("attestation_verify", "verif/s", "ratio >= 1", why.clone()),
            Figure::unmeasured("attestation_verify_cached", "verif/s", "ratio >= 1", why),
        ]);
    }
    let note = format!(
        "real AWS document {name}; ceiling = attestation-doc-validation 0.10 (webpki chain + COSE) on the same bytes, same process"
    );
    Ok(vec![
        Figure::from_runs(
            "attestation_verify",
            "verif/s",
            &r.verify,
            &r.peer,
            Goal::RatioAtLeast(1.0),
            note.clone(),
        ),
        Figure::from_runs(
            "attestation_verify_cached",
            "verif/s",
            &r.verify_cached,
            &r.peer,
            Goal::RatioAtLeast(1.0),
            format!("{note}; warm VerifierCache"),
        ),
    ])
}

pub fn rss_figures(
    pids: &[String],
    interval: u64,
    duration: u64,
    warmup: u64,
    bound_mib: u64,
    out: Option<&std::path::Path>,
) -> Result<Vec<Figure>, BoxError> {
    let named: Vec<(String, u32)> = pids
        .iter()
        .map(|p| {
            let (n, pid) = p.split_once('=').ok_or("--pid takes NAME=PID")?;
            Ok((n.to_owned(), pid.parse()?))
        })
        .collect::<Result<_, BoxError>>()?;
    let ids: Vec<u32> = named.iter().map(|(_, p)| *p).collect();
    let samples = machine::sample_rss(
        &ids,
        Duration::from_secs(interval),
        Duration::from_secs(duration),
    );
    if let Some(path) = out {
        std::fs::write(
            path,
            serde_json::to_vec(&serde_json::json!({"names": named, "samples": samples}))?,
        )?;
    }
    let mut figs = Vec::new();
    for (col, (name, _)) in named.iter().enumerate() {
        let fig_name = format!("soak_{name}_rss_growth");
        let goal = format!("< {bound_mib} MiB");
        let Some((base, last, max)) = machine::rss_growth(&samples, col, warmup as f64) else {
            figs.push(Figure::unmeasured(
                &fig_name,
                "MiB",
                &goal,
                "no sample after the warm-up (process gone?)".into(),
            ));
            continue;
        };
        let growth = (last as f64 - base as f64) / 1024.0;
        let note = format!(
            "RSS {:.1} MiB after {warmup} s warm-up, {:.1} MiB at the end, peak {:.1} MiB; {} samples over {:.0} s of load",
            base as f64 / 1024.0,
            last as f64 / 1024.0,
            max as f64 / 1024.0,
            samples.len(),
            samples.last().map_or(0.0, |s| s.0)
        );
        figs.push(Figure::from_runs(
            &fig_name,
            "MiB",
            &[growth],
            &[],
            Goal::AtMost(bound_mib as f64),
            note,
        ));
    }
    Ok(figs)
}

pub fn report(out: &Path, mode: &str, files: &[PathBuf]) -> Result<(), BoxError> {
    let mut figures: Vec<Figure> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f)?;
        let line = text
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('['))
            .ok_or_else(|| format!("{}: no figures", f.display()))?;
        figures.extend(serde_json::from_str::<Vec<Figure>>(line)?);
    }
    let m = machine::describe();
    let json = serde_json::json!({"machine": m, "mode": mode, "figures": figures});
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, serde_json::to_vec_pretty(&json)?)?;
    println!(
        "machine: {} × {}, {} MiB, Linux {}, load {:.2}\n",
        m.nproc, m.model_name, m.memory_mib, m.kernel, m.loadavg_1m
    );
    print!("{}", table(&figures));
    Ok(())
}
