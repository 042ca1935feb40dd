//! Shared by the aggregates and transparency tests: a stack with the stub
//! enclave, and checks of answers, heads and proofs with the verifier's code.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use strongroom_protocol::aggregates::AggregatePayload;
use strongroom_protocol::tlog::TreeHead;
use strongroom_verifier::cose::verify_es256;
use strongroom_verifier::merkle::{Hash, leaf_hash, verify_inclusion};

use super::stub::StubEnclave;
use super::stub_log::{KEY_ID, signing_key};
use super::{Host, Reply, TestDb, socket_in};

pub fn submit_body(label: &str) -> String {
    json!({
        "key_id": "stub-1",
        "ephemeral_pub": STANDARD.encode([4u8; 65]),
        "ciphertext": STANDARD.encode([7u8; 48]),
        "tag": STANDARD.encode([8u8; 16]),
        "metadata": {"exchange": "binance", "label": label, "ttl": 3600}
    })
    .to_string()
}

pub struct Stack {
    pub db: TestDb,
    pub host: Host,
    pub addr: String,
    pub enclave: StubEnclave,
    _dir: tempfile::TempDir,
}

pub async fn stack() -> Stack {
    stack_with(&[]).await
}

/// [`stack`] with more host environment.
pub async fn stack_with(extra: &[(&str, &str)]) -> Stack {
    let db = TestDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, addr) = socket_in(dir.path());
    let enclave = StubEnclave::start(&path);
    let mut env = vec![("RATE_LIMIT_MAX", "10000")];
    env.extend_from_slice(extra);
    let host = Host::start(&db, &addr, &env).await;
    Stack {
        db,
        host,
        addr,
        enclave,
        _dir: dir,
    }
}

pub async fn submit(host: &Host, key: &str, label: &str) -> String {
    let r = host
        .post("/enclave/submit_key", key, &submit_body(label))
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["session_id"].as_str().unwrap().to_owned()
}

pub fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

pub fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::try_from(b64(h).as_slice()).unwrap())
        .collect()
}

/// A head signed by the stub's key, decoded.
pub fn head(bytes: &[u8]) -> TreeHead {
    let payload = verify_es256(bytes, signing_key().verifying_key(), Some(KEY_ID)).unwrap();
    TreeHead::from_cbor(&payload).unwrap()
}

pub fn root(h: &TreeHead) -> Hash {
    Hash::try_from(h.root.as_slice()).unwrap()
}

/// Checks an answer completely; returns (leaf_index, tree_size).
pub fn check_answer(r: &Reply, session: &str) -> (u64, u64) {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["aggregates", "aggregates_signed", "attestation", "log"]
    );
    let signed = b64(&v["aggregates_signed"]);
    let payload = verify_es256(&signed, signing_key().verifying_key(), Some(KEY_ID)).unwrap();
    let payload = AggregatePayload::from_cbor(&payload).unwrap();
    assert_eq!(v["aggregates"], serde_json::to_value(&payload).unwrap());
    if payload.version == 1 {
        assert_eq!(
            payload.session,
            Some(hex::encode(Sha256::digest(session.as_bytes())))
        );
    }
    let mut att = b"stub-attestation:".to_vec();
    att.extend_from_slice(&Sha256::digest(&signed));
    assert_eq!(b64(&v["attestation"]), att);
    let log = &v["log"];
    let (index, size) = (
        log["leaf_index"].as_u64().unwrap(),
        log["tree_size"].as_u64().unwrap(),
    );
    let h = head(&b64(&log["tree_head"]));
    assert_eq!(h.size, size);
    verify_inclusion(
        &leaf_hash(&signed),
        index,
        size,
        &hashes(&log["inclusion_proof"]),
        &root(&h),
    )
    .unwrap();
    (index, size)
}

pub async fn count(db: &TestDb, sql: &str) -> i64 {
    db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}
