//! Credential v2 (issue 17) with real processes: the simulator enclave, the
//! host, PostgreSQL and the mock exchange (the demo account: trades on
//! 2025-01-01 in BTCUSDT, ETHUSDT and ETHBTC), each attack played against
//! them as a hostile host or tenant would play it.
//!
//! - the bisection attack (narrow windows, single symbols) refused under the
//!   client's default policy, the interval enforced, and the owner's
//!   signature for exactly one request the only way past the policy (another
//!   credential, a stale time, another key, other symbols: refused);
//! - one ciphertext replayed under a second session and a second tenant:
//!   every result names the same credential;
//! - an owner-signed revoke: the enclave refuses the credential although the
//!   host hands it the stored ciphertext again (a session made before, a
//!   new submission), also after the enclave restarts with its sealed ring;
//!   the revocation entry is logged and `strongroom history` shows it;
//! - a version 1 credential keeps working, under the strictest policy.
//!
//! The second instance after peer sync is in `instances.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};
use strongroom_testkit::http::body_text;
use strongroom_testkit::seal::{credential_id, submission_with};
use strongroom_testkit::stack::{DEMO_KEY, DEMO_SECRET, Stack, StackOpts};
use strongroom_testkit::{Client, Reply};
use strongroom_verifier::owner::{Action, OwnerAction, owner_id, owner_public_key, sign_action};

const DAY: &str = "2025-01-01T00:00:00Z";
const NEXT_DAY: &str = "2025-01-02T00:00:00Z";

fn owner() -> SigningKey {
    SigningKey::from_slice(&[0x17; 32]).unwrap()
}

fn default_policy() -> Value {
    json!({"windows": "days", "symbols": "all", "min_interval_seconds": 3600, "publish": false})
}

fn open_policy() -> Value {
    strongroom_testkit::seal::open_policy()
}

/// A `submit_key` body for the demo account: v2 under `policy` with the
/// test's owner key, or v1 when `policy` is `None`.
async fn body(s: &Stack, policy: Option<Value>) -> String {
    let q = s.client().quote().await.unwrap();
    assert_eq!(q.status, 200, "{}", body_text(&q));
    let owner = owner_public_key(&owner());
    let with_owner = policy.is_some().then_some(owner.as_slice());
    submission_with(&q.json(), DEMO_KEY, DEMO_SECRET, "main", policy, with_owner)
}

async fn submit(c: &Client, body: &str) -> String {
    let r = c.submit(body).await.unwrap();
    assert_eq!(r.status, 201, "submit: {}", body_text(&r));
    r.json()["session_id"].as_str().unwrap().to_owned()
}

fn now_plus(s: i64) -> String {
    let t = time::OffsetDateTime::now_utc().unix_timestamp() + s;
    strongroom_verifier::owner::rfc3339_s(t).unwrap()
}

/// An owner action signed by `key`, base64.
fn authorize(key: &SigningKey, a: &OwnerAction) -> String {
    STANDARD.encode(sign_action(a, key).unwrap())
}

fn action(kind: Action, credential: &str, req: &Value, time: String) -> OwnerAction {
    let text = |f: &str| req[f].as_str().map(str::to_owned);
    OwnerAction {
        action: kind,
        credential: credential.to_owned(),
        from: text("from"),
        to: text("to"),
        symbols: req["symbols"]
            .as_array()
            .map(|s| s.iter().map(|x| x.as_str().unwrap().to_owned()).collect()),
        time,
    }
}

async fn aggregates(c: &Client, req: &Value) -> Reply {
    c.post("/enclave/request_aggregates", &req.to_string())
        .await
        .unwrap()
}

fn refused(r: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(
        (r.status, r.code()),
        (status, code.to_owned()),
        "{what}: {}",
        body_text(r)
    );
}

