#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn enc() -> Vec<u8> {
    let mut e = vec![0x04];
    e.extend_from_slice(&[7; ENC_LEN - 1]);
    e
}

#[test]
fn join_and_split_are_inverse() {
    let ct = vec![1u8; 100];
    let tag = [2u8; TAG_LEN];
    let s = SealedCredential::from_parts("v1:abc", &enc(), &ct, &tag).unwrap();
    assert_eq!(s.ciphertext(), &ct[..]);
    assert_eq!(s.tag(), &tag[..]);
    assert_eq!(s.aead().len(), ct.len() + TAG_LEN);
    let stored = s.to_stored();
    assert_eq!(&stored[..ENC_LEN], &enc()[..]);
    let back = SealedCredential::from_stored("v1:abc", &stored).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.id(), s.id());
    let mut other = stored.clone();
    other[ENC_LEN] ^= 1;
    assert_ne!(
        SealedCredential::from_stored("v1:abc", &other)
            .unwrap()
            .id(),
        s.id()
    );
}

#[test]
fn ciphertext_bounds_at_the_limit_and_one_over() {
    let tag = [0u8; TAG_LEN];
    for (len, ok) in [
        (0, false),
        (1, true),
        (MAX_CIPHERTEXT_LEN, true),
        (MAX_CIPHERTEXT_LEN + 1, false),
    ] {
        let r = SealedCredential::from_parts("k", &enc(), &vec![9; len], &tag);
        assert_eq!(r.is_ok(), ok, "ciphertext of {len} bytes");
        if !ok {
            assert_eq!(r.unwrap_err(), ContractError::Length(Field::Ciphertext));
        }
        let stored_len = ENC_LEN + len + TAG_LEN;
        let r = SealedCredential::from_stored("k", &vec![4; stored_len]);
        assert_eq!(r.is_ok(), ok, "stored form of {stored_len} bytes");
    }
    for tag_len in [0, TAG_LEN - 1, TAG_LEN + 1] {
        let r = SealedCredential::from_parts("k", &enc(), &[1], &vec![0; tag_len]);
        assert_eq!(r.unwrap_err(), ContractError::Length(Field::Tag));
    }
}

#[test]
fn enc_must_be_an_uncompressed_point_of_65_bytes() {
    let tag = [0u8; TAG_LEN];
    for bad in [vec![4u8; 64], vec![4u8; 66], Vec::new()] {
        let r = SealedCredential::from_parts("k", &bad, &[1], &tag);
        assert_eq!(r.unwrap_err(), ContractError::Length(Field::Enc));
    }
    let mut compressed = enc();
    compressed[0] = 0x02;
    let r = SealedCredential::from_parts("k", &compressed, &[1], &tag);
    assert_eq!(r.unwrap_err(), ContractError::Characters(Field::Enc));
}

#[test]
fn names_labels_secrets_and_key_ids() {
    assert!(check_label("main").is_ok());
    assert!(check_label("my_main-2.x").is_ok());
    assert_eq!(
        check_label("my main"),
        Err(ContractError::Characters(Field::Label))
    );
    assert_eq!(check_label(""), Err(ContractError::Length(Field::Label)));
    assert!(check_label(&"a".repeat(MAX_LABEL_LEN)).is_ok());
    assert_eq!(
        check_label(&"a".repeat(MAX_LABEL_LEN + 1)),
        Err(ContractError::Length(Field::Label))
    );
    assert!(check_exchange(&"b".repeat(MAX_EXCHANGE_LEN)).is_ok());
    assert!(check_exchange(&"b".repeat(MAX_EXCHANGE_LEN + 1)).is_err());
    assert_eq!(
        check_exchange("bin/ance"),
        Err(ContractError::Characters(Field::Exchange))
    );
    assert!(check_secret(Field::ApiSecret, &"s".repeat(MAX_SECRET_LEN)).is_ok());
    assert_eq!(
        check_secret(Field::ApiSecret, &"s".repeat(MAX_SECRET_LEN + 1)),
        Err(ContractError::Length(Field::ApiSecret))
    );
    assert!(check_secret(Field::ApiKey, "with space and \"quotes\" \\").is_ok());
    assert_eq!(
        check_secret(Field::ApiKey, "tab\there"),
        Err(ContractError::Characters(Field::ApiKey))
    );
    assert_eq!(
        check_secret(Field::ApiKey, "é"),
        Err(ContractError::Characters(Field::ApiKey))
    );
    assert!(check_key_id(&"k".repeat(MAX_KEY_ID_LEN)).is_ok());
    assert!(check_key_id(&"k".repeat(MAX_KEY_ID_LEN + 1)).is_err());
    assert!(check_key_id("v1 x").is_err());
}

/// The errors name the field and never the value.
#[test]
fn errors_do_not_echo_values() {
    let e = check_secret(Field::ApiSecret, "\u{1}SECRETVALUE").unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("api_secret") && !text.contains("SECRETVALUE"),
        "{text}"
    );
}

/// The largest plaintext the rules allow fits the ciphertext limit.
#[test]
fn worst_case_plaintext_fits() {
    #[derive(serde::Serialize)]
    struct P<'a> {
        exchange: &'a str,
        api_key: &'a str,
        api_secret: &'a str,
        label: &'a str,
        not_after: u64,
    }
    let secret = "\"\\".repeat(MAX_SECRET_LEN / 2);
    check_secret(Field::ApiKey, &secret).unwrap();
    let json = serde_json::to_vec(&P {
        exchange: &"e".repeat(MAX_EXCHANGE_LEN),
        api_key: &secret,
        api_secret: &secret,
        label: &"l".repeat(MAX_LABEL_LEN),
        not_after: u64::MAX,
    })
    .unwrap();
    assert!(json.len() <= MAX_PLAINTEXT_JSON_V1, "{}", json.len());
    assert!(json.len() <= MAX_CIPHERTEXT_LEN);
}

/// The RPC form is the protocol-v2 map; decoding checks the contract and
/// refuses unknown fields.
#[test]
fn rpc_form() {
    let s = SealedCredential::from_parts("v1:abc", &enc(), &[5; 3], &[6; TAG_LEN]).unwrap();
    let bytes = serde_cbor::to_vec(&s).unwrap();
    let back: SealedCredential = serde_cbor::from_slice(&bytes).unwrap();
    assert_eq!(back, s);
    #[derive(serde::Serialize)]
    struct Raw<'a> {
        key_id: &'a str,
        #[serde(with = "serde_bytes")]
        enc: &'a [u8],
        #[serde(with = "serde_bytes")]
        ciphertext: &'a [u8],
    }
    let short = serde_cbor::to_vec(&Raw {
        key_id: "k",
        enc: &enc(),
        ciphertext: &[1; TAG_LEN],
    })
    .unwrap();
    assert!(serde_cbor::from_slice::<SealedCredential>(&short).is_err());
    let debug = format!("{s:?}");
    assert!(
        debug.contains("v1:abc") && !debug.contains("[5, 5, 5"),
        "{debug}"
    );
}
