//! Fault tests (issue 9) and the extended no-plaintext proof, with real
//! processes only: `strongroom-host serve`, `strongroom-enclave --dev-simulator`
//! (its exchange traffic through the host's egress proxy), the mock exchange,
//! PostgreSQL (the shared test cluster, or a private one the test may stop).
//! Each test is bounded (`TEST_BOUND`); `scripts/test` runs them with the rest.
//! What each one proves: README.md, "Faults and no-plaintext proof".
//! Needs `cargo build --workspace --bins` (scripts/test does) and python3.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "faults/support.rs"]
mod support;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use common::run_host;

async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_BOUND, test)
        .await
        .expect("fault test exceeded its time bound");
}

/// 5xx codes the host may answer while a dependency is away: never a bare 500.
fn assert_clean_5xx(o: &Outcome, allowed: &[&str]) {
    if let Some(s) = o.status
        && s >= 500
    {
        assert!(
            s == 503 && allowed.contains(&o.code.as_str()),
            "{} answered {s} {:?} (allowed: 503 {allowed:?})",
            o.route,
            o.code
        );
    }
}

// -------------------------------------------------------------------------
// 1. The enclave killed under load.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enclave_sigkill_without_kms_says_ring_lost_until_reset_then_serves() {
    bounded(async {
        // No KMS, no peer: a restarted enclave cannot get the old ring back
        // (DESIGN.md "Keys", boot step 4).
        let mut s = Stack::start(StackOpts::default()).await;
        let c = s.client();
        let (_, before) = s.submit_demo("before").await;
        assert_demo_figures(&c.aggregates(&before).await.unwrap(), "before the kill");
        s.kill_enclave().await;
        let r = c.quote().await.unwrap();
        assert_eq!(
            (r.status, code_of(&r).as_str()),
            (503, "enclave_unavailable")
        );
        s.restart_enclave().await;

        // The host says so with a code, at once, for as long as it lasts.
        let start = Instant::now();
        let mut not_ready = 0;
        while start.elapsed() < Duration::from_secs(4) {
            let t = Instant::now();
            let r = c.quote().await.unwrap();
            assert!(
                t.elapsed() < Duration::from_secs(2),
                "slow answer {:?}",
                t.elapsed()
            );
            match (r.status, code_of(&r).as_str()) {
                (503, "enclave_not_ready") => not_ready += 1,
                (503, "enclave_unavailable") => assert_eq!(not_ready, 0, "flapping"),
                other => panic!(
                    "quote with the ring lost: {other:?} {}{}",
                    body_text(&r),
                    s.logs_tail()
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(not_ready >= 5, "{not_ready}");
        for r in [
            c.aggregates(&before).await.unwrap(),
            c.get("/readyz").await.unwrap(),
        ] {
            assert_eq!(
                (r.status, code_of(&r).as_str()),
                (503, "enclave_not_ready"),
                "{}",
                body_text(&r)
            );
        }

        // The operator abandons the lost ring: the running host boots a new
        // one by itself. New quotes, submissions and aggregates work; the old
        // session answers a clear 409 (submit the credential again).
        let out = run_host(&["keys", "reset", "--confirm"], &s.db.test_db().env()).await;
        assert!(
            out.status.success(),
            "keys reset: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s.wait_ready(Duration::from_secs(20)).await;
        let r = c.aggregates(&before).await.unwrap();
        assert_eq!(r.status, 409, "old session: {}", body_text(&r));
        assert!(
            ["key_version_gone", "unknown_key_id"].contains(&code_of(&r).as_str()),
            "{}",
            body_text(&r)
        );
        // The lost ring's log was closed (archived as epoch 1); the new ring
        // signs a new log from leaf 0.
        assert!(
            s.db.count("SELECT count(*) FROM transparency_log_archive WHERE log_epoch = 1")
                .await
                > 0
        );
        let (_, fresh) = s.submit_demo("after").await;
        let after = c.aggregates(&fresh).await.unwrap();
        assert_demo_figures(&after, "after the reset");
        assert_eq!(
            after.json()["log"]["leaf_index"].as_u64(),
            Some(0),
            "the new ring starts a new log"
        );
        assert_eq!(
            s.db.count("SELECT log_epoch::bigint FROM transparency_state")
                .await,
            2
        );
        assert_no_half_sessions(&s.db).await;
    })
    .await;
}

/// Every stored session has its credential (or none because it was revoked or
/// expired and purged); no credential without a session (foreign key anyway).
async fn assert_no_half_sessions(db: &Db) {
    let half = db
        .count(
            "SELECT count(*) FROM sessions s LEFT JOIN credentials c ON c.session_id = s.id \
             WHERE s.state = 'active' AND c.session_id IS NULL",
        )
        .await;
    assert_eq!(half, 0, "active sessions without their credential");
}

// -------------------------------------------------------------------------
// 2. PostgreSQL stopped and started again under the running host.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stop_answers_503_and_the_host_recovers_without_restart() {
    bounded(async {
        let pg = PrivatePg::init();
        let mut s = Stack::start(StackOpts {
            db_url: Some(pg.url()),
            ..StackOpts::default()
        })
        .await;
        let c = s.client();
        let (quote, before) = s.submit_demo("before").await;
        assert_demo_figures(&c.aggregates(&before).await.unwrap(), "before the stop");
        let host_pid = s.host_pid();

        // Four clients submitting while PostgreSQL goes away.
        let stop = Arc::new(AtomicBool::new(false));
        let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
        let t0 = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..4 {
            let (c, stop, outcomes, quote) =
                (c.clone(), stop.clone(), outcomes.clone(), quote.clone());
            workers.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let body = submission(&quote, DEMO_KEY, DEMO_SECRET, "load");
                    let start = Instant::now();
                    let o = Outcome::of("submit", t0, start, &c.submit(&body).await);
                    let failed = o.status.is_none_or(|s| s >= 500);
                    outcomes.lock().unwrap().push(o);
                    if failed {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let stopped_at = t0.elapsed();
        pg.stop();
        let stop_done = t0.elapsed();
        tokio::time::sleep(Duration::from_millis(1500)).await;

        // Every route that needs the database: 503 database_unavailable, quickly.
        let checks: Vec<(&str, Result<common::Reply, String>)> = vec![
            ("readyz", c.get("/readyz").await),
            ("submit_key", c.submit(&submission(&quote, DEMO_KEY, DEMO_SECRET, "x")).await),
            ("request_aggregates", c.aggregates(&before).await),
            ("revoke", c.revoke(&before).await),
            ("transparency/head", c.get("/transparency/head").await),
        ];
        for (what, r) in checks {
            let r = r.unwrap_or_else(|e| panic!("{what}: no answer: {e}{}", s.logs_tail()));
            assert_eq!(
                (r.status, code_of(&r).as_str()),
                (503, "database_unavailable"),
                "{what} while PostgreSQL is down: {}",
                body_text(&r)
            );
        }
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.await.unwrap();
        }
        let outcomes = outcomes.lock().unwrap().clone();
        let summary = tally(&outcomes);
        for o in &outcomes {
            assert!(o.error.is_none(), "no answer: {o:?}\n{summary:?}");
            assert!(o.took < Duration::from_secs(10), "hung: {o:?}");
            assert_clean_5xx(o, &["database_unavailable"]);
        }
        let down: Vec<&Outcome> = outcomes.iter().filter(|o| o.start > stop_done).collect();
        assert!(down.len() >= 10, "too little load while down: {summary:?}");
        for o in down {
            assert_eq!(
                (o.status, o.code.as_str()),
                (Some(503), "database_unavailable"),
                "{o:?}"
            );
            assert!(o.took < Duration::from_secs(3), "503 not quick: {o:?}");
        }
        assert!(
            s.host.child.try_wait().unwrap().is_none(),
            "the host exited{}",
            s.logs_tail()
        );

        // PostgreSQL back: the same host process serves again by itself.
        pg.start();
        let took = s.wait_ready(Duration::from_secs(30)).await;
        eprintln!(
            "stopped at {stopped_at:?}; ready {took:?} after the restart; load {summary:?}"
        );
        assert_eq!(s.host_pid(), host_pid, "the host was not restarted");
        let (_, after) = s.submit_demo("after").await;
        assert_demo_figures(&c.aggregates(&after).await.unwrap(), "after recovery");
        assert_demo_figures(&c.aggregates(&before).await.unwrap(), "old session");
        let head = c.get("/transparency/head").await.unwrap();
        assert_eq!(head.status, 200, "{}", body_text(&head));
        // Every 201 of the run is stored whole.
        let stored = s.db.client().await;
        for o in outcomes.iter().filter(|o| o.status == Some(201)) {
            let id: uuid::Uuid = o.session.as_ref().unwrap().parse().unwrap();
            let n: i64 = stored
                .query_one(
                    "SELECT count(*) FROM sessions s JOIN credentials c ON c.session_id = s.id WHERE s.id = $1",
                    &[&id],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(n, 1, "a 201 session is missing: {id}");
        }
        assert_no_half_sessions(&s.db).await;
        drop(s);
        drop(pg);
    })
    .await;
}

// -------------------------------------------------------------------------
// 3. The host killed in the middle of submissions.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_sigkill_mid_submit_loses_no_201_and_leaves_no_half_session() {
    bounded(async {
        let mut s = Stack::start(StackOpts::default()).await;
        let c = s.client();
        let (quote, _) = s.submit_demo("warmup").await;

        let stop = Arc::new(AtomicBool::new(false));
        let created = Arc::new(AtomicUsize::new(0));
        let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
        let t0 = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..12 {
            let (c, stop, created, outcomes, quote) = (
                c.clone(),
                stop.clone(),
                created.clone(),
                outcomes.clone(),
                quote.clone(),
            );
            workers.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let body = submission(&quote, DEMO_KEY, DEMO_SECRET, "load");
                    let start = Instant::now();
                    let o = Outcome::of("submit", t0, start, &c.submit(&body).await);
                    if o.status == Some(201) {
                        created.fetch_add(1, Ordering::SeqCst);
                    }
                    let gone = o.error.is_some();
                    outcomes.lock().unwrap().push(o);
                    if gone {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }));
        }
        // Kill it while submissions are in flight.
        let wait = Instant::now();
        while created.load(Ordering::SeqCst) < 40 {
            assert!(wait.elapsed() < Duration::from_secs(30), "no load");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        s.kill_host().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.await.unwrap();
        }
        let outcomes = outcomes.lock().unwrap().clone();
        let summary = tally(&outcomes);
        let cut = outcomes.iter().filter(|o| o.error.is_some()).count();
        assert!(cut >= 1, "no request was cut by the kill: {summary:?}");
        for o in &outcomes {
            assert!(
                o.error.is_some() || o.status == Some(201),
                "before the kill every submit succeeds: {o:?}"
            );
        }

        s.restart_host().await;
        s.wait_ready(Duration::from_secs(30)).await;
        let c = s.client();
        // Every 201 is stored whole: its session and its credential.
        let sessions: Vec<String> = outcomes.iter().filter_map(|o| o.session.clone()).collect();
        assert!(sessions.len() >= 40);
        let db = s.db.client().await;
        for id in &sessions {
            let uuid: uuid::Uuid = id.parse().unwrap();
            let n: i64 = db
                .query_one(
                    "SELECT count(*) FROM sessions s JOIN credentials c ON c.session_id = s.id \
                     WHERE s.id = $1 AND s.state = 'active'",
                    &[&uuid],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(n, 1, "a session that got 201 is not stored whole: {id}");
        }
        // No session half-written by the kill.
        assert_no_half_sessions(&s.db).await;
        let total = s.db.count("SELECT count(*) FROM sessions").await;
        let total_creds = s.db.count("SELECT count(*) FROM credentials").await;
        assert_eq!(total, total_creds, "sessions and credentials differ");
        assert!(
            total as usize > sessions.len(),
            "the warm-up session is stored too"
        );
        // Through the API too: the first, last and a middle 201 give results.
        for id in [
            &sessions[0],
            &sessions[sessions.len() / 2],
            sessions.last().unwrap(),
        ] {
            assert_demo_figures(
                &c.aggregates(id).await.unwrap(),
                "a 201 session after the kill",
            );
        }
        // And the restarted host takes new submissions.
        let (_, fresh) = s.submit_demo("after").await;
        assert_demo_figures(&c.aggregates(&fresh).await.unwrap(), "after restart");
        eprintln!(
            "{} sessions stored before the kill; load {summary:?}",
            sessions.len()
        );
    })
    .await;
}

// -------------------------------------------------------------------------
// 4. Connections cut mid-response between the egress proxy and the exchange.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_cut_mid_response_gives_the_right_result_or_a_clear_error() {
    bounded(async {
        let s = Stack::start(StackOpts {
            cutter: true,
            ..StackOpts::default()
        })
        .await;
        let cutter = s.cutter.as_ref().unwrap();
        let c = s.client();
        let (_, session) = s.submit_demo("cut").await;
        eprintln!("[cut] submitted; clean run");

        // A clean run through the cutter: the answer and the bytes one
        // aggregate request reads from the exchange (one kept-alive connection).
        let r = c.aggregates(&session).await.unwrap();
        assert_demo_figures(&r, "clean run");
        assert_eq!(cutter.connections.load(Ordering::SeqCst), 1);
        let total = cutter.bytes_of(0) as u64;
        assert!(total > 4000, "too few bytes to cut: {total}");
        let rows = s.db.count("SELECT count(*) FROM aggregates").await;

        // Three connections cut at a quarter, half and three quarters of the
        // stream (inside TLS records of answers), then clean: the enclave's
        // exchange client retries each call, and the result is still exact.
        cutter.set_plan([Some(total / 4), Some(total / 2), Some(total * 3 / 4)]);
        eprintln!("stream of a clean aggregate request: {total} bytes");
        let r = c.aggregates(&session).await.unwrap();
        assert_demo_figures(&r, "after cuts mid-stream");
        // A retry resumes at the failed call, so a later connection may carry
        // less than three quarters of the stream: at least two cuts land.
        let cuts = cutter.cuts.load(Ordering::SeqCst);
        assert!(cuts >= 2, "the cuts happened: {cuts}");
        eprintln!("{cuts} cuts mid-stream (stream {total} bytes), result exact");

        // Every connection cut half-way through the stream: each new connection
        // gets further, so the result is exact or, when the retry budget runs
        // out, a clear 502 exchange_unreachable. Never anything else.
        let mut exact = 2;
        cutter.set_plan(std::iter::repeat_n(Some(total / 2), 100));
        eprintln!("[cut] every connection half-way");
        let r = c.aggregates(&session).await.unwrap();
        match (r.status, code_of(&r).as_str()) {
            (200, _) => {
                assert_demo_figures(&r, "every connection cut half-way");
                exact += 1;
            }
            (502, "exchange_unreachable") => {}
            other => panic!("every connection cut half-way: {other:?} {}", body_text(&r)),
        }

        // Every connection cut a few bytes into the exchange's TLS handshake:
        // a clear 502 exchange_unreachable within the retry budget, nothing
        // signed or stored.
        eprintln!("[cut] every connection in the handshake");
        cutter.set_plan(std::iter::repeat_n(Some(5), 100));
        let before_cuts = cutter.cuts.load(Ordering::SeqCst);
        let start = Instant::now();
        let r = c.aggregates(&session).await.unwrap();
        assert_eq!(
            (r.status, code_of(&r).as_str()),
            (502, "exchange_unreachable"),
            "{}",
            body_text(&r)
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{:?}",
            start.elapsed()
        );
        assert!(cutter.cuts.load(Ordering::SeqCst) - before_cuts >= 2);

        // Two cuts in the handshake, then clean: retried, exact.
        eprintln!("[cut] two handshake cuts");
        cutter.set_plan([Some(5), Some(200)]);
        assert_demo_figures(
            &c.aggregates(&session).await.unwrap(),
            "after handshake cuts",
        );
        exact += 1;

        // Healthy again; the database holds exactly the exact results.
        eprintln!("[cut] healed");
        cutter.set_plan([]);
        assert_demo_figures(&c.aggregates(&session).await.unwrap(), "healed");
        exact += 1;
        assert_eq!(
            s.db.count("SELECT count(*) FROM aggregates").await,
            rows - 1 + exact,
            "a failed request stored a result"
        );
        assert_eq!(
            s.db.count("SELECT count(*) FROM transparency_log").await,
            rows - 1 + exact
        );
    })
    .await;
}

// -------------------------------------------------------------------------
// 5. Slowloris.

/// A connection that sends a request head one byte at a time, forever, and
/// reconnects when the host closes it. Counts how often the host closed it.
fn slowloris(addr: String, stop: Arc<AtomicBool>, closed: Arc<AtomicUsize>, gap: Duration) {
    tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            let Ok(mut sock) = TcpStream::connect(&addr).await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let head = format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n");
            let mut bytes = head.into_bytes();
            bytes.extend(std::iter::repeat_n(b'x', 1_000_000));
            for b in bytes {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                if sock.write_all(&[b]).await.is_err() {
                    closed.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                tokio::time::sleep(gap).await;
            }
        }
    });
}

