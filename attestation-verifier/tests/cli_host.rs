//! `quote`, `submit`, `aggregates`, `revoke` as processes against a canned
//! host (tests/common/http_server.rs) that attests with a dev PKI valid
//! now and echoes the client's nonce like the real host.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::devchain::*;
use common::http_server::{Seen, Server};
use common::result_fixture::ResultFixture;
use hpke::{Deserializable, Kem as _, Serializable};
use serde_json::Value;
use sha2::Digest as _;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use strongroom_verifier::owner::{Action, verify_action};
use strongroom_verifier::seal::{Aead, CREDENTIAL_INFO_V2, Kdf, Kem};

const TENANT_KEY: &str = "tenant-secret-key";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A dev chain valid around the real clock (the CLI verifies quotes now).
fn live_pki() -> DevPki {
    let now = now_secs();
    DevPki::with(move |_, spec| {
        spec.not_before = now - 3600;
        spec.not_after = now + 3600;
    })
}

fn hpke_keys() -> (<Kem as hpke::Kem>::PrivateKey, Vec<u8>) {
    let (sk, pk) = Kem::derive_keypair(&[3; 32]);
    (sk, pk.to_bytes().to_vec())
}

/// The quote answer a real host gives for `nonce`, stamped now.
fn live_quote(pki: &DevPki, nonce: &[u8]) -> String {
    let sign = p256::ecdsa::SigningKey::from_slice(&[5; 32]).unwrap();
    let sign_pub = sign
        .verifying_key()
        .to_sec1_point(false)
        .as_bytes()
        .to_vec();
    let fields = DocFields {
        public_key: Some(hpke_keys().1),
        user_data: Some(binding(&sign_pub, "v1:2026")),
        nonce: Some(nonce.to_vec()),
        pcr_fill: 0xaa,
        indefinite_map: false,
    };
    let mut map = payload_map(pki, &fields);
    map.insert(
        serde_cbor::Value::Text("timestamp".into()),
        serde_cbor::Value::Integer((now_secs() * 1000).into()),
    );
    let doc = sign_document(
        &pki.leaf_key,
        &serde_cbor::to_vec(&serde_cbor::Value::Map(map)).unwrap(),
    );
    serde_json::json!({
        "quote": STANDARD.encode(doc),
        "enclave_pubkey": STANDARD.encode(hpke_keys().1),
        "signing_pubkey": STANDARD.encode(&sign_pub),
        "key_id": "v1:2026",
        "image_hash": hex::encode([0xaa; 48]),
    })
    .to_string()
}

fn nonce_of(seen: &Seen) -> Vec<u8> {
    let q = seen.target.split_once("?nonce=").unwrap().1;
    let b64 = q
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    STANDARD.decode(b64).unwrap()
}

struct Host {
    server: Server,
    _dir: tempfile::TempDir,
    root_pem: String,
    pcrs: String,
    /// The owner key file the commands use (created by the first that needs it).
    owner_key: String,
}

