//! SigV4 against AWS's published test-suite vectors (`tests/kms_data/sigv4`),
//! and the KMS request builder / answer parser.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use strongroom_enclave_core::kms::request::{
    self, KmsEndpoint, KmsError, Signer, parse_decrypt, parse_generate_data_key,
};
use strongroom_enclave_core::kms::sigv4::{self, AmzDate, Credentials, Scope, SignableRequest};
use zeroize::Zeroizing;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn creds(token: Option<&str>) -> Credentials {
    Credentials::new(
        "AKIDEXAMPLE",
        Zeroizing::new(SECRET.to_owned()),
        token.map(|t| Zeroizing::new(t.to_owned())),
    )
    .unwrap()
}

/// Parses a test-suite `.req`: request line, `Name:value` headers, blank
/// line, body. Path and query are used as given (these vectors need no
/// normalization).
fn parse_req(text: &str) -> (String, String, Vec<(String, String)>, Vec<u8>) {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let mut start = lines.next().unwrap().split(' ');
    let method = start.next().unwrap().to_owned();
    let target = start.next().unwrap().to_owned();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    (method, target, headers, body.as_bytes().to_vec())
}

#[test]
fn aws_test_suite_vectors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kms_data/sigv4");
    let date = AmzDate::parse("20150830T123600Z").unwrap();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("req") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = std::fs::read_to_string(path.with_extension("authz"))
            .unwrap_or_else(|_| panic!("{} has no .authz", path.display()));
        let (method, target, headers, body) = parse_req(&text);
        let (uri, query) = target.split_once('?').unwrap_or((&target, ""));
        let token = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-security-token"))
            .map(|(_, v)| v.as_str());
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        let req = SignableRequest {
            method: &method,
            canonical_uri: uri,
            canonical_query: query,
            headers: &pairs,
            payload: &body,
        };
        let scope = Scope {
            region: "us-east-1",
            service: "service",
        };
        let got = sigv4::authorization(&req, &creds(token), &date, scope);
        assert_eq!(got, expected.trim_end(), "{}", path.display());
        count += 1;
    }
    assert!(count >= 6, "only {count} vectors found");
}

#[test]
fn credentials_are_checked_and_hidden() {
    let c = creds(Some("tok"));
    assert_eq!(format!("{c:?}"), "Credentials { .. }");
    for (ak, sk) in [("", "s"), ("AK", ""), ("AK ID", "s"), ("AK", "s\n")] {
        assert!(Credentials::new(ak, Zeroizing::new(sk.into()), None).is_err());
    }
    let long = "A".repeat(sigv4::MAX_ACCESS_KEY_ID_LEN + 1);
    assert!(Credentials::new(&long, Zeroizing::new("s".into()), None).is_err());
    let at = "A".repeat(sigv4::MAX_ACCESS_KEY_ID_LEN);
    assert!(Credentials::new(&at, Zeroizing::new("s".into()), None).is_ok());
}

#[test]
fn amz_date_from_unix() {
    let d = AmzDate::from_unix(1_440_938_160).unwrap();
    assert_eq!(d.date_time(), "20150830T123600Z");
    assert_eq!(d.date(), "20150830");
    assert!(AmzDate::parse("2015-08-30T12:36:00Z").is_err());
}

fn signer_parts() -> (KmsEndpoint, Credentials, AmzDate) {
    (
        KmsEndpoint {
            host: "kms.eu-central-1.amazonaws.com".into(),
            region: "eu-central-1".into(),
        },
        creds(Some("session-token")),
        AmzDate::from_unix(1_767_225_600).unwrap(),
    )
}

