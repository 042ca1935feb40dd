//! A host request that times out cancels the enclave's work (issue 15.5,
//! bullet 2), with real processes: the exchange is a black hole (it accepts
//! the enclave's connection through the egress proxy and never answers), the
//! host gives `request_aggregates` 2 s, the enclave runs one computation at
//! a time. When the host gives up, its RPC client sends `cancel`: the enclave
//! drops the computation, which closes its exchange connection and frees
//! the one slot — so the next tenant's request gets a computation, not 429
//! `too_many_computations` (before, the abandoned work held the slot until
//! the exchange client's own timeouts and retries ran out).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// Accepts connections and never writes; counts accepted and closed ones.
async fn black_hole() -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, c) = (accepted.clone(), closed.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            let c = c.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {}
                c.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (port, accepted, closed)
}

use common::real::submit_demo as submit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_request_frees_the_enclaves_computation() {
    // The mock only lends its CA: the enclave is pointed at the black hole.
    let (port, accepted, closed) = black_hole().await;
    // SUBMIT_CHECK_KEY=0: the key check at submit would reach the black
    // hole too; this test is about the computation's cancellation.
    let world = common::real::limited(
        &[],
        Some(port),
        &["--max-computations", "1"],
        &[("AGGREGATES_TIMEOUT_MS", "2000"), ("SUBMIT_CHECK_KEY", "0")],
    )
    .await;
    let (db, host) = (&world.db, &world.host);
    let (alice, bob) = (db.tenant("alice").await, db.tenant("bob").await);
    let quote = host.get("/attestation/quote", &[]).await.json();
    let a = submit(host, &alice, &quote).await;
    let b = submit(host, &bob, &quote).await;

    let start = Instant::now();
    let body = json!({"session_id": a}).to_string();
    let r = host
        .post("/enclave/request_aggregates", &alice, &body)
        .await;
    assert_ne!(r.status, 200, "the black hole never answers");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(
        accepted.load(Ordering::SeqCst) >= 1,
        "the enclave reached the exchange"
    );
    // The enclave dropped the work: its exchange connection closes at once
    // (its own I/O timeout is 30 s).
    let deadline = Instant::now() + Duration::from_secs(5);
    while closed.load(Ordering::SeqCst) < accepted.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the abandoned computation still holds its exchange connection\n{}",
            host.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And its slot: the next tenant's request is computed (then times out on
    // the black hole too), never refused for want of a slot.
    let body = json!({"session_id": b}).to_string();
    let r = host.post("/enclave/request_aggregates", &bob, &body).await;
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    assert_ne!(v["error"]["code"], "too_many_computations", "{v}");
    assert_ne!(r.status, 429, "{v}");
}
