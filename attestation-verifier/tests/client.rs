//! `client::Client` against a tiny HTTP/1.1 server started here (a
//! `TcpListener` thread answering canned JSON): paths, headers, bodies,
//! and the mapping of statuses and error bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http_server::Server;
use std::net::TcpListener;
use strongroom_verifier::client::{ClientError, SubmitAnswer};
use strongroom_verifier::{Client, SubmitKeyBody};

fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({"error": {"code": code, "message": message}}).to_string()
}

fn quote_json() -> String {
    serde_json::to_string(&common::quote_fixture::fixture().quote).unwrap()
}

#[test]
fn quote_sends_the_nonce_percent_encoded_and_the_bearer_key() {
    let q = quote_json();
    let server = Server::start(move |_| (200, q.clone()));
    let client = Client::new(&server.url, "tenant-key-1").unwrap();
    let nonce = [0xfb, 0xff, 0xfe, 0x01]; // base64 "+//+AQ==": every reserved character
    let quote = client.quote(Some(&nonce)).unwrap();
    assert_eq!(quote, common::quote_fixture::fixture().quote);
    client.quote(None).unwrap();
    let seen = server.seen();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].target,
        "/attestation/quote?nonce=%2B%2F%2F%2BAQ%3D%3D"
    );
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Bearer tenant-key-1")
    );
    assert_eq!(seen[1].target, "/attestation/quote");
    assert!(matches!(
        client.quote(Some(&[0; 65])),
        Err(ClientError::InvalidRequest(_))
    ));
}

