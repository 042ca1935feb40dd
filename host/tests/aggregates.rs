//! `POST /enclave/request_aggregates` against real PostgreSQL and the real host
//! binary, with the stub enclave (which signs with a test P-256 key and checks
//! the log state like the real enclave): signed, stored, logged, provable;
//! gone sessions, other tenants, bad bodies; enclave refusals mapped to codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::agg::{Stack, b64, check_answer, count, hashes, head, root, stack, submit};
use serde_json::json;
use strongroom_verifier::merkle::{leaf_hash, verify_consistency, verify_inclusion};

#[tokio::test]
async fn aggregates_are_signed_stored_logged_and_provable() {
    let s = stack().await;
    let key = s.db.tenant("acme").await;
    let r = s.host.get("/transparency/head", &[]).await;
    assert_eq!((r.status, r.code().as_str()), (404, "log_empty"));
    let session = submit(&s.host, &key, "main").await;
    let body = json!({"session_id": session, "from": "2024-01-01T00:00:00Z",
        "to": "2024-02-01T00:00:00+01:00", "symbols": ["BTCUSDT", "ETHUSDT"]});
    let r = s
        .host
        .post("/enclave/request_aggregates", &key, &body.to_string())
        .await;
    assert_eq!(check_answer(&r, &session), (0, 1));
    let v = r.json();
    assert_eq!(v["aggregates"]["from"], "2024-01-01T00:00:00Z");
    assert_eq!(v["aggregates"]["to"], "2024-01-31T23:00:00Z");
    assert_eq!(
        v["aggregates"]["symbols"]["ETHUSDT"]["volume_quote"],
        "300.25"
    );
    assert_eq!(v["aggregates"]["totals"]["USDT"]["volume_quote"], "600.5");
    assert_eq!(v["log"]["inclusion_proof"], json!([]));
    let mut answers = vec![v];
    for i in 1..5u64 {
        let body = json!({"session_id": session}).to_string();
        let r = s
            .host
            .post("/enclave/request_aggregates", &key, &body)
            .await;
        assert_eq!(check_answer(&r, &session), (i, i + 1));
        answers.push(r.json());
    }
    assert_eq!(
        count(
            &s.db,
            "SELECT count(*) FROM aggregates WHERE attestation IS NOT NULL"
        )
        .await,
        5
    );
    assert_eq!(
        count(&s.db, "SELECT count(*) FROM transparency_log").await,
        5
    );
    assert_eq!(count(&s.db, "SELECT count(*) FROM tree_heads").await, 5);
    assert_eq!(
        count(
            &s.db,
            "SELECT count(*) FROM audit_log WHERE action = 'request_aggregates' AND outcome = 'ok'"
        )
        .await,
        5
    );

    // Public, unauthenticated reads.
    let h = s.host.get("/transparency/head", &[]).await.json();
    assert_eq!(h["tree_size"], 5);
    let newest = head(&b64(&h["tree_head"]));
    assert_eq!(b64(&h["tree_head"]), b64(&answers[4]["log"]["tree_head"]));
    for (i, a) in answers.iter().enumerate() {
        for size in [None, Some(i as u64 + 1), Some(5)] {
            let q = match size {
                Some(n) => format!("/transparency/inclusion?leaf_index={i}&tree_size={n}"),
                None => format!("/transparency/inclusion?leaf_index={i}"),
            };
            let r = s.host.get(&q, &[]).await;
            assert_eq!(r.status, 200, "{q}");
            let v = r.json();
            let leaf = leaf_hash(&b64(&a["aggregates_signed"]));
            assert_eq!(b64(&v["leaf_hash"]), leaf);
            let h = head(&b64(&v["tree_head"]));
            assert_eq!(
                (h.size, v["tree_size"].as_u64().unwrap()),
                (size.unwrap_or(5), h.size)
            );
            verify_inclusion(
                &leaf,
                i as u64,
                h.size,
                &hashes(&v["inclusion_proof"]),
                &root(&h),
            )
            .unwrap();
        }
    }
    for (m, n) in [(1, 5), (2, 3), (3, 5), (4, 4), (1, 1)] {
        let v = s
            .host
            .get(
                &format!("/transparency/consistency?first={m}&second={n}"),
                &[],
            )
            .await;
        assert_eq!(v.status, 200);
        let v = v.json();
        let (old, new) = (head(&b64(&v["first_head"])), head(&b64(&v["second_head"])));
        assert_eq!((old.size, new.size), (m, n));
        verify_consistency(
            m,
            n,
            &root(&old),
            &root(&new),
            &hashes(&v["consistency_proof"]),
        )
        .unwrap();
    }
    assert_eq!(
        root(&newest),
        root(&head(&b64(&answers[4]["log"]["tree_head"])))
    );
    for (q, status, code) in [
        ("/transparency/inclusion?leaf_index=5", 404, "out_of_range"),
        (
            "/transparency/inclusion?leaf_index=0&tree_size=6",
            404,
            "out_of_range",
        ),
        (
            "/transparency/inclusion?leaf_index=3&tree_size=3",
            404,
            "out_of_range",
        ),
        ("/transparency/inclusion?leaf_index=x", 400, "invalid_field"),
        (
            "/transparency/inclusion?leaf_index=-1",
            400,
            "invalid_field",
        ),
        ("/transparency/inclusion", 400, "invalid_field"),
        (
            "/transparency/inclusion?leaf_index=1&leaf_index=2",
            400,
            "invalid_field",
        ),
        (
            "/transparency/inclusion?leaf_index=1&extra=2",
            400,
            "invalid_field",
        ),
        (
            "/transparency/inclusion?leaf_index=99999999999999999999",
            400,
            "invalid_field",
        ),
        (
            "/transparency/consistency?first=0&second=2",
            400,
            "invalid_field",
        ),
        (
            "/transparency/consistency?first=3&second=2",
            400,
            "invalid_field",
        ),
        (
            "/transparency/consistency?first=1&second=6",
            404,
            "out_of_range",
        ),
        ("/transparency/consistency?first=1", 400, "invalid_field"),
        ("/transparency/head?x=1", 400, "invalid_field"),
    ] {
        let r = s.host.get(q, &[]).await;
        assert_eq!((r.status, r.code().as_str()), (status, code), "{q}");
    }
    let r = common::http(&s.host.addr, "POST", "/transparency/head", &[], Some(b"{}")).await;
    assert_eq!(r.status, 405);

    // Erasure keeps the leaves (and so every proof) but drops the link.
    let out = common::run_host(&["tenant", "delete", "acme"], &s.db.env()).await;
    assert!(out.status.success());
    assert_eq!(count(&s.db, "SELECT count(*) FROM aggregates").await, 0);
    assert_eq!(
        count(
            &s.db,
            "SELECT count(*) FROM transparency_log WHERE aggregate_id IS NULL"
        )
        .await,
        5
    );
    let r = s
        .host
        .get("/transparency/inclusion?leaf_index=2", &[])
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn gone_sessions_other_tenants_and_bad_bodies() {
    let s = stack().await;
    let a = s.db.tenant("acme").await;
    let b = s.db.tenant("bravo").await;
    let revoked = submit(&s.host, &a, "main").await;
    let expired = submit(&s.host, &a, "main").await;
    let live = submit(&s.host, &a, "main").await;
    let req = |sid: &str| json!({"session_id": sid}).to_string();
    assert_eq!(
        s.host
            .post("/enclave/revoke", &a, &req(&revoked))
            .await
            .status,
        200
    );
    s.db.client()
        .await
        .execute(
            "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id::text = $1",
            &[&expired],
        )
        .await
        .unwrap();
    for (key, sid, status, code) in [
        (&a, &revoked, 410, "session_revoked"),
        (&a, &expired, 410, "session_expired"),
        (&b, &live, 404, "session_not_found"),
    ] {
        let r = s
            .host
            .post("/enclave/request_aggregates", key, &req(sid))
            .await;
        assert_eq!((r.status, r.code().as_str()), (status, code));
    }
    let too_many: Vec<String> = (0..201).map(|i| format!("S{i}")).collect();
    for (body, status, code) in [
        (
            json!({"session_id": live, "nonce": "x"}),
            400,
            "invalid_json",
        ),
        (
            json!({"session_id": live, "from": "2024-01-02T00:00:00Z", "to": "2024-01-01T00:00:00Z"}),
            400,
            "invalid_field",
        ),
        (
            json!({"session_id": live, "from": "2024-01-01"}),
            400,
            "invalid_field",
        ),
        (
            json!({"session_id": live, "symbols": too_many}),
            400,
            "invalid_length",
        ),
        (
            json!({"session_id": live, "symbols": ["btcusdt"]}),
            400,
            "invalid_field",
        ),
        (json!({"session_id": "nope"}), 400, "invalid_session_id"),
    ] {
        let r = s
            .host
            .post("/enclave/request_aggregates", &a, &body.to_string())
            .await;
        assert_eq!((r.status, r.code().as_str()), (status, code), "{body}");
    }
    assert_eq!(count(&s.db, "SELECT count(*) FROM aggregates").await, 0);
    assert_eq!(
        count(&s.db, "SELECT count(*) FROM transparency_log").await,
        0
    );
    let audited: Vec<String> =
        s.db.client()
            .await
            .query(
                "SELECT outcome FROM audit_log WHERE action = 'request_aggregates' ORDER BY id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    assert_eq!(
        audited,
        ["session_revoked", "session_expired", "session_not_found"]
    );
    // The live session still works for its own tenant.
    let r = s
        .host
        .post("/enclave/request_aggregates", &a, &req(&live))
        .await;
    check_answer(&r, &live);
}

#[tokio::test]
async fn enclave_refusals_map_to_distinct_codes_and_store_nothing() {
    let s = stack().await;
    let key = s.db.tenant("acme").await;
    for (code, status, want) in [
        (
            "exchange_rejected_credentials",
            422,
            "exchange_rejected_credentials",
        ),
        ("exchange_rate_limited", 429, "exchange_rate_limited"),
        ("exchange_unreachable", 502, "exchange_unreachable"),
        ("egress_refused", 502, "egress_refused"),
        ("invalid_argument", 400, "invalid_argument"),
        // A stored envelope whose key is gone (no newer ring to reload, envelope
        // unchanged): the session cannot be used again, the client resubmits.
        ("unknown_key_id", 409, "key_version_gone"),
        ("metadata_mismatch", 422, "metadata_mismatch"),
        ("internal", 502, "enclave_error"),
        ("busy", 503, "enclave_not_ready"),
    ] {
        let session = submit(&s.host, &key, &format!("agg_{code}")).await;
        let body = json!({"session_id": session}).to_string();
        let r = s
            .host
            .post("/enclave/request_aggregates", &key, &body)
            .await;
        assert_eq!((r.status, r.code().as_str()), (status, want), "{code}");
        assert_eq!(r.header("retry-after").is_some(), status == 429, "{code}");
        if code == "unknown_key_id" {
            let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
            assert!(msg.contains("submit the credential again"), "{msg}");
        }
    }
    assert_eq!(r_after(&s).await, "60");
    assert_eq!(count(&s.db, "SELECT count(*) FROM aggregates").await, 0);
    assert_eq!(
        count(&s.db, "SELECT count(*) FROM transparency_log").await,
        0
    );
    assert_eq!(
        count(&s.db, "SELECT tree_size FROM transparency_state").await,
        0
    );
    assert_eq!(
        count(
            &s.db,
            "SELECT count(*) FROM audit_log WHERE action = 'request_aggregates' AND outcome <> 'ok'"
        )
        .await,
        10
    );
}

async fn r_after(s: &Stack) -> String {
    let key = s.db.tenant("retry").await;
    let session = submit(&s.host, &key, "agg_exchange_rate_limited").await;
    let body = json!({"session_id": session}).to_string();
    let r = s
        .host
        .post("/enclave/request_aggregates", &key, &body)
        .await;
    r.header("retry-after").unwrap().to_owned()
}
