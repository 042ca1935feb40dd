//! A credential sealed by an independent HPKE implementation (Python
//! `pyhpke`, via scripts/checks/pyhpke_seal.py) opens in the enclave.
//! Skipped with a notice ONLY when python3 itself is absent; a missing
//! `pyhpke` module is a failure (`pip install pyhpke`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{FakeNsm, credential_json};
use strongroom_enclave_core::intake::{
    IntakeError, IntakePolicy, Metadata, SealedCredential, open_credential,
};
use strongroom_enclave_core::ring::KeyRing;

const NOW: u64 = 1_800_000_000;

#[derive(serde::Deserialize)]
struct Sealed {
    enc: String,
    ciphertext: String,
}

#[test]
fn pyhpke_sealed_credential_opens() {
    if Command::new(python()).arg("--version").output().is_err() {
        eprintln!("NOTICE: python3 not found; skipping the pyhpke interop test");
        return;
    }
    let ring = KeyRing::generate(&FakeNsm::new(5)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pt_path = dir.path().join("pt.json");
    std::fs::write(&pt_path, credential_json("binance", "main", NOW + 600)).unwrap();
    let out = Command::new(python())
        .arg(common::repo_root().join("scripts/checks/pyhpke_seal.py"))
        .arg(hex::encode(ring.current().public_sec1()))
        .arg(&pt_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyhpke_seal.py failed (pip install pyhpke?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sealed: Sealed = serde_json::from_slice(&out.stdout).unwrap();
    let enc = hex::decode(sealed.enc).unwrap();
    let ct = hex::decode(sealed.ciphertext).unwrap();
    assert_eq!(enc.len(), 65);
    let meta = Metadata {
        exchange: "binance",
        label: "main",
        ttl_seconds: 60,
    };
    let env =
        SealedCredential::from_aead(ring.current().key_id(), enc.clone(), ct.clone()).unwrap();
    let cred = open_credential(&ring, &env, &meta, NOW, &IntakePolicy::default())
        .unwrap()
        .credential;
    assert_eq!(cred.api_secret(), "SECRET-9876543210fedcba");
    assert_eq!(cred.expires_at(), NOW + 60);
    // Same envelope, different ring: refused opaquely.
    let other = KeyRing::generate(&FakeNsm::new(6)).unwrap();
    let env = SealedCredential::from_aead(other.current().key_id(), enc, ct).unwrap();
    let got = open_credential(&other, &env, &meta, NOW, &IntakePolicy::default());
    assert_eq!(got.err(), Some(IntakeError::OpenFailed));
}

/// The Python with the outside-check libraries: `STRONGROOM_PYTHON` (set by
/// scripts/test to its venv, see scripts/checks/requirements.txt) or `python3`.
fn python() -> String {
    std::env::var("STRONGROOM_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}
