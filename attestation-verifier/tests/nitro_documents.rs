//! Real AWS Nitro attestation documents: accepted exactly when they should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::time::Duration;
use strongroom_verifier::{
    CertPosition, PcrSet, Policy, TrustRoot, VerifiedDocument, VerifyError, verify,
};

fn permissive() -> Policy {
    Policy::default().with_allow_debug(true)
}

fn verify_at_own_time(doc: &[u8]) -> VerifiedDocument {
    verify(
        doc,
        &TrustRoot::aws_nitro_g1(),
        doc_time(doc),
        &permissive(),
    )
    .unwrap()
}

#[test]
fn every_document_verifies_at_its_own_timestamp() {
    for (name, doc) in nitro_documents() {
        let v = verify(
            &doc,
            &TrustRoot::aws_nitro_g1(),
            doc_time(&doc),
            &permissive(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.debug, is_debug_name(&name), "{name}");
        assert!(!v.dev_root);
        assert_eq!(v.pcrs.len(), 16);
        assert!(v.pcrs.values().all(|p| p.len() == 48));
        assert!(v.module_id.starts_with("i-"), "{name}");
        // PCR4 = SHA-384(48 zero bytes || parent instance id), per the testdata README.
        let instance = v.module_id.split("-enc").next().unwrap();
        let mut pcr4 = sha2_384(&[[0u8; 48].as_slice(), instance.as_bytes()].concat());
        assert_eq!(v.pcrs[&4], pcr4, "{name}");
        pcr4[0] ^= 1;
        assert_ne!(v.pcrs[&4], pcr4);
    }
}

fn sha2_384(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha384::digest(data).to_vec()
}

#[test]
fn production_documents_pass_the_default_policy_and_debug_ones_do_not() {
    for (name, doc) in nitro_documents() {
        let result = verify(
            &doc,
            &TrustRoot::aws_nitro_g1(),
            doc_time(&doc),
            &Policy::default(),
        );
        if is_debug_name(&name) {
            assert_eq!(result.unwrap_err(), VerifyError::DebugMode, "{name}");
        } else {
            assert!(!result.unwrap().debug, "{name}");
        }
    }
}

#[test]
fn each_document_fails_one_second_outside_its_leaf_validity() {
    for (name, doc) in nitro_documents() {
        let v = verify_at_own_time(&doc);
        let root = TrustRoot::aws_nitro_g1();
        // Edges themselves are inside (RFC 5280 validity is inclusive).
        for ok in [at_secs(v.leaf_not_before), at_secs(v.leaf_not_after)] {
            let mut policy = permissive();
            policy.max_clock_skew = Duration::from_secs(86_400);
            assert!(verify(&doc, &root, ok, &policy).is_ok(), "{name}");
        }
        let mut policy = permissive();
        policy.max_clock_skew = Duration::from_secs(86_400);
        let late = verify(&doc, &root, at_secs(v.leaf_not_after + 1), &policy).unwrap_err();
        assert!(
            matches!(
                late,
                VerifyError::CertificateExpired {
                    position: CertPosition::Leaf,
                    ..
                }
            ),
            "{name}: {late}"
        );
        let early = verify(&doc, &root, at_secs(v.leaf_not_before - 1), &policy).unwrap_err();
        assert!(
            matches!(
                early,
                VerifyError::CertificateNotYetValid {
                    position: CertPosition::Leaf,
                    ..
                }
            ),
            "{name}: {early}"
        );
    }
}

/// Byte ranges of the doc: (signature, payload, every certificate).
fn regions(
    doc: &[u8],
) -> (
    std::ops::Range<usize>,
    std::ops::Range<usize>,
    Vec<std::ops::Range<usize>>,
) {
    let p = strongroom_verifier::inspect_unverified(doc).unwrap();
    let sig = doc.len() - 96..doc.len();
    // Untagged array, 4-byte protected header, empty map, then a 0x59 bstr header.
    assert_eq!(&doc[..7], &[0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0]);
    assert_eq!(doc[7], 0x59);
    let payload_len = u16::from_be_bytes([doc[8], doc[9]]) as usize;
    let payload = 10..10 + payload_len;
    let certs = p
        .cabundle
        .iter()
        .chain(std::iter::once(&p.certificate))
        .map(|c| {
            let start = doc
                .windows(c.len())
                .position(|w| w == c.as_slice())
                .unwrap();
            start..start + c.len()
        })
        .collect();
    (sig, payload, certs)
}

fn assert_flips_fail(name: &str, doc: &[u8], range: std::ops::Range<usize>, what: &str) {
    let root = TrustRoot::aws_nitro_g1();
    let when = doc_time(doc);
    let len = range.len();
    for step in [0, 1, 2, 7, len / 3, len / 2, len - 2, len - 1] {
        let pos = range.start + step.min(len - 1);
        for mask in [0x01u8, 0x80] {
            let mut bad = doc.to_vec();
            bad[pos] ^= mask;
            assert!(
                verify(&bad, &root, when, &permissive()).is_err(),
                "{name}: flipping {what} byte {pos} with {mask:#x} still verifies"
            );
        }
    }
}

#[test]
fn a_flipped_byte_in_signature_payload_or_any_certificate_fails() {
    for (name, doc) in nitro_documents() {
        let (sig, payload, certs) = regions(&doc);
        assert_flips_fail(&name, &doc, sig, "signature");
        assert_flips_fail(&name, &doc, payload, "payload");
        for (i, cert) in certs.into_iter().enumerate() {
            assert_flips_fail(&name, &doc, cert, &format!("certificate {i}"));
        }
    }
}

#[test]
fn a_flipped_signature_byte_is_reported_as_a_bad_signature() {
    let (_, doc) = &nitro_documents()[1];
    let mut bad = doc.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let err = verify(
        &bad,
        &TrustRoot::aws_nitro_g1(),
        doc_time(doc),
        &permissive(),
    )
    .unwrap_err();
    assert_eq!(err, VerifyError::DocumentSignature);
}

#[test]
fn a_different_root_fails() {
    let docs = nitro_documents();
    // Any other real certificate as the root: cabundle[0] no longer equals it.
    let intermediate = strongroom_verifier::inspect_unverified(&docs[0].1)
        .unwrap()
        .cabundle[1]
        .clone();
    let other = TrustRoot::dev_from_der(&intermediate).unwrap();
    for (name, doc) in &docs {
        let err = verify(doc, &other, doc_time(doc), &permissive()).unwrap_err();
        assert_eq!(err, VerifyError::RootMismatch, "{name}");
    }
}

#[test]
fn dev_root_flag_is_reported() {
    // The AWS root loaded as a "dev" root still verifies, but says so.
    let pem = std::fs::read_to_string(data_dir().join("nitro/aws_nitro_root_g1.pem")).unwrap();
    let dev = TrustRoot::dev_from_pem(&pem).unwrap();
    let (_, doc) = &nitro_documents()[1];
    let v = verify(doc, &dev, doc_time(doc), &Policy::default()).unwrap();
    assert!(v.dev_root);
}

fn pcr_set_of(v: &VerifiedDocument, indices: &[u8]) -> PcrSet {
    let mut json = serde_json::Map::new();
    for i in indices {
        json.insert(format!("PCR{i}"), hex::encode(&v.pcrs[i]).into());
    }
    let body = serde_json::json!({"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": json["PCR0"], "PCR1": json["PCR1"], "PCR2": json["PCR2"]}});
    PcrSet::from_json("release.json", body.to_string().as_bytes()).unwrap()
}

