//! Daily snapshots (issue 19) with every real component: once a UTC day the
//! host's scheduler has the enclave compute one result of every active
//! account, logged and chained like any other; an account that already has
//! a result today is left alone, and so are one with a running job and one
//! whose trader's policy does not allow a computation a day.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::Value;
use strongroom_testkit::stack::{Stack, StackOpts};

async fn count(s: &Stack) -> i64 {
    s.db.client()
        .await
        .query_one("SELECT count(*) FROM aggregates", &[])
        .await
        .unwrap()
        .get(0)
}

/// Moves every stored result back one day (as if computed yesterday).
async fn age_a_day(s: &Stack) {
    s.db.client()
        .await
        .execute(
            "UPDATE aggregates SET created_at = created_at - interval '1 day'",
            &[],
        )
        .await
        .unwrap();
}

async fn wait_for_count(s: &Stack, n: i64) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if count(s).await >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_takes_one_chained_snapshot_a_day_where_the_policy_allows() {
    let s = Stack::start(StackOpts {
        host_env: vec![("DAILY_SNAPSHOT_CHECK_SECONDS".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let (quote, session) = s.submit_demo("daily").await;
    let first = s.client().aggregates(&session).await.unwrap();
    assert_eq!(first.status, 200);
    let first: Value = first.json();
    // Today's result is there: nothing more for a few passes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(&s).await, 1, "no second result the same day");

    // Yesterday's result only, but a job of the account still running (a
    // snapshot past a minute of exchange weight continues as one): the
    // scheduler does not start another.
    age_a_day(&s).await;
    let c = s.db.client().await;
    c.execute(
        "INSERT INTO compute_jobs (id, tenant_id, session_id, request, account, next_attempt_at) \
         SELECT gen_random_uuid(), tenant_id, session_id, '{}'::jsonb, account, \
                now() + interval '1 day' FROM aggregates",
        &[],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(&s).await, 1, "no snapshot beside a running job");

    // The job ended (failed, say): the scheduler takes today's, chained to
    // yesterday's.
    c.execute("UPDATE compute_jobs SET state = 'failed'", &[])
        .await
        .unwrap();
    assert!(wait_for_count(&s, 2).await, "{}", s.logs_tail());
    let row = c
        .query_one(
            "SELECT cose FROM aggregates ORDER BY created_at DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let cose: Vec<u8> = row.get(0);
    let payload = strongroom_formats::aggregates::AggregatePayload::from_cbor(
        &strongroom_formats::cose::Sign1::payload_of(&cose).unwrap(),
    )
    .unwrap();
    let first_cose = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        first["aggregates_signed"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(
        payload.previous,
        Some(hex::encode(strongroom_formats::merkle::leaf_hash(
            &first_cose
        )))
    );
    assert_eq!((payload.from, payload.to), (None, None));
    let logged: i64 = c
        .query_one("SELECT count(*) FROM transparency_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(logged, 2, "the snapshot is logged");

    // A credential whose policy allows one computation in two days becomes
    // the account's newest: the scheduler leaves the account alone.
    let policy = serde_json::json!({"windows": "days", "symbols": "all",
        "min_interval_seconds": 172_800, "publish": false});
    let body = strongroom_testkit::seal::submission_with(
        &quote,
        strongroom_testkit::stack::DEMO_KEY,
        strongroom_testkit::stack::DEMO_SECRET,
        "every-other-day",
        Some(policy),
        None,
    );
    let r = s.client().submit(&body).await.unwrap();
    assert_eq!(r.status, 201);
    let sparse = r.json()["session_id"].as_str().unwrap().to_owned();
    assert_eq!(s.client().aggregates(&sparse).await.unwrap().status, 200);
    age_a_day(&s).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        count(&s).await,
        3,
        "the policy does not allow a daily computation"
    );
}
