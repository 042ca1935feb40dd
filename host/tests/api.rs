//! The HTTP API against real PostgreSQL and the real binary, with a stub enclave
//! on the real RPC protocol (or none, for the unavailable cases).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::stub::StubEnclave;
use common::{Host, TestDb, http, raw, socket_in};
use serde_json::json;

fn submit_body(label: &str, ttl: u64) -> String {
    json!({
        "key_id": "stub-1",
        "ephemeral_pub": STANDARD.encode([4u8; 65]),
        "ciphertext": STANDARD.encode([7u8; 48]),
        "tag": STANDARD.encode([8u8; 16]),
        "metadata": {"exchange": "binance", "label": label, "ttl": ttl}
    })
    .to_string()
}

struct Stack {
    db: TestDb,
    host: Host,
    enclave: Option<StubEnclave>,
    _dir: tempfile::TempDir,
}

async fn stack(extra: &[(&str, &str)]) -> Stack {
    let db = TestDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, addr) = socket_in(dir.path());
    let enclave = Some(StubEnclave::start(&path));
    let host = Host::start(&db, &addr, extra).await;
    Stack {
        db,
        host,
        enclave,
        _dir: dir,
    }
}

#[tokio::test]
async fn submit_then_revoke_then_410() {
    let s = stack(&[]).await;
    let key = s.db.tenant("acme").await;
    let r = s
        .host
        .post("/enclave/submit_key", &key, &submit_body("main", 3600))
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let session = v["session_id"].as_str().unwrap().to_owned();
    let expires = v["expires_at"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.contains('T'), "{expires}");

    let c = s.db.client().await;
    let row = c
        .query_one(
            "SELECT sealed FROM credentials WHERE session_id::text = $1",
            &[&session],
        )
        .await
        .unwrap();
    // The stored form: enc ‖ ciphertext ‖ tag.
    let want = [vec![4u8; 65], vec![7u8; 48], vec![8u8; 16]].concat();
    assert_eq!(row.get::<_, Vec<u8>>(0), want);

    let body = json!({"session_id": session}).to_string();
    let r = s
        .host
        .post("/enclave/request_aggregates", &key, &body)
        .await;
    assert_eq!(r.status, 200, "the stub enclave signs aggregates");
    let r = s.host.post("/enclave/revoke", &key, &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"revoked": true}));
    let n: i64 = c
        .query_one("SELECT count(*) FROM credentials", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "ciphertext purged at once");
    assert_eq!(
        s.enclave
            .as_ref()
            .unwrap()
            .forgotten
            .lock()
            .unwrap()
            .as_slice(),
        std::slice::from_ref(&session)
    );
    for path in ["/enclave/revoke", "/enclave/request_aggregates"] {
        let r = s.host.post(path, &key, &body).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (410, "session_revoked"),
            "{path}"
        );
    }
    let audit: Vec<(String, String)> = c
        .query(
            "SELECT action, outcome FROM audit_log WHERE session_id::text = $1 ORDER BY id",
            &[&session],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        audit,
        [
            ("submit_key".into(), "ok".into()),
            ("request_aggregates".into(), "ok".into()),
            ("revoke".into(), "ok".into()),
            ("request_aggregates".into(), "session_revoked".into()),
        ]
    );
    let clients: i64 = c
        .query_one(
            "SELECT count(*) FROM audit_log WHERE client LIKE '%127.0.0.1%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(clients, 0, "addresses are pseudonymised");
}

#[tokio::test]
async fn tenants_cannot_see_or_touch_each_others_sessions() {
    let s = stack(&[]).await;
    let a = s.db.tenant("alpha").await;
    let b = s.db.tenant("beta").await;
    let r = s
        .host
        .post("/enclave/submit_key", &a, &submit_body("main", 3600))
        .await;
    let body = json!({"session_id": r.json()["session_id"]}).to_string();
    for path in ["/enclave/revoke", "/enclave/request_aggregates"] {
        let r = s.host.post(path, &b, &body).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (404, "session_not_found"),
            "{path}"
        );
    }
    let n: i64 =
        s.db.client()
            .await
            .query_one("SELECT count(*) FROM credentials", &[])
            .await
            .unwrap()
            .get(0);
    assert_eq!(n, 1, "beta's revoke did not touch alpha's credential");
    assert_eq!(s.host.post("/enclave/revoke", &a, &body).await.status, 200);
}

