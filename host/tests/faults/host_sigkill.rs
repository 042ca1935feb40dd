//! Scenario 3: The host killed in the middle of submissions: no 201 lost, no half session.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

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
