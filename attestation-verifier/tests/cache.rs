//! `verify_cached` decides exactly like `verify`: a warm cache skips only
//! certificate signatures over bytes it has verified before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::devchain::*;
use common::*;
use std::time::Duration;
use strongroom_verifier::{
    CertPosition, Policy, TrustRoot, VerifierCache, VerifyError, verify, verify_cached,
};

fn permissive() -> Policy {
    Policy::default().with_allow_debug(true)
}

#[test]
fn cached_and_uncached_agree_on_every_real_document() {
    let root = TrustRoot::aws_nitro_g1();
    let cache = VerifierCache::default();
    for round in 0..2 {
        for (name, doc) in nitro_documents() {
            let at = doc_time(&doc);
            let plain = verify(&doc, &root, at, &permissive());
            assert_eq!(
                verify_cached(&doc, &root, at, &permissive(), &cache),
                plain,
                "{name} round {round}"
            );
            assert!(plain.is_ok());
            // The default policy still refuses debug documents with a warm cache.
            assert_eq!(
                verify_cached(&doc, &root, at, &Policy::default(), &cache).is_ok(),
                !is_debug_name(&name),
                "{name}"
            );
        }
    }
    assert!(!cache.is_empty());
}

#[test]
fn a_warm_cache_still_checks_time_root_and_document_signature() {
    let (_, doc) = nitro_documents().remove(1);
    let root = TrustRoot::aws_nitro_g1();
    let cache = VerifierCache::default();
    let v = verify_cached(&doc, &root, doc_time(&doc), &permissive(), &cache).unwrap();
    assert_eq!(cache.len(), 4, "three intermediates and the leaf");
    let late = at_secs(v.leaf_not_after + 1);
    assert!(matches!(
        verify_cached(&doc, &root, late, &permissive(), &cache),
        Err(VerifyError::CertificateExpired {
            position: CertPosition::Leaf,
            ..
        })
    ));
    let early = at_secs(v.leaf_not_before) - Duration::from_secs(1);
    assert!(matches!(
        verify_cached(&doc, &root, early, &permissive(), &cache),
        Err(VerifyError::CertificateNotYetValid { .. })
    ));
    let mut bad_sig = doc.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 1;
    assert_eq!(
        verify_cached(&bad_sig, &root, doc_time(&doc), &permissive(), &cache),
        Err(VerifyError::DocumentSignature)
    );
    let other = TrustRoot::dev_from_pem(&DevPki::new().root_pem()).unwrap();
    assert_eq!(
        verify_cached(&doc, &other, doc_time(&doc), &permissive(), &cache),
        Err(VerifyError::RootMismatch)
    );
}

#[test]
fn a_certificate_signed_by_the_wrong_key_fails_with_a_warm_cache() {
    let good = DevPki::new();
    let root = TrustRoot::dev_from_pem(&good.root_pem()).unwrap();
    let fields = DocFields {
        pcr_fill: 0xaa,
        ..DocFields::default()
    };
    let at = at_ms(doc_time_ms());
    let cache = VerifierCache::default();
    verify_cached(
        &document(&good, &fields),
        &root,
        at,
        &Policy::default(),
        &cache,
    )
    .unwrap();
    assert_eq!(cache.len(), 2);
    // Same names, same leaf key, but the leaf certificate is signed by a key
    // other than the intermediate's: the document signature itself is fine.
    let forged_issuer = DevPki::with_key_seeds([1, 9, 3], |_, _| {});
    let mixed = DevPki {
        root_der: good.root_der.clone(),
        intermediate_der: good.intermediate_der.clone(),
        leaf_der: forged_issuer.leaf_der.clone(),
        leaf_key: forged_issuer.leaf_key.clone(),
    };
    let doc = document(&mixed, &fields);
    let expected = Err(VerifyError::CertificateSignature(CertPosition::Leaf));
    assert_eq!(verify(&doc, &root, at, &Policy::default()), expected);
    assert_eq!(
        verify_cached(&doc, &root, at, &Policy::default(), &cache),
        expected
    );
    // Failures are not remembered.
    assert_eq!(cache.len(), 2);
}

#[test]
fn the_cache_is_bounded_and_shared_across_threads() {
    let docs = nitro_documents();
    let root = TrustRoot::aws_nitro_g1();
    let small = VerifierCache::new(3);
    for (_, doc) in &docs {
        verify_cached(doc, &root, doc_time(doc), &permissive(), &small).unwrap();
        assert!(small.len() <= 3);
    }
    let shared = std::sync::Arc::new(VerifierCache::default());
    let threads: Vec<_> = docs
        .into_iter()
        .map(|(_, doc)| {
            let cache = shared.clone();
            std::thread::spawn(move || {
                let root = TrustRoot::aws_nitro_g1();
                for _ in 0..3 {
                    verify_cached(&doc, &root, doc_time(&doc), &permissive(), &cache).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(shared.len() > 3);
}
