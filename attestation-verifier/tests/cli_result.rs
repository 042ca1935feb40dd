//! `strongroom verify-result FILE` as a process: a valid answer built here
//! passes (exit 0); each tampering fails with exit 1, one line on stderr
//! and its code in `--json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/cli.rs"]
mod cli_common;
mod common;

use cli_common::strongroom;
use common::result_fixture::*;
use serde_json::Value;
use std::path::Path;
use strongroom_verifier::AggregatesAnswer;

struct Setup {
    dir: tempfile::TempDir,
    root_pem: String,
}

fn setup(f: &ResultFixture) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root_pem = dir.path().join("dev-root.pem");
    std::fs::write(&root_pem, f.pki.root_pem()).unwrap();
    Setup {
        root_pem: root_pem.display().to_string(),
        dir,
    }
}

fn write_answer(dir: &Path, name: &str, answer: &AggregatesAnswer) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(answer).unwrap()).unwrap();
    path.display().to_string()
}

/// Runs verify-result with --json and returns (exit, code or "ok").
fn verdict(s: &Setup, answer: &AggregatesAnswer, extra: &[&str]) -> (i32, String) {
    let file = write_answer(s.dir.path(), "answer.json", answer);
    let mut args = vec![
        "verify-result",
        &file,
        "--trust-dev-root",
        &s.root_pem,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = strongroom(&args);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let code = if json["ok"] == true {
        "ok".to_owned()
    } else {
        let stderr = String::from_utf8(out.stderr.clone()).unwrap();
        assert_eq!(stderr.lines().count(), 1, "one-line reason: {stderr:?}");
        json["error"]["code"].as_str().unwrap().to_owned()
    };
    (out.status.code().unwrap(), code)
}

#[test]
fn a_valid_answer_verifies_in_human_and_json_form() {
    let f = ResultFixture::default();
    let s = setup(&f);
    let file = write_answer(s.dir.path(), "answer.json", &f.answer());
    let out = strongroom(&["verify-result", &file, "--trust-dev-root", &s.root_pem]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("signed result OK"), "{text}");
    assert!(text.contains("DEVELOPMENT root"));
    assert!(text.contains("NOT CHECKED (--insecure-no-pcrs"));
    assert!(text.contains("realized PnL 123.45"), "{text}");
    assert!(text.contains("leaf 4 of 7"));

    let out = strongroom(&[
        "verify-result",
        &file,
        "--trust-dev-root",
        &s.root_pem,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["aggregates"], f.answer().aggregates);
    assert_eq!(json["signing_key"]["kid"], KID);
    assert_eq!(json["log"]["tree_size"], LOG_SIZE);
    assert_eq!(json["attestation"]["dev_root"], true);

    // Pinned to the matching release.
    let pcrs = s.dir.path().join("pcrs.json");
    std::fs::write(
        &pcrs,
        serde_json::json!({"Measurements": {"HashAlgorithm": "Sha384 { ... }",
            "PCR0": "aa".repeat(48), "PCR1": "aa".repeat(48), "PCR2": "aa".repeat(48)}})
        .to_string(),
    )
    .unwrap();
    let pcrs = pcrs.display().to_string();
    let out = strongroom(&[
        "verify-result",
        &file,
        "--trust-dev-root",
        &s.root_pem,
        "--pcrs",
        &pcrs,
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout).unwrap().contains("matches"));
}

#[test]
fn each_tampering_exits_1_with_its_code() {
    let f = ResultFixture::default();
    let s = setup(&f);
    let valid = f.answer();
    assert_eq!(verdict(&s, &valid, &[]), (0, "ok".into()));

    let mut cases: Vec<(&str, AggregatesAnswer)> = Vec::new();
    let mut a = valid.clone();
    let mut head = b64d(&a.log.tree_head);
    let last = head.len() - 1;
    head[last] ^= 1;
    a.log.tree_head = b64e(&head);
    cases.push(("tree_head_signature", a));

    let mut a = valid.clone();
    let mut h = b64d(&a.log.inclusion_proof[1]);
    h[7] ^= 1;
    a.log.inclusion_proof[1] = b64e(&h);
    cases.push(("inclusion_proof", a));

    let mut a = valid.clone();
    let mut signed = b64d(&a.aggregates_signed);
    signed[40] ^= 1;
    a.aggregates_signed = b64e(&signed);
    cases.push(("result_nonce_mismatch", a));

    let mut other = ResultFixture::default();
    other.payload.session = Some(hex::encode([0x44; 32]));
    let mut a = valid.clone();
    a.attestation = other.answer().attestation;
    cases.push(("result_nonce_mismatch", a));

    let wrong_kid = ResultFixture {
        cose_kid: "v9:forged".into(),
        ..ResultFixture::default()
    };
    cases.push(("key_id_mismatch", wrong_kid.answer()));

    let mut a = valid.clone();
    a.aggregates["totals"]["USDT"]["wins"] = 9.into();
    cases.push(("aggregates_mismatch", a));

    let mut wrong_pcr0 = ResultFixture::default();
    wrong_pcr0.payload.pcr0 = hex::encode([0xcc; 48]);
    cases.push(("pcr0_mismatch", wrong_pcr0.answer()));

    let mut a = valid.clone();
    a.log.tree_size += 1;
    cases.push(("tree_size_mismatch", a));

    for (code, answer) in &cases {
        assert_eq!(verdict(&s, answer, &[]), (1, (*code).to_owned()), "{code}");
    }

    // Unknown fields in the file are refused.
    let mut v = serde_json::to_value(&valid).unwrap();
    v["log"]["extra"] = 1.into();
    let file = s.dir.path().join("extra.json");
    std::fs::write(&file, v.to_string()).unwrap();
    let out = strongroom(&[
        "verify-result",
        file.to_str().unwrap(),
        "--trust-dev-root",
        &s.root_pem,
    ]);
    assert_eq!(out.status.code(), Some(1));

    // Without the dev root the production root is used, and refuses.
    let file = write_answer(s.dir.path(), "valid.json", &valid);
    let out = strongroom(&["verify-result", &file, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "root_mismatch");

    // A release other than the attested one.
    let pcrs = s.dir.path().join("other.json");
    std::fs::write(&pcrs, format!(r#"{{"PCR0":"{}"}}"#, "bb".repeat(48))).unwrap();
    let v = verdict(&s, &valid, &["--pcrs", pcrs.to_str().unwrap()]);
    assert_eq!(v, (1, "pcrs_not_allowed".into()));

    // A missing file is a usage error.
    let out = strongroom(&["verify-result", "/nonexistent/answer.json"]);
    assert_eq!(out.status.code(), Some(2));
}
