//! Dev-root (simulator-style) documents built here: accepted only under the
//! dev root, and every chain rule enforced on chains we control.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::devchain::*;
use common::*;
use strongroom_verifier::{
    CertPosition, KeyBinding, Policy, TrustRoot, VerifyError, inspect_unverified, verify,
};

fn dev_root(pki: &DevPki) -> TrustRoot {
    TrustRoot::dev_from_pem(&pki.root_pem()).unwrap()
}

fn prod_fields() -> DocFields {
    DocFields {
        pcr_fill: 0xaa,
        ..DocFields::default()
    }
}

fn check(
    pki: &DevPki,
    fields: &DocFields,
) -> Result<strongroom_verifier::VerifiedDocument, VerifyError> {
    verify(
        &document(pki, fields),
        &dev_root(pki),
        at_ms(doc_time_ms()),
        &Policy::default(),
    )
}

#[test]
fn dev_documents_verify_only_under_the_dev_root() {
    let pki = DevPki::new();
    let doc = document(&pki, &prod_fields());
    let v = verify(
        &doc,
        &dev_root(&pki),
        at_ms(doc_time_ms()),
        &Policy::default(),
    )
    .unwrap();
    assert!(v.dev_root);
    assert!(!v.debug);
    let err = verify(
        &doc,
        &TrustRoot::aws_nitro_g1(),
        at_ms(doc_time_ms()),
        &Policy::default(),
    );
    assert_eq!(err.unwrap_err(), VerifyError::RootMismatch);
}

#[test]
fn indefinite_length_payload_maps_verify_over_the_received_bytes() {
    let pki = DevPki::new();
    let fields = DocFields {
        indefinite_map: true,
        ..prod_fields()
    };
    let doc = document(&pki, &fields);
    let payload = inspect_unverified(&doc).unwrap();
    assert_eq!(payload.timestamp_ms, doc_time_ms());
    assert!(check(&pki, &fields).is_ok());
}

#[test]
fn a_document_signed_by_another_key_fails() {
    let pki = DevPki::new();
    let other = p384::ecdsa::SigningKey::from_slice(&[9; 48]).unwrap();
    let doc = sign_document(&other, &payload(&pki, &prod_fields()));
    let err = verify(
        &doc,
        &dev_root(&pki),
        at_ms(doc_time_ms()),
        &Policy::default(),
    );
    assert_eq!(err.unwrap_err(), VerifyError::DocumentSignature);
}

type Tweak = dyn Fn(Level, &mut CertSpec);

#[test]
fn chain_rules_are_enforced() {
    use Level::*;
    let cases: Vec<(Box<Tweak>, VerifyError)> = vec![
        (
            Box::new(|l, s| {
                if l == Leaf {
                    s.ca = true
                }
            }),
            VerifyError::BasicConstraints(CertPosition::Leaf),
        ),
        (
            Box::new(|l, s| {
                if l == Intermediate {
                    s.ca = false;
                    s.path_len = None
                }
            }),
            VerifyError::BasicConstraints(CertPosition::Bundle(1)),
        ),
        (
            Box::new(|l, s| {
                if l == Root {
                    s.path_len = Some(0)
                }
            }),
            VerifyError::PathLength(CertPosition::Bundle(0)),
        ),
        (
            Box::new(|l, s| {
                if l == Leaf {
                    s.issuer = "CN=someone else".into()
                }
            }),
            VerifyError::IssuerMismatch(CertPosition::Leaf),
        ),
        (
            Box::new(|l, s| {
                if l == Intermediate {
                    s.key_usage = Some(x509_cert::ext::pkix::KeyUsage(
                        x509_cert::ext::pkix::KeyUsages::DigitalSignature.into(),
                    ))
                }
            }),
            VerifyError::KeyUsage(CertPosition::Bundle(1)),
        ),
        (
            Box::new(|l, s| {
                if l == Leaf {
                    s.key_usage = Some(x509_cert::ext::pkix::KeyUsage(
                        x509_cert::ext::pkix::KeyUsages::KeyCertSign.into(),
                    ))
                }
            }),
            VerifyError::KeyUsage(CertPosition::Leaf),
        ),
        (
            Box::new(|l, s| {
                if l == Intermediate {
                    s.unknown_critical = true
                }
            }),
            VerifyError::UnknownCriticalExtension(CertPosition::Bundle(1)),
        ),
        (
            Box::new(|l, s| {
                if l == Intermediate {
                    s.not_after = BASE_SECS + 30
                }
            }),
            VerifyError::CertificateExpired {
                position: CertPosition::Bundle(1),
                not_after_unix: BASE_SECS + 30,
            },
        ),
    ];
    for (i, (tweak, expected)) in cases.into_iter().enumerate() {
        let pki = DevPki::with(tweak);
        assert_eq!(
            check(&pki, &prod_fields()).unwrap_err(),
            expected,
            "case {i}"
        );
    }
    // Key usage absent is allowed ("where present"), as is a missing pathLen.
    let pki = DevPki::with(|_, s| s.key_usage = None);
    assert!(check(&pki, &prod_fields()).is_ok());
}

#[test]
fn a_certificate_signed_by_a_different_key_with_the_same_name_fails() {
    // Two PKIs with identical names but different root keys: names link,
    // signatures do not.
    let a = DevPki::new();
    let b = DevPki::with_key_seeds([7, 2, 3], |_, _| {});
    assert!(check(&b, &prod_fields()).is_ok());
    let mut spliced = DevPki::new();
    spliced.root_der = b.root_der.clone();
    let err = verify(
        &document(&spliced, &prod_fields()),
        &dev_root(&spliced),
        at_ms(doc_time_ms()),
        &Policy::default(),
    );
    assert_eq!(
        err.unwrap_err(),
        VerifyError::CertificateSignature(CertPosition::Bundle(1))
    );
    // Leaf re-signed by a different intermediate key.
    let c = DevPki::with_key_seeds([1, 8, 3], |_, _| {});
    let mut spliced = DevPki::new();
    spliced.leaf_der = c.leaf_der.clone();
    let err = verify(
        &document(&spliced, &prod_fields()),
        &dev_root(&spliced),
        at_ms(doc_time_ms()),
        &Policy::default(),
    );
    assert_eq!(
        err.unwrap_err(),
        VerifyError::CertificateSignature(CertPosition::Leaf)
    );
    assert!(check(&a, &prod_fields()).is_ok());
}

#[test]
fn key_binding_roundtrips_through_a_document() {
    let pki = DevPki::new();
    let sign = p256::ecdsa::SigningKey::from_slice(&[5; 32]).unwrap();
    let sec1 = sign.verifying_key().to_sec1_point(false);
    let fields = DocFields {
        user_data: Some(binding(sec1.as_bytes(), "v1:abc")),
        ..prod_fields()
    };
    let v = check(&pki, &fields).unwrap();
    let b = KeyBinding::from_document(&v).unwrap();
    assert_eq!(b.kid, "v1:abc");
    assert_eq!(&b.signing_key, sign.verifying_key());
}

#[test]
fn debug_dev_documents_need_allow_debug() {
    let pki = DevPki::new();
    let fields = DocFields {
        pcr_fill: 0,
        ..DocFields::default()
    };
    assert_eq!(check(&pki, &fields).unwrap_err(), VerifyError::DebugMode);
    let doc = document(&pki, &fields);
    let policy = Policy::default().with_allow_debug(true);
    assert!(
        verify(&doc, &dev_root(&pki), at_ms(doc_time_ms()), &policy)
            .unwrap()
            .debug
    );
}
