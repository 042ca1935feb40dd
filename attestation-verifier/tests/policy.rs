//! pcrs.json parsing and schema limits at the edge.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::devchain::*;
use common::*;
use strongroom_verifier::{PcrSet, Policy, SchemaError, TrustRoot, VerifyError, verify};

const H48: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[test]
fn both_pcrs_json_forms_parse_to_the_same_set() {
    let nitro = format!(
        r#"{{"Measurements":{{"HashAlgorithm":"Sha384 {{ ... }}","PCR0":"{H48}","PCR1":"{H48}","PCR2":"{H48}"}}}}"#
    );
    let flat = format!(r#"{{"PCR0":"{H48}","PCR1":"{H48}","PCR2":"{H48}"}}"#);
    let a = PcrSet::from_json("a", nitro.as_bytes()).unwrap();
    let b = PcrSet::from_json("a", flat.as_bytes()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.pcrs.len(), 3);
    let upper = format!(r#"{{"PCR8":"{}"}}"#, H48.to_uppercase());
    assert_eq!(
        PcrSet::from_json("u", upper.as_bytes()).unwrap().pcrs[&8],
        vec![0xaa; 48]
    );
}

#[test]
fn malformed_pcrs_json_is_refused() {
    for bad in [
        "[]".to_owned(),
        "{}".to_owned(),
        r#"{"Measurements":{}}"#.to_owned(),
        format!(r#"{{"Measurements":{{"PCR0":"{H48}"}},"extra":1}}"#),
        format!(r#"{{"HashAlgorithm":"Sha256","PCR0":"{H48}"}}"#),
        format!(r#"{{"PCR32":"{H48}"}}"#),
        format!(r#"{{"PCR01":"{H48}"}}"#),
        format!(r#"{{"pcr0":"{H48}"}}"#),
        r#"{"PCR0":"abcd"}"#.to_owned(),
        r#"{"PCR0":"zz"}"#.to_owned(),
        r#"{"PCR0":1}"#.to_owned(),
    ] {
        assert!(PcrSet::from_json("bad", bad.as_bytes()).is_err(), "{bad}");
    }
    let huge = vec![b' '; strongroom_verifier::policy::MAX_PCRS_JSON_LEN + 1];
    assert!(PcrSet::from_json("huge", &huge).is_err());
}

fn check(fields: &DocFields) -> Result<strongroom_verifier::VerifiedDocument, VerifyError> {
    let pki = DevPki::new();
    let root = TrustRoot::dev_from_pem(&pki.root_pem()).unwrap();
    verify(
        &document(&pki, fields),
        &root,
        at_ms(doc_time_ms()),
        &Policy::default(),
    )
}

#[test]
fn user_fields_at_the_limit_pass_and_one_over_fails() {
    let max = strongroom_verifier::MAX_USER_FIELD_LEN;
    let base = DocFields {
        pcr_fill: 0xaa,
        ..DocFields::default()
    };
    let at_limit = DocFields {
        public_key: Some(vec![1; max]),
        user_data: Some(vec![2; max]),
        nonce: Some(vec![3; max]),
        ..base.clone()
    };
    assert!(check(&at_limit).is_ok());
    for field in ["public_key", "user_data", "nonce"] {
        let mut over = at_limit.clone();
        match field {
            "public_key" => over.public_key = Some(vec![1; max + 1]),
            "user_data" => over.user_data = Some(vec![2; max + 1]),
            _ => over.nonce = Some(vec![3; max + 1]),
        }
        assert_eq!(
            check(&over).unwrap_err(),
            VerifyError::Schema(SchemaError::Length {
                field,
                len: max + 1,
                min: 0,
                max
            }),
        );
    }
    // Empty (but present) byte strings are allowed, as in the NSM schema.
    assert!(
        check(&DocFields {
            nonce: Some(vec![]),
            ..base
        })
        .is_ok()
    );
}
