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
use strongroom_verifier::seal::{Aead, CREDENTIAL_INFO, Kdf, Kem};

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
        _dir: dir,
    }
}

fn run(h: &Host, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strongroom"));
    cmd.args(args);
    if args[0] != "revoke" {
        cmd.args(["--trust-dev-root", &h.root_pem]);
    }
    // `quote` tests are about nonces: they accept any measurements, explicitly.
    if args[0] == "quote" {
        cmd.arg("--insecure-no-pcrs");
    }
    cmd.env("STRONGROOM_HOST", &h.server.url)
        .env("STRONGROOM_TENANT_KEY", TENANT_KEY)
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
    let out = run(&h, &args, &secrets);
    let text = ok(&out);
    assert!(
        text.contains("0b7c6a3e-0000-4000-8000-000000000001"),
        "{text}"
    );
    for s in [text.as_str(), &String::from_utf8_lossy(&out.stderr)] {
        assert!(!s.contains("binance-secret-456") && !s.contains("binance-key-123"));
    }
    let seen = h.server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].target, "/enclave/submit_key");
    let body: Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!(body["key_id"], "v1:2026");
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
        CREDENTIAL_INFO,
        &ct,
        b"",
    )
    .unwrap();
    let pt: Value = serde_json::from_slice(&pt).unwrap();
    assert_eq!(pt["api_key"], "binance-key-123");
    assert_eq!(pt["api_secret"], "binance-secret-456");
    let not_after = pt["not_after"].as_u64().unwrap();
    assert!(not_after.abs_diff(now_secs() + 3600) < 60);
}

#[test]
fn host_refusals_exit_1_with_the_host_code() {
    let h = host(|_| {
        (
            401,
            r#"{"error":{"code":"unauthorized","message":"unknown api key"}}"#.into(),
        )
    });
    let out = run(&h, &["revoke", "--session", "s", "--json"], &[]);
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
}
