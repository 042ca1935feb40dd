//! The exchange account behind a result (issue 18), with every real
//! component (PostgreSQL, host, enclave through the egress proxy, the mock
//! exchange): `account` comes from the exchange's `uid`, so two API keys of
//! one account give one pseudonym (a new key cannot shed a record, one
//! account cannot pose as several); a key that can trade is refused with
//! `key_not_read_only` at submit (protocol 5's `check_key`, on by default)
//! and nothing is stored, or, with the check off, at computation and
//! nothing is signed or logged; a read-only key's restrictions are signed
//! into `permissions`, and the account its submit stored is the one its
//! results name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Host, workspace_root};
use serde_json::{Value, json};

/// The demo fixture plus a second read-only key of the same account (same
/// `uid`) and a key of another account that can trade.
fn fixture(dir: &std::path::Path) -> std::path::PathBuf {
    let demo: Value = serde_json::from_slice(
        &std::fs::read(workspace_root().join("scripts/fixtures/demo.json")).unwrap(),
    )
    .unwrap();
    let mut fx = demo.clone();
    let first = demo["accounts"][0].clone();
    let mut second = first.clone();
    second["api_key"] = "second-key-of-the-demo-account".into();
    second["api_secret"] = "second-secret".into();
    let mut trading = first.clone();
    trading["api_key"] = "a-key-that-can-trade".into();
    trading["api_secret"] = "trading-secret".into();
    trading["uid"] = 777_000_111u64.into();
    trading["api_restrictions"] = json!({"ipRestrict": false, "enableReading": true,
        "enableSpotAndMarginTrading": true, "enableWithdrawals": false});
    let accounts = fx["accounts"].as_array_mut().unwrap();
    accounts.push(second);
    accounts.push(trading);
    let path = dir.join("identity.json");
    std::fs::write(&path, serde_json::to_vec(&fx).unwrap()).unwrap();
    path
}

async fn submit(host: &Host, key: &str, quote: &Value, api_key: &str, secret: &str) -> String {
    let sub = common::real::submission(quote, api_key, secret, "main");
    let r = host.post("/enclave/submit_key", key, &sub).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["session_id"].as_str().unwrap().to_owned()
}

async fn aggregate(
    host: &Host,
    key: &str,
    quote: &Value,
    api_key: &str,
    secret: &str,
) -> (u16, Value) {
    let session = submit(host, key, quote, api_key, secret).await;
    let r = host
        .post(
            "/enclave/request_aggregates",
            key,
            &json!({"session_id": session}).to_string(),
        )
        .await;
    (r.status, r.json())
}

async fn count(db: &common::TestDb, table: &str) -> i64 {
    db.client()
        .await
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_one_pseudonym_and_only_read_only_keys() {
    let dir = tempfile::tempdir().unwrap();
    let world = common::real::limited_with(&fixture(dir.path()), &[], None, &[], &[]).await;
    let (db, host) = (&world.db, &world.host);
    let key = db.tenant("acme").await;
    let quote = host.get("/attestation/quote", &[]).await.json();

    // A key that can trade is refused at submit: nothing stored.
    let sub = common::real::submission(&quote, "a-key-that-can-trade", "trading-secret", "main");
    let r = host.post("/enclave/submit_key", &key, &sub).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (422, Some("key_not_read_only")),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(count(db, "sessions").await, 0, "no session stored");
    assert_eq!(count(db, "credentials").await, 0, "no credential stored");

    let session = submit(host, &key, &quote, "demo-api-key", "demo-api-secret").await;
    let stored: Option<String> = db
        .client()
        .await
        .query_one(
            "SELECT account FROM sessions WHERE id = $1::text::uuid",
            &[&session],
        )
        .await
        .unwrap()
        .get(0);
    let r = host
        .post(
            "/enclave/request_aggregates",
            &key,
            &json!({"session_id": session}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let a = r.json();
    let (status, b) = aggregate(
        host,
        &key,
        &quote,
        "second-key-of-the-demo-account",
        "second-secret",
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let (a, b) = (&a["aggregates"], &b["aggregates"]);
    assert_eq!(
        stored.as_deref(),
        a["account"].as_str(),
        "the account stored at submit is the one the result names"
    );
    assert_eq!(a["account"], b["account"], "two keys, one account");
    assert_ne!(a["credential"], b["credential"]);
    assert_eq!(a["symbols"], b["symbols"]);
    // The read-only key's restrictions, as signed.
    let p = &a["permissions"];
    assert_eq!(
        (
            p["reading"].clone(),
            p["spot_trading"].clone(),
            p["withdrawals"].clone()
        ),
        (true.into(), false.into(), false.into()),
        "{p}"
    );
    assert!(p["checked_at"].is_string());
    assert_eq!(count(db, "transparency_log").await, 2);
}

/// With the check at submit off (`SUBMIT_CHECK_KEY=0`), a key that can
/// trade is stored, then refused at computation: nothing signed or logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_submit_check_a_trading_key_is_refused_at_computation() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SUBMIT_CHECK_KEY", "0")];
    let world = common::real::limited_with(&fixture(dir.path()), &[], None, &[], &env).await;
    let (db, host) = (&world.db, &world.host);
    let key = db.tenant("acme").await;
    let quote = host.get("/attestation/quote", &[]).await.json();
    let session = submit(host, &key, &quote, "a-key-that-can-trade", "trading-secret").await;
    let stored: Option<String> = db
        .client()
        .await
        .query_one(
            "SELECT account FROM sessions WHERE id = $1::text::uuid",
            &[&session],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, None, "no account without the check");
    let r = host
        .post(
            "/enclave/request_aggregates",
            &key,
            &json!({"session_id": session}).to_string(),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (422, Some("key_not_read_only")),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(count(db, "transparency_log").await, 0, "nothing logged");
}
