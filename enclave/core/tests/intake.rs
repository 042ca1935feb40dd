//! Credential intake: the success path and every refusal, each with its own
//! error (and wire code), plus the size limits at and one past the limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{FakeNsm, credential_json, seal, seal_with};
use strongroom_enclave_core::intake::{
    HPKE_INFO, IntakeError, IntakePolicy, MAX_AEAD_LEN, MAX_CIPHERTEXT_LEN as MAX_PLAINTEXT_LEN,
    Metadata, SealedCredential, TAG_LEN, account_pseudonym, open_credential,
};
use strongroom_enclave_core::ring::KeyRing;
use strongroom_protocol::ErrorCode;

const NOW: u64 = 1_800_000_000;
const DAY: u64 = 86_400;

fn ring() -> KeyRing {
    KeyRing::generate(&FakeNsm::new(1)).unwrap()
}

fn meta(ttl: u64) -> Metadata<'static> {
    Metadata {
        exchange: "binance",
        label: "main",
        ttl_seconds: ttl,
    }
}

/// Through the sealed-credential contract (the shape every caller checks
/// before the enclave sees it); panics on a shape the contract refuses.
fn sealed(key_id: &str, enc: &[u8], ct: &[u8]) -> SealedCredential {
    SealedCredential::from_aead(key_id, enc.to_vec(), ct.to_vec()).unwrap()
}

/// Whether the contract refuses this shape before any HPKE open.
fn contract_refuses(key_id: &str, enc: &[u8], ct: &[u8]) -> bool {
    SealedCredential::from_aead(key_id, enc.to_vec(), ct.to_vec()).is_err()
}

fn try_open(ring: &KeyRing, pt: &[u8], metadata: &Metadata<'_>) -> Result<u64, IntakeError> {
    let (enc, ct) = seal(ring.current().public_sec1(), pt);
    let env = sealed(ring.current().key_id(), &enc, &ct);
    open_credential(ring, &env, metadata, NOW, &IntakePolicy::default())
        .map(|c| c.credential.expires_at())
}

#[test]
fn opens_and_computes_account_and_expiry() {
    let ring = ring();
    let pt = credential_json("binance", "main", NOW + 3 * DAY);
    let (enc, ct) = seal(ring.current().public_sec1(), &pt);
    let env = sealed(ring.current().key_id(), &enc, &ct);
    let c = open_credential(&ring, &env, &meta(DAY), NOW, &IntakePolicy::default())
        .unwrap()
        .credential;
    assert_eq!(c.exchange(), "binance");
    assert_eq!(c.label(), "main");
    assert_eq!(c.api_key(), "KEY-abcdef0123456789");
    assert_eq!(c.api_secret(), "SECRET-9876543210fedcba");
    assert_eq!(c.not_after(), NOW + 3 * DAY);
    assert_eq!(c.expires_at(), NOW + DAY, "ttl shorter than not_after");
    // Independent computation of the pseudonym.
    let mut input = b"strongroom/account/v1\0binance\0".to_vec();
    input.extend_from_slice(b"KEY-abcdef0123456789");
    use sha2::Digest;
    assert_eq!(c.account(), hex::encode(sha2::Sha256::digest(&input)));
    assert_eq!(
        c.account(),
        account_pseudonym("binance", "KEY-abcdef0123456789")
    );
    // not_after shorter than ttl.
    let pt = credential_json("binance", "main", NOW + 100);
    assert_eq!(try_open(&ring, &pt, &meta(DAY)), Ok(NOW + 100));
}

#[test]
fn refuses_unknown_key_id() {
    let ring = ring();
    let pt = credential_json("binance", "main", NOW + DAY);
    let (enc, ct) = seal(ring.current().public_sec1(), &pt);
    let env = sealed("v1:0000000000000000", &enc, &ct);
    let err = open_credential(&ring, &env, &meta(DAY), NOW, &IntakePolicy::default());
    assert_eq!(err.err(), Some(IntakeError::UnknownKeyId));
    // Key ids outside the contract never reach the ring.
    for key_id in ["", &"v".repeat(1000), "v1 x"] {
        assert!(contract_refuses(key_id, &enc, &ct), "{key_id}");
    }
    assert_eq!(IntakeError::UnknownKeyId.code(), ErrorCode::UnknownKeyId);
}