#[tokio::test]
async fn enclave_refusals_map_to_distinct_4xx() {
    let s = stack(&[]).await;
    let key = s.db.tenant("acme").await;
    for (code, status, want) in [
        ("metadata_mismatch", 422, "metadata_mismatch"),
        ("open_failed", 422, "open_failed"),
        ("unknown_key_id", 409, "unknown_key_id"),
        ("credential_expired", 422, "credential_expired"),
        ("ttl_too_long", 422, "ttl_too_long"),
        ("malformed_credential", 422, "malformed_credential"),
        ("not_ready", 503, "enclave_not_ready"),
    ] {
        let r = s
            .host
            .post(
                "/enclave/submit_key",
                &key,
                &submit_body(&format!("refuse_{code}"), 60),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (status, want));
    }
    let n: i64 =
        s.db.client()
            .await
            .query_one("SELECT count(*) FROM sessions", &[])
            .await
            .unwrap()
            .get(0);
    assert_eq!(n, 0, "nothing stored unless the enclave accepts");
}

#[tokio::test]
async fn quote_passes_through_and_checks_the_nonce() {
    let s = stack(&[]).await;
    let nonce = STANDARD.encode([5u8; 64]);
    let r = s
        .host
        .get(
            &format!("/attestation/quote?nonce={}", nonce.replace('=', "%3D")),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let doc = STANDARD.decode(v["quote"].as_str().unwrap()).unwrap();
    assert!(doc.ends_with(&[5u8; 64]));
    assert_eq!(v["image_hash"], "ab".repeat(48));
    assert_eq!(v["key_id"], "stub-1");
    assert_eq!(
        STANDARD
            .decode(v["enclave_pubkey"].as_str().unwrap())
            .unwrap()
            .len(),
        65
    );
    let long = STANDARD.encode([5u8; 65]);
    let r = s
        .host
        .get(&format!("/attestation/quote?nonce={long}"), &[])
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "nonce_too_long"));
}

