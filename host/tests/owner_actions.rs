//! Credential v2 on the host's side, against real PostgreSQL and the real
//! host binary with the stub enclave (which signs version 2 payloads for
//! labels `v2...` and answers `RevokeCredential` without cryptography):
//! owner authorizations forwarded and bounded, policy and owner refusals
//! mapped to 403/400/422 (Retry-After for policy_interval), an owner-signed
//! revoke logged (its entry served in the log's entry bundles) and the
//! session purged, an owner-signed publish checked by the host and carried
//! in the result bundle, a policy that says publish publishing at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::agg::{Stack, b64, count, stack, stack_with, submit, submit_body};
use common::stub_log::owner_key;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use strongroom_verifier::ResultBundle;
use strongroom_verifier::owner::{Action, OwnerAction, owner_id, owner_public_key, sign_action};

/// The credential id the host stores for the stub submissions.
fn credential() -> String {
    hex::encode(Sha256::digest(
        [[4u8; 65].as_slice(), &[7u8; 48], &[8u8; 16]].concat(),
    ))
}

fn now_rfc3339(offset_s: i64) -> String {
    let t = time::OffsetDateTime::now_utc().unix_timestamp() + offset_s;
    strongroom_verifier::owner::rfc3339_s(t).unwrap()
}

fn action(kind: Action, credential: &str, offset_s: i64) -> OwnerAction {
    OwnerAction {
        action: kind,
        credential: credential.to_owned(),
        from: None,
        to: None,
        symbols: None,
        time: now_rfc3339(offset_s),
    }
}

fn signed(a: &OwnerAction, key: &p256::ecdsa::SigningKey) -> String {
    STANDARD.encode(sign_action(a, key).unwrap())
}