fn ok(r: &Reply, what: &str) -> Value {
    assert_eq!(r.status, 200, "{what}: {}", body_text(r));
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bisection_attack_is_refused_under_the_default_policy() {
    let s = Stack::start(StackOpts::default()).await;
    let c = s.client();
    let body = body(&s, Some(default_policy())).await;
    let credential = credential_id(&body);
    let session = submit(&c, &body).await;
    // Narrow windows, the bisection attack's questions: each refused.
    for (from, to) in [
        ("2025-01-01T01:00:00Z", "2025-01-01T01:00:00.001Z"),
        ("2025-01-01T00:00:00Z", "2025-01-01T12:00:00Z"),
        ("2025-01-01T12:00:00Z", NEXT_DAY),
    ] {
        let r = aggregates(&c, &json!({"session_id": session, "from": from, "to": to})).await;
        refused(&r, 403, "policy_window", from);
    }
    // A subset of symbols under `all`.
    let r = aggregates(
        &c,
        &json!({"session_id": session, "from": DAY, "to": NEXT_DAY, "symbols": ["BTCUSDT"]}),
    )
    .await;
    refused(&r, 403, "policy_symbols", "subset");
    // A whole UTC day of every symbol is what the policy allows.
    let v = ok(
        &aggregates(
            &c,
            &json!({"session_id": session, "from": DAY, "to": NEXT_DAY}),
        )
        .await,
        "whole day",
    );
    let p = &v["aggregates"];
    assert_eq!(p["version"], 2);
    assert_eq!(p["credential"], credential);
    assert_eq!(p["owner"], owner_id(&owner_public_key(&owner())));
    assert_eq!(p["policy"], default_policy());
    assert!(p.get("session").is_none(), "{p}");
    // Once an hour: the next one is refused, with the time to wait.
    let r = aggregates(&c, &json!({"session_id": session})).await;
    refused(&r, 403, "policy_interval", "interval");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");

    // The owner's signature for exactly one request is the only way past.
    let narrow = json!({"session_id": session, "from": "2025-01-01T01:00:00Z",
        "to": "2025-01-01T02:00:00Z", "symbols": ["BTCUSDT"]});
    let other_key = SigningKey::from_slice(&[0x18; 32]).unwrap();
    let cases = [
        (
            authorize(
                &owner(),
                &action(Action::Aggregates, &"ab".repeat(32), &narrow, now_plus(0)),
            ),
            "owner_authorization_mismatch",
            "another credential",
        ),
        (
            authorize(
                &owner(),
                &action(Action::Aggregates, &credential, &narrow, now_plus(-900)),
            ),
            "owner_authorization_stale",
            "stale",
        ),
        (
            authorize(
                &other_key,
                &action(Action::Aggregates, &credential, &narrow, now_plus(0)),
            ),
            "owner_signature_invalid",
            "another key",
        ),
        (
            authorize(
                &owner(),
                &action(
                    Action::Aggregates,
                    &credential,
                    &json!({"from": "2025-01-01T01:00:00Z", "to": "2025-01-01T02:00:00Z",
                        "symbols": ["ETHUSDT"]}),
                    now_plus(0),
                ),
            ),
            "owner_authorization_mismatch",
            "other symbols",
        ),
        (
            authorize(
                &owner(),
                &action(Action::Revoke, &credential, &narrow, now_plus(0)),
            ),
            "owner_authorization_mismatch",
            "another action",
        ),
    ];
    for (auth, code, what) in cases {
        let mut req = narrow.clone();
        req["owner_authorization"] = auth.into();
        refused(&aggregates(&c, &req).await, 403, code, what);
    }
    let mut req = narrow.clone();
    req["owner_authorization"] = authorize(
        &owner(),
        &action(Action::Aggregates, &credential, &narrow, now_plus(0)),
    )
    .into();
    let v = ok(&aggregates(&c, &req).await, "owner-authorized");
    let symbols: Vec<&String> = v["aggregates"]["symbols"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert!(symbols.iter().all(|s| *s == "BTCUSDT"), "{symbols:?}");
    assert_eq!(v["aggregates"]["credential"], credential);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interval_is_enforced_per_credential() {
    let s = Stack::start(StackOpts::default()).await;
    let c = s.client();
    let policy = json!({"windows": "any", "symbols": "choice", "min_interval_seconds": 3600, "publish": false});
    let body = body(&s, Some(policy)).await;
    let first = submit(&c, &body).await;
    // The same ciphertext under a second session: one credential, one interval.
    let second = submit(&c, &body).await;
    ok(
        &aggregates(&c, &json!({"session_id": first, "symbols": ["BTCUSDT"]})).await,
        "first",
    );
    for session in [&first, &second] {
        let r = aggregates(&c, &json!({"session_id": session, "symbols": ["ETHUSDT"]})).await;
        refused(&r, 403, "policy_interval", session);
        assert!(r.header("retry-after").is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_ciphertext_names_the_same_credential_under_any_session_and_tenant() {
    let s = Stack::start(StackOpts::default()).await;
    let body = body(&s, Some(open_policy())).await;
    let credential = credential_id(&body);
    let mine = s.client();
    let theirs = Client {
        key: s.db.test_db().tenant("second-tenant").await,
        ..s.client()
    };
    let sessions = [
        (mine.clone(), submit(&mine, &body).await),
        (mine.clone(), submit(&mine, &body).await),
        (theirs.clone(), submit(&theirs, &body).await),
    ];
    assert_ne!(sessions[0].1, sessions[1].1);
    for (c, session) in &sessions {
        let v = ok(
            &aggregates(c, &json!({"session_id": session})).await,
            session,
        );
        assert_eq!(v["aggregates"]["credential"], credential, "{session}");
    }
}

async fn history(s: &Stack, credential: &str) -> (i32, Value) {
    let out = tokio::process::Command::new(strongroom_testkit::bin::verifier_cli())
        .args(["history", "--log", &format!("http://{}", s.host.addr)])
        .args(["--credential", credential, "--json"])
        .output()
        .await
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_signed_revoke_binds_the_enclave_across_a_restart() {
    let mut s = Stack::start(StackOpts {
        kms: true,
        host_env: vec![("PUBLIC_LOG_ENTRIES".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let body = body(&s, Some(open_policy())).await;
    let credential = credential_id(&body);
    let c = s.client();
    let other = Client {
        key: s.db.test_db().tenant("kept-a-copy").await,
        ..s.client()
    };
    let session = submit(&c, &body).await;
    let kept = submit(&other, &body).await;
    ok(
        &aggregates(&c, &json!({"session_id": session})).await,
        "before",
    );
    let revoke =
        |auth: String| json!({"session_id": session, "owner_authorization": auth}).to_string();
    let none = json!({});
    let other_key = SigningKey::from_slice(&[0x18; 32]).unwrap();
    for (auth, code) in [
        (
            authorize(
                &other_key,
                &action(Action::Revoke, &credential, &none, now_plus(0)),
            ),
            "owner_signature_invalid",
        ),
        (
            authorize(
                &owner(),
                &action(Action::Revoke, &credential, &none, now_plus(-900)),
            ),
            "owner_authorization_stale",
        ),
        (
            authorize(
                &owner(),
                &action(Action::Revoke, &"ab".repeat(32), &none, now_plus(0)),
            ),
            "owner_authorization_mismatch",
        ),
        (
            authorize(
                &owner(),
                &action(Action::Publish, &credential, &none, now_plus(0)),
            ),
            "owner_authorization_mismatch",
        ),
    ] {
        let r = c.post("/enclave/revoke", &revoke(auth)).await.unwrap();
        refused(&r, 403, code, "revoke");
    }
    // Nothing was revoked by those.
    ok(
        &aggregates(&other, &json!({"session_id": kept})).await,
        "still usable",
    );
    let auth = authorize(
        &owner(),
        &action(Action::Revoke, &credential, &none, now_plus(0)),
    );
    let r = c.post("/enclave/revoke", &revoke(auth)).await.unwrap();
    let v = ok(&r, "revoke");
    assert_eq!(
        (v["logged"].clone(), v["credential"].clone()),
        (json!(true), json!(credential))
    );
    let entry_index = v["log"]["leaf_index"].as_u64().unwrap();

    // The host hands the enclave the stored ciphertext again: refused.
    let refuses = |s: &Stack, what: &'static str| {
        let (other, kept, body) = (other.clone(), kept.clone(), body.clone());
        let c = s.client();
        async move {
            let r = aggregates(&other, &json!({"session_id": kept})).await;
            refused(&r, 403, "credential_revoked", what);
            let r = c.submit(&body).await.unwrap();
            refused(&r, 403, "credential_revoked", what);
        }
    };
    refuses(&s, "after the revoke").await;
    // The enclave restarts and gets its sealed ring back (KMS): still refused.
    s.kill_enclave().await;
    s.restart_enclave().await;
    s.wait_ready(Duration::from_secs(90)).await;
    refuses(&s, "after a restart").await;

    // The log holds the results and the revocation, in that order.
    let (code, h) = history(&s, &credential).await;
    assert_eq!(code, 0, "{h}");
    let kinds: Vec<(u64, &str)> = h["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds.last(),
        Some(&(entry_index, "revocation")),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| k.1 == "result").count(),
        2,
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_credential_works_under_the_strictest_policy() {
    let s = Stack::start(StackOpts::default()).await;
    let c = s.client();
    let body = body(&s, None).await;
    let session = submit(&c, &body).await;
    let r = aggregates(
        &c,
        &json!({"session_id": session, "from": DAY, "to": NEXT_DAY}),
    )
    .await;
    refused(&r, 403, "policy_window", "a window");
    let r = aggregates(&c, &json!({"session_id": session, "symbols": ["BTCUSDT"]})).await;
    refused(&r, 403, "policy_symbols", "symbols");
    let v = ok(
        &aggregates(&c, &json!({"session_id": session})).await,
        "inception",
    );
    let p = &v["aggregates"];
    assert_eq!(p["credential"], credential_id(&body));
    assert_eq!(p["owner"], Value::Null);
    assert_eq!(
        p["policy"],
        json!({"windows": "inception", "symbols": "all", "min_interval_seconds": 3600, "publish": false})
    );
    let r = aggregates(&c, &json!({"session_id": session})).await;
    refused(&r, 403, "policy_interval", "interval");
    // Nobody can sign for a credential without an owner key.
    let auth = authorize(
        &owner(),
        &action(
            Action::Aggregates,
            &credential_id(&body),
            &json!({}),
            now_plus(0),
        ),
    );
    let r = aggregates(
        &c,
        &json!({"session_id": session, "owner_authorization": auth}),
    )
    .await;
    refused(&r, 422, "no_owner_key", "owner authorization");
}

fn result_id(answer: &Value) -> String {
    use sha2::Digest as _;
    let cose = STANDARD
        .decode(answer["aggregates_signed"].as_str().unwrap())
        .unwrap();
    hex::encode(sha2::Sha256::digest(cose))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_signed_publish_makes_the_results_public_with_the_consent() {
    use strongroom_verifier::{PcrSet, Policy, ResultBundle, TrustRoot, verify_bundle};
    let s = Stack::start(StackOpts::default()).await;
    let c = s.client();
    let body = body(&s, Some(open_policy())).await;
    let credential = credential_id(&body);
    let session = submit(&c, &body).await;
    let first = ok(
        &aggregates(&c, &json!({"session_id": session})).await,
        "first",
    );
    let public = |id: String| {
        let c = c.clone();
        async move { c.get(&format!("/r/{id}")).await.unwrap() }
    };
    assert_eq!(
        public(result_id(&first)).await.status,
        404,
        "private by default"
    );
    // The host checks the consent itself: another key is refused.
    let none = json!({});
    let other_key = SigningKey::from_slice(&[0x18; 32]).unwrap();
    let publish =
        |auth: String| json!({"session_id": session, "owner_authorization": auth}).to_string();
    let r = c
        .post(
            "/enclave/publish",
            &publish(authorize(
                &other_key,
                &action(Action::Publish, &credential, &none, now_plus(0)),
            )),
        )
        .await
        .unwrap();
    refused(&r, 403, "owner_signature_invalid", "another key");
    let consent = authorize(
        &owner(),
        &action(Action::Publish, &credential, &none, now_plus(0)),
    );
    let v = ok(
        &c.post("/enclave/publish", &publish(consent.clone()))
            .await
            .unwrap(),
        "publish",
    );
    assert_eq!(v["results"], 1);
    let later = ok(
        &aggregates(&c, &json!({"session_id": session})).await,
        "later",
    );
    let root =
        TrustRoot::dev_from_pem(&std::fs::read_to_string(&s.enclave.root_pem).unwrap()).unwrap();
    let pcrs = std::fs::read(s.dir.path().join("pcrs.json")).unwrap();
    let policy = Policy::default().allow_pcrs(PcrSet::from_json("pcrs.json", &pcrs).unwrap());
    for answer in [&first, &later] {
        let r = public(result_id(answer)).await;
        assert_eq!(r.status, 200, "{}", body_text(&r));
        let bundle = ResultBundle::parse(&r.body).unwrap();
        assert_eq!(
            bundle.publish_authorization.as_deref(),
            Some(consent.as_str())
        );
        let v = verify_bundle(&bundle, &root, &policy).expect("the bundle and its consent verify");
        assert_eq!(v.payload.credential.as_deref(), Some(credential.as_str()));
    }
}
