#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

fn submission(enc_len: usize, ct_len: usize, tag_len: usize, ttl: u64) -> SubmitKey {
    let mut enc = vec![7u8; enc_len];
    if let Some(b) = enc.first_mut() {
        *b = 4;
    }
    SubmitKey {
        key_id: "v1:abc".into(),
        ephemeral_pub: STANDARD.encode(enc),
        ciphertext: STANDARD.encode(vec![1u8; ct_len]),
        tag: STANDARD.encode(vec![2u8; tag_len]),
        metadata: SubmitMetadata {
            exchange: "binance".into(),
            label: "main".into(),
            ttl,
        },
    }
}

#[test]
fn limits_at_and_over() {
    assert!(
        submission(65, MAX_CIPHERTEXT_LEN, 16, 10)
            .validate(10)
            .is_ok()
    );
    let code = |s: SubmitKey| s.validate(10).unwrap_err().code;
    assert_eq!(
        code(submission(65, MAX_CIPHERTEXT_LEN + 1, 16, 10)),
        Code::InvalidLength
    );
    assert_eq!(code(submission(64, 10, 16, 10)), Code::InvalidLength);
    assert_eq!(code(submission(66, 10, 16, 10)), Code::InvalidLength);
    assert_eq!(code(submission(65, 10, 15, 10)), Code::InvalidLength);
    assert_eq!(code(submission(65, 0, 16, 10)), Code::InvalidLength);
    assert_eq!(code(submission(65, 10, 16, 11)), Code::InvalidTtl);
    assert_eq!(code(submission(65, 10, 16, 0)), Code::InvalidTtl);
}

#[test]
fn base64_must_be_standard_padded() {
    assert_eq!(b64("f", "AAE=", 4).unwrap(), vec![0, 1]);
    for bad in ["AAE", "AA-_", "AAE=\n", "@@@@"] {
        assert_eq!(
            b64("f", bad, 4).unwrap_err().code,
            Code::InvalidBase64,
            "{bad}"
        );
    }
}

#[test]
fn unknown_fields_are_named_values_are_not() {
    let e = parse_json::<OwnerRequest>(br#"{"session_id":"x","nonce":"SECRET"}"#).unwrap_err();
    assert_eq!(e.code, Code::InvalidJson);
    assert!(e.message.contains("nonce") && !e.message.contains("SECRET"));
    let e = parse_json::<SubmitMetadata>(br#"{"exchange":"SECRET","label":"x","ttl":"SECRET"}"#)
        .unwrap_err();
    assert!(!e.message.contains("SECRET"), "{}", e.message);
}

#[test]
fn nonce_query() {
    assert_eq!(quote_nonce(None).unwrap(), None);
    assert_eq!(quote_nonce(Some("nonce=AAE%3D")).unwrap(), Some(vec![0, 1]));
    let long = STANDARD.encode([0u8; 65]);
    assert_eq!(
        quote_nonce(Some(&format!("nonce={long}")))
            .unwrap_err()
            .code,
        Code::NonceTooLong
    );
    let ok = STANDARD.encode([0u8; 64]);
    assert!(quote_nonce(Some(&format!("nonce={ok}"))).is_ok());
    assert_eq!(
        quote_nonce(Some("x=1")).unwrap_err().code,
        Code::InvalidField
    );
}

fn aggregates(
    from: Option<&str>,
    to: Option<&str>,
    symbols: Option<Vec<String>>,
) -> RequestAggregates {
    RequestAggregates {
        session_id: "3f1c1f0e-8d7e-4a57-9d2e-1b1f2f3a4b5c".into(),
        from: from.map(Into::into),
        to: to.map(Into::into),
        symbols,
        owner_authorization: None,
    }
}

#[test]
fn aggregates_window_and_symbol_limits() {
    let ok = aggregates(
        Some("2024-01-01T00:00:00Z"),
        Some("2024-01-01T00:00:00.001+00:00"),
        None,
    )
    .validate()
    .unwrap();
    assert_eq!(
        (ok.from_ms, ok.to_ms),
        (Some(1_704_067_200_000), Some(1_704_067_200_001))
    );
    let code = |r: RequestAggregates| r.validate().unwrap_err().code;
    let t = Some("2024-01-01T00:00:00Z");
    assert_eq!(
        code(aggregates(t, t, None)),
        Code::InvalidField,
        "from == to"
    );
    assert_eq!(
        code(aggregates(Some("2024-01-02T00:00:00Z"), t, None)),
        Code::InvalidField
    );
    assert_eq!(
        code(aggregates(Some("1969-12-31T23:59:59Z"), None, None)),
        Code::InvalidField
    );
    let many = |n: usize| Some((0..n).map(|i| format!("S{i}")).collect::<Vec<_>>());
    assert!(aggregates(None, None, many(MAX_SYMBOLS)).validate().is_ok());
    assert_eq!(
        code(aggregates(None, None, many(MAX_SYMBOLS + 1))),
        Code::InvalidLength
    );
    assert_eq!(code(aggregates(None, None, many(0))), Code::InvalidLength);
    assert!(
        aggregates(None, None, Some(vec!["A".repeat(32)]))
            .validate()
            .is_ok()
    );
    assert_eq!(
        code(aggregates(None, None, Some(vec!["A".repeat(33)]))),
        Code::InvalidLength
    );
    for bad in ["btcusdt", "BTC-USDT", "BTC USDT", "BTCÜ"] {
        assert_eq!(
            code(aggregates(None, None, Some(vec![bad.into()]))),
            Code::InvalidField,
            "{bad}"
        );
    }
}

#[test]
fn owner_authorization_is_bounded_base64() {
    let mut r = aggregates(None, None, None);
    r.owner_authorization = Some(STANDARD.encode([1u8; 100]));
    assert_eq!(
        r.validate().unwrap().owner_authorization,
        Some(vec![1u8; 100])
    );
    let mut r = aggregates(None, None, None);
    r.owner_authorization = Some("not base64!".into());
    assert_eq!(r.validate().unwrap_err().code, Code::InvalidBase64);
    let over = STANDARD.encode(vec![0u8; MAX_OWNER_AUTHORIZATION_LEN + 1]);
    let mut r = aggregates(None, None, None);
    r.owner_authorization = Some(over.clone());
    assert_eq!(r.validate().unwrap_err().code, Code::InvalidLength);
    let at = STANDARD.encode(vec![0u8; MAX_OWNER_AUTHORIZATION_LEN]);
    let body = format!(
        r#"{{"session_id":"3f1c1f0e-8d7e-4a57-9d2e-1b1f2f3a4b5c","owner_authorization":"{at}"}}"#
    );
    let (_, a) = parse_json::<OwnerRequest>(body.as_bytes())
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(a.map(|a| a.len()), Some(MAX_OWNER_AUTHORIZATION_LEN));
    let body = format!(
        r#"{{"session_id":"3f1c1f0e-8d7e-4a57-9d2e-1b1f2f3a4b5c","owner_authorization":"{over}"}}"#
    );
    let e = parse_json::<OwnerRequest>(body.as_bytes())
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(e.code, Code::InvalidLength);
}
