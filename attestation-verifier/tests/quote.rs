//! Quote answers: the document and every field beside it must agree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::devchain::*;
use common::quote_fixture::*;
use common::*;
use hpke::{Kem as _, Serializable};
use strongroom_verifier::seal::Kem;
use strongroom_verifier::{Policy, QuoteError, QuoteResponse, TrustRoot, verify_quote_json};

fn check(
    pki: &DevPki,
    q: &QuoteResponse,
) -> Result<strongroom_verifier::VerifiedQuote, QuoteError> {
    let root = TrustRoot::dev_from_pem(&pki.root_pem()).unwrap();
    let json = serde_json::to_vec(q).unwrap();
    verify_quote_json(
        &json,
        &root,
        at_ms(doc_time_ms()),
        &Policy::default().with_nonce(b"challenge".to_vec()),
    )
}

#[test]
fn a_consistent_quote_verifies() {
    let f = fixture();
    let v = check(&f.pki, &f.quote).unwrap();
    assert_eq!(v.key_id(), "v1:2026");
    assert_eq!(STANDARD.encode(v.hpke_public_key), f.quote.enclave_pubkey);
    assert!(v.document.dev_root);
}

#[test]
fn any_disagreeing_side_field_is_refused() {
    let f = fixture();
    let (_, other_pk) = Kem::derive_keypair(&[4; 32]);
    let mut q = f.quote.clone();
    q.enclave_pubkey = STANDARD.encode(other_pk.to_bytes());
    assert_eq!(
        check(&f.pki, &q).unwrap_err(),
        QuoteError::Mismatch("enclave_pubkey")
    );
    let mut q = f.quote.clone();
    q.signing_pubkey = q.enclave_pubkey.clone();
    assert_eq!(
        check(&f.pki, &q).unwrap_err(),
        QuoteError::Mismatch("signing_pubkey")
    );
    let mut q = f.quote.clone();
    q.key_id = "v2".into();
    assert_eq!(
        check(&f.pki, &q).unwrap_err(),
        QuoteError::Mismatch("key_id")
    );
    let mut q = f.quote.clone();
    q.image_hash = hex::encode([0xab; 48]);
    assert_eq!(
        check(&f.pki, &q).unwrap_err(),
        QuoteError::Mismatch("image_hash")
    );
    let mut q = f.quote.clone();
    q.quote.insert(0, '!');
    assert_eq!(check(&f.pki, &q).unwrap_err(), QuoteError::Base64("quote"));
}

#[test]
fn unknown_fields_and_a_wrong_root_are_refused() {
    let f = fixture();
    let mut json = serde_json::to_value(&f.quote).unwrap();
    json["nonce"] = "x".into();
    let root = TrustRoot::dev_from_pem(&f.pki.root_pem()).unwrap();
    let err = verify_quote_json(
        json.to_string().as_bytes(),
        &root,
        at_ms(doc_time_ms()),
        &Policy::default(),
    );
    assert!(matches!(err.unwrap_err(), QuoteError::Json(_)));
    let json = serde_json::to_vec(&f.quote).unwrap();
    let err = verify_quote_json(
        &json,
        &TrustRoot::aws_nitro_g1(),
        at_ms(doc_time_ms()),
        &Policy::default(),
    );
    assert_eq!(err.unwrap_err().code(), "root_mismatch");
}

#[test]
fn sealing_to_a_verified_quote_opens_with_the_attested_key() {
    use hpke::{Deserializable, OpModeR};
    use strongroom_verifier::seal::{Aead, CREDENTIAL_INFO, Kdf};
    let f = fixture();
    let v = check(&f.pki, &f.quote).unwrap();
    let recipient = strongroom_verifier::SealRecipient::from_verified_quote(&v);
    let cred = strongroom_verifier::CredentialPlaintext {
        exchange: "binance".into(),
        api_key: zeroize::Zeroizing::new("k".into()),
        api_secret: zeroize::Zeroizing::new("s".into()),
        label: "main".into(),
        not_after: 1,
        owner: None,
        policy: None,
    };
    let meta = strongroom_verifier::CredentialMetadata {
        exchange: "binance".into(),
        label: "main".into(),
        ttl: 60,
    };
    let body = strongroom_verifier::seal_credential(&recipient, &cred, &meta).unwrap();
    assert_eq!(body.key_id, "v1:2026");
    let enc =
        <Kem as hpke::Kem>::EncappedKey::from_bytes(&STANDARD.decode(&body.ephemeral_pub).unwrap())
            .unwrap();
    let mut ct = STANDARD.decode(&body.ciphertext).unwrap();
    ct.extend(STANDARD.decode(&body.tag).unwrap());
    let pt = hpke::single_shot_open::<Aead, Kdf, Kem>(
        &OpModeR::Base,
        &f.hpke_sk,
        &enc,
        CREDENTIAL_INFO,
        &ct,
        b"",
    )
    .unwrap();
    assert_eq!(
        pt,
        br#"{"exchange":"binance","api_key":"k","api_secret":"s","label":"main","not_after":1}"#
    );
}
