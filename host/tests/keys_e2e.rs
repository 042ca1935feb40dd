//! Keys end to end with real processes: two `strongroom-enclave --dev-simulator`
//! sharing one dev root (`--dev-root-key`), two `strongroom-host serve` on one
//! database with key-sync listeners. The first host makes the ring (NewKeyRing,
//! stored), the second syncs it from the first (same key ids, no second ring),
//! `keys rotate` under continuous submissions through both finishes with zero
//! failed requests and no credential left under the old key version, and a
//! restarted enclave gets the rotated ring back from its peer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::real::{RealEnclave, seal, start_enclave};
use common::{Host, TestDb, http, run_host, wait_ready};
use serde_json::json;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn submission(key_id: &str, pk: &[u8], n: usize) -> String {
    let plaintext = json!({
        "exchange": "binance", "api_key": format!("KEY{n}"), "api_secret": format!("SECRET{n}"),
        "label": "main", "not_after": now() + 3600,
    })
    .to_string();
    let (enc, ct, tag) = seal(pk, plaintext.as_bytes());
    json!({
        "key_id": key_id,
        "ephemeral_pub": STANDARD.encode(enc),
        "ciphertext": STANDARD.encode(ct),
        "tag": STANDARD.encode(tag),
        "metadata": {"exchange": "binance", "label": "main", "ttl": 3600}
    })
    .to_string()
}

async fn quote(host: &Host) -> (String, Vec<u8>) {
    let r = host.get("/attestation/quote", &[]).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    (
        v["key_id"].as_str().unwrap().to_owned(),
        STANDARD
            .decode(v["enclave_pubkey"].as_str().unwrap())
            .unwrap(),
    )
}

