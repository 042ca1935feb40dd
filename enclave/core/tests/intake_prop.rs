//! The stable-toolchain twin of the `intake_envelope` fuzz target
//! (enclave/fuzz): arbitrary envelopes never open and never panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use proptest::prelude::*;
use strongroom_enclave_core::intake::{IntakePolicy, Metadata, SealedCredential, open_credential};
use strongroom_enclave_core::ring::{HpkeKeyPair, KeyRing, ResultSigningKey};

fn ring() -> KeyRing {
    KeyRing::with_keys(
        HpkeKeyPair::derive(1, &[7u8; 32]),
        ResultSigningKey::from_scalar(&[9u8; 32]).unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_envelopes_never_open(
        enc in proptest::collection::vec(any::<u8>(), 0..80),
        ct in proptest::collection::vec(any::<u8>(), 0..300),
        valid_point in any::<bool>(),
    ) {
        let ring = ring();
        // Half the cases use a real client's `enc`, so the AEAD tag check runs.
        let honest = common::seal(ring.current().public_sec1(), b"x").0;
        let enc = if valid_point { honest } else { enc };
        // Shapes outside the sealed-credential contract stop there; the
        // rest reach the HPKE open, which refuses them.
        let Ok(env) = SealedCredential::from_aead(ring.current().key_id(), enc, ct) else {
            return Ok(());
        };
        let meta = Metadata { exchange: "binance", label: "main", ttl_seconds: 60 };
        prop_assert!(open_credential(&ring, &env, &meta, 1_800_000_000, &IntakePolicy::default()).is_err());
    }
}
