//! Migration V4 and the keys storage, in real PostgreSQL: the re-seal functions
//! work for `app_service` while row-level security still hides credentials from
//! it; ring versions only move forward; the instance registry; the `keys` CLI;
//! and a host over an enclave that manages no ring leaves it alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::stub::StubEnclave;
use common::{Host, TestDb, run_host};
use strongroom_host::keys::store::{self, InstanceReport};
use strongroom_protocol::messages::SealedKeyRing;
use uuid::Uuid;

async fn tenant_id(c: &tokio_postgres::Client, name: &str) -> Uuid {
    c.query_one("SELECT id FROM tenants WHERE name = $1", &[&name])
        .await
        .unwrap()
        .get(0)
}

async fn plant(c: &tokio_postgres::Client, tenant: Uuid, key_id: &str) -> Uuid {
    let s = Uuid::new_v4();
    c.execute(
        "INSERT INTO sessions (id, tenant_id, exchange, label, key_id, expires_at) \
         VALUES ($1, $2, 'binance', 'main', $3, now() + interval '1 hour')",
        &[&s, &tenant, &key_id],
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO credentials (session_id, key_id, sealed) VALUES ($1, $2, $3)",
        &[&s, &key_id, &sealed(4, 1, 40)],
    )
    .await
    .unwrap();
    s
}

fn ring(id: u8, version: u64, keys: &[&str]) -> SealedKeyRing {
    SealedKeyRing {
        ring_id: vec![id; 16],
        ring_version: version,
        kms_blob: None,
        nonce: vec![0; 12],
        ciphertext: vec![9; 64],
        key_ids: keys.iter().map(|k| (*k).to_owned()).collect(),
        current_key_id: (*keys.last().unwrap()).to_owned(),
        signing_public_key: vec![4; 65],
    }
}

