//! Cross-check against an independent implementation
//! (scripts/checks/c2sp_check.py, Python `cryptography` Ed25519): Python
//! verifies a checkpoint signed and cosigned here, and signs a note and a
//! cosignature that verify here. Fails (does not skip) when python3 or the
//! `cryptography` module is missing: scripts/test sets `STRONGROOM_PYTHON`
//! to its venv (scripts/checks/requirements.txt).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use strongroom_formats::c2sp::checkpoint::{Checkpoint, SignedCheckpoint};
use strongroom_formats::c2sp::cosignature::{CosignatureSigner, WitnessPolicy};
use strongroom_formats::c2sp::note::{Note, NoteSigner, VerifierKey};

/// `STRONGROOM_PYTHON` (scripts/test's venv) or `python3`.
fn python() -> String {
    std::env::var("STRONGROOM_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/checks/c2sp_check.py")
}

fn run(args: &[&str]) -> String {
    let out = Command::new(python())
        .arg(script())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (python3 is required): {e}", python()));
    assert!(
        out.status.success(),
        "c2sp_check.py {args:?} failed (pip install cryptography?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn python_verifies_rust_and_rust_verifies_python() {
    let dir = std::env::temp_dir().join(format!("c2sp-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Rust signs and cosigns a checkpoint; Python verifies both.
    let cp = Checkpoint::new("example.com/strongroom", 42, [7; 32], vec![]).unwrap();
    let log = NoteSigner::from_seed("example.com/strongroom", &[1; 32]).unwrap();
    let witness = CosignatureSigner::from_seed("witness.example/w1", &[2; 32]).unwrap();
    let mut signed = SignedCheckpoint::new(cp.clone()).unwrap();
    log.sign(signed.note_mut()).unwrap();
    let cosig = witness.cosign(&cp, 1_700_000_000).unwrap();
    signed.note_mut().add_signature(cosig).unwrap();
    let file = dir.join("checkpoint");
    std::fs::write(&file, signed.format()).unwrap();
    let log_vkey = log.verifier_key().to_string();
    let w_vkey = witness.verifier_key().unwrap().to_string();
    let out = run(&["verify", file.to_str().unwrap(), &log_vkey, &w_vkey]);
    assert_eq!(out, "ok example.com/strongroom\nok witness.example/w1\n");
    // Python rejects a tampered copy (a sanity check that it checks at all).
    std::fs::write(&file, signed.format().replacen("42", "43", 1)).unwrap();
    let bad = Command::new(python())
        .arg(script())
        .args(["verify", file.to_str().unwrap(), &log_vkey])
        .output()
        .unwrap();
    assert!(!bad.status.success());

    // Python signs a note over the checkpoint and cosigns it; Rust verifies.
    let text = dir.join("text");
    std::fs::write(&text, cp.format()).unwrap();
    let signed: serde_json::Value = serde_json::from_str(&run(&[
        "sign",
        "py.example/log",
        &"03".repeat(32),
        text.to_str().unwrap(),
    ]))
    .unwrap();
    let note_file = dir.join("py-note");
    std::fs::write(&note_file, signed["note"].as_str().unwrap()).unwrap();
    let cosigned: serde_json::Value = serde_json::from_str(&run(&[
        "cosign",
        "py.example/w",
        &"04".repeat(32),
        "1700000001",
        note_file.to_str().unwrap(),
    ]))
    .unwrap();
    let note = Note::parse(cosigned["note"].as_str().unwrap().as_bytes()).unwrap();
    let log_key = VerifierKey::parse(signed["vkey"].as_str().unwrap()).unwrap();
    // Same seed, same key: the vkey strings agree byte for byte.
    let rust_log = NoteSigner::from_seed("py.example/log", &[3; 32]).unwrap();
    assert_eq!(rust_log.verifier_key(), log_key);
    assert_eq!(
        note.verify(std::slice::from_ref(&log_key)).unwrap(),
        vec![&log_key]
    );
    let w_key = VerifierKey::parse(cosigned["vkey"].as_str().unwrap()).unwrap();
    let policy = WitnessPolicy::new(vec![w_key], 1).unwrap();
    let got = policy.check_quorum(&note).unwrap();
    assert_eq!(got[0].timestamp, 1_700_000_001);
    std::fs::remove_dir_all(&dir).unwrap();
}