#[test]
fn submit_request_aggregates_and_revoke_post_the_documented_bodies() {
    let server = Server::start(|seen| match seen.target.as_str() {
        "/enclave/submit_key" => (
            201,
            r#"{"session_id":"6f1c...","expires_at":"2027-01-16T08:00:00Z"}"#.into(),
        ),
        "/enclave/revoke" => (200, r#"{"revoked":true}"#.into()),
        _ => (404, error_body("not_found", "no such route")),
    });
    let client = Client::new(&server.url, "k").unwrap();
    let body = SubmitKeyBody {
        key_id: "v1:2026".into(),
        ephemeral_pub: "BAAA".into(),
        ciphertext: "AAAA".into(),
        tag: "AAAAAAAAAAAAAAAAAAAAAA==".into(),
        metadata: strongroom_verifier::CredentialMetadata {
            exchange: "binance".into(),
            label: "main".into(),
            ttl: 3600,
        },
    };
    let answer = client.submit(&body).unwrap();
    assert_eq!(
        answer,
        SubmitAnswer {
            session_id: "6f1c...".into(),
            expires_at: "2027-01-16T08:00:00Z".into()
        }
    );
    client.revoke("6f1c...").unwrap();
    let symbols = vec!["BTCUSDT".to_owned()];
    let err = client
        .request_aggregates(
            "6f1c...",
            Some("2026-01-01T00:00:00Z"),
            None,
            Some(&symbols),
        )
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    let seen = server.seen();
    let json = |i: usize| serde_json::from_slice::<serde_json::Value>(&seen[i].body).unwrap();
    assert_eq!(json(0), serde_json::to_value(&body).unwrap());
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(json(1), serde_json::json!({"session_id": "6f1c..."}));
    // Absent bounds are omitted, not null: the host rejects unknown shapes.
    assert_eq!(
        json(2),
        serde_json::json!({"session_id": "6f1c...", "from": "2026-01-01T00:00:00Z", "symbols": ["BTCUSDT"]})
    );
    assert!(seen.iter().all(|s| s.method == "POST"));
}

#[test]
fn host_errors_become_typed_errors_with_the_server_code_and_status() {
    let server = Server::start(|seen| match seen.target.as_str() {
        "/enclave/revoke" => (401, error_body("unauthorized", "bad key")),
        "/enclave/submit_key" => (429, error_body("rate_limited", "slow down\nplease")),
        "/attestation/quote" => (503, "<html>bad gateway</html>".into()),
        "/transparency/head" => (400, error_body("Not A Code!", "x")),
        _ => (200, r#"{"unexpected": true}"#.into()),
    });
    let client = Client::new(&server.url, "k").unwrap();
    let err = client.revoke("s").unwrap_err();
    assert_eq!(
        err,
        ClientError::Api {
            status: 401,
            code: "unauthorized".into(),
            message: "bad key".into()
        }
    );
    assert_eq!(err.code(), "unauthorized");
    let body: SubmitKeyBody = serde_json::from_value(serde_json::json!({
        "key_id": "k", "ephemeral_pub": "", "ciphertext": "", "tag": "",
        "metadata": {"exchange": "binance", "label": "main", "ttl": 1}
    }))
    .unwrap();
    let err = client.submit(&body).unwrap_err();
    assert_eq!(err.code(), "rate_limited");
    assert_eq!(err.status(), Some(429));
    assert!(err.to_string().contains("slow down please"), "{err}");
    assert_eq!(
        client.quote(None).unwrap_err(),
        ClientError::Status { status: 503 }
    );
    assert_eq!(
        client.transparency_head().unwrap_err(),
        ClientError::Status { status: 400 }
    );
    let err = client
        .request_aggregates("s", None, None, None)
        .unwrap_err();
    assert!(matches!(err, ClientError::Answer(_)), "{err:?}");
}

#[test]
fn oversized_answers_and_dead_hosts_fail_cleanly() {
    let big = format!(
        r#"{{"tree_size":1,"tree_head":"{}"}}"#,
        "A".repeat(70 * 1024)
    );
    let server = Server::start(move |_| (200, big.clone()));
    let client = Client::new(&server.url, "k").unwrap();
    assert!(matches!(
        client.transparency_head(),
        Err(ClientError::TooLarge(_))
    ));
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = Client::new(&format!("http://127.0.0.1:{port}"), "k").unwrap();
    let err = dead.quote(None).unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err:?}");
    assert_eq!(err.status(), None);
}

#[test]
fn one_client_is_shared_by_many_threads() {
    let server = Server::start(|_| (200, r#"{"tree_head":"AAAA","tree_size":3}"#.into()));
    let client = Client::new(&server.url, "k").unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let c = client.clone();
            std::thread::spawn(move || {
                (0..5)
                    .map(|_| c.transparency_head().unwrap().tree_head)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap().iter().all(|h| h == "AAAA"));
    }
    assert_eq!(server.seen().len(), 40);
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Client>();
}

#[test]
fn transparency_reads_are_public_and_typed() {
    let server = Server::start(|seen| {
        let body = match seen.target.split('?').next().unwrap() {
            "/transparency/head" => r#"{"tree_size":7,"tree_head":"AAAA"}"#,
            "/transparency/inclusion" => {
                r#"{"leaf_index":4,"tree_size":7,"leaf_hash":"AA==","inclusion_proof":["AA=="],"tree_head":"AAAA"}"#
            }
            _ => {
                r#"{"first":3,"second":7,"consistency_proof":[],"first_head":"A","second_head":"B"}"#
            }
        };
        (200, body.into())
    });
    let client = Client::new(&server.url, "k").unwrap();
    assert_eq!(client.transparency_head().unwrap().tree_size, 7);
    assert_eq!(
        client
            .transparency_inclusion(4, Some(7))
            .unwrap()
            .leaf_index,
        4
    );
    client.transparency_inclusion(4, None).unwrap();
    assert_eq!(
        client.transparency_consistency(3, 7).unwrap().second_head,
        "B"
    );
    let seen = server.seen();
    let targets: Vec<&str> = seen.iter().map(|s| s.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/transparency/head",
            "/transparency/inclusion?leaf_index=4&tree_size=7",
            "/transparency/inclusion?leaf_index=4",
            "/transparency/consistency?first=3&second=7"
        ]
    );
    assert!(seen.iter().all(|s| s.authorization.is_none()));
}

fn job_json(state: &str, done: u64, extra: serde_json::Value) -> String {
    let mut j = serde_json::json!({"job": {
        "id": "4f1c2b8e-6d1a-4f5b-9c3e-2a7d8e9f0b1c", "session_id": "s", "state": state,
        "progress": {"symbols_done": done, "symbols_total": 3, "weight_used": done * 20},
        "attempts": 1, "created_at": "2026-12-07T06:00:00Z"}});
    if let (Some(o), Some(e)) = (j.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    j.to_string()
}

#[test]
fn a_computation_answered_202_is_followed_until_its_job_ends() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let polls = std::sync::Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let server = Server::start(move |seen| match seen.target.as_str() {
        "/enclave/request_aggregates" => (202, job_json("running", 1, serde_json::json!({}))),
        "/enclave/jobs/4f1c2b8e-6d1a-4f5b-9c3e-2a7d8e9f0b1c" => {
            match p.fetch_add(1, Ordering::SeqCst) {
                0 => (200, job_json("running", 2, serde_json::json!({}))),
                _ => (
                    200,
                    job_json(
                        "done",
                        3,
                        serde_json::json!({"result": {"aggregates": {"x": 1}}}),
                    ),
                ),
            }
        }
        _ => (404, error_body("not_found", "no such route")),
    });
    let client = Client::new(&server.url, "k").unwrap();
    let body = strongroom_verifier::client::AggregatesRequest {
        session_id: "s".into(),
        ..Default::default()
    };
    let mut reports = Vec::new();
    let raw = client
        .request_aggregates_follow(&body, |p| reports.push(p.symbols_done))
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(answer, serde_json::json!({"aggregates": {"x": 1}}));
    assert_eq!(reports, vec![1, 2, 3]);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen[1..]
            .iter()
            .all(|s| s.method == "GET" && s.authorization.as_deref() == Some("Bearer k"))
    );

    // A job that fails is the request's refusal, with its code.
    let server = Server::start(|seen| match seen.target.as_str() {
        "/enclave/request_aggregates" => (202, job_json("running", 0, serde_json::json!({}))),
        _ => (
            200,
            job_json(
                "failed",
                1,
                serde_json::json!({"error": {"code": "key_not_read_only", "message": "m"}}),
            ),
        ),
    });
    let client = Client::new(&server.url, "k").unwrap();
    let err = client.request_aggregates_follow(&body, |_| {}).unwrap_err();
    assert_eq!(err.code(), "key_not_read_only");
}