#[tokio::test]
async fn malformed_inputs_get_4xx_json_and_the_server_keeps_serving() {
    let s = stack(&[("RATE_LIMIT_MAX", "1000")]).await;
    let key = s.db.tenant("acme").await;
    let good: serde_json::Value = serde_json::from_str(&submit_body("main", 60)).unwrap();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string()
    };
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("not json", "{".into(), 400, "invalid_json"),
        ("array", "[]".into(), 400, "invalid_json"),
        (
            "unknown field nonce",
            with(&|v| v["nonce"] = json!("AAAA")),
            400,
            "invalid_json",
        ),
        (
            "unknown metadata field",
            with(&|v| v["metadata"]["x"] = json!(1)),
            400,
            "invalid_json",
        ),
        (
            "missing tag",
            with(&|v| {
                v.as_object_mut().unwrap().remove("tag");
            }),
            400,
            "invalid_json",
        ),
        (
            "bad base64",
            with(&|v| v["tag"] = json!("!!!!")),
            400,
            "invalid_base64",
        ),
        (
            "urlsafe base64",
            with(&|v| v["ciphertext"] = json!("-_-_")),
            400,
            "invalid_base64",
        ),
        (
            "unpadded base64",
            with(&|v| v["tag"] = json!(STANDARD.encode([1u8; 16]).trim_end_matches('='))),
            400,
            "invalid_base64",
        ),
        (
            "enc 64 bytes",
            with(&|v| v["ephemeral_pub"] = json!(STANDARD.encode([4u8; 64]))),
            400,
            "invalid_length",
        ),
        (
            "enc 66 bytes",
            with(&|v| v["ephemeral_pub"] = json!(STANDARD.encode([4u8; 66]))),
            400,
            "invalid_length",
        ),
        (
            "enc compressed",
            with(&|v| v["ephemeral_pub"] = json!(STANDARD.encode([2u8; 65]))),
            400,
            "invalid_field",
        ),
        (
            "tag 15",
            with(&|v| v["tag"] = json!(STANDARD.encode([1u8; 15]))),
            400,
            "invalid_length",
        ),
        (
            "tag 17",
            with(&|v| v["tag"] = json!(STANDARD.encode([1u8; 17]))),
            400,
            "invalid_length",
        ),
        (
            "ciphertext empty",
            with(&|v| v["ciphertext"] = json!("")),
            400,
            "invalid_length",
        ),
        (
            "ciphertext 4097",
            with(&|v| v["ciphertext"] = json!(STANDARD.encode([1u8; 4097]))),
            400,
            "invalid_length",
        ),
        (
            "ttl 0",
            with(&|v| v["metadata"]["ttl"] = json!(0)),
            400,
            "invalid_ttl",
        ),
        (
            "ttl over max",
            with(&|v| v["metadata"]["ttl"] = json!(604_801)),
            400,
            "invalid_ttl",
        ),
        (
            "ttl negative",
            with(&|v| v["metadata"]["ttl"] = json!(-1)),
            400,
            "invalid_json",
        ),
        (
            "ttl string",
            with(&|v| v["metadata"]["ttl"] = json!("60")),
            400,
            "invalid_json",
        ),
        (
            "empty key_id",
            with(&|v| v["key_id"] = json!("")),
            400,
            "invalid_length",
        ),
        (
            "exchange with a slash (contract: [A-Za-z0-9_.-])",
            with(&|v| v["metadata"]["exchange"] = json!("bin/ance")),
            400,
            "invalid_field",
        ),
        (
            "label control char",
            with(&|v| v["metadata"]["label"] = json!("a\u{1}b")),
            400,
            "invalid_field",
        ),
        (
            "label with a space (refused before the enclave since the contract)",
            with(&|v| v["metadata"]["label"] = json!("my main")),
            400,
            "invalid_field",
        ),
        (
            "huge body",
            format!("{{\"key_id\":\"{}\"}}", "a".repeat(70_000)),
            413,
            "payload_too_large",
        ),
    ];
    for (name, body, status, code) in &cases {
        let r = s.host.post("/enclave/submit_key", &key, body).await;
        assert_eq!((r.status, r.code().as_str()), (*status, *code), "{name}");
        assert_eq!(r.header("content-type"), Some("application/json"), "{name}");
    }
    for (body, code) in [
        ("{\"session_id\":\"nope\"}", "invalid_session_id"),
        (
            "{\"session_id\":\"3f1c1f0e-8d7e-4a57-9d2e-1b1f2f3a4b5c\",\"extra\":1}",
            "invalid_json",
        ),
        ("{}", "invalid_json"),
    ] {
        let r = s.host.post("/enclave/revoke", &key, body).await;
        assert_eq!((r.status, r.code().as_str()), (400, code), "{body}");
    }
    let r = s
        .host
        .post(
            "/enclave/request_aggregates",
            &key,
            "{\"session_id\":\"3f1c1f0e-8d7e-4a57-9d2e-1b1f2f3a4b5c\",\"from\":\"yesterday\"}",
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_field"));
    let auth = format!("Bearer {key}");
    let r = http(
        &s.host.addr,
        "POST",
        "/enclave/revoke",
        &[("authorization", &auth), ("content-type", "text/plain")],
        Some(b"{}"),
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (415, "unsupported_media_type")
    );
    let r = s.host.get("/nowhere", &[]).await;
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let r = s.host.get("/enclave/revoke", &[]).await;
    assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));
    // Garbage on the wire: hyper answers 400 or closes; the server stays up.
    let _ = raw(&s.host.addr, b"\x16\x03\x01garbage\r\n\r\n").await;
    let big_header = format!("GET /healthz HTTP/1.1\r\nx: {}\r\n\r\n", "a".repeat(20_000));
    let r = raw(&s.host.addr, big_header.as_bytes()).await;
    assert!(r.is_none_or(|r| r.status == 431 || r.status == 400));
    let r = s.host.get("/healthz", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"status": "ok"}));
    let r = s
        .host
        .post("/enclave/submit_key", &key, &submit_body("main", 60))
        .await;
    assert_eq!(r.status, 201, "still serving");
}

#[tokio::test]
async fn security_headers_and_cors() {
    let s = stack(&[("ALLOWED_ORIGINS", "https://app.example")]).await;
    let r = s
        .host
        .get("/healthz", &[("origin", "https://app.example")])
        .await;
    for (h, v) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("access-control-allow-origin", "https://app.example"),
    ] {
        assert_eq!(r.header(h), Some(v), "{h}");
    }
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(r.header("x-request-id").is_some());
    assert!(
        r.header("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );
    let r = s
        .host
        .get("/healthz", &[("origin", "https://evil.example")])
        .await;
    assert!(r.header("access-control-allow-origin").is_none());
    let pre = |origin: &'static str| {
        let addr = s.host.addr.clone();
        async move {
            http(
                &addr,
                "OPTIONS",
                "/enclave/submit_key",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                ],
                None,
            )
            .await
        }
    };
    let ok = pre("https://app.example").await;
    assert_eq!(ok.status, 204);
    assert!(
        ok.header("access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
    let bad = pre("https://evil.example").await;
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (403, "origin_not_allowed")
    );
}

