//! RATE_LIMIT_MAX holds across instances (issue 15.4): two real host
//! processes on one PostgreSQL database, one client alternating between
//! them. Before, each host counted in its own memory and the client got
//! 2 × RATE_LIMIT_MAX; now the hosts reserve from one counter per key and
//! window (`rate_limits`, migration V12), in batches of RATE_LIMIT_MAX / 20,
//! so together they admit at most RATE_LIMIT_MAX, and at least
//! RATE_LIMIT_MAX − 2 × (batch − 1) (tokens one host reserved and did not
//! use are lost for the window).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use common::{Host, TestDb};

const MAX: usize = 40;
const BATCH: usize = MAX / 20;
/// One hour: the windows are aligned to the epoch, so a test in an hour's
/// last seconds waits for the next one (below) rather than straddle two.
const WINDOW_MS: u64 = 3_600_000;

async fn away_from_a_window_boundary() {
    let ms = u64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
        % WINDOW_MS;
    if ms > WINDOW_MS - 20_000 {
        tokio::time::sleep(Duration::from_millis(WINDOW_MS - ms + 500)).await;
    }
}

/// Statuses of `n` requests from one client, alternating between the hosts.
async fn burst(hosts: &[&Host], n: usize, path: &str) -> Vec<u16> {
    let mut statuses = Vec::with_capacity(n);
    for i in 0..n {
        let r = hosts[i % hosts.len()].get(path, &[]).await;
        if r.status == 429 {
            assert_eq!(r.code(), "rate_limited");
            assert!(r.header("retry-after").is_some());
        }
        statuses.push(r.status);
    }
    statuses
}

fn admitted(statuses: &[u16]) -> usize {
    statuses.iter().filter(|s| **s != 429).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_together_admit_at_most_rate_limit_max() {
    let db = TestDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    // No enclave: the routes used here answer without one.
    let enclave = format!("unix://{}", dir.path().join("none.sock").display());
    let max = MAX.to_string();
    let window = WINDOW_MS.to_string();
    let env = [
        ("RATE_LIMIT_MAX", max.as_str()),
        ("RATE_LIMIT_WINDOW", window.as_str()),
    ];
    let a = Host::start(&db, &enclave, &env).await;
    let b = Host::start(&db, &enclave, &env).await;
    away_from_a_window_boundary().await;

    // Per client address: unauthenticated reads of the log.
    let statuses = burst(&[&a, &b], 3 * MAX, "/transparency/head").await;
    let n = admitted(&statuses);
    assert!(
        n <= MAX,
        "{n} admitted across two instances, limit {MAX}: {}",
        a.logs()
    );
    assert!(n >= MAX - 2 * (BATCH - 1), "only {n} admitted");
    assert!(
        statuses[3 * MAX - 2..].iter().all(|s| *s == 429),
        "spent on both"
    );

    // Per tenant, through a trusted proxy that forwards a new client
    // address for every request (so only the tenant's limit can bind).
    let proxied = [
        ("RATE_LIMIT_MAX", max.as_str()),
        ("RATE_LIMIT_WINDOW", window.as_str()),
        ("TRUSTED_PROXIES", "127.0.0.1/32"),
    ];
    let (a2, b2) = (
        Host::start(&db, &enclave, &proxied).await,
        Host::start(&db, &enclave, &proxied).await,
    );
    let key = db.tenant("acme").await;
    let auth = format!("Bearer {key}");
    let body = br#"{"session_id":"00000000-0000-0000-0000-000000000000"}"#;
    let mut statuses = Vec::new();
    for i in 0..3 * MAX {
        let host = if i % 2 == 0 { &a2 } else { &b2 };
        let client = format!("198.51.100.{}", i % 250 + 1);
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
            ("x-forwarded-for", client.as_str()),
        ];
        let r = common::http(&host.addr, "POST", "/enclave/revoke", &headers, Some(body)).await;
        statuses.push(r.status);
    }
    let n = admitted(&statuses);
    assert!(n <= MAX, "{n} admitted for one tenant, limit {MAX}");
    assert!(
        n >= MAX - 2 * (BATCH - 1),
        "only {n} admitted: {statuses:?}"
    );
    let c = db.client().await;
    let rows: i64 = c
        .query_one("SELECT count(*) FROM rate_limits", &[])
        .await
        .unwrap()
        .get(0);
    assert!(rows >= 2, "the counters live in PostgreSQL");
    drop((a, b, a2, b2));
}
