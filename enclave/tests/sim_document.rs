#![cfg(feature = "dev-simulator")]
//! The NSM simulator's documents, compared field by field with the real
//! Nitro documents in attestation-verifier/tests/data/nitro/ (copied from
//! ../shared/testdata), verified by the verifier
//! crate under the dev root only, and checked by an outside Python script.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use coset::cbor::value::Value;
use der::Decode;
use strongroom_enclave::nsm::sim::{DEV_MARKER, SimNsm};
use strongroom_enclave_core::attest;
use strongroom_enclave_core::clock::FixedClock;
use strongroom_enclave_core::nsm::Nsm;
use strongroom_enclave_core::ring::KeyRing;
use strongroom_verifier::{Policy, TrustRoot, verify};

const NOW_MS: u64 = 1_795_000_000_000;
const NSM_KEYS: [&str; 9] = [
    "module_id",
    "digest",
    "timestamp",
    "pcrs",
    "certificate",
    "cabundle",
    "public_key",
    "user_data",
    "nonce",
];

struct Fixture {
    sim: SimNsm,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let clock = Arc::new(FixedClock::new(NOW_MS));
        let sim = SimNsm::new(clock, [0x42; 48]).unwrap();
        Fixture { sim }
    })
}

fn cbor(bytes: &[u8]) -> Value {
    let mut rest = bytes;
    let v: Value = coset::cbor::de::from_reader(&mut rest).unwrap();
    assert!(rest.is_empty(), "trailing bytes");
    v
}

/// A structural fingerprint of a document: everything but the values.
#[derive(Debug, PartialEq)]
struct Shape {
    head: Vec<u8>,
    protected: Vec<u8>,
    unprotected_len: usize,
    sig_len: usize,
    keys: Vec<String>,
    digest: String,
    pcr_keys: Vec<u64>,
    pcr_lens: Vec<usize>,
    kinds: Vec<&'static str>,
    cert_sig_oid: String,
    cert_curve: String,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Bytes(_) => "bytes",
        Value::Text(_) => "text",
        Value::Integer(_) => "uint",
        Value::Map(_) => "map",
        Value::Array(_) => "array",
        Value::Null => "null",
        _ => "other",
    }
}

fn shape(doc: &[u8]) -> (Shape, Vec<(Value, Value)>) {
    let Value::Array(top) = cbor(doc) else {
        panic!("not an array (tagged?)")
    };
    assert_eq!(top.len(), 4);
    let Value::Map(payload) = cbor(top[2].as_bytes().unwrap()) else {
        panic!("payload")
    };
    let field = |k: &str| {
        &payload
            .iter()
            .find(|(key, _)| key.as_text() == Some(k))
            .unwrap()
            .1
    };
    let Value::Map(pcrs) = field("pcrs") else {
        panic!("pcrs")
    };
    let leaf = x509_cert::Certificate::from_der(field("certificate").as_bytes().unwrap()).unwrap();
    let spki_params = leaf
        .tbs_certificate()
        .subject_public_key_info()
        .algorithm
        .parameters
        .as_ref()
        .unwrap();
    let s = Shape {
        head: doc[..7].to_vec(),
        protected: top[0].as_bytes().unwrap().clone(),
        unprotected_len: top[1].as_map().unwrap().len(),
        sig_len: top[3].as_bytes().unwrap().len(),
        keys: payload
            .iter()
            .map(|(k, _)| k.as_text().unwrap().to_owned())
            .collect(),
        digest: field("digest").as_text().unwrap().to_owned(),
        pcr_keys: pcrs
            .iter()
            .map(|(k, _)| u64::try_from(k.as_integer().unwrap()).unwrap())
            .collect(),
        pcr_lens: pcrs
            .iter()
            .map(|(_, v)| v.as_bytes().unwrap().len())
            .collect(),
        kinds: ["module_id", "timestamp", "certificate", "cabundle"]
            .iter()
            .map(|k| kind(field(k)))
            .collect(),
        cert_sig_oid: leaf.signature_algorithm().oid.to_string(),
        cert_curve: format!("{:?}", spki_params.value()),
    };
    (s, payload)
}

fn real_documents() -> Vec<(String, Vec<u8>)> {
    let dir = common::testdata().join("nitro");
    let mut docs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cbor"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    docs.sort();
    assert_eq!(docs.len(), 9);
    docs
}