#[test]
fn requests_carry_recipient_and_are_signed() {
    let (endpoint, credentials, date) = signer_parts();
    let signer = Signer {
        endpoint: &endpoint,
        credentials: &credentials,
        date: &date,
    };
    let ctx = BTreeMap::from([("strongroom".to_owned(), "keyring/v1".to_owned())]);
    let doc = [0xd2u8; 100];
    let r = signer
        .generate_data_key("alias/strongroom", &ctx, &doc)
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"KeyId": "alias/strongroom", "KeySpec": "AES_256",
            "EncryptionContext": {"strongroom": "keyring/v1"},
            "Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
                          "AttestationDocument": B64.encode(doc)}})
    );
    let header = |n: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("x-amz-target").unwrap(),
        "TrentService.GenerateDataKey"
    );
    assert_eq!(
        header("content-type").unwrap(),
        "application/x-amz-json-1.1"
    );
    assert_eq!(header("x-amz-security-token").unwrap(), "session-token");
    let dbg = format!("{r:?}");
    assert!(
        !dbg.contains("session-token") && !dbg.contains("Signature="),
        "{dbg}"
    );
    let auth = header("authorization").unwrap();
    assert!(auth.starts_with(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-central-1/kms/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature="
    ));

    let d = signer
        .decrypt("alias/strongroom", &ctx, b"blob", &doc)
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(body["CiphertextBlob"], B64.encode(b"blob"));
    assert_eq!(
        body["Recipient"]["KeyEncryptionAlgorithm"],
        "RSAES_OAEP_SHA_256"
    );
    // Same inputs, same signature; another body, another signature.
    let again = signer
        .decrypt("alias/strongroom", &ctx, b"blob", &doc)
        .unwrap();
    assert_eq!(again, d);
    let other = signer
        .decrypt("alias/strongroom", &ctx, b"blob2", &doc)
        .unwrap();
    assert_ne!(other.headers.last(), d.headers.last());
    // Limits.
    let big = vec![0u8; request::MAX_ATTESTATION_LEN + 1];
    assert_eq!(
        signer.generate_data_key("k", &ctx, &big).err(),
        Some(KmsError::TooLarge)
    );
    let blob = vec![0u8; request::MAX_CIPHERTEXT_BLOB_LEN + 1];
    assert_eq!(
        signer.decrypt("k", &ctx, &blob, &doc).err(),
        Some(KmsError::TooLarge)
    );
    assert_eq!(
        signer.decrypt("", &ctx, b"b", &doc).err(),
        Some(KmsError::TooLarge)
    );
}

#[test]
fn answers_are_parsed_strictly() {
    let ok = br#"{"CiphertextBlob":"AQID","CiphertextForRecipient":"BAUG","KeyId":"arn:aws:kms:eu-central-1:111122223333:key/k","Plaintext":null}"#;
    let out = parse_generate_data_key(200, ok).unwrap();
    assert_eq!(out.ciphertext_blob, [1, 2, 3]);
    assert_eq!(out.ciphertext_for_recipient, [4, 5, 6]);
    let dec = br#"{"CiphertextForRecipient":"BAUG","KeyId":"k","EncryptionAlgorithm":"SYMMETRIC_DEFAULT","KeyMaterialId":"m"}"#;
    assert_eq!(
        parse_decrypt(200, dec).unwrap().ciphertext_for_recipient,
        [4, 5, 6]
    );
    for bad in [
        &br#"{"CiphertextForRecipient":"BAUG","KeyId":"k","Plaintext":"AAAA"}"#[..],
        br#"{"CiphertextForRecipient":"BAUG","KeyId":"k","Extra":1}"#,
        br#"{"CiphertextForRecipient":"BAUG","KeyId":"k","KeyId":"k"}"#,
        br#"{"CiphertextForRecipient":"BA!G","KeyId":"k"}"#,
        br#"{"CiphertextForRecipient":"","KeyId":"k"}"#,
        br#"{"KeyId":"k"}"#,
        br#"{"CiphertextForRecipient":"BAUG","KeyId":"k"} x"#,
        br#"{"CiphertextBlob":"AQID","CiphertextForRecipient":"BAUG","KeyId":"k"}"#,
    ] {
        assert_eq!(
            parse_decrypt(200, bad).err(),
            Some(KmsError::Malformed),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    let huge = vec![b' '; request::MAX_RESPONSE_LEN + 1];
    assert_eq!(parse_decrypt(200, &huge).err(), Some(KmsError::TooLarge));
    let denied = br#"{"__type":"AccessDeniedException","message":"no"}"#;
    let err = parse_decrypt(400, denied).unwrap_err();
    assert!(err.is_access_denied(), "{err:?}");
    let ns = br#"{"__type":"com.amazonaws.kms#InvalidCiphertextException"}"#;
    assert_eq!(
        parse_decrypt(400, ns).err(),
        Some(KmsError::Refused {
            status: 400,
            kind: "InvalidCiphertextException".into()
        })
    );
    assert_eq!(
        parse_decrypt(500, b"<html>").err(),
        Some(KmsError::Refused {
            status: 500,
            kind: "Unknown".into()
        })
    );
}
