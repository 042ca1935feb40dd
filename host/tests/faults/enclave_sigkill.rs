//! Scenario 1: The enclave killed under load, with the key ring sealed under KMS (the
//! KMS double): 503 `enclave_unavailable` at once while it is dead, then the
//! restarted enclave gets the same ring back and old sessions work.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enclave_sigkill_under_load_answers_503_at_once_then_recovers() {
    bounded(async {
        // The production set-up: the key ring is sealed under KMS (the KMS
        // double), so a restarted enclave gets the same ring back.
        let mut s = Stack::start(StackOpts {
            kms: true,
            ..StackOpts::default()
        })
        .await;
        let c = s.client();
        let (quote, before) = s.submit_demo("before").await;
        assert_demo_figures(&c.aggregates(&before).await.unwrap(), "before the kill");

        let summary = kill_enclave_under_load(&mut s, &quote).await;

        // The enclave comes back: the host reconnects by itself (RPC backoff
        // capped at 2 s), unseals the ring through KMS and serves again.
        s.restart_enclave().await;
        let took = s.wait_ready(Duration::from_secs(30)).await;
        eprintln!("host served again {took:?} after the enclave listened; load {summary:?}");
        assert!(took < Duration::from_secs(10), "slow recovery: {took:?}");

        // Sessions sealed before the kill still work, the log extends, and
        // new quotes, submissions and aggregates work.
        assert_demo_figures(&c.aggregates(&before).await.unwrap(), "old session");
        let (_, fresh) = s.submit_demo("after").await;
        assert_demo_figures(&c.aggregates(&fresh).await.unwrap(), "after recovery");
        assert_no_half_sessions(&s.db).await;
    })
    .await;
}

/// Six clients sending quotes and submissions without pause; the enclave is
/// SIGKILLed 1.5 s in; 2.5 s later the load stops. Checks every answer and
/// returns the tally.
async fn kill_enclave_under_load(s: &mut Stack, quote: &serde_json::Value) -> String {
    let c = s.client();
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for w in 0..6 {
        let (c, stop, outcomes, quote) = (c.clone(), stop.clone(), outcomes.clone(), quote.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let o = if (w + i) % 3 == 0 {
                    let start = Instant::now();
                    Outcome::of("quote", t0, start, &c.quote().await)
                } else {
                    let body = submission(&quote, DEMO_KEY, DEMO_SECRET, "load");
                    let start = Instant::now();
                    Outcome::of("submit", t0, start, &c.submit(&body).await)
                };
                let failed = o.status.is_none_or(|s| s >= 500);
                outcomes.lock().unwrap().push(o);
                if failed {
                    // A client backs off a little; keeps the logs readable.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed_at = t0.elapsed();
    s.kill_enclave().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = c.get("/readyz").await.unwrap();
    assert_eq!(
        (r.status, code_of(&r).as_str()),
        (503, "enclave_unavailable"),
        "readyz while the enclave is dead"
    );
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    let outcomes = outcomes.lock().unwrap().clone();
    let summary = tally(&outcomes);

    // Traffic flowed before the kill.
    let ok_before = outcomes
        .iter()
        .filter(|o| o.start + o.took < killed_at && matches!(o.status, Some(200 | 201)))
        .count();
    assert!(
        ok_before >= 5,
        "too little load before the kill: {summary:?}"
    );
    // Every request got an HTTP answer (no dropped connection, no hang), and
    // no 5xx but 503 with a code.
    for o in &outcomes {
        assert!(o.error.is_none(), "no answer: {o:?}\n{summary:?}");
        assert!(
            o.took < Duration::from_secs(5),
            "a request hung for {:?}: {o:?}",
            o.took
        );
        assert_clean_5xx(o, &["enclave_unavailable"]);
    }
    // Once the enclave is dead: 503 enclave_unavailable, at once.
    let after: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.start > killed_at + Duration::from_millis(100))
        .collect();
    assert!(
        after.len() >= 20,
        "too little load after the kill: {summary:?}"
    );
    for o in &after {
        assert_eq!(
            (o.status, o.code.as_str()),
            (Some(503), "enclave_unavailable"),
            "{o:?}"
        );
        assert!(o.took < Duration::from_secs(2), "503 not at once: {o:?}");
    }
    let metrics = String::from_utf8(c.get("/metrics").await.unwrap().body).unwrap();
    assert!(
        metrics.contains("kind=\"unavailable\""),
        "enclave failures are counted: {metrics}"
    );
    format!("{summary:?}")
}
