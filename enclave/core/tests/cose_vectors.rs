//! The shared COSE_Sign1 ES256 definition (`strongroom_verifier::cose`) over
//! the cose-wg examples in attestation-verifier/tests/data/cose/ (copied from
//! ../shared/testdata), plus enclave signing.
//!
//! Decision on `sign-pass-01`: REFUSED. Its algorithm sits only in the
//! unprotected header (protected is `h'A0'`); this profile requires ES256 in
//! the protected header, so it fails with `UnsupportedAlgorithm`, not with a
//! signature error. See the module docs of `strongroom_verifier::cose`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::Deserialize;
use strongroom_enclave_core::ring::{HpkeKeyPair, KeyRing, ResultSigningKey};
use strongroom_verifier::cose::{CoseError, verify_es256, verify_es256_with_aad};

#[derive(Deserialize)]
struct Extract {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    file: String,
    expected: String,
    alg: String,
    key: Key,
    external_aad_hex: String,
    payload_hex: String,
    cbor_hex: String,
}

#[derive(Deserialize)]
struct Key {
    x_hex: String,
    y_hex: String,
}

fn verifying_key(k: &Key) -> Option<VerifyingKey> {
    let mut sec1 = vec![4u8];
    sec1.extend(hex::decode(&k.x_hex).unwrap());
    sec1.extend(hex::decode(&k.y_hex).unwrap());
    VerifyingKey::from_sec1_bytes(&sec1).ok()
}

/// What this profile must answer for each vector file.
fn expected(file: &str) -> Result<(), CoseError> {
    let name = file.rsplit('/').next().unwrap();
    match name {
        "ecdsa-sig-01.json" | "sign-pass-02.json" | "sign-pass-03.json" => Ok(()),
        // ES384: a valid message, but not this profile's algorithm.
        "ecdsa-sig-02.json" => Err(CoseError::UnsupportedAlgorithm),
        "sign-pass-01.json" => Err(CoseError::UnsupportedAlgorithm),
        "sign-fail-01.json" => Err(CoseError::WrongTag),
        "sign-fail-02.json" | "sign-fail-06.json" | "sign-fail-07.json" => {
            Err(CoseError::BadSignature)
        }
        // alg -999 is outside every IANA range coset accepts: not a header.
        "sign-fail-03.json" => Err(CoseError::Malformed),
        "sign-fail-04.json" => Err(CoseError::UnsupportedAlgorithm),
        other => panic!("vector {other} has no stated expectation"),
    }
}

#[test]
fn cose_wg_vectors() {
    let path = common::testdata().join("cose/cose_sign1_vectors_extract.json");
    let extract: Extract = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut passes = 0;
    let mut fails = 0;
    for v in &extract.vectors {
        let bytes = hex::decode(&v.cbor_hex).unwrap();
        let aad = hex::decode(&v.external_aad_hex).unwrap();
        let want = expected(&v.file);
        let got = match verifying_key(&v.key) {
            Some(key) => verify_es256_with_aad(&bytes, &aad, &key, None),
            // P-384 key: cannot even be a P-256 key; check the header path
            // with an unrelated key.
            None => {
                let other = SigningKey::from_slice(&[1u8; 32]).unwrap();
                verify_es256_with_aad(&bytes, &aad, other.verifying_key(), None)
            }
        };
        match (&want, &got) {
            (Ok(()), Ok(payload)) => {
                assert_eq!(hex::encode(payload), v.payload_hex, "{}", v.file);
                passes += 1;
            }
            (Err(w), Err(g)) => {
                assert_eq!(w, g, "{} ({}, {})", v.file, v.expected, v.alg);
                fails += 1;
            }
            _ => panic!("{}: expected {want:?}, got {got:?}", v.file),
        }
        if v.expected.starts_with("fail") {
            assert!(got.is_err(), "{} must be refused", v.file);
        }
    }
    assert_eq!((passes, fails), (3, 8));
}

#[test]
fn sign_pass_02_needs_its_external_aad() {
    let path = common::testdata().join("cose/cose_sign1_vectors_extract.json");
    let extract: Extract = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let v = extract
        .vectors
        .iter()
        .find(|v| v.file.ends_with("sign-pass-02.json"))
        .unwrap();
    let key = verifying_key(&v.key).unwrap();
    let bytes = hex::decode(&v.cbor_hex).unwrap();
    assert_eq!(
        verify_es256(&bytes, &key, None),
        Err(CoseError::BadSignature)
    );
}

#[test]
fn enclave_signs_with_the_shared_definition() {
    let signing = ResultSigningKey::from_scalar(&[9u8; 32]).unwrap();
    let ring = KeyRing::with_keys(HpkeKeyPair::derive(1, &[3u8; 32]), signing);
    let kid = ring.current().key_id().to_owned();
    let payload = serde_cbor::to_vec(&serde_cbor::Value::Text("hi".into())).unwrap();
    let signed = ring.sign_cose(&payload);
    let vk = ring.signing().verifying_key();
    assert_eq!(verify_es256(&signed, vk, Some(&kid)).unwrap(), payload);
    assert_eq!(
        verify_es256(&signed, vk, Some("v9:0000")),
        Err(CoseError::KeyIdMismatch)
    );
    // Independent parse (coset) sees alg ES256 and the kid in the protected header.
    use coset::CborSerializable;
    let parsed = coset::CoseSign1::from_slice(&signed).unwrap();
    assert_eq!(
        parsed.protected.header.alg,
        Some(coset::Algorithm::Assigned(coset::iana::Algorithm::ES256))
    );
    assert_eq!(parsed.protected.header.key_id, kid.as_bytes());
    assert!(parsed.unprotected.is_empty());
}