#[test]
fn simulator_documents_have_the_real_shape() {
    let f = fixture();
    let with_all = f
        .sim
        .attest(Some(&[4u8; 65]), Some(b"user"), Some(&[9u8; 64]))
        .unwrap();
    let with_none = f.sim.attest(None, None, None).unwrap();
    let (sim_shape, sim_payload) = shape(&with_all);
    let (sim_none_shape, none_payload) = shape(&with_none);
    assert_eq!(sim_shape, sim_none_shape);
    for (name, real) in real_documents() {
        let (real_shape, real_payload) = shape(&real);
        assert_eq!(sim_shape, real_shape, "shape differs from {name}");
        // Optional fields: bytes when given, CBOR null when absent — as in the real ones.
        for k in ["public_key", "user_data", "nonce"] {
            let real_kind = kind(
                &real_payload
                    .iter()
                    .find(|(key, _)| key.as_text() == Some(k))
                    .unwrap()
                    .1,
            );
            assert!(["bytes", "null"].contains(&real_kind), "{name} {k}");
        }
        // cabundle: array of DER certificates whose first is a self-signed root.
        let bundle = |p: &Vec<(Value, Value)>| {
            p.iter()
                .find(|(k, _)| k.as_text() == Some("cabundle"))
                .unwrap()
                .1
                .as_array()
                .unwrap()
                .len()
        };
        assert!(bundle(&real_payload) >= 2 && bundle(&sim_payload) >= 2);
    }
    let get = |p: &Vec<(Value, Value)>, k: &str| {
        p.iter()
            .find(|(key, _)| key.as_text() == Some(k))
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(sim_shape.keys, NSM_KEYS);
    for k in ["public_key", "user_data", "nonce"] {
        assert_eq!(get(&none_payload, k), Value::Null, "{k}");
        assert_eq!(kind(&get(&sim_payload, k)), "bytes", "{k}");
    }
    assert_eq!(get(&sim_payload, "nonce"), Value::Bytes(vec![9u8; 64]));
    assert_eq!(
        get(&sim_payload, "timestamp"),
        Value::Integer(NOW_MS.into())
    );
    let module_id = get(&sim_payload, "module_id");
    assert!(
        module_id.as_text().unwrap().starts_with("sim-"),
        "{module_id:?}"
    );
    assert!(module_id.as_text().unwrap().contains("-enc"));
}

#[test]
fn pcrs_are_distinct_and_pcr0_is_given() {
    let f = fixture();
    let p = f.sim.pcrs();
    assert_eq!(p[0], [0x42; 48]);
    assert_ne!(p[1], [0; 48]);
    assert_ne!(p[2], [0; 48]);
    assert_ne!(p[1], p[2]);
    assert_eq!(f.sim.describe_pcr(0).unwrap(), vec![0x42; 48]);
    assert!(f.sim.describe_pcr(16).is_err());
}

#[test]
fn verifies_under_the_dev_root_and_never_the_aws_root() {
    let f = fixture();
    let ring = KeyRing::generate(&f.sim).unwrap();
    let note = [7u8; 32];
    let att = attest::attest(&f.sim, &ring, &note, Some(b"challenge")).unwrap();
    let now = UNIX_EPOCH + Duration::from_millis(NOW_MS);
    let dev = TrustRoot::dev_from_pem(&f.sim.root_pem().unwrap()).unwrap();
    let policy = Policy::default()
        .with_nonce(b"challenge".to_vec())
        .with_public_key(att.hpke_public_key.clone());
    let v = verify(&att.document, &dev, now, &policy).unwrap();
    assert!(v.dev_root);
    assert_eq!(
        v.public_key.as_deref(),
        Some(&ring.current().public_sec1()[..])
    );
    assert_eq!(
        v.user_data.unwrap(),
        attest::user_data(ring.signing().public_sec1(), ring.current().key_id(), &note).unwrap()
    );
    assert!(
        verify(
            &att.document,
            &TrustRoot::aws_nitro_g1(),
            now,
            &Policy::default()
        )
        .is_err()
    );
    // The dev root says what it is.
    let root = x509_cert::Certificate::from_der(f.sim.root_der()).unwrap();
    let subject = root.tbs_certificate().subject().to_string();
    assert!(subject.contains(DEV_MARKER), "{subject}");
    assert!(!subject.contains("aws.nitro-enclaves"));
    // Tampering is caught.
    let mut bad = att.document.clone();
    let n = bad.len();
    bad[n - 5] ^= 1;
    assert!(verify(&bad, &dev, now, &policy).is_err());
}

#[test]
fn leaf_is_renewed_before_it_expires() {
    // Its own simulator: the shared fixture's clock must not move.
    let clock = Arc::new(FixedClock::new(NOW_MS));
    let sim = SimNsm::new(clock.clone(), [0x42; 48]).unwrap();
    let dev = TrustRoot::dev_from_der(sim.root_der()).unwrap();
    let first = verify(
        &sim.attest(None, None, None).unwrap(),
        &dev,
        UNIX_EPOCH + Duration::from_millis(NOW_MS),
        &Policy::default(),
    )
    .unwrap();
    let later = NOW_MS + 2 * 3600 * 1000 + 60_000;
    clock.set(later);
    let doc = sim.attest(None, None, None).unwrap();
    let v = verify(
        &doc,
        &dev,
        UNIX_EPOCH + Duration::from_millis(later),
        &Policy::default(),
    )
    .unwrap();
    assert!(v.leaf_not_after > first.leaf_not_after, "leaf renewed");
    assert!(
        v.leaf_not_after * 1000 > later + 3600 * 1000,
        "renewed with margin"
    );
}

#[test]
fn outside_python_check_accepts_it_and_rejects_tampering() {
    if std::process::Command::new(python())
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "NOTICE: python3 not found; skipping the outside check (install python3, cryptography, cbor2)"
        );
        return;
    }
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let doc = f.sim.attest(Some(&[4u8; 65]), Some(b"ud"), None).unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, f.sim.root_pem().unwrap()).unwrap();
    let script = common::repo_root().join("scripts/checks/verify_sim_doc.py");
    let run = |doc: &[u8]| {
        let path = dir.path().join("doc.cbor");
        std::fs::write(&path, doc).unwrap();
        std::process::Command::new(python())
            .arg(&script)
            .arg(&path)
            .arg(&root)
            .args([
                "--public-key",
                &hex::encode([4u8; 65]),
                "--user-data",
                &hex::encode(b"ud"),
            ])
            .output()
            .unwrap()
    };
    let out = run(&doc);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL CHECKS PASSED"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bad = doc.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    let out = run(&bad);
    assert!(
        !out.status.success(),
        "tampered document passed the outside check"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ES384 signature does not verify"));
}

/// The Python with the outside-check libraries: `STRONGROOM_PYTHON` (set by
/// scripts/test to its venv, see scripts/checks/requirements.txt) or `python3`.
fn python() -> String {
    std::env::var("STRONGROOM_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}
