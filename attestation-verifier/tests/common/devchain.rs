//! A tiny dev PKI and NSM-format document builder, for tests: root ->
//! intermediate -> leaf, all P-384, shaped like real NSM chains, and
//! COSE_Sign1 ES384 documents signed by the leaf.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use der::Encode;
use der::asn1::{ObjectIdentifier, OctetString};
use der::oid::AssociatedOid;
use p384::ecdsa::{DerSignature, Signature, SigningKey, signature::Signer};
use serde_cbor::Value;
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;
use x509_cert::TbsCertificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

/// Leaf validity starts here (2027-01-15T08:00:00Z); documents are stamped a minute later.
pub const BASE_SECS: u64 = 1_800_000_000;
pub const LEAF_HOURS: u64 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Root,
    Intermediate,
    Leaf,
}

#[derive(Clone, Debug)]
pub struct CertSpec {
    pub subject: String,
    pub issuer: String,
    pub ca: bool,
    pub path_len: Option<u8>,
    pub key_usage: Option<KeyUsage>,
    pub unknown_critical: bool,
    pub not_before: u64,
    pub not_after: u64,
}

fn default_spec(level: Level) -> CertSpec {
    let (subject, issuer, ca, path_len, ku, nb, na) = match level {
        Level::Root => (
            "CN=dev-root,O=Strongroom Dev",
            "CN=dev-root,O=Strongroom Dev",
            true,
            None,
            KeyUsages::KeyCertSign | KeyUsages::CRLSign,
            BASE_SECS - 86_400 * 365,
            BASE_SECS + 86_400 * 365 * 10,
        ),
        Level::Intermediate => (
            "CN=dev-intermediate,O=Strongroom Dev",
            "CN=dev-root,O=Strongroom Dev",
            true,
            Some(0),
            KeyUsages::KeyCertSign | KeyUsages::CRLSign,
            BASE_SECS - 86_400,
            BASE_SECS + 86_400,
        ),
        Level::Leaf => (
            "CN=dev-leaf,O=Strongroom Dev",
            "CN=dev-intermediate,O=Strongroom Dev",
            false,
            None,
            KeyUsages::DigitalSignature.into(),
            BASE_SECS,
            BASE_SECS + LEAF_HOURS * 3600,
        ),
    };
    CertSpec {
        subject: subject.into(),
        issuer: issuer.into(),
        ca,
        path_len,
        key_usage: Some(KeyUsage(ku)),
        unknown_critical: false,
        not_before: nb,
        not_after: na,
    }
}

struct Profile(CertSpec);

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        Name::from_str(&self.0.issuer).unwrap()
    }
    fn get_subject(&self) -> Name {
        Name::from_str(&self.0.subject).unwrap()
    }
    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let ext = |oid: ObjectIdentifier, critical: bool, der: Vec<u8>| Extension {
            extn_id: oid,
            critical,
            extn_value: OctetString::new(der).unwrap(),
        };
        let bc = BasicConstraints {
            ca: self.0.ca,
            path_len_constraint: self.0.path_len,
        };
        let mut out = vec![ext(BasicConstraints::OID, true, bc.to_der().unwrap())];
        if let Some(ku) = &self.0.key_usage {
            out.push(ext(KeyUsage::OID, true, ku.to_der().unwrap()));
        }
        if self.0.unknown_critical {
            out.push(ext(
                ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.1"),
                true,
                vec![0x05, 0x00],
            ));
        }
        Ok(out)
    }
}

fn time(secs: u64) -> Time {
    Time::UtcTime(der::asn1::UtcTime::from_unix_duration(Duration::from_secs(secs)).unwrap())
}

fn issue(spec: CertSpec, subject: &SigningKey, issuer: &SigningKey, serial: u32) -> Vec<u8> {
    let validity = Validity::new(time(spec.not_before), time(spec.not_after));
    let spki = SubjectPublicKeyInfoOwned::from_key(subject.verifying_key()).unwrap();
    let builder =
        CertificateBuilder::new(Profile(spec), SerialNumber::from(serial), validity, spki).unwrap();
    builder
        .build::<_, DerSignature>(issuer)
        .unwrap()
        .to_der()
        .unwrap()
}

pub struct DevPki {
    pub root_der: Vec<u8>,
    pub intermediate_der: Vec<u8>,
    pub leaf_der: Vec<u8>,
    pub leaf_key: SigningKey,
}

impl Default for DevPki {
    fn default() -> Self {
        Self::new()
    }
}

impl DevPki {
    pub fn new() -> Self {
        Self::with(|_, _| {})
    }

    /// Builds the chain, letting `tweak` alter each certificate's spec.
    pub fn with(tweak: impl Fn(Level, &mut CertSpec)) -> Self {
        Self::with_key_seeds([1, 2, 3], tweak)
    }

