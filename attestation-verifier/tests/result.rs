//! `verify_result` on a complete answer built here, and one refusal per
//! tampering a malicious host (or relay) could attempt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::result_fixture::*;
use sha2::{Digest, Sha256};
use strongroom_verifier::cose::CoseError;
use strongroom_verifier::merkle::{self, MerkleError};
use strongroom_verifier::{
    AggregatesAnswer, PcrSet, ResultError, TrustRoot, VerifyError, parse_answer,
    verify_consistency_heads, verify_result,
};

fn check(f: &ResultFixture, answer: &AggregatesAnswer) -> Result<(), ResultError> {
    verify_result(answer, &f.root(), &f.policy()).map(|_| ())
}

#[test]
fn a_valid_answer_verifies_with_every_link_reported() {
    let f = ResultFixture::default();
    let answer = f.answer();
    let v = verify_result(&answer, &f.root(), &f.policy()).unwrap();
    assert_eq!(v.payload, sample_payload());
    assert_eq!(v.binding.kid, KID);
    assert_eq!(v.tree_head.size, LOG_SIZE);
    assert_eq!(v.leaf_index, LEAF_INDEX);
    assert_eq!(
        v.leaf_hash,
        merkle::leaf_hash(&b64d(&answer.aggregates_signed))
    );
    assert!(v.document.dev_root);
    assert_eq!(v.document.pcr0_hex(), hex::encode([0xaa; 48]));
    let cache = strongroom_verifier::VerifierCache::default();
    for _ in 0..2 {
        let cached =
            strongroom_verifier::verify_result_cached(&answer, &f.root(), &f.policy(), &cache);
        assert_eq!(cached.unwrap(), v);
    }
    assert_eq!(cache.len(), 2);
    // Round trip through the wire JSON, as the CLI reads it.
    let json = serde_json::to_vec(&answer).unwrap();
    assert_eq!(parse_answer(&json).unwrap(), answer);
}