#[tokio::test]
async fn rate_limit_triggers_and_lifts() {
    let s = stack(&[("RATE_LIMIT_MAX", "3"), ("RATE_LIMIT_WINDOW", "1500")]).await;
    let key = s.db.tenant("acme").await;
    let body = json!({"session_id": "3f1c1f0e-8d7e-4a57-9d2e-1b1f2f3a4b5c"}).to_string();
    for _ in 0..3 {
        assert_eq!(
            s.host.post("/enclave/revoke", &key, &body).await.status,
            404
        );
    }
    let r = s.host.post("/enclave/revoke", &key, &body).await;
    assert_eq!((r.status, r.code().as_str()), (429, "rate_limited"));
    let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&after), "{after}");
    assert_eq!(
        s.host.get("/healthz", &[]).await.status,
        200,
        "probes are not limited"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        s.host.post("/enclave/revoke", &key, &body).await.status,
        404,
        "lifted"
    );
}

#[tokio::test]
async fn lockout_after_failed_auths_is_shared_and_lifts() {
    let s = stack(&[("LOCKOUT_SECONDS", "2"), ("RATE_LIMIT_MAX", "1000")]).await;
    let key = s.db.tenant("acme").await;
    let body = json!({"session_id": "3f1c1f0e-8d7e-4a57-9d2e-1b1f2f3a4b5c"}).to_string();
    for i in 0..5 {
        let r = s.host.post("/enclave/revoke", "srk_wrong", &body).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "unauthorized"),
            "attempt {i}"
        );
    }
    // Locked: a wrong key is refused without a lookup answer, and a second
    // host instance agrees. The right key still works (issue 15: a valid key
    // is never refused because of failures by others from its address).
    let r = s.host.post("/enclave/revoke", "srk_wrong", &body).await;
    assert_eq!((r.status, r.code().as_str()), (429, "locked_out"));
    assert!(r.header("retry-after").is_some());
    assert_eq!(
        s.host.post("/enclave/revoke", &key, &body).await.status,
        404
    );
    let dir = tempfile::tempdir().unwrap();
    let (_, addr) = socket_in(dir.path());
    let other = Host::start(&s.db, &addr, &[]).await;
    let r = other
        .post("/enclave/revoke", "srk_other_wrong", &body)
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (429, "locked_out"),
        "lockout lives in PostgreSQL"
    );
    let r = http(
        &s.host.addr,
        "POST",
        "/enclave/revoke",
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 429);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        s.host.post("/enclave/revoke", &key, &body).await.status,
        404,
        "lifted"
    );
    let n: i64 = s
        .db
        .client()
        .await
        .query_one("SELECT count(*) FROM audit_log WHERE action = 'authenticate' AND outcome = 'locked_out'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn janitor_purges_expired_sessions() {
    let s = stack(&[("JANITOR_INTERVAL_SECONDS", "1")]).await;
    let key = s.db.tenant("acme").await;
    let r = s
        .host
        .post("/enclave/submit_key", &key, &submit_body("main", 1))
        .await;
    assert_eq!(r.status, 201);
    let session = r.json()["session_id"].as_str().unwrap().to_owned();
    let c = s.db.client().await;
    let mut purged = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let n: i64 = c
            .query_one("SELECT count(*) FROM credentials", &[])
            .await
            .unwrap()
            .get(0);
        if n == 0 {
            purged = true;
            break;
        }
    }
    assert!(purged, "janitor removed the expired credential");
    let outcome: String = c
        .query_one(
            "SELECT outcome FROM audit_log WHERE action = 'expire' AND session_id::text = $1",
            &[&session],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(outcome, "purged");
    let r = s
        .host
        .post(
            "/enclave/revoke",
            &key,
            &json!({"session_id": session}).to_string(),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (410, "session_expired"));
    let m = s.host.get("/metrics", &[]).await;
    let text = String::from_utf8(m.body).unwrap();
    assert!(text.contains("strongroom_janitor_purged_total 1"), "{text}");
    assert!(text.contains(
        "strongroom_http_requests_total{route=\"/enclave/submit_key\",status=\"201\"} 1"
    ));
}

