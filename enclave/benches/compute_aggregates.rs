//! A full `ComputeAggregates` on 10,000 trades, end to end on this machine:
//! RPC client -> `strongroom-enclave --dev-simulator` -> egress proxy (in this
//! process) -> `strongroom-mock-exchange` over TLS, including HPKE-cached
//! credential lookup, 10+3 signed REST calls, paging, aggregation, COSE
//! signature and the attestation document. Prints p50/p99/mean latency.
//!
//! `cargo bench -p strongroom-enclave --features dev-simulator --bench compute_aggregates [-- ROUNDS]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/e2e/mod.rs"]
mod e2e;

use std::time::{Duration, Instant};

use e2e::{Stack, mock_binary, seal_credential};

const TRADES: usize = 10_000;
const DEFAULT_ROUNDS: usize = 40;
const GEN_KEY: &str = "gen-api-key-0000000000000000000000000000000000000000000000000000";
const GEN_SECRET: &str = "gen-api-secret-000000000000000000000000000000000000000000000000";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn main() {
    // `cargo bench` passes `--bench`; a bare number sets the rounds.
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(DEFAULT_ROUNDS)
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(rounds));
}

async fn run(rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("gen-10000.json");
    let status = std::process::Command::new(mock_binary())
        .arg("--generate-fixture")
        .arg(&fixture)
        .args(["--trades", &TRADES.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // A weight budget large enough that no round waits on a 429, on the
    // mock and in the enclave's own budget (issue 15.5).
    let stack = Stack::start_with(
        &fixture,
        &["--weight-limit", "10000000"],
        &["--exchange-weight-limit", "10000000"],
    )
    .await;
    let att = stack.enclave.attest().await;
    let cred = seal_credential(&att, "binance", GEN_KEY, GEN_SECRET);
    stack.enclave.open("bench", &cred).await.unwrap();
    // Warm-up (first TLS session, page cache).
    stack
        .enclave
        .compute("bench", &cred, None, None, None)
        .await
        .unwrap();
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let r = stack
            .enclave
            .compute("bench", &cred, None, None, None)
            .await
            .unwrap();
        times.push(t.elapsed());
        assert!(!r.signed.is_empty() && !r.attestation.is_empty());
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / rounds as u32;
    let p50 = percentile(&times, 0.50);
    println!(
        "compute_aggregates/{TRADES} trades: rounds={rounds} p50={:.1} ms p99={:.1} ms mean={:.1} ms min={:.1} ms max={:.1} ms ({:.0} trades/s at p50)",
        p50.as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[rounds - 1].as_secs_f64() * 1e3,
        TRADES as f64 / p50.as_secs_f64(),
    );
}
