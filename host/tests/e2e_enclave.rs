//! End to end with the real `strongroom-enclave --dev-simulator`: quote, seal with
//! HPKE, submit, refusals, revoke; a planted credential secret must never appear in
//! a pg_dump, the host's logs, or any response.
//!
//! The enclave binary is found next to `strongroom-host` in the target directory
//! (build it first: `cargo build -p strongroom-enclave`), or at STRONGROOM_ENCLAVE_BIN.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::real::seal;
use common::{Host, TestDb};
use serde_json::json;

struct Enclave {
    child: tokio::process::Child,
    log: PathBuf,
}

async fn start_enclave(dir: &Path) -> (Enclave, String) {
    let e = common::real::start_enclave(dir, &[]).await;
    (
        Enclave {
            child: e.child,
            log: e.log,
        },
        e.addr,
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn submission(key_id: &str, pk: &[u8], label: &str, sealed_label: &str, secret: &str) -> String {
    let plaintext = json!({
        "exchange": "binance", "api_key": format!("{secret}-KEY"), "api_secret": secret,
        "label": sealed_label, "not_after": now() + 3600,
    })
    .to_string();
    let (enc, ct, tag) = seal(pk, plaintext.as_bytes());
    json!({
        "key_id": key_id,
        "ephemeral_pub": STANDARD.encode(enc),
        "ciphertext": STANDARD.encode(ct),
        "tag": STANDARD.encode(tag),
        "metadata": {"exchange": "binance", "label": label, "ttl": 600}
    })
    .to_string()
}

#[tokio::test]
async fn real_enclave_flow_never_leaks_the_planted_secret() {
    let secret = format!("PLANTED{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let (enclave, addr) = start_enclave(dir.path()).await;
    let db = TestDb::migrated().await;
    // This enclave has no exchange: the key check at submit is off.
    let host = Host::start(&db, &addr, &[("SUBMIT_CHECK_KEY", "0")]).await;
    common::wait_ready(&host).await;
    let key = db.tenant("acme").await;
    let mut bodies: Vec<Vec<u8>> = Vec::new();

    let ready = host.get("/readyz", &[]).await;
    assert_eq!(
        ready.status,
        200,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    let nonce = STANDARD.encode(b"challenge-123").replace('=', "%3D");
    let q = host
        .get(&format!("/attestation/quote?nonce={nonce}"), &[])
        .await;
    assert_eq!(q.status, 200);
    let qv = q.json();
    let pk = STANDARD
        .decode(qv["enclave_pubkey"].as_str().unwrap())
        .unwrap();
    let key_id = qv["key_id"].as_str().unwrap().to_owned();
    assert_eq!(pk.len(), 65);
    assert_eq!(qv["image_hash"].as_str().unwrap().len(), 96);
    bodies.push(q.body);

    let ok = host
        .post(
            "/enclave/submit_key",
            &key,
            &submission(&key_id, &pk, "main", "main", &secret),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", String::from_utf8_lossy(&ok.body));
    let session = ok.json()["session_id"].as_str().unwrap().to_owned();
    bodies.push(ok.body);

    let mismatch = host
        .post(
            "/enclave/submit_key",
            &key,
            &submission(&key_id, &pk, "other", "main", &secret),
        )
        .await;
    assert_eq!(
        (mismatch.status, mismatch.code().as_str()),
        (422, "metadata_mismatch")
    );
    bodies.push(mismatch.body);
    let mut tampered: serde_json::Value =
        serde_json::from_str(&submission(&key_id, &pk, "main", "main", &secret)).unwrap();
    tampered["tag"] = json!(STANDARD.encode([0u8; 16]));
    let bad = host
        .post("/enclave/submit_key", &key, &tampered.to_string())
        .await;
    assert_eq!((bad.status, bad.code().as_str()), (422, "open_failed"));
    bodies.push(bad.body);
    let unknown = host
        .post(
            "/enclave/submit_key",
            &key,
            &submission("no-such-key", &pk, "main", "main", &secret),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (409, "unknown_key_id")
    );
    bodies.push(unknown.body);

    let sessions: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sessions, 1, "only the accepted credential is stored");

    let dump = common::real::pg_dump(&db.url);
    assert!(dump.contains(&session), "the dump does hold the session");

    let body = json!({"session_id": session}).to_string();
    let r = host.post("/enclave/revoke", &key, &body).await;
    assert_eq!(r.status, 200);
    bodies.push(r.body);
    let r = host.post("/enclave/revoke", &key, &body).await;
    assert_eq!((r.status, r.code().as_str()), (410, "session_revoked"));
    bodies.push(r.body);

    let logs = host.logs();
    assert!(logs.contains("answered"), "host logs were captured");
    let b64 = STANDARD.encode(secret.as_bytes());
    let enclave_log = std::fs::read_to_string(&enclave.log).unwrap_or_default();
    for (what, text) in [
        ("pg_dump", dump),
        ("host log", logs),
        ("enclave log", enclave_log),
    ] {
        assert!(
            !text.contains(&secret) && !text.contains(&b64),
            "secret found in {what}"
        );
    }
    for b in &bodies {
        let t = String::from_utf8_lossy(b);
        assert!(
            !t.contains(&secret) && !t.contains(&b64),
            "secret found in a response"
        );
    }
    drop(enclave);
    let _ = dir;
}

/// Without KMS and without a live peer, a restarted enclave cannot get its
/// ring back (failure mode 4): the host stays up answering 503
/// `enclave_not_ready` and says why in its log; `keys reset --confirm` abandons
/// the ring and the next boot makes a new one.
#[tokio::test]
async fn real_enclave_restart_without_kms_or_peer_is_ring_lost_until_reset() {
    let dir = tempfile::tempdir().unwrap();
    let (mut enclave, addr) = start_enclave(dir.path()).await;
    let db = TestDb::migrated().await;
    // This enclave has no exchange: the key check at submit is off.
    let host = Host::start(
        &db,
        &addr,
        &[("KEYS_TICK_MS", "200"), ("SUBMIT_CHECK_KEY", "0")],
    )
    .await;
    common::wait_ready(&host).await;
    let key = db.tenant("acme").await;
    let q = host.get("/attestation/quote", &[]).await.json();
    let pk = STANDARD
        .decode(q["enclave_pubkey"].as_str().unwrap())
        .unwrap();
    let key_id = q["key_id"].as_str().unwrap().to_owned();
    let ok = host
        .post(
            "/enclave/submit_key",
            &key,
            &submission(&key_id, &pk, "main", "main", "S1"),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", String::from_utf8_lossy(&ok.body));
    let session = ok.json()["session_id"].as_str().unwrap().to_owned();

    enclave.child.kill().await.unwrap();
    let _ = std::fs::remove_file(dir.path().join("enclave.sock"));
    let r = host.get("/attestation/quote", &[]).await;
    assert_eq!((r.status, r.code().as_str()), (503, "enclave_unavailable"));
    let (_again, _) = start_enclave(dir.path()).await;
    let mut lost = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if host.logs().contains("key ring unavailable") {
            lost = true;
            break;
        }
    }
    assert!(lost, "the host says why: {}", host.logs());
    let r = host.get("/attestation/quote", &[]).await;
    assert_eq!((r.status, r.code().as_str()), (503, "enclave_not_ready"));
    assert!(host.logs().contains("no live peer holds it"));
    // /readyz answers from a state refreshed once a second: see it lose the
    // ring before the reset, or wait_ready below would return on the
    // ready state cached from before the kill.
    let bound = Duration::from_secs(5);
    common::readyz_becomes(&host, 503, Some("enclave_not_ready"), bound).await;

    let out = common::run_host(&["keys", "reset", "--confirm"], &db.env()).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::wait_ready(&host).await;
    let q2 = host.get("/attestation/quote", &[]).await.json();
    assert_ne!(q2["key_id"], q["key_id"], "a new ring");
    // The old session's envelope is under a key the new ring lacks (its
    // aggregates answer 409 key_version_gone: tests/aggregates.rs).
    let stored: String = db
        .client()
        .await
        .query_one(
            "SELECT key_id FROM credentials WHERE session_id::text = $1",
            &[&session],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, key_id);
    // The host stores the new ring right after the enclave made it (and
    // turned ready): allow it a moment.
    let c = db.client().await;
    let mut rings = 0i64;
    for _ in 0..50 {
        rings = c
            .query_one("SELECT count(DISTINCT ring_id) FROM key_rings", &[])
            .await
            .unwrap()
            .get(0);
        if rings == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rings, 2);
}