#[tokio::test]
async fn enclave_unavailable_is_503_and_recovers() {
    let mut s = stack(&[]).await;
    let key = s.db.tenant("acme").await;
    common::wait_ready(&s.host).await;
    let path = s.enclave.as_ref().unwrap().path.clone();
    s.enclave.take().unwrap().stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = s
        .host
        .post("/enclave/submit_key", &key, &submit_body("main", 60))
        .await;
    assert_eq!((r.status, r.code().as_str()), (503, "enclave_unavailable"));
    let r = s.host.get("/attestation/quote", &[]).await;
    assert_eq!((r.status, r.code().as_str()), (503, "enclave_unavailable"));
    // /readyz answers from a state refreshed once a second.
    let bound = Duration::from_secs(5);
    common::readyz_becomes(&s.host, 503, Some("enclave_unavailable"), bound).await;
    s.enclave = Some(StubEnclave::start(&path));
    let mut recovered = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if s.host
            .post("/enclave/submit_key", &key, &submit_body("main", 60))
            .await
            .status
            == 201
        {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "host reconnects when the enclave returns");
    let m = String::from_utf8(s.host.get("/metrics", &[]).await.body).unwrap();
    assert!(
        m.contains("strongroom_enclave_rpc_errors_total{kind=\"unavailable\"}"),
        "{m}"
    );
}

