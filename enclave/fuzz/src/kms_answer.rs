//! `kms::request::parse_generate_data_key` and `parse_decrypt`: KMS's JSON
//! answers, as they come back through the host's proxy. Byte 0 picks the
//! HTTP status (even: 200; odd: 400 + byte 1), the rest is the body. Never
//! panics; only a 200 within the size limit parses; whatever parses is
//! within every documented bound.

use strongroom_enclave_core::kms::cms::MAX_ENVELOPE_LEN;
use strongroom_enclave_core::kms::request::{
    MAX_CIPHERTEXT_BLOB_LEN, MAX_KEY_ID_LEN, MAX_RESPONSE_LEN, parse_decrypt,
    parse_generate_data_key,
};

/// One input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (status, body) = if mode % 2 == 0 {
        (200, rest)
    } else {
        let (s, body) = rest.split_first().unwrap_or((&0, &[]));
        (400 + u16::from(*s), body)
    };
    let generated = parse_generate_data_key(status, body);
    let decrypted = parse_decrypt(status, body);
    if status != 200 || body.len() > MAX_RESPONSE_LEN {
        assert!(generated.is_err() && decrypted.is_err(), "a refusal parsed");
    }
    if let Ok(g) = generated {
        assert!((1..=MAX_CIPHERTEXT_BLOB_LEN).contains(&g.ciphertext_blob.len()));
        assert!((1..=MAX_ENVELOPE_LEN).contains(&g.ciphertext_for_recipient.len()));
        assert!((1..=MAX_KEY_ID_LEN).contains(&g.key_id.len()));
    }
    if let Ok(d) = decrypted {
        assert!((1..=MAX_ENVELOPE_LEN).contains(&d.ciphertext_for_recipient.len()));
        assert!((1..=MAX_KEY_ID_LEN).contains(&d.key_id.len()));
    }
}
