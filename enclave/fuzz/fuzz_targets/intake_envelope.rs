//! Arbitrary envelopes into credential intake: nothing may ever open, and
//! nothing may panic. `cargo +nightly fuzz run intake_envelope`
//!
//! Input layout: byte 0 selects how `enc` is formed —
//!   even: `enc` = the next 65 bytes of input (mostly invalid points,
//!         exercising the KEM decoding),
//!   odd:  `enc` = a fixed VALID point (an honest client's `enc`), so the
//!         rest of the input reaches the AES-256-GCM tag check;
//! the rest is `ciphertext || tag`. The key id is the ring's own, so every
//! input inside the sealed-credential contract reaches the HPKE open.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use strongroom_enclave_core::intake::{IntakePolicy, Metadata, SealedCredential, open_credential};
use strongroom_enclave_core::ring::{HpkeKeyPair, KeyRing, ResultSigningKey};

/// A valid uncompressed P-256 point (the generator): decodes as `enc`.
const VALID_ENC: [u8; 65] = [
    0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
    0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2,
    0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
    0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51,
    0xf5,
];

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        let signing = ResultSigningKey::from_scalar(&[9u8; 32]);
        match signing {
            Some(signing) => KeyRing::with_keys(HpkeKeyPair::derive(1, &[7u8; 32]), signing),
            None => panic!("fixed scalar is valid"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (enc, ciphertext) = if mode % 2 == 0 {
        rest.split_at(rest.len().min(65))
    } else {
        (&VALID_ENC[..], rest)
    };
    let ring = ring();
    // The sealed-credential contract first (as the RPC decoder applies it);
    // what passes it reaches the HPKE open.
    let Ok(envelope) =
        SealedCredential::from_aead(ring.current().key_id(), enc.to_vec(), ciphertext.to_vec())
    else {
        return;
    };
    let metadata = Metadata {
        exchange: "binance",
        label: "main",
        ttl_seconds: 3600,
    };
    let result = open_credential(
        ring,
        &envelope,
        &metadata,
        1_800_000_000,
        &IntakePolicy::default(),
    );
    assert!(result.is_err(), "an arbitrary envelope opened");
});