async fn count(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn reseal_functions_work_for_app_service_while_rls_hides_credentials() {
    let db = TestDb::migrated().await;
    db.tenant("alpha").await;
    db.tenant("beta").await;
    let owner = db.client().await;
    let (a, b) = (
        tenant_id(&owner, "alpha").await,
        tenant_id(&owner, "beta").await,
    );
    let old_a = plant(&owner, a, "k1").await;
    let old_b = plant(&owner, b, "k1").await;
    let _new = plant(&owner, a, "k2").await;

    let c = db.client().await;
    c.batch_execute("SET ROLE app_service").await.unwrap();
    // Without a tenant, app_service sees no credential, and cannot write one.
    assert_eq!(count(&c, "SELECT count(*) FROM credentials").await, 0);
    assert!(
        c.execute("UPDATE credentials SET key_id = 'x'", &[])
            .await
            .is_err()
    );
    // The SECURITY DEFINER functions see every tenant's envelopes, nothing more.
    let keep = vec!["k2".to_owned()];
    let n: i64 = c
        .query_one("SELECT strongroom_count_not_under($1)", &[&keep])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    let rows = c
        .query(
            "SELECT session_id, key_id, sealed, exchange, label \
             FROM strongroom_reseal_batch($1, 64)",
            &[&keep],
        )
        .await
        .unwrap();
    let mut got: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
    got.sort();
    let mut want = vec![old_a, old_b];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(rows[0].get::<_, String>(1), "k1");
    assert_eq!(rows[0].get::<_, String>(3), "binance");
    let one = c
        .query(
            "SELECT session_id FROM strongroom_reseal_batch($1, 1)",
            &[&keep],
        )
        .await
        .unwrap();
    assert_eq!(one.len(), 1, "n limits the batch");
    let capped = c
        .query(
            "SELECT session_id FROM strongroom_reseal_batch($1, 100000)",
            &[&keep],
        )
        .await
        .unwrap();
    assert_eq!(capped.len(), 2);

    // Store: only while the envelope is still the one read (same key id).
    let store = "SELECT strongroom_reseal_store($1, $2, $3, $4)";
    let new = sealed(4, 6, 41);
    let ok: bool = c
        .query_one(store, &[&old_a, &"k1", &"k2", &new])
        .await
        .unwrap()
        .get(0);
    assert!(ok);
    let again: bool = c
        .query_one(store, &[&old_a, &"k1", &"k2", &new])
        .await
        .unwrap()
        .get(0);
    assert!(!again, "the envelope changed since it was read");
    let vanished: bool = c
        .query_one(store, &[&Uuid::new_v4(), &"k1", &"k2", &new])
        .await
        .unwrap()
        .get(0);
    assert!(!vanished);
    // Table CHECKs still bind through the function.
    let bad = c
        .query_one(store, &[&old_b, &"k1", &"k2", &vec![4u8; 3]])
        .await;
    assert!(bad.is_err(), "the stored form keeps its length limits");
    let n: i64 = c
        .query_one("SELECT strongroom_count_not_under($1)", &[&keep])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let row = owner
        .query_one(
            "SELECT key_id, sealed FROM credentials WHERE session_id = $1",
            &[&old_a],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "k2");
    assert_eq!(row.get::<_, Vec<u8>>(1), new);
    // Still hidden afterwards; and app_service cannot drop the ring in use.
    assert_eq!(count(&c, "SELECT count(*) FROM credentials").await, 0);
    assert!(c.execute("DELETE FROM key_ring_state", &[]).await.is_err());
    assert!(c.execute("DELETE FROM key_rings", &[]).await.is_err());
    // operator_readonly may read the registry but not run the functions.
    let r = db.client().await;
    r.batch_execute("SET ROLE operator_readonly").await.unwrap();
    assert_eq!(count(&r, "SELECT count(*) FROM instances").await, 0);
    assert!(
        r.query_one("SELECT strongroom_count_not_under($1)", &[&keep])
            .await
            .is_err()
    );
}

#[tokio::test]
async fn ring_versions_only_move_forward_and_peers_must_be_live() {
    let db = TestDb::migrated().await;
    let c = db.client().await;
    c.batch_execute("SET ROLE app_service").await.unwrap();
    assert!(store::state(&c).await.unwrap().is_none());
    let v1 = ring(1, 1, &["a"]);
    store::insert_ring(&c, &v1).await.unwrap();
    assert!(store::advance_state(&c, &v1).await.unwrap());
    store::insert_ring(&c, &v1).await.unwrap(); // idempotent
    let v2 = ring(1, 2, &["a", "b"]);
    store::insert_ring(&c, &v2).await.unwrap();
    assert!(store::advance_state(&c, &v2).await.unwrap());
    assert!(
        !store::advance_state(&c, &v1).await.unwrap(),
        "no going back"
    );
    let other = ring(2, 5, &["z"]);
    store::insert_ring(&c, &other).await.unwrap();
    assert!(
        !store::advance_state(&c, &other).await.unwrap(),
        "another ring never replaces it"
    );
    let (st, sealed) = store::current(&c).await.unwrap().unwrap();
    assert_eq!((st.ring_id, st.ring_version), (vec![1; 16], 2));
    assert_eq!(sealed, v2);

    let me = Uuid::new_v4();
    let (peer, stale, booting) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let ready = |v: u64| InstanceReport {
        phase: "ready",
        ring_id: Some(vec![1; 16]),
        ring_version: Some(v),
        current_key_id: Some("b".into()),
    };
    store::heartbeat(&c, me, Some("http://127.0.0.1:1"), &ready(2))
        .await
        .unwrap();
    store::heartbeat(&c, peer, Some("http://127.0.0.1:2"), &ready(1))
        .await
        .unwrap();
    store::heartbeat(&c, stale, Some("http://127.0.0.1:3"), &ready(2))
        .await
        .unwrap();
    let boot = InstanceReport {
        phase: "booting",
        ring_id: None,
        ring_version: None,
        current_key_id: None,
    };
    store::heartbeat(&c, booting, Some("http://127.0.0.1:4"), &boot)
        .await
        .unwrap();
    let owner = db.client().await;
    owner
        .execute(
            "UPDATE instances SET last_seen = now() - interval '1 minute' WHERE id = $1",
            &[&stale],
        )
        .await
        .unwrap();
    let live = Duration::from_secs(15);
    let peers = store::live_peers(&c, me, &[1; 16], live).await.unwrap();
    assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), vec![peer]);
    assert_eq!(peers[0].peer_url, "http://127.0.0.1:2");
    assert!(
        store::live_peers(&c, me, &[2; 16], live)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store::lagging_instances(&c, &[1; 16], 2, live)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store::lagging_instances(&c, &[1; 16], 1, live)
            .await
            .unwrap(),
        0
    );
    store::deregister(&c, peer).await.unwrap();
    assert!(
        store::live_peers(&c, me, &[1; 16], live)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn keys_cli_status_rotate_and_reset() {
    let db = TestDb::migrated().await;
    let env = db.env();
    let out = run_host(&["keys", "rotate", "--no-wait"], &env).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key ring"));
    let out = run_host(&["keys", "status"], &env).await;
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ring: none"));

    let c = db.client().await;
    let v1 = ring(3, 1, &["k-1", "k-2"]);
    store::insert_ring(&c, &v1).await.unwrap();
    assert!(store::advance_state(&c, &v1).await.unwrap());
    let holder = Uuid::new_v4();
    let report = InstanceReport {
        phase: "ready",
        ring_id: Some(vec![3; 16]),
        ring_version: Some(1),
        current_key_id: Some("k-2".into()),
    };
    store::heartbeat(&c, holder, None, &report).await.unwrap();

    let out = run_host(&["keys", "rotate", "--no-wait"], &env).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("requested"));
    let out = run_host(&["keys", "rotate", "--no-wait"], &env).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already in progress"));
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM key_rotations WHERE state = 'requested'"
        )
        .await,
        1
    );

    let out = run_host(&["keys", "status"], &env).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains(&hex::encode([3u8; 16])), "{text}");
    assert!(text.contains("version 1 kms no"), "{text}");
    assert!(text.contains("k-1, k-2 (current k-2)"), "{text}");
    assert!(
        text.contains(&holder.to_string()) && text.contains("live"),
        "{text}"
    );
    assert!(text.contains("requested"), "{text}");

    let out = run_host(&["keys", "reset"], &env).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--confirm"));
    let out = run_host(&["keys", "reset", "--confirm"], &env).await;
    assert!(!out.status.success(), "a live instance holds the ring");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not lost"));
    c.execute("DELETE FROM instances", &[]).await.unwrap();
    let out = run_host(&["keys", "reset", "--confirm"], &env).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&c, "SELECT count(*) FROM key_ring_state").await, 0);
    assert_eq!(
        count(&c, "SELECT count(*) FROM key_rings").await,
        1,
        "history kept"
    );
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM key_rotations WHERE state = 'failed'"
        )
        .await,
        1,
        "the pending rotation is abandoned with the ring"
    );
}