    /// Like [`DevPki::with`], choosing the root, intermediate and leaf keys.
    pub fn with_key_seeds(seeds: [u8; 3], tweak: impl Fn(Level, &mut CertSpec)) -> Self {
        let keys: Vec<SigningKey> = seeds
            .iter()
            .map(|i| SigningKey::from_slice(&[*i; 48]).unwrap())
            .collect();
        let spec = |level| {
            let mut s = default_spec(level);
            tweak(level, &mut s);
            s
        };
        DevPki {
            root_der: issue(spec(Level::Root), &keys[0], &keys[0], 1),
            intermediate_der: issue(spec(Level::Intermediate), &keys[1], &keys[0], 2),
            leaf_der: issue(spec(Level::Leaf), &keys[2], &keys[1], 3),
            leaf_key: keys[2].clone(),
        }
    }

    pub fn root_pem(&self) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.root_der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }
}

/// Optional fields of a document.
#[derive(Clone, Debug, Default)]
pub struct DocFields {
    pub public_key: Option<Vec<u8>>,
    pub user_data: Option<Vec<u8>>,
    pub nonce: Option<Vec<u8>>,
    /// PCR0..2 value byte (0 = debug mode).
    pub pcr_fill: u8,
    /// Encode the payload map with indefinite length, as some NSM output does.
    pub indefinite_map: bool,
}

pub fn doc_time_ms() -> u64 {
    (BASE_SECS + 60) * 1000
}

pub fn pcr_value(fields: &DocFields, i: u8) -> Vec<u8> {
    if i <= 2 {
        vec![fields.pcr_fill; 48]
    } else {
        vec![i; 48]
    }
}

pub fn payload(pki: &DevPki, f: &DocFields) -> Vec<u8> {
    let mut bytes = serde_cbor::to_vec(&Value::Map(payload_map(pki, f))).unwrap();
    if f.indefinite_map {
        assert_eq!(bytes[0], 0xa9);
        bytes[0] = 0xbf;
        bytes.push(0xff);
    }
    bytes
}

/// The payload as a CBOR map, for tests that alter it before signing.
pub fn payload_map(pki: &DevPki, f: &DocFields) -> BTreeMap<Value, Value> {
    let t = |s: &str| Value::Text(s.into());
    let opt = |v: &Option<Vec<u8>>| v.clone().map_or(Value::Null, Value::Bytes);
    let pcrs: BTreeMap<Value, Value> = (0u8..16)
        .map(|i| (Value::Integer(i.into()), Value::Bytes(pcr_value(f, i))))
        .collect();
    let mut m = BTreeMap::new();
    m.insert(t("module_id"), t("i-0123456789abcdef0-enc0123456789abcdef"));
    m.insert(t("digest"), t("SHA384"));
    m.insert(t("timestamp"), Value::Integer(doc_time_ms().into()));
    m.insert(t("pcrs"), Value::Map(pcrs));
    m.insert(t("certificate"), Value::Bytes(pki.leaf_der.clone()));
    m.insert(
        t("cabundle"),
        Value::Array(vec![
            Value::Bytes(pki.root_der.clone()),
            Value::Bytes(pki.intermediate_der.clone()),
        ]),
    );
    m.insert(t("public_key"), opt(&f.public_key));
    m.insert(t("user_data"), opt(&f.user_data));
    m.insert(t("nonce"), opt(&f.nonce));
    m
}

/// COSE_Sign1 (untagged) over `payload_bytes`, exactly like NSM output.
pub fn sign_document(key: &SigningKey, payload_bytes: &[u8]) -> Vec<u8> {
    let protected = [0xa1, 0x01, 0x38, 0x22];
    let bstr = |out: &mut Vec<u8>, b: &[u8]| {
        match b.len() {
            n if n < 24 => out.push(0x40 | n as u8),
            n if n < 256 => out.extend_from_slice(&[0x58, n as u8]),
            n => {
                out.push(0x59);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(b);
    };
    let mut tbs = vec![0x84, 0x6a];
    tbs.extend_from_slice(b"Signature1");
    bstr(&mut tbs, &protected);
    tbs.push(0x40);
    bstr(&mut tbs, payload_bytes);
    let sig: Signature = key.sign(&tbs);
    let mut doc = vec![0x84];
    bstr(&mut doc, &protected);
    doc.push(0xa0);
    bstr(&mut doc, payload_bytes);
    bstr(&mut doc, &sig.to_bytes());
    doc
}

pub fn document(pki: &DevPki, f: &DocFields) -> Vec<u8> {
    sign_document(&pki.leaf_key, &payload(pki, f))
}

/// user_data binding `{"sign": key, "kid": kid}`.
pub fn binding(sign_sec1: &[u8], kid: &str) -> Vec<u8> {
    let mut m = BTreeMap::new();
    m.insert(Value::Text("sign".into()), Value::Bytes(sign_sec1.to_vec()));
    m.insert(Value::Text("kid".into()), Value::Text(kid.into()));
    serde_cbor::to_vec(&Value::Map(m)).unwrap()
}
