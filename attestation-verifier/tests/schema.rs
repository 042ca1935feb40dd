//! One refusal per envelope and schema check, on documents signed by a
//! valid dev chain (so only the checked defect can be the reason).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::devchain::*;
use common::*;
use p384::ecdsa::{Signature, signature::Signer};
use serde_cbor::Value;
use strongroom_verifier::cbor::CborError;
use strongroom_verifier::{Policy, SchemaError, TrustRoot, VerifyError, verify};

fn fields() -> DocFields {
    DocFields {
        pcr_fill: 0xaa,
        ..DocFields::default()
    }
}

fn run(pki: &DevPki, doc: &[u8]) -> Result<strongroom_verifier::VerifiedDocument, VerifyError> {
    let root = TrustRoot::dev_from_pem(&pki.root_pem()).unwrap();
    verify(doc, &root, at_ms(doc_time_ms()), &Policy::default())
}

/// Signs an altered payload map with the valid leaf.
fn with_map(
    edit: impl FnOnce(&mut std::collections::BTreeMap<Value, Value>),
) -> Result<strongroom_verifier::VerifiedDocument, VerifyError> {
    let pki = DevPki::new();
    let mut m = payload_map(&pki, &fields());
    edit(&mut m);
    run(
        &pki,
        &sign_document(&pki.leaf_key, &serde_cbor::to_vec(&Value::Map(m)).unwrap()),
    )
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

fn schema(e: SchemaError) -> VerifyError {
    VerifyError::Schema(e)
}

#[test]
fn the_unaltered_map_verifies() {
    assert!(with_map(|_| {}).is_ok());
}

#[test]
fn each_schema_rule_has_its_own_refusal() {
    let pcr =
        |m: &mut std::collections::BTreeMap<Value, Value>| match m.get_mut(&t("pcrs")).unwrap() {
            Value::Map(p) => p.clone(),
            _ => unreachable!(),
        };
    assert_eq!(
        with_map(|m| {
            m.insert(t("extra"), Value::Null);
        })
        .unwrap_err(),
        schema(SchemaError::UnknownKey)
    );
    assert_eq!(
        with_map(|m| {
            m.insert(Value::Integer(1), Value::Null);
        })
        .unwrap_err(),
        schema(SchemaError::UnknownKey)
    );
    assert_eq!(
        with_map(|m| {
            m.remove(&t("module_id"));
        })
        .unwrap_err(),
        schema(SchemaError::MissingField("module_id"))
    );
    assert_eq!(
        with_map(|m| {
            m.remove(&t("cabundle"));
        })
        .unwrap_err(),
        schema(SchemaError::MissingField("cabundle"))
    );
    assert_eq!(
        with_map(|m| {
            m.insert(t("digest"), t("SHA256"));
        })
        .unwrap_err(),
        schema(SchemaError::Digest)
    );
    assert_eq!(
        with_map(|m| {
            m.insert(t("timestamp"), t("now"));
        })
        .unwrap_err(),
        schema(SchemaError::WrongType("timestamp"))
    );
    assert_eq!(
        with_map(|m| {
            m.insert(t("timestamp"), Value::Integer(0));
        })
        .unwrap_err(),
        schema(SchemaError::ZeroTimestamp)
    );
    assert_eq!(
        with_map(|m| {
            m.insert(t("module_id"), t(""));
        })
        .unwrap_err(),
        schema(SchemaError::Length {
            field: "module_id",
            len: 0,
            min: 1,
            max: 256
        })
    );
    assert_eq!(
        with_map(|m| {
            m.insert(t("nonce"), t("abc"));
        })
        .unwrap_err(),
        schema(SchemaError::WrongType("nonce"))
    );
    assert_eq!(
        with_map(|m| {
            m.insert(t("cabundle"), Value::Array(vec![]));
        })
        .unwrap_err(),
        schema(SchemaError::Length {
            field: "cabundle",
            len: 0,
            min: 1,
            max: 8
        })
    );
    assert_eq!(
        with_map(|m| {
            m.insert(t("certificate"), Value::Bytes(vec![0; 1025]));
        })
        .unwrap_err(),
        schema(SchemaError::Length {
            field: "certificate",
            len: 1025,
            min: 1,
            max: 1024
        })
    );
    assert_eq!(
        with_map(|m| {
            let mut p = pcr(m);
            p.insert(Value::Integer(32), Value::Bytes(vec![0; 48]));
            p.remove(&Value::Integer(15));
            m.insert(t("pcrs"), Value::Map(p));
        })
        .unwrap_err(),
        schema(SchemaError::PcrIndex(32))
    );
    assert_eq!(
        with_map(|m| {
            let mut p = pcr(m);
            p.insert(Value::Integer(3), Value::Bytes(vec![0; 47]));
            m.insert(t("pcrs"), Value::Map(p));
        })
        .unwrap_err(),
        schema(SchemaError::PcrLength { index: 3, len: 47 })
    );
    assert_eq!(
        with_map(|m| {
            let mut p = pcr(m);
            p.remove(&Value::Integer(1));
            m.insert(t("pcrs"), Value::Map(p));
        })
        .unwrap_err(),
        schema(SchemaError::MissingPcr(1))
    );
    // 32- and 64-byte PCRs are allowed by the NSM schema.
    assert!(
        with_map(|m| {
            let mut p = pcr(m);
            p.insert(Value::Integer(9), Value::Bytes(vec![1; 64]));
            p.insert(Value::Integer(10), Value::Bytes(vec![1; 32]));
            m.insert(t("pcrs"), Value::Map(p));
        })
        .is_ok()
    );
    // Absent optional fields are accepted like null ones.
    assert!(
        with_map(|m| {
            m.remove(&t("nonce"));
            m.remove(&t("user_data"));
        })
        .is_ok()
    );
}

fn bstr(out: &mut Vec<u8>, b: &[u8]) {
    match b.len() {
        n if n < 24 => out.push(0x40 | n as u8),
        n if n < 256 => out.extend_from_slice(&[0x58, n as u8]),
        n => {
            out.push(0x59);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(b);
}

/// A COSE_Sign1 with the given raw parts, signed correctly over them.
fn assemble(
    pki: &DevPki,
    protected: &[u8],
    unprotected: &[u8],
    payload: &[u8],
    sig_len: usize,
) -> Vec<u8> {
    let mut tbs = vec![0x84, 0x6a];
    tbs.extend_from_slice(b"Signature1");
    bstr(&mut tbs, protected);
    tbs.push(0x40);
    bstr(&mut tbs, payload);
    let sig: Signature = pki.leaf_key.sign(&tbs);
    let mut sig = sig.to_bytes().to_vec();
    sig.resize(sig_len, 0);
    let mut doc = vec![0x84];
    bstr(&mut doc, protected);
    doc.extend_from_slice(unprotected);
    bstr(&mut doc, payload);
    bstr(&mut doc, &sig);
    doc
}

#[test]
fn each_envelope_rule_has_its_own_refusal() {
    let pki = DevPki::new();
    let p = payload(&pki, &fields());
    let es384 = [0xa1, 0x01, 0x38, 0x22];
    assert!(run(&pki, &assemble(&pki, &es384, &[0xa0], &p, 96)).is_ok());
    // Unprotected header with content other than alg is fine (it is unsigned and unused).
    assert!(
        run(
            &pki,
            &assemble(&pki, &es384, &[0xa1, 0x04, 0x41, 0x00], &p, 96)
        )
        .is_ok()
    );
    let es256 = [0xa1, 0x01, 0x26];
    assert_eq!(
        run(&pki, &assemble(&pki, &es256, &[0xa0], &p, 96)).unwrap_err(),
        VerifyError::ProtectedHeader
    );
    assert_eq!(
        run(&pki, &assemble(&pki, &[], &[0xa0], &p, 96)).unwrap_err(),
        VerifyError::ProtectedHeader
    );
    assert_eq!(
        run(
            &pki,
            &assemble(&pki, &es384, &[0xa1, 0x01, 0x38, 0x22], &p, 96)
        )
        .unwrap_err(),
        VerifyError::UnprotectedHeader
    );
    assert_eq!(
        run(&pki, &assemble(&pki, &es384, &[0x80], &p, 96)).unwrap_err(),
        VerifyError::UnprotectedHeader
    );
    assert_eq!(
        run(&pki, &assemble(&pki, &es384, &[0xa0], &p, 95)).unwrap_err(),
        VerifyError::SignatureLength(95)
    );
    assert_eq!(
        run(&pki, &assemble(&pki, &es384, &[0xa0], &p, 104)).unwrap_err(),
        VerifyError::SignatureLength(104)
    );
    // Detached payload (nil).
    let mut detached = vec![0x84];
    bstr(&mut detached, &es384);
    detached.extend_from_slice(&[0xa0, 0xf6]);
    bstr(&mut detached, &[0; 96]);
    assert_eq!(
        run(&pki, &detached).unwrap_err(),
        VerifyError::MissingPayload
    );
    // Three-element array, map instead of array.
    assert_eq!(
        run(&pki, &[0x83, 0x40, 0xa0, 0x40]).unwrap_err(),
        VerifyError::NotCoseSign1
    );
    assert_eq!(run(&pki, &[0xa0]).unwrap_err(), VerifyError::NotCoseSign1);
    // Payload that is not a map / not CBOR.
    assert_eq!(
        run(&pki, &assemble(&pki, &es384, &[0xa0], &[0x80], 96)).unwrap_err(),
        VerifyError::Schema(SchemaError::NotAMap)
    );
    assert_eq!(
        run(&pki, &assemble(&pki, &es384, &[0xa0], &[0xa1, 0x01], 96)).unwrap_err(),
        VerifyError::MalformedPayload(CborError::Truncated)
    );
    // Duplicate key in the payload map.
    let mut dup = p.clone();
    dup[0] = 0xaa; // claim ten entries
    dup.extend_from_slice(&[0x65, b'n', b'o', b'n', b'c', b'e', 0xf6]);
    assert_eq!(
        run(&pki, &assemble(&pki, &es384, &[0xa0], &dup, 96)).unwrap_err(),
        VerifyError::MalformedPayload(CborError::DuplicateKey)
    );
}