#[tokio::test]
async fn database_loss_is_503_and_sigterm_drains() {
    let s = stack(&[]).await;
    let key = s.db.tenant("acme").await;
    let admin = common::connect(&common::with_dbname(&common::admin_url(), "postgres")).await;
    admin
        .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", s.db.name))
        .await
        .unwrap();
    let r = s
        .host
        .post(
            "/enclave/revoke",
            &key,
            "{\"session_id\":\"3f1c1f0e-8d7e-4a57-9d2e-1b1f2f3a4b5c\"}",
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (503, "database_unavailable"));
    let bound = Duration::from_secs(5);
    common::readyz_becomes(&s.host, 503, Some("database_unavailable"), bound).await;
    assert_eq!(s.host.get("/healthz", &[]).await.status, 200);
    let Stack { host, .. } = s;
    let status = host.terminate().await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

#[tokio::test]
async fn slow_heads_time_out_and_connections_are_limited() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = stack(&[("HEADER_READ_TIMEOUT_MS", "500"), ("MAX_CONNECTIONS", "1")]).await;
    // A client that never finishes its head is cut off.
    let mut slow = tokio::net::TcpStream::connect(&s.host.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    // While it holds the only connection slot, another client waits...
    let addr = s.host.addr.clone();
    let waiting = tokio::spawn(async move { s_get(&addr).await });
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut sink))
        .await
        .unwrap();
    let cut = started.elapsed();
    assert!(
        cut >= Duration::from_millis(400) && cut < Duration::from_secs(5),
        "{cut:?}"
    );
    // ...and is served once the slot frees.
    assert_eq!(waiting.await.unwrap(), 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

async fn s_get(addr: &str) -> u16 {
    http(addr, "GET", "/healthz", &[], None).await.status
}

#[tokio::test]
async fn sigterm_drains_a_request_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = stack(&[]).await;
    let key = s.db.tenant("acme").await;
    let body = json!({"session_id": "3f1c1f0e-8d7e-4a57-9d2e-1b1f2f3a4b5c"}).to_string();
    let (first, rest) = body.as_bytes().split_at(10);
    let mut c = tokio::net::TcpStream::connect(&s.host.addr).await.unwrap();
    let head = format!(
        "POST /enclave/revoke HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let Stack { host, db, .. } = s;
    let pid = host.child.id().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // New connections are no longer accepted...
    assert!(tokio::net::TcpStream::connect(&host.addr).await.is_err());
    // ...but the request in flight completes.
    c.write_all(rest).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    assert!(text.contains("session_not_found"));
    assert!(host.terminate().await.success());
    drop(db);
}

#[tokio::test]
async fn serves_as_app_service_without_owner_credentials_and_refuses_a_superuser_pool() {
    let db = TestDb::migrated().await;
    let key = db.tenant("acme").await;
    let dir = tempfile::tempdir().unwrap();
    let (path, addr) = socket_in(dir.path());
    let _enclave = StubEnclave::start(&path);
    let app_url = db.url.replacen("postgres@", "app_service@", 1);
    let host = Host::start(
        &db,
        &addr,
        &[("DATABASE_URL", ""), ("APP_DATABASE_URL", &app_url)],
    )
    .await;
    let r = host
        .post("/enclave/submit_key", &key, &submit_body("main", 60))
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let body = json!({"session_id": r.json()["session_id"]}).to_string();
    assert_eq!(host.post("/enclave/revoke", &key, &body).await.status, 200);

    // A pool login that bypasses row-level security is refused at start.
    let mut env = db.env();
    env.insert("APP_DATABASE_URL".into(), db.url.clone());
    env.insert("ENCLAVE_ADDR".into(), addr);
    env.insert("LISTEN_ADDR".into(), "127.0.0.1:0".into());
    let out = common::run_host(&["serve"], &env).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bypasses row-level security"));
}

/// `submit_key` skips its separate key lookup for a key that authenticated in
/// the last SUBMIT_AUTH_CACHE_SECONDS (one round trip per submit), yet a key
/// revoked in between stores nothing: the store call authenticates again, the
/// answer is 401, and the enclave is told to forget the session it opened.
/// The next attempt is refused before the enclave is asked.
#[tokio::test]
async fn a_key_revoked_within_the_submit_auth_cache_stores_nothing() {
    let s = stack(&[]).await;
    let key = s.db.tenant("acme").await;
    let body = submit_body("main", 3600);
    let submit = || s.host.post("/enclave/submit_key", &key, &body);
    assert_eq!(submit().await.status, 201);
    s.db.client()
        .await
        .execute("UPDATE api_keys SET revoked_at = now()", &[])
        .await
        .unwrap();
    let r = submit().await;
    assert_eq!((r.status, r.code()), (401, "unauthorized".to_owned()));
    let forgotten = s.enclave.as_ref().unwrap().forgotten.clone();
    assert_eq!(
        forgotten.lock().unwrap().len(),
        1,
        "the opened session is forgotten"
    );
    assert_eq!(s.db.count("SELECT count(*) FROM sessions").await, 1);
    assert_eq!(s.db.count("SELECT count(*) FROM credentials").await, 1);
    let r = submit().await;
    assert_eq!(r.status, 401);
    assert_eq!(
        forgotten.lock().unwrap().len(),
        1,
        "refused before the enclave"
    );
}

async fn revoke_from(s: &Stack, key: &str, forwarded_for: &str) -> u16 {
    let body = json!({"session_id": "3f1c1f0e-8d7e-4a57-9d2e-1b1f2f3a4b5c"}).to_string();
    let auth = format!("Bearer {key}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("x-forwarded-for", forwarded_for),
    ];
    http(
        &s.host.addr,
        "POST",
        "/enclave/revoke",
        &headers,
        Some(body.as_bytes()),
    )
    .await
    .status
}

/// Behind a load balancer every connection comes from the balancer. With
/// TRUSTED_PROXIES the client is the address it forwarded: one client's
/// failed authentications lock out that client only, and never a valid key.
/// Without it, X-Forwarded-For is ignored, so spoofing it evades nothing.
#[tokio::test]
async fn behind_a_trusted_proxy_one_clients_failures_lock_out_only_that_client() {
    let env = [
        ("TRUSTED_PROXIES", "127.0.0.1/32"),
        ("TLS_TERMINATED_UPSTREAM", "1"),
        ("LOCKOUT_SECONDS", "60"),
        ("RATE_LIMIT_MAX", "1000"),
    ];
    let s = stack(&env).await;
    let key = s.db.tenant("acme").await;
    let attacker = "6.6.6.6, 203.0.113.9";
    for i in 0..5 {
        assert_eq!(
            revoke_from(&s, &format!("srk_bad{i:02}_guess"), attacker).await,
            401
        );
    }
    assert_eq!(
        revoke_from(&s, "srk_bad99_guess", attacker).await,
        429,
        "locked"
    );
    assert_eq!(
        revoke_from(&s, "srk_else00_guess", "198.51.100.7").await,
        401,
        "others not"
    );
    assert_eq!(
        revoke_from(&s, &key, "203.0.113.9").await,
        404,
        "a valid key passes"
    );
    let r = s.host.get("/healthz", &[]).await;
    assert!(
        r.header("strict-transport-security").is_some(),
        "HSTS when TLS ends upstream"
    );

    // The same attack without TRUSTED_PROXIES: the header is not believed.
    let plain = stack(&[("LOCKOUT_SECONDS", "60"), ("RATE_LIMIT_MAX", "1000")]).await;
    for i in 0..5 {
        let spoofed = format!("203.0.113.{i}");
        assert_eq!(
            revoke_from(&plain, &format!("srk_bad{i:02}_guess"), &spoofed).await,
            401
        );
    }
    assert_eq!(
        revoke_from(&plain, "srk_bad99_guess", "198.51.100.7").await,
        429
    );
}