async fn timed_healthz(addr: &str, n: usize, pause: Duration) -> Vec<Duration> {
    let mut out = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        let r = try_http(addr, "GET", "/healthz", &[], None, Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("a normal client starved: {e}"));
        assert_eq!(r.status, 200, "{}", body_text(&r));
        out.push(start.elapsed());
        tokio::time::sleep(pause).await;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_does_not_starve_other_clients() {
    bounded(async {
        // Header timeout 2 s; at most 48 connections at once.
        let s = Stack::start(StackOpts {
            host_env: vec![
                ("HEADER_READ_TIMEOUT_MS".into(), "2000".into()),
                ("MAX_CONNECTIONS".into(), "48".into()),
            ],
            ..StackOpts::default()
        })
        .await;
        let addr = s.host.addr.clone();

        // a) 40 slow connections, under the connection limit: others are
        //    served at once, and every slow one is cut by the header timeout
        //    although it keeps sending.
        let stop = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(AtomicUsize::new(0));
        for _ in 0..40 {
            slowloris(
                addr.clone(),
                stop.clone(),
                closed.clone(),
                Duration::from_millis(200),
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let lat = timed_healthz(&addr, 15, Duration::from_millis(200)).await;
        let worst = lat.iter().max().unwrap();
        assert!(*worst < Duration::from_secs(2), "served slowly: {lat:?}");
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert!(
            closed.load(Ordering::SeqCst) >= 40,
            "the header timeout did not cut the slow connections: {} closed",
            closed.load(Ordering::SeqCst)
        );
        stop.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;

        // b) 150 slow connections, three times the limit, reconnecting as soon
        //    as they are cut: a normal client waits in the accept queue at most
        //    about a header timeout per limit's worth of attackers ahead of it,
        //    and is always served.
        let stop = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(AtomicUsize::new(0));
        for _ in 0..150 {
            slowloris(
                addr.clone(),
                stop.clone(),
                closed.clone(),
                Duration::from_millis(200),
            );
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let lat = timed_healthz(&addr, 4, Duration::from_millis(300)).await;
        stop.store(true, Ordering::SeqCst);
        let worst = lat.iter().max().unwrap();
        eprintln!("normal client under 150 slow connections: {lat:?}");
        assert!(*worst < Duration::from_secs(10), "starved: {lat:?}");
        // The host is healthy afterwards.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let lat = timed_healthz(&addr, 3, Duration::from_millis(50)).await;
        assert!(
            *lat.iter().max().unwrap() < Duration::from_secs(1),
            "{lat:?}"
        );
        assert!(s.host.child.id().is_some());
    })
    .await;
}

// -------------------------------------------------------------------------
// 6. The no-plaintext proof, extended, with its control.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_on_the_host_side_and_the_scanner_can_fail() {
    bounded(async {
        let secret = planted("secret");
        let api_key = planted("key");
        // The mock exchange knows the planted credential (a copy of the demo
        // fixture), so the whole flow runs with it.
        let fixtures = tempfile::tempdir().unwrap();
        let fixture = fixtures.path().join("planted.json");
        let demo =
            std::fs::read_to_string(common::workspace_root().join("scripts/fixtures/demo.json"))
                .unwrap();
        assert!(demo.contains(DEMO_SECRET) && demo.contains(DEMO_KEY));
        std::fs::write(
            &fixture,
            demo.replace(DEMO_SECRET, &secret)
                .replace(DEMO_KEY, &api_key),
        )
        .unwrap();
        let s = Stack::start(StackOpts {
            fixture: Some(fixture),
            ..StackOpts::default()
        })
        .await;
        let c = s.client();
        let out = tempfile::tempdir().unwrap();
        let mut answers = Vec::new();
        let mut keep = |name: &str, r: &common::Reply| {
            let mut bytes = format!("HTTP {}\r\n", r.status).into_bytes();
            for (k, v) in &r.headers {
                bytes.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
            }
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(&r.body);
            answers.push(save(
                out.path(),
                &format!("{}-{name}.http", answers.len()),
                &bytes,
            ));
        };

        // The full flow: quote, submit, aggregates twice, revoke, after revoke.
        let q = c.quote().await.unwrap();
        assert_eq!(q.status, 200);
        keep("quote", &q);
        let quote = q.json();
        let r = c
            .submit(&submission(&quote, &api_key, &secret, "main"))
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", body_text(&r));
        keep("submit", &r);
        let session = r.json()["session_id"].as_str().unwrap().to_owned();
        let r = c.aggregates(&session).await.unwrap();
        assert_demo_figures(&r, "planted credential");
        keep("aggregates", &r);
        let r = c
            .post(
                "/enclave/request_aggregates",
                &json!({"session_id": session, "symbols": ["ETHUSDT"]}).to_string(),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", body_text(&r));
        keep("aggregates-eth", &r);
        for path in ["/transparency/head", "/transparency/inclusion?leaf_index=0"] {
            let r = c.get_auth(path).await.unwrap();
            keep("transparency", &r);
        }
        let r = c.get("/metrics").await.unwrap();
        keep("metrics", &r);
        let dump_before = save(
            out.path(),
            "pg_dump-before-revoke.sql",
            common::real::pg_dump(s.db.url()).as_bytes(),
        );
        let mem_before = memscan(&[s.host_pid()], &[], &[&secret, &api_key]);
        let r = c.revoke(&session).await.unwrap();
        assert_eq!(r.status, 200, "{}", body_text(&r));
        keep("revoke", &r);
        let r = c.aggregates(&session).await.unwrap();
        assert_eq!(r.status, 410, "{}", body_text(&r));
        keep("after-revoke", &r);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let dump_after = save(
            out.path(),
            "pg_dump-after-revoke.sql",
            common::real::pg_dump(s.db.url()).as_bytes(),
        );

        // Every host-side source: both dumps, every log (host, enclave, the
        // PostgreSQL server's), every answer, and the host's memory.
        let mut files = vec![dump_before.clone(), dump_after];
        files.extend(s.log_files());
        let pg_log = common::workspace_root().join("target/strongroom-dev/pg/postgres.log");
        if std::env::var("DATABASE_URL").is_err() && pg_log.exists() {
            files.push(pg_log);
        }
        files.extend(answers.iter().cloned());
        let scan = memscan(&[s.host_pid()], &files, &[&secret, &api_key]);
        assert!(
            std::fs::read_to_string(&dump_before)
                .unwrap()
                .contains(&session),
            "the dump holds the session (it is a real dump)"
        );
        let host_bytes = scan.process_bytes[&s.host_pid().to_string()];
        assert!(
            host_bytes > 4 << 20,
            "too little host memory read: {host_bytes}"
        );
        assert!(
            mem_before.hits.is_empty(),
            "secret in host memory before revoke: {:?}",
            mem_before.hits
        );
        assert!(
            scan.hits.is_empty(),
            "secret found on the host side: {:?}",
            scan.hits
        );
        eprintln!(
            "no-plaintext: {} bytes scanned ({} of host memory, {} files), 0 hits",
            scan.bytes_scanned,
            host_bytes,
            files.len()
        );

        // CONTROL: hand the very same secret to the host in clear, as a
        // careless client would: in a header, in a JSON field, base64 in a
        // body, and as a session label it stores. The same scanner finds it
        // in the host's memory, the answers' files and pg_dump.
        let b64 = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            secret.as_bytes(),
        );
        for _ in 0..5 {
            let r = c
                .post_with(
                    "/enclave/revoke",
                    &json!({"session_id": secret}).to_string(),
                    &[("x-control", &secret)],
                )
                .await
                .unwrap();
            assert_eq!(r.status, 400);
            let body = json!({"key_id": "k", "ephemeral_pub": b64, "ciphertext": b64, "tag": b64,
                "metadata": {"exchange": "binance", "label": "x", "ttl": 60}});
            let _ = c.submit(&body.to_string()).await.unwrap();
        }
        let r = c
            .submit(&submission(
                &quote,
                &api_key,
                "control-not-the-secret",
                &secret,
            ))
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", body_text(&r));
        let control_answer = save(out.path(), "control.http", secret.as_bytes());
        let control_dump = save(
            out.path(),
            "pg_dump-control.sql",
            common::real::pg_dump(s.db.url()).as_bytes(),
        );
        let control = memscan(
            &[s.host_pid()],
            &[control_answer.clone(), control_dump.clone()],
            &[&secret],
        );
        let in_memory = control.hits_in(&format!("pid {}", s.host_pid()));
        assert!(
            !in_memory.is_empty(),
            "CONTROL: the scanner did not find the planted secret in host memory: {}",
            control.raw
        );
        assert!(
            !control.hits_in(control_dump.to_str().unwrap()).is_empty(),
            "CONTROL: pg_dump"
        );
        assert!(
            !control.hits_in(control_answer.to_str().unwrap()).is_empty(),
            "CONTROL: file"
        );
        eprintln!(
            "control: found in host memory as {:?}, {} hits",
            control.forms(),
            in_memory.len()
        );
    })
    .await;
}