#[test]
fn pcr_allowlist_accepts_listed_releases_and_refuses_others() {
    let docs = nitro_documents();
    let (_, prod_a) = &docs[1];
    let (_, prod_b) = &docs[3];
    let va = verify_at_own_time(prod_a);
    let vb = verify_at_own_time(prod_b);
    assert_ne!(va.pcrs[&0], vb.pcrs[&0]);
    let set_a = pcr_set_of(&va, &[0, 1, 2]);
    let set_b = pcr_set_of(&vb, &[0, 1, 2]);
    let root = TrustRoot::aws_nitro_g1();
    let only_b = Policy::default().allow_pcrs(set_b.clone());
    assert_eq!(
        verify(prod_a, &root, doc_time(prod_a), &only_b).unwrap_err(),
        VerifyError::PcrsNotAllowed
    );
    let both = only_b.allow_pcrs(set_a);
    let v = verify(prod_a, &root, doc_time(prod_a), &both).unwrap();
    assert_eq!(v.matched_pcr_set.as_deref(), Some("release.json"));
    assert!(verify(prod_b, &root, doc_time(prod_b), &both).is_ok());
    // One wrong PCR in the set is enough to refuse.
    let mut tampered = set_b;
    tampered.pcrs.get_mut(&2).unwrap()[47] ^= 1;
    let policy = Policy::default().allow_pcrs(tampered);
    assert_eq!(
        verify(prod_b, &root, doc_time(prod_b), &policy).unwrap_err(),
        VerifyError::PcrsNotAllowed
    );
}

