//! The `strongroom` binary, run as a process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/cli.rs"]
mod cli_common;
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cli_common::{strongroom, strongroom_exact};
use common::devchain::*;
use common::quote_fixture::fixture;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn doc_path(prefix: &str) -> String {
    let dir = data_dir().join("nitro");
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with(prefix))
        .unwrap();
    dir.join(name).display().to_string()
}

fn at_of(path: &str) -> String {
    strongroom_verifier::inspect_unverified(&std::fs::read(path).unwrap())
        .unwrap()
        .timestamp_ms
        .to_string()
}

fn stderr_line(out: &Output) -> String {
    let s = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(s.lines().count(), 1, "one-line reason expected, got {s:?}");
    s
}

#[test]
fn verifies_a_production_document_in_human_and_json_form() {
    let doc = doc_path("02_");
    let at = at_of(&doc);
    let out = strongroom(&["verify-attestation", &doc, "--at", &at]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("attestation document OK"));
    assert!(text.contains("f4d48b81a460c991"));
    assert!(text.contains("NOT CHECKED (--insecure-no-pcrs"));

    let out = strongroom(&[
        "verify-attestation",
        &doc,
        "--at",
        "2022-10-13T08:58:02.136Z",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["debug"], false);
    assert_eq!(json["dev_root"], false);
    assert_eq!(json["timestamp_ms"], 1_665_651_482_136u64);
    assert!(
        json["pcrs"]["0"]
            .as_str()
            .unwrap()
            .starts_with("f4d48b81a460c991")
    );
    assert_eq!(
        json["root_sha256"],
        "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
    );
}

#[test]
fn refusals_exit_1_with_one_line_and_a_json_code() {
    let doc = doc_path("01_");
    let at = at_of(&doc);
    let out = strongroom(&["verify-attestation", &doc, "--at", &at]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("debug-mode"));
    assert!(out.stdout.is_empty());

    let out = strongroom(&["verify-attestation", &doc, "--at", &at, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["error"]["code"], "debug_mode");

    let out = strongroom(&[
        "verify-attestation",
        &doc,
        "--at",
        &at,
        "--allow-debug",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["debug"], true);

    // Expired: now (no --at) is years after the leaf's notAfter.
    let out = strongroom(&["verify-attestation", &doc, "--allow-debug", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "certificate_expired");
}

#[test]
fn pcrs_files_nonce_and_base64_input() {
    let dir = tempfile::tempdir().unwrap();
    let doc = doc_path("04_");
    let at = at_of(&doc);
    let out = strongroom(&["verify-attestation", &doc, "--at", &at, "--json"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, serde_json::json!({"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": json["pcrs"]["0"], "PCR1": json["pcrs"]["1"], "PCR2": json["pcrs"]["2"]}}).to_string()).unwrap();
    let other = dir.path().join("other.json");
    std::fs::write(
        &other,
        serde_json::json!({"PCR0": "ab".repeat(48)}).to_string(),
    )
    .unwrap();
    let (good, other) = (good.display().to_string(), other.display().to_string());

    let out = strongroom(&[
        "verify-attestation",
        &doc,
        "--at",
        &at,
        "--pcrs",
        &other,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["error"]["code"], "pcrs_not_allowed");
    let out = strongroom(&[
        "verify-attestation",
        &doc,
        "--at",
        &at,
        "--pcrs",
        &other,
        "--pcrs",
        &good,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["pcrs_matched"], good.as_str());

    let nonce = json["nonce"].as_str().unwrap();
    let out = strongroom(&[
        "verify-attestation",
        &doc,
        "--at",
        &at,
        "--nonce",
        &format!("b64:{nonce}"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let out = strongroom(&["verify-attestation", &doc, "--at", &at, "--nonce", "hex:00"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("nonce"));

    let b64 = dir.path().join("doc.b64");
    std::fs::write(&b64, STANDARD.encode(std::fs::read(&doc).unwrap())).unwrap();
    let out = strongroom(&["verify-attestation", b64.to_str().unwrap(), "--at", &at]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bad_input_exits_2() {
    let out = strongroom(&["verify-attestation", "/nonexistent/doc.cbor"]);
    assert_eq!(out.status.code(), Some(2));
    stderr_line(&out);
    let doc = doc_path("02_");
    let out = strongroom(&["verify-attestation", &doc, "--at", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    let out = strongroom(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
}

fn write(dir: &Path, name: &str, body: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn dev_root_documents_need_the_dev_root_flag() {
    let dir = tempfile::tempdir().unwrap();
    let pki = DevPki::new();
    let doc = write(
        dir.path(),
        "doc.cbor",
        document(
            &pki,
            &DocFields {
                pcr_fill: 0xaa,
                ..Default::default()
            },
        ),
    );
    let root = write(dir.path(), "root.pem", pki.root_pem());
    let at = doc_time_ms().to_string();
    let out = strongroom(&["verify-attestation", &doc, "--at", &at, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["error"]["code"], "root_mismatch");
    let out = strongroom(&[
        "verify-attestation",
        &doc,
        "--at",
        &at,
        "--trust-dev-root",
        &root,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["dev_root"], true);
    let out = strongroom(&[
        "verify-attestation",
        &doc,
        "--at",
        &at,
        "--trust-dev-root",
        &root,
    ]);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("DEVELOPMENT root")
    );
}

#[test]
fn seal_prints_a_submit_key_body_the_attested_key_opens() {
    use hpke::{Deserializable, OpModeR};
    use strongroom_verifier::seal::{Aead, CREDENTIAL_INFO_V2, Kdf, Kem};
    let dir = tempfile::tempdir().unwrap();
    let f = fixture();
    let quote = write(
        dir.path(),
        "quote.json",
        serde_json::to_vec(&f.quote).unwrap(),
    );
    let root = write(dir.path(), "root.pem", f.pki.root_pem());
    let pcrs = write(
        dir.path(),
        "pcrs.json",
        serde_json::json!({"PCR0": "aa".repeat(48)}).to_string(),
    );
    let at = doc_time_ms().to_string();
    let base = [
        "seal",
        "--quote",
        &quote,
        "--trust-dev-root",
        &root,
        "--at",
        &at,
        "--label",
        "main",
        "--ttl",
        "3600",
    ];

    // Without --pcrs: refused before anything else.
    let out = strongroom(&base);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("--pcrs"));
    // Without the secrets in the environment: refused.
    let with_pcrs: Vec<&str> = base.iter().copied().chain(["--pcrs", &pcrs]).collect();
    let out = strongroom(&with_pcrs);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("EXCHANGE_API_KEY"));

    let owner_key = dir.path().join("owner.key");
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(&with_pcrs)
        .env("STRONGROOM_OWNER_KEY", &owner_key)
        .env("EXCHANGE_API_KEY", "my-key")
        .env("EXCHANGE_API_SECRET", "my-secret")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["key_id"], "v1:2026");
    assert_eq!(
        body["metadata"],
        serde_json::json!({"exchange": "binance", "label": "main", "ttl": 3600})
    );
    let enc = STANDARD
        .decode(body["ephemeral_pub"].as_str().unwrap())
        .unwrap();
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&enc).unwrap();
    let mut ct = STANDARD
        .decode(body["ciphertext"].as_str().unwrap())
        .unwrap();
    ct.extend(STANDARD.decode(body["tag"].as_str().unwrap()).unwrap());
    let pt = hpke::single_shot_open::<Aead, Kdf, Kem>(
        &OpModeR::Base,
        &f.hpke_sk,
        &enc,
        CREDENTIAL_INFO_V2,
        &ct,
        b"",
    )
    .unwrap();
    let pt: Value = serde_json::from_slice(&pt).unwrap();
    assert_eq!(pt["api_key"], "my-key");
    assert_eq!(pt["api_secret"], "my-secret");
    assert!(pt["not_after"].as_u64().unwrap() > 1_700_000_000);
    // Version 2: the default policy, and the owner key created on first use.
    assert_eq!(pt["policy"]["windows"], "days");
    assert_eq!(pt["policy"]["min_interval_seconds"], 3600);
    assert!(owner_key.exists());
    assert!(String::from_utf8_lossy(&out.stderr).contains("credential "));
    // The secret never appears in the output.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("my-secret"));

    // A quote from another image is refused with exit 1.
    let wrong = write(
        dir.path(),
        "wrong.json",
        serde_json::json!({"PCR0": "ab".repeat(48)}).to_string(),
    );
    let args: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--pcrs", &wrong, "--json"])
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(&args)
        .env("STRONGROOM_OWNER_KEY", &owner_key)
        .env("EXCHANGE_API_KEY", "k")
        .env("EXCHANGE_API_SECRET", "s")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["error"]["code"], "pcrs_not_allowed");
}

/// A third party's production document must not verify "ok" by default:
/// without measurements the CLI refuses, unless told `--insecure-no-pcrs`,
/// and then every output says measurements were not checked.
#[test]
fn measurements_are_required_unless_explicitly_waived() {
    let doc = doc_path("02_");
    let at = at_of(&doc);
    for cmd in ["verify-attestation", "verify-result"] {
        let out = strongroom_exact(&[cmd, &doc, "--at", &at, "--json"]);
        let out = if cmd == "verify-result" {
            strongroom_exact(&[cmd, &doc, "--json"])
        } else {
            out
        };
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(j["error"]["code"], "pcrs_required", "{cmd}");
        assert!(stderr_line(&out).contains("--insecure-no-pcrs"), "{cmd}");
    }
    let out = strongroom_exact(&[
        "verify-attestation",
        &doc,
        "--at",
        &at,
        "--insecure-no-pcrs",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["insecure_no_pcrs"], true);
    assert_eq!(j["pcrs_pinned"], false);
    assert!(j["warnings"][0].as_str().unwrap().contains("not checked"));
    // Pinning and waiving at once is a usage error.
    let pcrs = tempfile::NamedTempFile::new().unwrap();
    let path = pcrs.path().to_str().unwrap();
    let out = strongroom_exact(&[
        "verify-attestation",
        &doc,
        "--pcrs",
        path,
        "--insecure-no-pcrs",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