async fn compute(s: &Stack, key: &str, session: &str) -> Value {
    let body = json!({"session_id": session}).to_string();
    let r = s.host.post("/enclave/request_aggregates", key, &body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn result_id(answer: &Value) -> String {
    hex::encode(Sha256::digest(b64(&answer["aggregates_signed"])))
}

#[tokio::test]
async fn owner_authorization_is_forwarded_and_refusals_are_mapped() {
    let s = stack().await;
    let key = s.db.tenant("acme").await;
    let session = submit(&s.host, &key, "v2main").await;
    let auth = signed(&action(Action::Aggregates, &credential(), 0), &owner_key());
    let body = json!({"session_id": session, "owner_authorization": auth}).to_string();
    let r = s
        .host
        .post("/enclave/request_aggregates", &key, &body)
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["aggregates"]["credential"], credential());
    assert_eq!(
        *s.enclave.authorizations.lock().unwrap(),
        vec![STANDARD.decode(&auth).unwrap()]
    );
    // Bounded base64, checked before the enclave is asked.
    for (value, code) in [
        ("not base64!".to_owned(), "invalid_base64"),
        (STANDARD.encode(vec![0u8; 16 * 1024 + 1]), "invalid_length"),
    ] {
        let body = json!({"session_id": session, "owner_authorization": value}).to_string();
        let r = s
            .host
            .post("/enclave/request_aggregates", &key, &body)
            .await;
        assert_eq!((r.status, r.code()), (400, code.to_owned()));
    }
    assert_eq!(s.enclave.authorizations.lock().unwrap().len(), 1);
    // The enclave's refusals, each with its own status.
    for (code, status) in [
        ("policy_window", 403),
        ("policy_symbols", 403),
        ("policy_interval", 403),
        ("credential_revoked", 403),
        ("owner_signature_invalid", 403),
        ("owner_authorization_stale", 403),
        ("owner_authorization_mismatch", 403),
        ("malformed_owner_authorization", 400),
        ("no_owner_key", 422),
    ] {
        let session = submit(&s.host, &key, &format!("agg_{code}")).await;
        let body = json!({"session_id": session}).to_string();
        let r = s
            .host
            .post("/enclave/request_aggregates", &key, &body)
            .await;
        assert_eq!((r.status, r.code()), (status, code.to_owned()), "{code}");
        let retry = (code == "policy_interval").then_some("120");
        assert_eq!(r.header("retry-after"), retry, "{code}");
    }
}

#[tokio::test]
async fn an_owner_signed_revoke_is_logged_and_purges_the_session() {
    let s = stack_with(&[("PUBLIC_LOG_ENTRIES", "1")]).await;
    let key = s.db.tenant("acme").await;
    let session = submit(&s.host, &key, "v2main").await;
    compute(&s, &key, &session).await;
    // The enclave refuses the owner's signature: nothing logged, nothing purged.
    let refused = submit(&s.host, &key, "revoke_owner_signature_invalid").await;
    let auth = signed(&action(Action::Revoke, &credential(), 0), &owner_key());
    let body = json!({"session_id": refused, "owner_authorization": auth}).to_string();
    let r = s.host.post("/enclave/revoke", &key, &body).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "owner_signature_invalid".into())
    );
    assert_eq!(
        count(&s.db, "SELECT count(*) FROM transparency_log").await,
        1
    );
    let body = json!({"session_id": session, "owner_authorization": auth}).to_string();
    let r = s.host.post("/enclave/revoke", &key, &body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["revoked"], true);
    assert_eq!(v["logged"], true);
    assert_eq!(v["credential"], credential());
    assert_eq!(v["log"]["leaf_index"], 1);
    assert_eq!(v["log"]["tree_size"], 2);
    assert!(v["log"]["checkpoint"].is_string());
    let entry = b64(&v["entry"]);
    // The entry is the log's leaf 1, served in the public entry bundle.
    let bundle = s.host.get("/tile/entries/000.p/2", &[]).await;
    assert_eq!(bundle.status, 200);
    let leaves = strongroom_formats::c2sp::tiles::split_entry_bundle(&bundle.body, 2).unwrap();
    assert_eq!(leaves[1], entry.as_slice());
    // The session is gone; the unsigned revoke of another session is not logged.
    let r = s
        .host
        .post(
            "/enclave/request_aggregates",
            &key,
            &json!({"session_id": session}).to_string(),
        )
        .await;
    assert_eq!((r.status, r.code()), (410, "session_revoked".into()));
    let r = s
        .host
        .post(
            "/enclave/revoke",
            &key,
            &json!({"session_id": refused}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200);
    // The version 1 answer, unchanged (v1 clients refuse unknown fields).
    assert_eq!(r.json(), json!({"revoked": true}));
    assert_eq!(
        count(&s.db, "SELECT count(*) FROM transparency_log").await,
        2
    );
    assert_eq!(
        count(
            &s.db,
            "SELECT count(*) FROM audit_log WHERE action = 'revoke_logged'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn publish_is_checked_by_the_host_and_travels_in_the_bundle() {
    let s = stack().await;
    let key = s.db.tenant("acme").await;
    let session = submit(&s.host, &key, "v2main").await;
    let first = compute(&s, &key, &session).await;
    let id = result_id(&first);
    let c = s.client_get(&format!("/r/{id}")).await;
    assert_eq!((c.status, c.code()), (404, "result_not_found".into()));
    let other = p256::ecdsa::SigningKey::from_slice(&[0x33; 32]).unwrap();
    let publish = |auth: Option<String>| {
        let mut body = json!({"session_id": session});
        if let Some(a) = auth {
            body["owner_authorization"] = a.into();
        }
        body.to_string()
    };
    for (auth, status, code) in [
        (None, 400, "invalid_json"),
        (
            Some(STANDARD.encode(b"junk")),
            400,
            "malformed_owner_authorization",
        ),
        (
            Some(signed(&action(Action::Publish, &credential(), 0), &other)),
            403,
            "owner_signature_invalid",
        ),
        (
            Some(signed(
                &action(Action::Publish, &credential(), -600),
                &owner_key(),
            )),
            403,
            "owner_authorization_stale",
        ),
        (
            Some(signed(
                &action(Action::Publish, &"ab".repeat(32), 0),
                &owner_key(),
            )),
            403,
            "owner_authorization_mismatch",
        ),
        (
            Some(signed(
                &action(Action::Revoke, &credential(), 0),
                &owner_key(),
            )),
            403,
            "owner_authorization_mismatch",
        ),
    ] {
        let r = s.host.post("/enclave/publish", &key, &publish(auth)).await;
        assert_eq!((r.status, r.code()), (status, code.to_owned()));
    }
    assert_eq!(s.client_get(&format!("/r/{id}")).await.status, 404);
    // Another tenant cannot publish this tenant's session.
    let intruder = s.db.tenant("intruder").await;
    let good = signed(&action(Action::Publish, &credential(), 0), &owner_key());
    let r = s
        .host
        .post("/enclave/publish", &intruder, &publish(Some(good.clone())))
        .await;
    assert_eq!((r.status, r.code()), (404, "session_not_found".into()));
    let r = s
        .host
        .post("/enclave/publish", &key, &publish(Some(good.clone())))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let owner = owner_id(&owner_public_key(&owner_key()));
    assert_eq!(r.json()["results"], 1);
    assert_eq!(r.json()["owner"], owner);
    // Published, with the consent in the bundle (format v2), which verifies.
    let later = compute(&s, &key, &session).await;
    for id in [id, result_id(&later)] {
        let r = s.client_get(&format!("/r/{id}")).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let bundle = ResultBundle::parse(&r.body).unwrap();
        assert_eq!(bundle.format, "strongroom/result-bundle/v2");
        assert_eq!(bundle.publish_authorization.as_deref(), Some(good.as_str()));
        bundle.check_envelope().unwrap();
        let payload = serde_json::from_value(bundle.payload.clone()).unwrap();
        bundle.check_publish_consent(&payload).unwrap();
    }
}

#[tokio::test]
async fn a_policy_that_says_publish_publishes_at_once() {
    let s = stack().await;
    let key = s.db.tenant("acme").await;
    let private = submit(&s.host, &key, "v2main").await;
    let answer = compute(&s, &key, &private).await;
    assert_eq!(
        s.client_get(&format!("/r/{}", result_id(&answer)))
            .await
            .status,
        404
    );
    // Another credential (other bytes) whose sealed policy says publish.
    let body =
        submit_body("v2pub").replace(&STANDARD.encode([7u8; 48]), &STANDARD.encode([9u8; 48]));
    let r = s.host.post("/enclave/submit_key", &key, &body).await;
    assert_eq!(r.status, 201);
    let public = r.json()["session_id"].as_str().unwrap().to_owned();
    let answer = compute(&s, &key, &public).await;
    assert_eq!(answer["aggregates"]["policy"]["publish"], true);
    let r = s.client_get(&format!("/r/{}", result_id(&answer))).await;
    assert_eq!(r.status, 200);
    let bundle = ResultBundle::parse(&r.body).unwrap();
    assert_eq!(bundle.publish_authorization, None);
    let payload = serde_json::from_value(bundle.payload.clone()).unwrap();
    bundle.check_publish_consent(&payload).unwrap();
}

trait PublicGet {
    async fn client_get(&self, path: &str) -> common::Reply;
}

impl PublicGet for Stack {
    async fn client_get(&self, path: &str) -> common::Reply {
        self.host.get(path, &[]).await
    }
}

/// `strongroom <command> --log URL ... --json`: (exit code, stdout JSON, stderr).
fn cli(s: &Stack, args: &[&str]) -> (i32, Value, String) {
    let out = std::process::Command::new(strongroom_testkit::bin::verifier_cli())
        .args(args)
        .args(["--log", &format!("http://{}", s.host.addr), "--json"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_use_after_a_logged_revocation_is_reported_by_monitor_and_history() {
    // The stub enclave does not enforce revocations, and the host's own
    // guard is removed from its database: an enclave and a host that use a
    // revoked credential, which the log's readers must catch.
    let s = stack_with(&[("PUBLIC_LOG_ENTRIES", "1")]).await;
    let key = s.db.tenant("acme").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy");
    std::fs::write(
        &policy,
        format!(
            "log {}\nquorum none\n",
            common::stub_log::note_signer().verifier_key()
        ),
    )
    .unwrap();
    let state = dir.path().join("state.json");
    let (policy, state) = (policy.to_str().unwrap(), state.to_str().unwrap());
    let monitor = |s: &Stack| cli(s, &["monitor", "--policy", policy, "--state", state]);
    let session = submit(&s.host, &key, "v2main").await;
    let replayed = submit(&s.host, &key, "v2main").await;
    compute(&s, &key, &session).await;
    assert_eq!(monitor(&s).0, 0);
    let auth = signed(&action(Action::Revoke, &credential(), 0), &owner_key());
    let body = json!({"session_id": session, "owner_authorization": auth}).to_string();
    assert_eq!(
        s.host.post("/enclave/revoke", &key, &body).await.status,
        200
    );
    // The monitor keeps the revocation in its state.
    let (code, out, err) = monitor(&s);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(out["revocations"][credential()]["index"], 1, "{out}");
    let (code, out, err) = cli(&s, &["history", "--credential", &credential()]);
    assert_eq!(code, 0, "{out} {err}");
    let kinds: Vec<&str> = out["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["result", "revocation"]);
    // The host itself appends no result of a revoked credential (the stub
    // enclave would compute one) ...
    let r = s
        .host
        .post(
            "/enclave/request_aggregates",
            &key,
            &json!({"session_id": replayed}).to_string(),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "credential_revoked".into()));
    assert_eq!(
        count(&s.db, "SELECT count(*) FROM transparency_log").await,
        2
    );
    // ... but a hostile one forgets the revocation and logs a use anyway.
    let db = s.db.client().await;
    db.execute("DELETE FROM revoked_credentials", &[])
        .await
        .unwrap();
    compute(&s, &key, &replayed).await;
    let (code, out, err) = monitor(&s);
    assert_eq!(
        (code, out["error"]["code"].as_str()),
        (1, Some("revoked_then_used")),
        "{out}"
    );
    assert!(
        err.contains("revoked at leaf 1, used by the result at leaf 2"),
        "{err}"
    );
    let (code, out, _) = cli(&s, &["history", "--credential", &credential()]);
    assert_eq!(
        (code, out["error"]["code"].as_str()),
        (1, Some("revoked_then_used"))
    );
    // Another credential's history is empty and clean.
    let (code, out, _) = cli(&s, &["history", "--credential", &"cd".repeat(32)]);
    assert_eq!(
        (code, out["entries"].as_array().map(Vec::len)),
        (0, Some(0))
    );
}

#[tokio::test]
async fn a_credential_without_an_owner_cannot_be_published() {
    let s = stack().await;
    let key = s.db.tenant("acme").await;
    // A v2 payload naming no owner (as for a v1 credential, or one sealed
    // without an owner key).
    let session = submit(&s.host, &key, "v2noowner").await;
    compute(&s, &key, &session).await;
    let credential = credential();
    let auth = signed(&action(Action::Publish, &credential, 0), &owner_key());
    let body = json!({"session_id": session, "owner_authorization": auth}).to_string();
    let r = s.host.post("/enclave/publish", &key, &body).await;
    assert_eq!((r.status, r.code()), (422, "no_owner_key".into()));
    assert_eq!(
        count(&s.db, "SELECT count(*) FROM published_credentials").await,
        0
    );
}