#[tokio::test]
async fn an_unmanaged_enclave_is_left_alone_and_the_instance_registers_and_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let (path, addr) = common::socket_in(dir.path());
    let _stub = StubEnclave::start(&path);
    let db = TestDb::migrated().await;
    let id = Uuid::new_v4().to_string();
    let host = Host::start(
        &db,
        &addr,
        &[
            ("INSTANCE_ID", &id),
            ("KEYS_TICK_MS", "100"),
            ("HEARTBEAT_MS", "200"),
            ("PEER_LISTEN", "127.0.0.1:0"),
        ],
    )
    .await;
    let c = db.client().await;
    let mut row = None;
    for _ in 0..50 {
        row = c
            .query_opt(
                "SELECT phase, ring_id, peer_url FROM instances WHERE id::text = $1",
                &[&id],
            )
            .await
            .unwrap();
        if row.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let row = row.expect("the instance registered");
    assert_eq!(row.get::<_, String>(0), "ready");
    assert_eq!(row.get::<_, Option<Vec<u8>>>(1), None);
    assert!(row.get::<_, String>(2).starts_with("http://127.0.0.1:"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(&c, "SELECT count(*) FROM key_rings").await,
        0,
        "no ring made"
    );
    common::readyz_becomes(&host, 200, None, Duration::from_secs(10)).await;
    let logs = host.logs();
    assert!(host.terminate().await.success());
    assert_eq!(
        count(&c, "SELECT count(*) FROM instances").await,
        0,
        "deregistered: {logs}"
    );
}

/// A stored form `enc ‖ ciphertext ‖ tag`: `enc` starts with `first`, then
/// `ct_len` bytes of `fill` and a 16-byte tag.
fn sealed(first: u8, fill: u8, ct_len: usize) -> Vec<u8> {
    let mut v = vec![first];
    v.extend_from_slice(&[fill; 64]);
    v.extend(std::iter::repeat_n(fill, ct_len));
    v.extend_from_slice(&[2u8; 16]);
    v
}
