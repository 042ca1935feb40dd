//! End to end with every real component: PostgreSQL, `strongroom-host serve`
//! running the egress proxy, `strongroom-enclave --dev-simulator` whose exchange
//! client goes through that proxy with TLS inside the enclave, and
//! `strongroom-mock-exchange` serving `scripts/fixtures/demo.json`.
//!
//! The demo credential is sealed with the `hpke` crate; the signed aggregates
//! must equal the hand-computed `demo.expected.json`, the whole answer must pass
//! the verifier's offline chain (dev root -> attestation -> key -> payload ->
//! inclusion under the signed head), and the API secret must appear in no
//! pg_dump, log or response. Needs `cargo build -p strongroom-enclave -p
//! strongroom-devtools` (scripts/test does).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::real::{pg_dump, start_enclave, start_mock_exchange};
use common::{Host, Reply, TestDb, workspace_root};
use serde_json::{Value, json};
use strongroom_verifier::result::{parse_answer, verify_result};
use strongroom_verifier::{PcrSet, Policy, TrustRoot};

const API_KEY: &str = "demo-api-key";
const API_SECRET: &str = "demo-api-secret";

fn submission(quote: &Value, secret: &str) -> String {
    common::real::submission(quote, API_KEY, secret, "main")
}

async fn start_host(db: &TestDb, enclave: &str, egress: &str, allow: &str) -> Host {
    Host::start(
        db,
        enclave,
        &[
            ("EGRESS_LISTEN", egress),
            ("EGRESS_ALLOWLIST", allow),
            ("ENCLAVE_TIMEOUT_MS", "60000"),
            ("REQUEST_TIMEOUT_MS", "120000"),
        ],
    )
    .await
}

async fn submit(host: &Host, key: &str, quote: &Value, secret: &str) -> (String, Reply) {
    let r = host
        .post("/enclave/submit_key", key, &submission(quote, secret))
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    (r.json()["session_id"].as_str().unwrap().to_owned(), r)
}