#[test]
fn refuses_envelopes_that_do_not_open() {
    let ring = ring();
    let other = KeyRing::generate(&FakeNsm::new(2)).unwrap();
    let pt = credential_json("binance", "main", NOW + DAY);
    let pk = ring.current().public_sec1();
    let (enc, ct) = seal(pk, &pt);
    let (other_enc, other_ct) = seal(other.current().public_sec1(), &pt);
    let (info_enc, info_ct) = seal_with(pk, b"strongroom/credential/v3", &pt, b"");
    let (aad_enc, aad_ct) = seal_with(pk, HPKE_INFO, &pt, b"aad");
    let mut flipped_ct = ct.clone();
    flipped_ct[0] ^= 0x80;
    let mut flipped_tag = ct.clone();
    *flipped_tag.last_mut().unwrap() ^= 1;
    let mut flipped_enc = enc.clone();
    flipped_enc[64] ^= 1;
    let compressed: Vec<u8> = [&[2u8][..], &enc[1..33]].concat();
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("sealed to another key", other_enc, other_ct),
        ("wrong info", info_enc, info_ct),
        ("non-empty aad", aad_enc, aad_ct),
        ("ciphertext bit flipped", enc.clone(), flipped_ct),
        ("tag bit flipped", enc.clone(), flipped_tag),
        ("enc bit flipped", flipped_enc, ct.clone()),
        ("mismatched enc/ct", enc.clone(), seal(pk, &pt).1),
    ];
    for (name, enc, ct) in cases {
        let env = sealed(ring.current().key_id(), &enc, &ct);
        let got = open_credential(&ring, &env, &meta(DAY), NOW, &IntakePolicy::default());
        assert_eq!(got.err(), Some(IntakeError::OpenFailed), "{name}");
    }
    assert_eq!(IntakeError::OpenFailed.code(), ErrorCode::OpenFailed);
    // Shapes the contract refuses before any HPKE open.
    let kid = ring.current().key_id();
    let shapes: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("enc compressed", compressed, ct.clone()),
        ("enc empty", vec![], ct.clone()),
        ("enc too long", [enc.clone(), vec![0]].concat(), ct.clone()),
        (
            "enc not a point",
            [vec![2u8], enc[1..].to_vec()].concat(),
            ct.clone(),
        ),
        ("tag only", enc.clone(), ct[..TAG_LEN].to_vec()),
        ("truncated tag", enc.clone(), ct[..TAG_LEN - 1].to_vec()),
        ("empty ciphertext", enc.clone(), vec![]),
    ];
    for (name, enc, ct) in shapes {
        assert!(contract_refuses(kid, &enc, &ct), "{name}");
    }
}

#[test]
fn plaintext_size_limit_at_and_over() {
    let ring = ring();
    // At the limit the envelope opens (and the oversized JSON is then refused
    // as malformed, proving it got past the open).
    let at = vec![b' '; MAX_PLAINTEXT_LEN];
    assert_eq!(
        try_open(&ring, &at, &meta(DAY)),
        Err(IntakeError::MalformedCredential)
    );
    let mut padded = credential_json("binance", "main", NOW + DAY);
    padded.resize(MAX_PLAINTEXT_LEN, b' ');
    assert_eq!(try_open(&ring, &padded, &meta(DAY)), Ok(NOW + DAY));
    let over = vec![b' '; MAX_PLAINTEXT_LEN + 1];
    let (enc, ct) = seal(ring.current().public_sec1(), &over);
    assert!(contract_refuses(ring.current().key_id(), &enc, &ct));
    assert_eq!(MAX_AEAD_LEN, MAX_PLAINTEXT_LEN + TAG_LEN);
}