#[test]
fn nonce_public_key_and_age_policies() {
    let docs = nitro_documents();
    let (_, doc) = &docs[1];
    let v = verify_at_own_time(doc);
    let nonce = v.nonce.clone().unwrap();
    let root = TrustRoot::aws_nitro_g1();
    let now = doc_time(doc);
    assert!(
        verify(
            doc,
            &root,
            now,
            &Policy::default().with_nonce(nonce.clone())
        )
        .is_ok()
    );
    let mut wrong = nonce;
    wrong[0] ^= 1;
    let err = verify(doc, &root, now, &Policy::default().with_nonce(wrong)).unwrap_err();
    assert_eq!(err, VerifyError::NonceMismatch);
    // Document 02 has no public_key: any expectation fails.
    let err = verify(
        doc,
        &root,
        now,
        &Policy::default().with_public_key(vec![4; 65]),
    )
    .unwrap_err();
    assert_eq!(err, VerifyError::PublicKeyMismatch);
    let later = now + Duration::from_secs(120);
    let aged = Policy::default().with_max_age(Duration::from_secs(60));
    assert!(matches!(
        verify(doc, &root, later, &aged).unwrap_err(),
        VerifyError::TooOld { .. }
    ));
    assert!(
        verify(
            doc,
            &root,
            later,
            &Policy::default().with_max_age(Duration::from_secs(121))
        )
        .is_ok()
    );
    // The leaf starts 3 s before the timestamp: 2 s early is inside it.
    let earlier = now - Duration::from_secs(2);
    assert!(verify(doc, &root, earlier, &Policy::default()).is_ok());
    let mut strict_clock = Policy::default();
    strict_clock.max_clock_skew = Duration::from_secs(1);
    assert!(matches!(
        verify(doc, &root, earlier, &strict_clock).unwrap_err(),
        VerifyError::FromTheFuture { ahead_ms: 2000 }
    ));
}

#[test]
fn oversized_and_truncated_documents_fail() {
    let (_, doc) = &nitro_documents()[0];
    let root = TrustRoot::aws_nitro_g1();
    let now = doc_time(doc);
    for cut in [0, 1, 10, doc.len() / 2, doc.len() - 1] {
        assert!(
            verify(&doc[..cut], &root, now, &permissive()).is_err(),
            "cut at {cut}"
        );
    }
    let mut long = doc.clone();
    long.push(0);
    assert_eq!(
        verify(&long, &root, now, &permissive()).unwrap_err(),
        VerifyError::MalformedCbor(strongroom_verifier::cbor::CborError::TrailingBytes)
    );
    let at_limit = vec![0u8; strongroom_verifier::MAX_DOCUMENT_LEN];
    assert!(matches!(
        verify(&at_limit, &root, now, &permissive()).unwrap_err(),
        VerifyError::MalformedCbor(_)
    ));
    let huge = vec![0u8; strongroom_verifier::MAX_DOCUMENT_LEN + 1];
    assert!(matches!(
        verify(&huge, &root, now, &permissive()).unwrap_err(),
        VerifyError::DocumentTooLarge { .. }
    ));
}

#[test]
fn tagged_form_verifies_too() {
    let (_, doc) = &nitro_documents()[1];
    let mut tagged = vec![0xd2];
    tagged.extend_from_slice(doc);
    let root = TrustRoot::aws_nitro_g1();
    assert!(verify(&tagged, &root, doc_time(doc), &Policy::default()).is_ok());
    let mut wrong_tag = vec![0xd1];
    wrong_tag.extend_from_slice(doc);
    assert_eq!(
        verify(&wrong_tag, &root, doc_time(doc), &Policy::default()).unwrap_err(),
        VerifyError::NotCoseSign1
    );
}
