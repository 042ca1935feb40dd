//! The enclave's session cache is not an admission limit (issue 15.5), with
//! real processes: PostgreSQL, the host and its egress proxy, the simulator
//! enclave started with `--session-cache-capacity 4`, the mock exchange.
//! Before, a full cache answered every tenant's `submit_key` with 503
//! `enclave_not_ready`. Now one tenant flooding submissions evicts its own
//! least-recently-used sessions: another tenant still submits and
//! aggregates, and the flooding tenant's evicted first session still
//! aggregates (the enclave re-opens it from the sealed credential the host
//! sends). The 100,000-session scale is tested at the cache level
//! (`enclave/core/src/intake/sessions_tests.rs`): 100,000 HPKE submissions
//! through HTTP do not fit a test of a minute on two cores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Host;
use serde_json::json;

use common::real::submit_demo as submit;

async fn aggregates(host: &Host, key: &str, session: &str) {
    let body = json!({"session_id": session}).to_string();
    let r = host.post("/enclave/request_aggregates", key, &body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["aggregates"]["totals"]["USDT"]["trade_count"], 22);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_flood_neither_refuses_nor_evicts_another() {
    let world = common::real::limited(
        &[],
        None,
        &["--session-cache-capacity", "4"],
        &[("RATE_LIMIT_MAX", "1000")],
    )
    .await;
    let (db, host, enclave) = (&world.db, &world.host, &world.enclave);
    let (alice, bob) = (db.tenant("alice").await, db.tenant("bob").await);
    let quote = host.get("/attestation/quote", &[]).await.json();

    let bob_first = submit(host, &bob, &quote).await;
    let mut flood = Vec::new();
    for _ in 0..12 {
        flood.push(submit(host, &alice, &quote).await);
    }
    // Three times the capacity later, bob is still admitted and his session
    // from before the flood still aggregates; so does alice's first one,
    // long evicted by her own later ones.
    let bob_second = submit(host, &bob, &quote).await;
    aggregates(host, &bob, &bob_first).await;
    aggregates(host, &bob, &bob_second).await;
    aggregates(host, &alice, &flood[0]).await;
    aggregates(host, &alice, &flood[11]).await;
    let log = std::fs::read_to_string(&enclave.log).unwrap_or_default();
    assert!(!log.contains("demo-api-secret"));
}

/// 100,000 active sessions across ten tenants, the enclave caching 16: the
/// number of active credentials is the database's, not the enclave's
/// memory. The sessions are copies, made in SQL, of one real submission per
/// tenant (the same sealed bytes under new session ids, as a client
/// submitting the same key again would store); a sample spread over every
/// tenant and over the whole range aggregates with the exact figures, each
/// re-opened from its stored ciphertext into a cache that holds 16.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_active_sessions_all_stay_aggregatable() {
    const TENANTS: usize = 10;
    const PER_TENANT: i64 = 10_000;
    let world = common::real::limited(
        &[],
        None,
        &["--session-cache-capacity", "16"],
        &[("RATE_LIMIT_MAX", "1000")],
    )
    .await;
    let (db, host) = (&world.db, &world.host);
    let quote = host.get("/attestation/quote", &[]).await.json();
    let owner = db.client().await;
    let mut tenants = Vec::new();
    for t in 0..TENANTS {
        let key = db.tenant(&format!("tenant{t}")).await;
        let first = submit(host, &key, &quote).await;
        // PER_TENANT - 1 more sessions of this tenant, each with its own
        // credential row (the same sealed bytes).
        owner
            .batch_execute(&format!(
                "INSERT INTO sessions (id, tenant_id, exchange, label, key_id, expires_at) \
                 SELECT ('00000000-0000-4000-8000-' || lpad(to_hex({t} * 1000000 + g), 12, '0'))::uuid, \
                        s.tenant_id, s.exchange, s.label, s.key_id, s.expires_at \
                 FROM sessions s, generate_series(1, {n}) g WHERE s.id = '{first}'; \
                 INSERT INTO credentials (session_id, key_id, sealed) \
                 SELECT ('00000000-0000-4000-8000-' || lpad(to_hex({t} * 1000000 + g), 12, '0'))::uuid, \
                        c.key_id, c.sealed \
                 FROM credentials c, generate_series(1, {n}) g WHERE c.session_id = '{first}';",
                n = PER_TENANT - 1
            ))
            .await
            .unwrap();
        tenants.push(key);
    }
    let active = db
        .count("SELECT count(*) FROM sessions WHERE state = 'active'")
        .await;
    assert_eq!(active, TENANTS as i64 * PER_TENANT);
    // Twelve samples (the mock's weight budget allows about twenty
    // computations a minute): every tenant, from the first copy to the last.
    for (i, g) in [
        1i64, 9_999, 5_000, 2, 7_777, 9_998, 3_333, 1_234, 8_888, 4_321, 6_543, 42,
    ]
    .into_iter()
    .enumerate()
    {
        let t = i % TENANTS;
        let session = format!("00000000-0000-4000-8000-{:012x}", t as i64 * 1_000_000 + g);
        aggregates(host, &tenants[t], &session).await;
    }
}