/// Hex RFC 9162 leaf hash of an answer's signed result.
fn leaf_hash_hex(answer: &Value) -> String {
    let cose = STANDARD
        .decode(answer["aggregates_signed"].as_str().unwrap())
        .unwrap();
    hex::encode(strongroom_verifier::merkle::leaf_hash(&cose))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_fixture_end_to_end_through_the_egress_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let root = workspace_root();
    let mock = start_mock_exchange(dir.path(), &root.join("scripts/fixtures/demo.json")).await;
    let egress = format!("unix://{}", dir.path().join("egress.sock").display());
    let url = format!("https://localhost:{}", mock.port);
    let ca = mock.ca_pem.to_str().unwrap().to_owned();
    let enclave = start_enclave(
        dir.path(),
        &[
            "--egress",
            &egress,
            "--dev-exchange-url",
            &url,
            "--dev-exchange-ca",
            &ca,
        ],
    )
    .await;
    let db = TestDb::migrated().await;
    let allow = format!("localhost:{}", mock.port);
    let host = start_host(&db, &enclave.addr, &egress, &allow).await;
    // The first quote waits for the enclave's key ring (seen once as 503
    // enclave_not_ready right after start).
    common::wait_ready(&host).await;
    let key = db.tenant("acme").await;
    let mut bodies: Vec<Vec<u8>> = Vec::new();

    let q = host.get("/attestation/quote", &[]).await;
    assert_eq!(q.status, 200, "{}", String::from_utf8_lossy(&q.body));
    let quote = q.json();
    bodies.push(q.body);
    let (session, r) = submit(&host, &key, &quote, API_SECRET).await;
    bodies.push(r.body);

    let body = json!({"session_id": session}).to_string();
    let r = host.post("/enclave/request_aggregates", &key, &body).await;
    assert_eq!(
        r.status,
        200,
        "{}\nenclave log:\n{}",
        String::from_utf8_lossy(&r.body),
        std::fs::read_to_string(&enclave.log).unwrap_or_default()
    );
    let v = r.json();
    let expected: Value = serde_json::from_slice(
        &std::fs::read(root.join("scripts/fixtures/demo.expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["aggregates"]["symbols"], expected["symbols"]);
    assert_eq!(v["aggregates"]["totals"], expected["totals"]);
    assert_eq!(v["aggregates"]["from"], Value::Null);
    assert_eq!(v["log"]["leaf_index"], 0);
    assert_eq!(v["log"]["tree_size"], 1);
    // The first result of the account starts its chain.
    assert_eq!(v["aggregates"]["previous"], Value::Null);
    let first_leaf = leaf_hash_hex(&v);

    // The client's offline check: dev root, PCR0 pinned to the quote's image hash.
    let dev_root =
        TrustRoot::dev_from_pem(&std::fs::read_to_string(&enclave.root_pem).unwrap()).unwrap();
    let pcrs = json!({"PCR0": quote["image_hash"]}).to_string();
    let policy = Policy::default().allow_pcrs(PcrSet::from_json("quote", pcrs.as_bytes()).unwrap());
    let answer = parse_answer(&r.body).unwrap();
    let verified = verify_result(&answer, &dev_root, &policy).unwrap();
    assert_eq!(verified.tree_head.size, 1);
    assert!(verify_result(&answer, &TrustRoot::aws_nitro_g1(), &policy).is_err());
    bodies.push(r.body);

    // A second result extends the log; its proof verifies too.
    let r = host
        .post(
            "/enclave/request_aggregates",
            &key,
            &json!({"session_id": session,
        "from": "2024-01-01T00:00:00Z", "symbols": ["ETHUSDT"]})
            .to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let verified = verify_result(&parse_answer(&r.body).unwrap(), &dev_root, &policy).unwrap();
    assert_eq!((verified.leaf_index, verified.tree_head.size), (1, 2));
    // ... and names the first as its predecessor: the account's chain.
    let v2 = r.json();
    assert_eq!(v2["aggregates"]["previous"], first_leaf.as_str());
    let second_leaf = leaf_hash_hex(&v2);
    bodies.push(r.body);

    // A new credential of the same exchange account continues the chain.
    let (again, r) = submit(&host, &key, &quote, API_SECRET).await;
    bodies.push(r.body);
    let r = host
        .post(
            "/enclave/request_aggregates",
            &key,
            &json!({"session_id": again}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v3 = r.json();
    assert_eq!(v3["aggregates"]["account"], v["aggregates"]["account"]);
    assert_ne!(
        v3["aggregates"]["credential"],
        v["aggregates"]["credential"]
    );
    assert_eq!(v3["aggregates"]["previous"], second_leaf.as_str());
    bodies.push(r.body);

    // A wrong API secret: the exchange refuses it at submit (the key check,
    // SUBMIT_CHECK_KEY, on by default): nothing is stored or logged.
    let c = db.client().await;
    let count_sessions = || async {
        let n: i64 = c
            .query_one("SELECT count(*) FROM sessions", &[])
            .await
            .unwrap()
            .get(0);
        n
    };
    let before = count_sessions().await;
    let r = host
        .post(
            "/enclave/submit_key",
            &key,
            &submission(&quote, "wrong-secret"),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (422, "exchange_rejected_credentials")
    );
    bodies.push(r.body);
    assert_eq!(
        count_sessions().await,
        before,
        "the refused key's session is not stored"
    );
    let n: i64 = c
        .query_one("SELECT count(*) FROM aggregates", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);

    // The host's allowlist is enforced on its own: restart it without the mock.
    let logs_before = host.logs();
    assert!(host.terminate().await.success());
    let host = start_host(&db, &enclave.addr, &egress, "api.binance.com:443").await;
    let r = host.post("/enclave/request_aggregates", &key, &body).await;
    assert_eq!((r.status, r.code().as_str()), (502, "egress_refused"));
    bodies.push(r.body);
    let metrics = String::from_utf8(host.get("/metrics", &[]).await.body).unwrap();
    assert!(
        metrics.contains("strongroom_egress_connections_total{outcome=\"refused\"} 1"),
        "{metrics}"
    );

    let dump = pg_dump(&db.url);
    assert!(dump.contains(&session), "the dump holds the session");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let enclave_log = std::fs::read_to_string(&enclave.log).unwrap_or_default();
    let b64 = STANDARD.encode(API_SECRET);
    for (what, text) in [
        ("pg_dump", dump),
        ("host log", format!("{logs_before}{}", host.logs())),
        ("enclave log", enclave_log),
    ] {
        assert!(
            !text.contains(API_SECRET) && !text.contains(&b64),
            "secret found in {what}"
        );
        assert!(!text.contains(API_KEY), "api key found in {what}");
    }
    for b in &bodies {
        let t = String::from_utf8_lossy(b);
        assert!(
            !t.contains(API_SECRET) && !t.contains(&b64) && !t.contains(API_KEY),
            "secret in a response"
        );
    }
    drop(mock);
}
