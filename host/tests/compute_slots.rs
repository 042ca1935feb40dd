//! One tenant's flood of aggregate requests does not starve another (issue
//! 15.5, bullet 2), with real processes: PostgreSQL, the host and its egress
//! proxy, the simulator enclave with `--max-computations 2
//! --max-computations-per-tenant 1`, the mock exchange. Tenant A sends six
//! aggregate requests at once and tenant B one: B's is computed (A never
//! holds more than one of the two slots), A's beyond its share are answered
//! at once with 429 `too_many_computations` and a Retry-After, none with a
//! 5xx.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{Value, json};

use common::real::submit_demo as submit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_flood_of_computations_does_not_starve_another() {
    let world = common::real::limited(
        &[],
        None,
        &[
            "--max-computations",
            "2",
            "--max-computations-per-tenant",
            "1",
        ],
        &[],
    )
    .await;
    let db = &world.db;
    let host = std::sync::Arc::new(world.host);
    let (alice, bob) = (db.tenant("alice").await, db.tenant("bob").await);
    let quote = host.get("/attestation/quote", &[]).await.json();
    let mut a_sessions = Vec::new();
    for _ in 0..6 {
        a_sessions.push(submit(&host, &alice, &quote).await);
    }
    let b_session = submit(&host, &bob, &quote).await;

    let mut tasks = Vec::new();
    for (key, session) in a_sessions
        .iter()
        .map(|s| (alice.clone(), s.clone()))
        .chain([(bob.clone(), b_session.clone())])
    {
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"session_id": session}).to_string();
            let r = host.post("/enclave/request_aggregates", &key, &body).await;
            (r.status, r.header("retry-after").map(str::to_owned), r.body)
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let (b_status, _, b_body) = answers.pop().unwrap();
    assert_eq!(b_status, 200, "{}", String::from_utf8_lossy(&b_body));
    let ok = answers.iter().filter(|a| a.0 == 200).count();
    let refused: Vec<_> = answers.iter().filter(|a| a.0 != 200).collect();
    assert!(ok >= 1, "A is served too");
    assert!(!refused.is_empty(), "six at once exceed A's one slot");
    for (status, retry, body) in refused {
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            (*status, v["error"]["code"].as_str().unwrap()),
            (429, "too_many_computations")
        );
        assert_eq!(retry.as_deref(), Some("2"));
    }
}