#[test]
fn the_attestation_is_checked_at_its_own_timestamp_under_the_given_root_and_policy() {
    let f = ResultFixture::default();
    let answer = f.answer();
    // The leaf certificate lives 3 hours; verification needs no clock, so an
    // audit years later still passes (the test clock is irrelevant by design).
    assert!(check(&f, &answer).is_ok());
    let err = verify_result(&answer, &TrustRoot::aws_nitro_g1(), &f.policy()).unwrap_err();
    assert_eq!(err, ResultError::Attestation(VerifyError::RootMismatch));
    let other_release = PcrSet::from_json(
        "other.json",
        format!(r#"{{"PCR0":"{}"}}"#, "bb".repeat(48)).as_bytes(),
    )
    .unwrap();
    let pinned = f.policy().allow_pcrs(other_release);
    let err = verify_result(&answer, &f.root(), &pinned).unwrap_err();
    assert_eq!(err, ResultError::Attestation(VerifyError::PcrsNotAllowed));
    assert_eq!(err.code(), "pcrs_not_allowed");
    // A caller's nonce expectation does not apply: R3 replaces it.
    let with_nonce = f.policy().with_nonce(b"unrelated".to_vec());
    assert!(verify_result(&answer, &f.root(), &with_nonce).is_ok());
}

#[test]
fn a_payload_edited_by_one_byte_is_caught() {
    let f = ResultFixture::default();
    let answer = f.answer();
    let signed = b64d(&answer.aggregates_signed);
    let payload_cbor = f.payload.to_cbor().unwrap();
    let at = signed
        .windows(payload_cbor.len())
        .position(|w| w == payload_cbor)
        .unwrap();
    // Somewhere in the protected header, in the payload, in the signature.
    for pos in [3, at + 10, at + payload_cbor.len() / 2, signed.len() - 1] {
        let mut edited = signed.clone();
        edited[pos] ^= 0x01;
        let mut a = answer.clone();
        a.aggregates_signed = b64e(&edited);
        // The attestation binds the exact bytes, so the nonce catches it first...
        assert_eq!(check(&f, &a), Err(ResultError::NonceMismatch), "byte {pos}");
        // ...and the signature would catch it even with a matching nonce.
        let f2 = ResultFixture {
            nonce: Some(Sha256::digest(&edited).to_vec()),
            ..ResultFixture::default()
        };
        a.attestation = b64e(&f2.attestation(&edited));
        let err = check(&f2, &a).unwrap_err();
        assert!(
            matches!(
                err,
                ResultError::AggregateSignature(_) | ResultError::KeyIdMismatch(_)
            ),
            "byte {pos}: {err:?}"
        );
    }
}

#[test]
fn aggregates_json_that_differs_from_the_signed_payload_is_caught() {
    let f = ResultFixture::default();
    let mut a = f.answer();
    a.aggregates["symbols"]["BTCUSDT"]["realized_pnl_quote"] = "1234.5".into();
    assert_eq!(check(&f, &a), Err(ResultError::AggregatesMismatch));
    // Same value, other spelling: the copy must be the signed payload exactly.
    let mut a = f.answer();
    a.aggregates["totals"]["USDT"]["volume_quote"] = "32100.50".into();
    assert_eq!(check(&f, &a), Err(ResultError::AggregatesMismatch));
    let mut a = f.answer();
    a.aggregates["symbols"]["ETHUSDT"] = a.aggregates["symbols"]["BTCUSDT"].clone();
    assert_eq!(check(&f, &a), Err(ResultError::AggregatesMismatch));
}

#[test]
fn a_swapped_or_wrong_nonce_attestation_is_caught() {
    let f = ResultFixture::default();
    // The attestation of another result from the same enclave.
    let mut other = ResultFixture::default();
    other.payload.session = Some(hex::encode([0x33; 32]));
    let mut a = f.answer();
    a.attestation = other.answer().attestation;
    assert_eq!(check(&f, &a), Err(ResultError::NonceMismatch));
    assert_eq!(ResultError::NonceMismatch.code(), "result_nonce_mismatch");
    for nonce in [vec![0u8; 32], b"challenge".to_vec(), Vec::new()] {
        let wrong = ResultFixture {
            nonce: Some(nonce),
            ..ResultFixture::default()
        };
        assert_eq!(
            check(&wrong, &wrong.answer()),
            Err(ResultError::NonceMismatch)
        );
    }
}

#[test]
fn an_attestation_binding_another_key_is_caught_even_with_the_right_nonce() {
    let f = ResultFixture::default();
    let a = f.answer();
    let impostor = ResultFixture {
        sign_key: p256::ecdsa::SigningKey::from_slice(&[6; 32]).unwrap(),
        nonce: Some(Sha256::digest(b64d(&a.aggregates_signed)).to_vec()),
        ..ResultFixture::default()
    };
    let mut swapped = a.clone();
    swapped.attestation = b64e(&impostor.attestation(&[]));
    assert_eq!(
        check(&f, &swapped),
        Err(ResultError::AggregateSignature(CoseError::BadSignature))
    );
}

#[test]
fn wrong_key_ids_are_caught() {
    let cose_kid = ResultFixture {
        cose_kid: "v2:other".into(),
        ..ResultFixture::default()
    };
    assert_eq!(
        check(&cose_kid, &cose_kid.answer()),
        Err(ResultError::KeyIdMismatch("aggregates_signed"))
    );
    let bound_kid = ResultFixture {
        bound_kid: "v2:other".into(),
        ..ResultFixture::default()
    };
    assert_eq!(
        check(&bound_kid, &bound_kid.answer()),
        Err(ResultError::KeyIdMismatch("aggregates_signed"))
    );
    let mut payload_kid = ResultFixture::default();
    payload_kid.payload.key_id = "v2:other".into();
    let err = check(&payload_kid, &payload_kid.answer()).unwrap_err();
    assert_eq!(err, ResultError::KeyIdMismatch("payload"));
    assert_eq!(err.code(), "key_id_mismatch");
}

#[test]
fn a_payload_naming_another_image_is_caught() {
    let mut f = ResultFixture::default();
    f.payload.pcr0 = hex::encode([0xbb; 48]);
    assert_eq!(check(&f, &f.answer()), Err(ResultError::Pcr0Mismatch));
}

#[test]
fn a_tampered_tree_head_is_caught() {
    let f = ResultFixture::default();
    let answer = f.answer();
    let head = b64d(&answer.log.tree_head);
    for pos in [5, head.len() / 2, head.len() - 1] {
        let mut a = answer.clone();
        let mut h = head.clone();
        h[pos] ^= 0x01;
        a.log.tree_head = b64e(&h);
        let err = check(&f, &a).unwrap_err();
        assert!(
            matches!(
                err,
                ResultError::TreeHeadSignature(_) | ResultError::KeyIdMismatch("tree head")
            ),
            "byte {pos}: {err:?}"
        );
    }
    // A head for another root, signed by a key the attestation does not bind.
    let other = ResultFixture {
        sign_key: p256::ecdsa::SigningKey::from_slice(&[6; 32]).unwrap(),
        ..ResultFixture::default()
    };
    let mut a = answer.clone();
    a.log.tree_head = other.head(LOG_SIZE, [0x42; 32]);
    assert_eq!(
        check(&f, &a),
        Err(ResultError::TreeHeadSignature(CoseError::BadSignature))
    );
    // Correctly signed head of a tree that does not contain the leaf.
    let mut a = answer.clone();
    a.log.tree_head = f.head(LOG_SIZE, [0x42; 32]);
    assert_eq!(
        check(&f, &a),
        Err(ResultError::Inclusion(MerkleError::RootMismatch))
    );
    // The head's size and the answer's tree_size must agree.
    let mut a = answer.clone();
    a.log.tree_size = LOG_SIZE + 1;
    assert_eq!(
        check(&f, &a),
        Err(ResultError::TreeSizeMismatch {
            log: LOG_SIZE + 1,
            head: LOG_SIZE
        })
    );
}

#[test]
fn a_forged_inclusion_proof_is_caught() {
    let f = ResultFixture::default();
    let answer = f.answer();
    for i in 0..answer.log.inclusion_proof.len() {
        let mut a = answer.clone();
        let mut h = b64d(&a.log.inclusion_proof[i]);
        h[0] ^= 0x80;
        a.log.inclusion_proof[i] = b64e(&h);
        assert_eq!(
            check(&f, &a),
            Err(ResultError::Inclusion(MerkleError::RootMismatch)),
            "hash {i}"
        );
    }
    let mut a = answer.clone();
    a.log.inclusion_proof.pop();
    assert_eq!(
        check(&f, &a),
        Err(ResultError::Inclusion(MerkleError::ProofLength))
    );
    let mut a = answer.clone();
    a.log.leaf_index = LEAF_INDEX - 1;
    assert_eq!(
        check(&f, &a),
        Err(ResultError::Inclusion(MerkleError::RootMismatch))
    );
    let mut a = answer.clone();
    a.log.leaf_index = LOG_SIZE;
    assert_eq!(
        check(&f, &a),
        Err(ResultError::LeafIndexOutOfRange {
            index: LOG_SIZE,
            size: LOG_SIZE
        })
    );
    let mut a = answer.clone();
    a.log.inclusion_proof[0] = b64e(&[0; 31]);
    assert_eq!(check(&f, &a), Err(ResultError::Encoding("inclusion_proof")));
    let mut a = answer.clone();
    a.log.inclusion_proof = vec![b64e(&[0; 32]); 65];
    assert_eq!(check(&f, &a), Err(ResultError::Encoding("inclusion_proof")));
}

#[test]
fn answer_json_is_strict_and_bounded() {
    let f = ResultFixture::default();
    let mut v = serde_json::to_value(f.answer()).unwrap();
    v["extra"] = 1.into();
    let err = parse_answer(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert_eq!(err.code(), "answer_json");
    let mut v = serde_json::to_value(f.answer()).unwrap();
    v["log"]["nonce"] = 1.into();
    assert!(parse_answer(&serde_json::to_vec(&v).unwrap()).is_err());
    let big = vec![b' '; strongroom_verifier::result::MAX_ANSWER_JSON_LEN + 1];
    assert_eq!(parse_answer(&big), Err(ResultError::TooLarge));
    let mut a = f.answer();
    a.attestation = "not base64!".into();
    assert_eq!(check(&f, &a), Err(ResultError::Encoding("attestation")));
}

#[test]
fn consistency_between_two_signed_heads() {
    let f = ResultFixture::default();
    let signed = f.signed();
    let leaves = f.leaves(&signed);
    let binding = verify_result(&f.answer(), &f.root(), &f.policy())
        .unwrap()
        .binding;
    let old = f.head(3, merkle::root(&leaves[..3]));
    let new = f.head(LOG_SIZE, merkle::root(&leaves));
    let proof: Vec<String> = merkle::consistency_proof(&leaves, 3)
        .unwrap()
        .iter()
        .map(|h| b64e(h))
        .collect();
    let heads = verify_consistency_heads(&old, &new, &proof, &binding).unwrap();
    assert_eq!((heads.old.size, heads.new.size), (3, LOG_SIZE));

    let mut forged = proof.clone();
    forged[0] = b64e(&[0x42; 32]);
    assert_eq!(
        verify_consistency_heads(&old, &new, &forged, &binding),
        Err(ResultError::Consistency(MerkleError::RootMismatch))
    );
    // A forked log: same size, different history.
    let fork = f.head(LOG_SIZE, merkle::root(&leaves[1..]));
    assert!(matches!(
        verify_consistency_heads(&old, &fork, &proof, &binding),
        Err(ResultError::Consistency(_))
    ));
    assert!(matches!(
        verify_consistency_heads(&new, &old, &proof, &binding),
        Err(ResultError::Consistency(MerkleError::SizeOrder { .. }))
    ));
    let stranger = ResultFixture {
        sign_key: p256::ecdsa::SigningKey::from_slice(&[6; 32]).unwrap(),
        ..ResultFixture::default()
    };
    let foreign = stranger.head(LOG_SIZE, merkle::root(&leaves));
    assert_eq!(
        verify_consistency_heads(&old, &foreign, &proof, &binding),
        Err(ResultError::TreeHeadSignature(CoseError::BadSignature))
    );
}