/// A host answering quotes with the client's nonce and routes from `other`.
fn host(other: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Host {
    let pki = Arc::new(live_pki());
    let dir = tempfile::tempdir().unwrap();
    let root_pem = dir.path().join("root.pem");
    std::fs::write(&root_pem, pki.root_pem()).unwrap();
    let pcrs = dir.path().join("pcrs.json");
    std::fs::write(&pcrs, format!(r#"{{"PCR0":"{}"}}"#, "aa".repeat(48))).unwrap();
    let p = pki.clone();
    let server = Server::start(move |seen| {
        if seen.target.starts_with("/attestation/quote?nonce=") {
            (200, live_quote(&p, &nonce_of(seen)))
        } else {
            other(seen)
        }
    });
    Host {
        server,
        root_pem: root_pem.display().to_string(),
        pcrs: pcrs.display().to_string(),
        owner_key: dir.path().join("cfg/owner.key").display().to_string(),
        _dir: dir,
    }
}

fn run(h: &Host, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strongroom"));
    cmd.args(args);
    if !["revoke", "publish"].contains(&args[0]) {
        cmd.args(["--trust-dev-root", &h.root_pem]);
    }
    // `quote` tests are about nonces: they accept any measurements, explicitly.
    if args[0] == "quote" {
        cmd.arg("--insecure-no-pcrs");
    }
    cmd.env("STRONGROOM_HOST", &h.server.url)
        .env("STRONGROOM_TENANT_KEY", TENANT_KEY)
        .env("STRONGROOM_OWNER_KEY", &h.owner_key)
        .env_remove("EXCHANGE_API_KEY")
        .env_remove("EXCHANGE_API_SECRET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn quote_sends_a_fresh_nonce_and_verifies_it() {
    let h = host(|_| (404, String::new()));
    let json: Value = serde_json::from_str(&ok(&run(&h, &["quote", "--json"], &[]))).unwrap();
    assert_eq!(json["key_id"], "v1:2026");
    assert_eq!(json["dev_root"], true);
    let seen = h.server.seen();
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Bearer tenant-secret-key")
    );
    let first = nonce_of(&seen[0]);
    assert_eq!(first.len(), 32);
    assert_eq!(json["nonce"], STANDARD.encode(&first));
    let text = ok(&run(&h, &["quote", "--nonce-hex", "00112233"], &[]));
    assert!(text.starts_with("quote OK"));
    assert_eq!(nonce_of(&h.server.seen()[1]), [0x00, 0x11, 0x22, 0x33]);
    assert_ne!(nonce_of(&h.server.seen()[1]), first);
}

#[test]
fn quote_refuses_a_host_that_replays_another_nonce() {
    let pki = Arc::new(live_pki());
    let p = pki.clone();
    let server = Server::start(move |_| (200, live_quote(&p, b"stale")));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, pki.root_pem()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["quote", "--host", &server.url, "--api-key", "k", "--json"])
        .args([
            "--trust-dev-root",
            root.to_str().unwrap(),
            "--insecure-no-pcrs",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "nonce_mismatch");
}

#[test]
fn submit_seals_the_env_credential_to_the_attested_key() {
    let h = host(|seen| {
        match seen.target.as_str() {
        "/enclave/submit_key" => (
            201,
            r#"{"session_id":"0b7c6a3e-0000-4000-8000-000000000001","expires_at":"2027-01-01T00:00:00Z"}"#
                .into(),
        ),
        _ => (404, String::new()),
    }
    });
    let args = ["submit", "--ttl", "3600", "--pcrs", &h.pcrs];
    // Secrets missing: refused before any request.
    let out = run(&h, &args, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("EXCHANGE_API_KEY"));
    assert!(h.server.seen().is_empty());
    // No --pcrs: refused.
    let out = run(&h, &["submit"], &[]);
    assert_eq!(out.status.code(), Some(2));

    let secrets = [
        ("EXCHANGE_API_KEY", "binance-key-123"),
        ("EXCHANGE_API_SECRET", "binance-secret-456"),
    ];
    assert!(!std::path::Path::new(&h.owner_key).exists());
    let out = run(&h, &args, &secrets);
    let text = ok(&out);
    assert!(
        text.contains("0b7c6a3e-0000-4000-8000-000000000001"),
        "{text}"
    );
    // The owner key was created, private, on first use.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&h.owner_key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for s in [text.as_str(), &String::from_utf8_lossy(&out.stderr)] {
        assert!(!s.contains("binance-secret-456") && !s.contains("binance-key-123"));
    }
    let seen = h.server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].target, "/enclave/submit_key");
    let body: Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!(body["key_id"], "v1:2026");
    // The credential id printed is SHA-256 of enc ‖ ciphertext ‖ tag.
    let mut id = sha2::Sha256::new();
    for f in ["ephemeral_pub", "ciphertext", "tag"] {
        id.update(STANDARD.decode(body[f].as_str().unwrap()).unwrap());
    }
    let id = hex::encode(id.finalize());
    assert!(text.contains(&format!("credential:  {id}")), "{text}");
    assert_eq!(body["metadata"]["ttl"], 3600);
    assert!(!String::from_utf8_lossy(&seen[1].body).contains("binance-secret"));
    // The enclave's HPKE key opens it to the env credential.
    let enc = STANDARD
        .decode(body["ephemeral_pub"].as_str().unwrap())
        .unwrap();
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&enc).unwrap();
    let mut ct = STANDARD
        .decode(body["ciphertext"].as_str().unwrap())
        .unwrap();
    ct.extend(STANDARD.decode(body["tag"].as_str().unwrap()).unwrap());
    let pt = hpke::single_shot_open::<Aead, Kdf, Kem>(
        &hpke::OpModeR::Base,
        &hpke_keys().0,
        &enc,
        CREDENTIAL_INFO_V2,
        &ct,
        b"",
    )
    .unwrap();
    let pt: Value = serde_json::from_slice(&pt).unwrap();
    assert_eq!(pt["api_key"], "binance-key-123");
    assert_eq!(pt["api_secret"], "binance-secret-456");
    let not_after = pt["not_after"].as_u64().unwrap();
    assert!(not_after.abs_diff(now_secs() + 3600) < 60);
    // Version 2: the client's default policy and the owner key sealed in.
    assert_eq!(
        pt["policy"],
        serde_json::json!({"windows": "days", "symbols": "all", "min_interval_seconds": 3600, "publish": false})
    );
    let owner = STANDARD.decode(pt["owner"].as_str().unwrap()).unwrap();
    assert_eq!(owner.len(), 65);
    // The flags change the sealed policy; the same owner key is used again.
    let flags = [
        "--policy",
        "any",
        "--symbols",
        "choice",
        "--min-interval",
        "60",
        "--publish",
    ];
    ok(&run(&h, &[&args[..], &flags].concat(), &secrets));
    let body: Value = serde_json::from_slice(&h.server.seen()[3].body).unwrap();
    let enc = STANDARD
        .decode(body["ephemeral_pub"].as_str().unwrap())
        .unwrap();
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&enc).unwrap();
    let mut ct = STANDARD
        .decode(body["ciphertext"].as_str().unwrap())
        .unwrap();
    ct.extend(STANDARD.decode(body["tag"].as_str().unwrap()).unwrap());
    let pt = hpke::single_shot_open::<Aead, Kdf, Kem>(
        &hpke::OpModeR::Base,
        &hpke_keys().0,
        &enc,
        CREDENTIAL_INFO_V2,
        &ct,
        b"",
    )
    .unwrap();
    let pt: Value = serde_json::from_slice(&pt).unwrap();
    assert_eq!(
        pt["policy"],
        serde_json::json!({"windows": "any", "symbols": "choice", "min_interval_seconds": 60, "publish": true})
    );
    assert_eq!(
        STANDARD.decode(pt["owner"].as_str().unwrap()).unwrap(),
        owner
    );
    // An owner key that others may read is refused before any request.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let before = h.server.seen().len();
        std::fs::set_permissions(&h.owner_key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let out = run(&h, &args, &secrets);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
        assert_eq!(h.server.seen().len(), before);
    }
}