#[test]
fn refuses_malformed_plaintext() {
    let ring = ring();
    let na = NOW + DAY;
    let good = String::from_utf8(credential_json("binance", "main", na)).unwrap();
    let cases = [
        "not json".to_owned(),
        "[]".to_owned(),
        good.replace("}", r#","extra":1}"#),
        good.replace(r#""label":"main","#, ""),
        good.replace(r#""label":"main","#, r#""label":"main","label":"main","#),
        good.replace(&format!("{na}"), &format!("\"{na}\"")),
        good.replace(&format!("{na}"), "-1"),
        good.replace(&format!("{na}"), &format!("{na}.5")),
        format!("{good} trailing"),
        good.replace("KEY-abcdef0123456789", ""),
        good.replace("SECRET-9876543210fedcba", "sécret"),
        good.replace("KEY-abcdef0123456789", &"k".repeat(513)),
        good.replace(
            r#""exchange":"binance""#,
            &format!(r#""exchange":"{}""#, "b".repeat(33)),
        ),
        good.replace(r#""exchange":"binance""#, r#""exchange":"bin ance""#),
        good.replace(r#""label":"main""#, r#""label":"""#),
        good.replace(r#""api_key""#, r#""API_KEY""#),
    ];
    for pt in cases {
        assert_eq!(
            try_open(&ring, pt.as_bytes(), &meta(DAY)),
            Err(IntakeError::MalformedCredential),
            "{pt}"
        );
    }
    // An empty plaintext never reaches the open: the contract wants at least
    // one byte of ciphertext.
    let (enc, ct) = seal(ring.current().public_sec1(), b"");
    assert!(contract_refuses(ring.current().key_id(), &enc, &ct));
    // Whitespace around the object is JSON, not trailing data.
    assert_eq!(
        try_open(&ring, format!(" {good}\n").as_bytes(), &meta(DAY)),
        Ok(NOW + DAY)
    );
    assert_eq!(
        IntakeError::MalformedCredential.code(),
        ErrorCode::MalformedCredential
    );
}

#[test]
fn refuses_metadata_mismatch() {
    let ring = ring();
    for (ex, label) in [
        ("kraken", "main"),
        ("binance", "other"),
        ("Binance", "main"),
    ] {
        let pt = credential_json(ex, label, NOW + DAY);
        assert_eq!(
            try_open(&ring, &pt, &meta(DAY)),
            Err(IntakeError::MetadataMismatch),
            "{ex}/{label}"
        );
    }
    assert_eq!(
        IntakeError::MetadataMismatch.code(),
        ErrorCode::MetadataMismatch
    );
}

#[test]
fn refuses_expired_and_too_long() {
    let ring = ring();
    let max = IntakePolicy::default().max_ttl_seconds;
    assert_eq!(max, 604_800);
    let open = |not_after, ttl| {
        try_open(
            &ring,
            &credential_json("binance", "main", not_after),
            &meta(ttl),
        )
    };
    assert_eq!(open(NOW, DAY), Err(IntakeError::CredentialExpired));
    assert_eq!(open(NOW - 1, DAY), Err(IntakeError::CredentialExpired));
    assert_eq!(open(0, DAY), Err(IntakeError::CredentialExpired));
    assert_eq!(open(NOW + 1, DAY), Ok(NOW + 1));
    assert_eq!(open(NOW + max, max), Ok(NOW + max));
    assert_eq!(open(NOW + max + 1, DAY), Err(IntakeError::TtlTooLong));
    assert_eq!(open(u64::MAX, DAY), Err(IntakeError::TtlTooLong));
    assert_eq!(open(NOW + DAY, max + 1), Err(IntakeError::TtlTooLong));
    assert_eq!(open(NOW + DAY, 0), Err(IntakeError::InvalidArgument));
    assert_eq!(
        IntakeError::CredentialExpired.code(),
        ErrorCode::CredentialExpired
    );
    assert_eq!(IntakeError::TtlTooLong.code(), ErrorCode::TtlTooLong);
    // A configured, shorter maximum.
    let pt = credential_json("binance", "main", NOW + 2 * 3600);
    let (enc, ct) = seal(ring.current().public_sec1(), &pt);
    let env = sealed(ring.current().key_id(), &enc, &ct);
    let policy = IntakePolicy {
        max_ttl_seconds: 3600,
    };
    let got = open_credential(&ring, &env, &meta(600), NOW, &policy);
    assert_eq!(got.err(), Some(IntakeError::TtlTooLong));
}

#[test]
fn older_key_versions_still_open() {
    let nsm = FakeNsm::new(7);
    let mut ring = KeyRing::generate(&nsm).unwrap();
    let v1 = ring.current().key_id().to_owned();
    let v1_pub = *ring.current().public_sec1();
    let v2 = ring.add_version(&nsm).unwrap();
    assert!(v1.starts_with("v1:") && v2.starts_with("v2:"), "{v1} {v2}");
    assert_eq!(ring.current().key_id(), v2);
    assert_eq!(ring.key_ids(), [v1.clone(), v2.clone()]);
    let pt = credential_json("binance", "main", NOW + DAY);
    let (enc, ct) = seal(&v1_pub, &pt);
    let env = sealed(&v1, &enc, &ct);
    assert!(open_credential(&ring, &env, &meta(DAY), NOW, &IntakePolicy::default()).is_ok());
    // Naming v2 for a v1 envelope fails to open.
    let env = sealed(&v2, &enc, &ct);
    let got = open_credential(&ring, &env, &meta(DAY), NOW, &IntakePolicy::default());
    assert_eq!(got.err(), Some(IntakeError::OpenFailed));
}

/// Version 2 plaintexts: the `info` decides the version, and each version
/// has exactly its fields (a v1 plaintext under the v2 info lacks a
/// policy; a policy under the v1 info is not v1); the owner key must be a
/// 65-byte P-256 point; the credential id is the sealed bytes' SHA-256.
#[test]
fn version_2_plaintexts_are_exact() {
    use base64::Engine as _;
    let ring = ring();
    let pk = ring.current().public_sec1();
    let kid = ring.current().key_id().to_owned();
    let policy = r#"{"windows":"days","symbols":"all","min_interval_seconds":60,"publish":true}"#;
    let owner = p256::ecdsa::SigningKey::from_slice(&[5u8; 32])
        .unwrap()
        .verifying_key()
        .to_sec1_point(false)
        .as_bytes()
        .to_vec();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let v1 = String::from_utf8(credential_json("binance", "main", NOW + DAY)).unwrap();
    let with = |extra: &str| format!("{},{extra}}}", &v1[..v1.len() - 1]);
    let open = |info: &[u8], pt: &str| {
        let (enc, ct) = seal_with(pk, info, pt.as_bytes(), b"");
        let env = sealed(&kid, &enc, &ct);
        let id = hex::encode(env.id());
        (
            open_credential(&ring, &env, &meta(DAY), NOW, &IntakePolicy::default()),
            id,
        )
    };
    let v2 = b"strongroom/credential/v2";
    let good = with(&format!(r#""policy":{policy},"owner":"{}""#, b64(&owner)));
    let (opened, id) = open(v2, &good);
    let c = opened.unwrap().credential;
    assert_eq!(c.id(), id);
    assert_eq!(c.owner_key(), Some(owner.as_slice()));
    assert_eq!(c.policy().min_interval_seconds, 60);
    assert!(c.policy().publish);
    let malformed = [
        (&v2[..], v1.clone()),
        (HPKE_INFO, with(&format!(r#""policy":{policy}"#))),
        (&v2[..], with(&format!(r#""owner":"{}""#, b64(&owner)))),
        (
            &v2[..],
            with(&format!(
                r#""policy":{policy},"owner":"{}""#,
                b64(&owner[1..])
            )),
        ),
        (
            &v2[..],
            with(&format!(
                r#""policy":{policy},"owner":"{}""#,
                b64(&[4u8; 65])
            )),
        ),
        (
            &v2[..],
            with(
                r#""policy":{"windows":"days","symbols":"all","min_interval_seconds":99999999999,"publish":false}"#,
            ),
        ),
    ];
    for (info, pt) in malformed {
        assert_eq!(
            open(info, &pt).0.err(),
            Some(IntakeError::MalformedCredential),
            "{pt}"
        );
    }
    // v1 stays v1: the strictest policy, no owner.
    let (opened, _) = open(HPKE_INFO, &v1);
    let c = opened.unwrap().credential;
    assert_eq!(c.owner_key(), None);
    assert_eq!(*c.policy(), strongroom_formats::policy::Policy::STRICTEST);
}
