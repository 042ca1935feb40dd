//! A dev-root quote answer with an HPKE key and a key binding.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::devchain::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hpke::{Kem as _, Serializable};
use strongroom_verifier::QuoteResponse;
use strongroom_verifier::seal::Kem;

pub struct Fixture {
    pub pki: DevPki,
    pub hpke_sk: <Kem as hpke::Kem>::PrivateKey,
    pub quote: QuoteResponse,
}

pub fn fixture() -> Fixture {
    let pki = DevPki::new();
    let (hpke_sk, hpke_pk) = Kem::derive_keypair(&[3; 32]);
    let sign = p256::ecdsa::SigningKey::from_slice(&[5; 32]).unwrap();
    let sign_pub = sign
        .verifying_key()
        .to_sec1_point(false)
        .as_bytes()
        .to_vec();
    let fields = DocFields {
        public_key: Some(hpke_pk.to_bytes().to_vec()),
        user_data: Some(binding(&sign_pub, "v1:2026")),
        nonce: Some(b"challenge".to_vec()),
        pcr_fill: 0xaa,
        indefinite_map: false,
    };
    let doc = document(&pki, &fields);
    let quote = QuoteResponse {
        quote: STANDARD.encode(&doc),
        enclave_pubkey: STANDARD.encode(hpke_pk.to_bytes()),
        signing_pubkey: STANDARD.encode(&sign_pub),
        key_id: "v1:2026".into(),
        image_hash: hex::encode([0xaa; 48]),
        log_vkey: None,
    };
    Fixture {
        pki,
        hpke_sk,
        quote,
    }
}
