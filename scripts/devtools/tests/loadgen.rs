//! The load generator's pure parts (percentiles, the recorder and its JSON
//! report, the loopback rule) and a tiny load run through the real binary
//! against a running stack (`STRONGROOM_STACK=target/strongroom-dev/stack.json`)
//! or, without one, a stack the test kit starts (`strongroom-testkit`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use strongroom_devtools::bench::figure::{Figure, Goal};
use strongroom_devtools::loadgen::{Recorder, Route};
use strongroom_devtools::stack::Stack;
use strongroom_devtools::stats::{percentile, summarize};
use strongroom_testkit::stack::{Stack as KitStack, StackOpts};

#[test]
fn percentiles_of_a_known_distribution() {
    // 1..=1000 ms shuffled: nearest rank gives exact values.
    let mut v: Vec<f64> = (1..=1000)
        .map(|i| f64::from((i * 7919) % 1000 + 1))
        .collect();
    let s = summarize(&mut v).unwrap();
    assert_eq!(s.count, 1000);
    assert_eq!(
        (s.min_ms, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms),
        (1.0, 500.0, 900.0, 990.0, 1000.0)
    );
    assert!((s.mean_ms - 500.5).abs() < 1e-9);
    assert_eq!(percentile(&v, 99.9), Some(999.0));
    assert!(summarize(&mut []).is_none());
}

#[test]
fn report_json_has_routes_throughput_and_errors_by_code() {
    let rec = Recorder::default();
    for ms in 1..=100u64 {
        rec.ok(Route::Submit, Duration::from_millis(ms));
    }
    rec.ok(Route::VerifySeal, Duration::from_millis(3));
    rec.error(Route::Submit, "rate_limited", Some(429));
    rec.error(Route::Submit, "rate_limited", Some(429));
    rec.error(Route::Aggregates, "transport", None);
    rec.iteration();
    let report = rec.report(
        serde_json::json!({"concurrency": 2}),
        Duration::from_secs(2),
    );
    let j = serde_json::to_value(&report).unwrap();
    // verify_seal is client-side: not an HTTP request.
    assert_eq!(j["requests"], 103);
    assert_eq!(j["errors"], 3);
    assert_eq!(j["iterations"], 1);
    assert_eq!(j["requests_per_s"], 51.5);
    assert_eq!(j["config"]["concurrency"], 2);
    let submit = &j["routes"]["submit"];
    assert_eq!(submit["ok"], 100);
    assert_eq!(submit["latency"]["p50_ms"], 50.0);
    assert_eq!(submit["latency"]["p90_ms"], 90.0);
    assert_eq!(submit["latency"]["p99_ms"], 99.0);
    let errors = j["errors_by_code"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().any(|e| e["route"] == "submit"
        && e["code"] == "rate_limited"
        && e["status"] == 429
        && e["count"] == 2));
    assert!(
        errors
            .iter()
            .any(|e| e["route"] == "aggregates" && e["status"].is_null())
    );
    let md = report.to_markdown();
    assert!(md.contains("| submit | 100 |") && md.contains("| submit | rate_limited | 429 | 2 |"));
}

#[test]
fn figures_round_trip_through_the_report_format() {
    let f = Figure::from_runs(
        "x",
        "req/s",
        &[9.0, 10.0, 11.0],
        &[12.0, 13.0],
        Goal::RatioAtLeast(0.8),
        "n".into(),
    );
    let j = serde_json::to_value(&f).unwrap();
    for k in [
        "name", "value", "unit", "spread", "ceiling", "ratio", "goal", "met",
    ] {
        assert!(j.get(k).is_some(), "{k} missing");
    }
    assert_eq!(j["ceiling"], 12.5);
    assert_eq!(j["met"], true);
    let back: Figure = serde_json::from_value(j).unwrap();
    assert_eq!(back, f);
}

#[test]
fn stack_files_pointing_elsewhere_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.json");
    let stack = |url: &str| {
        serde_json::json!({"host_url": url, "api_key": "k", "database_url": "postgres://x",
            "dev_root_pem": "/x.pem", "pids": {"host": 1}})
    };
    std::fs::write(&path, stack("http://192.0.2.1:3000").to_string()).unwrap();
    assert!(Stack::load(&path).is_err());
    std::fs::write(&path, stack("http://127.0.0.1:3000").to_string()).unwrap();
    let s = Stack::load(&path).unwrap();
    assert_eq!(s.pid("host"), Some(1));
    // The binary refuses it too, before sending anything.
    std::fs::write(&path, stack("http://192.0.2.1:3000").to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom-loadgen"))
        .args([
            "--stack",
            path.to_str().unwrap(),
            "--tenants",
            "0",
            "--duration",
            "1",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-loopback"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_load_run_against_a_running_stack() {
    // A running stack (`scripts/bench --selftest` sets STRONGROOM_STACK), else
    // one the test kit starts here: the run never passes by running nothing.
    let (_own, stack) = match std::env::var("STRONGROOM_STACK") {
        Ok(path) => (None, path),
        Err(_) => {
            let own = KitStack::start(StackOpts::default()).await;
            let path = own.write_description().display().to_string();
            (Some(own), path)
        }
    };
    tokio::task::spawn_blocking(move || tiny_load_run(&stack))
        .await
        .unwrap();
}

/// Two tenants (created with the host binary the kit finds), at most six
/// iterations of quote, verify_seal, submit, aggregates and revoke: no error.
fn tiny_load_run(stack: &str) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom-loadgen"))
        .args([
            "--stack",
            stack,
            "--tenants",
            "2",
            "--concurrency",
            "2",
            "--duration",
            "8",
        ])
        .args([
            "--max-iterations",
            "6",
            "--host-bin",
            strongroom_testkit::bin::host().to_str().unwrap(),
            "--quiet",
            "--report",
            report.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(j["errors"], 0, "{j}");
    assert!(j["iterations"].as_u64().unwrap() >= 1, "{j}");
    assert!(j["iterations"].as_u64().unwrap() <= 6, "{j}");
    for route in ["quote", "verify_seal", "submit", "aggregates", "revoke"] {
        assert!(
            j["routes"][route]["ok"].as_u64().unwrap() >= 1,
            "{route}: {j}"
        );
    }
    assert_eq!(j["config"]["tenants"], 2);
}
