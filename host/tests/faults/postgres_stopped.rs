//! Scenario 2: PostgreSQL stopped and started again under the running host (a private
//! cluster the test may stop).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common;
use crate::support::*;

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