/// The owner action the fake host received in `body`, checked under `owner`.
fn owner_action_of(body: &[u8], owner: &[u8]) -> strongroom_verifier::owner::OwnerAction {
    let body: Value = serde_json::from_slice(body).unwrap();
    let auth = STANDARD
        .decode(body["owner_authorization"].as_str().unwrap())
        .unwrap();
    verify_action(&auth, Some(owner)).unwrap().action
}

/// The public key of the owner key file (created by `submit`/`seal`).
fn owner_public(path: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let scalar = hex::decode(text.lines().nth(1).unwrap()).unwrap();
    let key = p256::ecdsa::SigningKey::from_slice(&scalar).unwrap();
    strongroom_verifier::owner::owner_public_key(&key)
}

#[test]
fn revoke_and_publish_are_signed_by_the_owner_key() {
    let c = "ab".repeat(32);
    let answer_c = c.clone();
    let h = host(move |seen| match seen.target.as_str() {
        "/enclave/revoke" if seen.body.windows(19).any(|w| w == b"owner_authorization") => (
            200,
            serde_json::json!({"revoked": true, "logged": true, "credential": answer_c,
                "entry": "AA==", "log": {"leaf_index": 7, "tree_size": 8}})
            .to_string(),
        ),
        "/enclave/revoke" => (200, r#"{"revoked":true}"#.into()),
        "/enclave/publish" => {
            let body: Value = serde_json::from_slice(&seen.body).unwrap();
            let auth = STANDARD
                .decode(body["owner_authorization"].as_str().unwrap())
                .unwrap();
            let v = verify_action(&auth, None).unwrap();
            (
                200,
                serde_json::json!({"published": true, "credential": v.action.credential,
                    "owner": v.owner_id(), "results": 2})
                .to_string(),
            )
        }
        _ => (404, String::new()),
    });
    // No owner key yet: signing needs the key the credential was sealed with.
    let out = run(&h, &["revoke", "--session", "s", "--credential", &c], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(h.server.seen().is_empty());
    // Neither --credential nor --unlogged: a usage error.
    assert_eq!(
        run(&h, &["revoke", "--session", "s"], &[]).status.code(),
        Some(2)
    );
    // A key in the format `seal`/`submit` create.
    write_owner_key(std::path::Path::new(&h.owner_key), [0x42; 32]);
    let owner = owner_public(&h.owner_key);
    let text = ok(&run(
        &h,
        &["revoke", "--session", "s", "--credential", &c],
        &[],
    ));
    assert!(text.contains("leaf 7"), "{text}");
    let a = owner_action_of(&h.server.seen()[0].body, &owner);
    assert_eq!(
        (a.action, a.credential.as_str()),
        (Action::Revoke, c.as_str())
    );
    let signed_at = strongroom_verifier::owner::parse_rfc3339_s(&a.time).unwrap();
    assert!(signed_at.abs_diff(i64::try_from(now_secs()).unwrap()) < 60);
    // A host that answers for another credential is refused.
    let other = "cd".repeat(32);
    let out = run(
        &h,
        &["revoke", "--session", "s", "--credential", &other, "--json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "answer_mismatch");
    // The unsigned purge stays available, explicitly.
    let json: Value = serde_json::from_str(&ok(&run(
        &h,
        &["revoke", "--session", "s", "--unlogged", "--json"],
        &[],
    )))
    .unwrap();
    assert_eq!(json["logged"], false);
    let body: Value = serde_json::from_slice(&h.server.seen()[2].body).unwrap();
    assert_eq!(body, serde_json::json!({"session_id": "s"}));
    // Publish.
    let json: Value = serde_json::from_str(&ok(&run(
        &h,
        &["publish", "--session", "s", "--credential", &c, "--json"],
        &[],
    )))
    .unwrap();
    assert_eq!(json["results"], 2);
    let a = owner_action_of(&h.server.seen()[3].body, &owner);
    assert_eq!(
        (a.action, a.credential.as_str()),
        (Action::Publish, c.as_str())
    );
    // A malformed credential id is a usage error before any request.
    let before = h.server.seen().len();
    let out = run(
        &h,
        &["publish", "--session", "s", "--credential", "xyz"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(h.server.seen().len(), before);
}

#[test]
fn host_refusals_exit_1_with_the_host_code() {
    let h = host(|_| {
        (
            401,
            r#"{"error":{"code":"unauthorized","message":"unknown api key"}}"#.into(),
        )
    });
    let out = run(
        &h,
        &["revoke", "--session", "s", "--unlogged", "--json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "unauthorized");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1);
    assert!(!stderr.contains(TENANT_KEY));
    // Plain http to a non-loopback host is refused locally.
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args([
            "revoke",
            "--session",
            "s",
            "--unlogged",
            "--host",
            "http://example.invalid",
            "--api-key",
            "k",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn aggregates_saves_the_answer_and_verifies_the_chain() {
    let mut f = ResultFixture::default();
    // The answer to what `cmd("good", ...)` asks, computed just now.
    f.payload.session = Some(hex::encode(sha2::Sha256::digest(b"good")));
    f.payload.computed_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let answer = serde_json::to_string(&f.answer()).unwrap();
    let mut tampered = f.answer();
    tampered.aggregates["totals"]["USDT"]["wins"] = 7.into();
    let tampered = serde_json::to_string(&tampered).unwrap();
    let served = tampered.clone();
    let server = Server::start(move |seen| match seen.target.as_str() {
        "/enclave/request_aggregates" if seen.body.windows(3).any(|w| w == b"bad") => {
            (200, tampered.clone())
        }
        // A valid answer, replayed for another session.
        "/enclave/request_aggregates" => (200, answer.clone()),
        "/enclave/revoke" => (200, r#"{"revoked":true}"#.into()),
        _ => (404, String::new()),
    });
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, f.pki.root_pem()).unwrap();
    let out_file = dir.path().join("answer.json");
    let cmd = |session: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_strongroom"))
            .args(["aggregates", "--session", session, "--host", &server.url])
            .args(["--api-key", "k", "--trust-dev-root", root.to_str().unwrap()])
            .args(["--out", out_file.to_str().unwrap(), "--insecure-no-pcrs"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = cmd(
        "good",
        &[
            "--from",
            "2026-01-01T00:00:00Z",
            "--symbol",
            "BTCUSDT",
            "--symbol",
            "ETHUSDT",
        ],
    );
    let text = ok(&out);
    assert!(
        text.contains("signed result OK") && text.contains("BTCUSDT"),
        "{text}"
    );
    let body: Value = serde_json::from_slice(&server.seen()[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"session_id": "good", "from": "2026-01-01T00:00:00Z",
            "symbols": ["BTCUSDT", "ETHUSDT"]})
    );
    // The saved answer verifies offline.
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args([
            "verify-result",
            out_file.to_str().unwrap(),
            "--insecure-no-pcrs",
        ])
        .args(["--trust-dev-root", root.to_str().unwrap()])
        .output()
        .unwrap();
    ok(&out);
    // A host that alters the figures: exit 1, answer still saved for evidence.
    let out = cmd("bad", &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "aggregates_mismatch");
    assert_eq!(
        std::fs::read(&out_file).unwrap(),
        served.as_bytes(),
        "bytes as received"
    );
    // A valid signed answer that is not the one asked for: refused.
    let mismatch = |extra: &[&str]| {
        let out = cmd("good", &[&["--json"], extra].concat());
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        json["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(mismatch(&[]), "answer_mismatch", "window start differs");
    assert_eq!(
        mismatch(&["--from", "2026-01-01T00:00:00Z", "--symbol", "ETHUSDT"]),
        "answer_mismatch"
    );
    let other = cmd("other", &["--from", "2026-01-01T00:00:00Z", "--json"]);
    assert_eq!(other.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&other.stdout).unwrap();
    assert_eq!(json["error"]["code"], "answer_mismatch", "another session");
    assert_eq!(
        mismatch(&["--from", "2026-01-01T00:00:00Z", "--max-age", "0"]),
        "answer_stale"
    );
    // Without --pcrs or --insecure-no-pcrs nothing is verified at all.
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["aggregates", "--session", "good", "--host", &server.url])
        .args(["--api-key", "k", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "pcrs_required");
    // Bad window syntax is a usage error before any request.
    let before = server.seen().len();
    assert_eq!(cmd("good", &["--to", "yesterday"]).status.code(), Some(2));
    assert_eq!(server.seen().len(), before);
    // --authorize signs exactly the request sent, bounds in the enclave's spelling.
    let key_file = dir.path().join("owner.key");
    write_owner_key(&key_file, [0x42; 32]);
    let c = "ab".repeat(32);
    let out = cmd(
        "good",
        &[
            "--from",
            "2026-01-01T01:00:00+01:00",
            "--symbol",
            "BTCUSDT",
            "--symbol",
            "ETHUSDT",
            "--credential",
            &c,
            "--authorize",
            "--owner-key",
            key_file.to_str().unwrap(),
        ],
    );
    ok(&out);
    let sent = server.seen().last().unwrap().body.clone();
    let sent = &sent;
    let body: Value = serde_json::from_slice(sent).unwrap();
    assert_eq!(body["from"], "2026-01-01T00:00:00Z");
    let a = owner_action_of(sent, &owner_public(key_file.to_str().unwrap()));
    assert_eq!(a.action, Action::Aggregates);
    assert_eq!(a.credential, c);
    assert_eq!(a.from.as_deref(), Some("2026-01-01T00:00:00Z"));
    assert_eq!(a.to, None);
    assert_eq!(
        a.symbols,
        Some(vec!["BTCUSDT".to_owned(), "ETHUSDT".to_owned()])
    );
    // --authorize without --credential: a usage error.
    assert_eq!(cmd("good", &["--authorize"]).status.code(), Some(2));
}

fn write_owner_key(path: &std::path::Path, seed: [u8; 32]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!("strongroom-owner-key-v1\n{}\n", hex::encode(seed)),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