/// Quote then submit, as a client does; the status of the submit.
async fn submit(host: &Host, key: &str, n: usize) -> (u16, String) {
    let (key_id, pk) = quote(host).await;
    let r = host
        .post("/enclave/submit_key", key, &submission(&key_id, &pk, n))
        .await;
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

async fn enclave(dir: &Path, root_key: &Path) -> RealEnclave {
    std::fs::create_dir_all(dir).unwrap();
    let root = root_key.to_str().unwrap();
    start_enclave(dir, &["--dev-root-key", root]).await
}

/// These enclaves have no exchange: the key check at submit is off
/// (`SUBMIT_CHECK_KEY=0`); the tests are about the key ring.
const FAST: &[(&str, &str)] = &[
    ("SUBMIT_CHECK_KEY", "0"),
    ("PEER_LISTEN", "127.0.0.1:0"),
    ("KEYS_TICK_MS", "200"),
    ("HEARTBEAT_MS", "300"),
    ("RATE_LIMIT_MAX", "1000000"),
];

async fn one(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

async fn peer_url(c: &tokio_postgres::Client, host: &Host) -> String {
    let logs = host.logs();
    let rows = c
        .query("SELECT id::text, peer_url FROM instances", &[])
        .await
        .unwrap();
    rows.iter()
        .find(|r| logs.contains(&r.get::<_, String>(0)))
        .map(|r| r.get(1))
        .expect("the host's instance row")
}

#[tokio::test]
async fn first_boot_peer_sync_rotation_under_traffic_and_recovery_from_a_peer() {
    let dir = tempfile::tempdir().unwrap();
    let root_key = dir.path().join("dev-root.key");
    let mut ea = enclave(&dir.path().join("a"), &root_key).await;
    let eb = enclave(&dir.path().join("b"), &root_key).await;
    let db = TestDb::migrated().await;
    let c = db.client().await;

    // First boot: A makes the ring and stores it.
    let a = Host::start(&db, &ea.addr, FAST).await;
    wait_ready(&a).await;
    assert!(a.logs().contains("new key ring created"), "{}", a.logs());
    assert_eq!(one(&c, "SELECT count(*) FROM key_rings").await, 1);
    assert_eq!(one(&c, "SELECT ring_version FROM key_ring_state").await, 1);
    let kms: bool = c
        .query_one("SELECT kms FROM key_rings", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!kms);

    // B syncs from A through A's key-sync listener: same keys, no second ring.
    let b = Host::start(&db, &eb.addr, FAST).await;
    wait_ready(&b).await;
    assert!(
        b.logs().contains("key ring synced from a peer"),
        "{}",
        b.logs()
    );
    let (ka, _) = quote(&a).await;
    let (kb, _) = quote(&b).await;
    assert_eq!(ka, kb);
    assert_eq!(one(&c, "SELECT count(*) FROM key_rings").await, 1);
    assert_eq!(
        one(
            &c,
            "SELECT count(DISTINCT ring_id) FROM instances WHERE phase = 'ready'"
        )
        .await,
        1
    );

    peer_listener_refuses_junk(&peer_url(&c, &a).await).await;

    // Stored credentials, through both instances (a credential sealed to A's
    // quote is accepted by B: one ring).
    let key = db.tenant("acme").await;
    for n in 0..150 {
        let host = if n % 2 == 0 { &a } else { &b };
        let (status, body) = submit(host, &key, n).await;
        assert_eq!(status, 201, "{body}");
    }
    let (old_key, pk) = quote(&a).await;
    let cross = b
        .post("/enclave/submit_key", &key, &submission(&old_key, &pk, 999))
        .await;
    assert_eq!(cross.status, 201);

    // Rotation under traffic.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hosts = Arc::new((a, b));
    let traffic = {
        let (stop, ok, failed, hosts, key) = (
            stop.clone(),
            ok.clone(),
            failed.clone(),
            hosts.clone(),
            key.clone(),
        );
        tokio::spawn(async move {
            let mut n = 1000;
            let mut errors = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let host = if n % 2 == 0 { &hosts.0 } else { &hosts.1 };
                let (status, body) = submit(host, &key, n).await;
                if status == 201 {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    errors.push(format!("{status} {body}"));
                }
                n += 1;
            }
            errors
        })
    };
    let out = tokio::time::timeout(
        Duration::from_secs(180),
        run_host(&["keys", "rotate"], &db.env()),
    )
    .await
    .expect("rotation finished in time");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}\nA: {}\nB: {}",
        String::from_utf8_lossy(&out.stderr),
        hosts.0.logs(),
        hosts.1.logs()
    );
    assert!(stdout.contains("done"), "{stdout}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let errors = traffic.await.unwrap();
    assert!(
        errors.is_empty(),
        "failed requests during rotation: {errors:?}"
    );
    assert!(ok.load(Ordering::Relaxed) > 10, "traffic ran");

    let (new_key, _) = quote(&hosts.0).await;
    assert_ne!(new_key, old_key);
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM credentials WHERE key_id <> $1",
            &[&new_key],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "no credential left under the old key version");
    let row = c
        .query_one(
            "SELECT resealed, unusable, old_key_ids FROM key_rotations WHERE state = 'done'",
            &[],
        )
        .await
        .unwrap();
    assert!(
        row.get::<_, i64>(0) >= 151,
        "resealed {}",
        row.get::<_, i64>(0)
    );
    assert_eq!(row.get::<_, i64>(1), 0);
    assert_eq!(row.get::<_, Vec<String>>(2), vec![old_key.clone()]);
    let (st_version, keys): (i64, Vec<String>) = {
        let r = c
            .query_one(
                "SELECT s.ring_version, r.key_ids FROM key_ring_state s \
                 JOIN key_rings r USING (ring_id, ring_version)",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(st_version, 3, "added (2), retired (3)");
    assert_eq!(keys, vec![new_key.clone()]);
    // Both instances reload the retired version; the old key is refused everywhere.
    let mut both = false;
    for _ in 0..50 {
        if one(&c, "SELECT count(*) FROM instances WHERE ring_version = 3").await == 2 {
            both = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(both);
    let gone = hosts
        .1
        .post(
            "/enclave/submit_key",
            &key,
            &submission(&old_key, &pk, 5000),
        )
        .await;
    assert_eq!((gone.status, gone.code().as_str()), (409, "unknown_key_id"));
    let (kb, _) = quote(&hosts.1).await;
    assert_eq!(kb, new_key);

    // Enclave A dies; restarted, it gets the rotated ring from B (no KMS).
    ea.child.kill().await.unwrap();
    let _ = std::fs::remove_file(dir.path().join("a/enclave.sock"));
    // /readyz lags a change by about a second: see it leave ready first.
    common::readyz_leaves_ready(&hosts.0, Duration::from_secs(5)).await;
    let _ea2 = enclave(&dir.path().join("a"), &root_key).await;
    wait_ready(&hosts.0).await;
    let (ka2, _) = quote(&hosts.0).await;
    assert_eq!(ka2, new_key);
    assert_eq!(
        hosts
            .0
            .logs()
            .matches("key ring synced from a peer")
            .count(),
        1,
        "{}",
        hosts.0.logs()
    );
    let again = hosts
        .0
        .post(
            "/enclave/submit_key",
            &key,
            &submission(&new_key, &pk_of(&hosts.1).await, 6000),
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(
        one(&c, "SELECT count(DISTINCT ring_id) FROM key_rings").await,
        1
    );
    drop(eb);
}

async fn pk_of(host: &Host) -> Vec<u8> {
    quote(host).await.1
}

/// The key-sync listener: strict routes, methods, bodies; a junk document is
/// refused by the enclave, not relayed into a ring.
async fn peer_listener_refuses_junk(url: &str) {
    let addr = url.strip_prefix("http://").unwrap();
    let json_h = [("content-type", "application/json")];
    let r = http(addr, "GET", "/v1/keysync/challenge", &[], None).await;
    assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));
    let r = http(addr, "POST", "/nope", &[], Some(b"{}")).await;
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let r = http(addr, "POST", "/v1/keysync/challenge", &json_h, Some(b"{}")).await;
    assert_eq!(r.status, 200);
    let nonce = STANDARD
        .decode(r.json()["nonce"].as_str().unwrap())
        .unwrap();
    assert_eq!(nonce.len(), 32);
    let big = vec![b'a'; 70 * 1024];
    let r = http(addr, "POST", "/v1/keysync/export", &json_h, Some(&big)).await;
    assert_eq!((r.status, r.code().as_str()), (413, "payload_too_large"));
    let r = http(
        addr,
        "POST",
        "/v1/keysync/export",
        &json_h,
        Some(b"{\"document\": 1}"),
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_json"));
    let r = http(
        addr,
        "POST",
        "/v1/keysync/export",
        &json_h,
        Some(b"{\"document\": \"***\"}"),
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_base64"));
    let junk = json!({"document": STANDARD.encode(b"not an attestation document")}).to_string();
    let r = http(
        addr,
        "POST",
        "/v1/keysync/export",
        &json_h,
        Some(junk.as_bytes()),
    )
    .await;
    assert!(
        (400..500).contains(&r.status),
        "{} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    assert!(r.json()["error"]["code"].is_string());
}
