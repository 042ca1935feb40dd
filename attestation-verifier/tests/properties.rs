//! Property tests: hostile bytes never panic and never verify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use proptest::prelude::*;
use strongroom_verifier::{Policy, TrustRoot, verify};

fn permissive() -> Policy {
    Policy::default().with_allow_debug(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..20_000)) {
        let _ = verify(&bytes, &TrustRoot::aws_nitro_g1(), at_ms(1_665_651_482_136), &permissive());
        let _ = strongroom_verifier::cbor::decode(&bytes);
        let _ = strongroom_verifier::KeyBinding::from_user_data(&bytes);
    }

    #[test]
    fn cbor_shaped_bytes_never_panic(
        head in prop::sample::select(vec![0x84u8, 0xd2, 0xa9, 0xbf, 0x9f, 0x5b, 0x7b, 0xfb]),
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut input = vec![head];
        input.extend(bytes);
        let _ = verify(&input, &TrustRoot::aws_nitro_g1(), at_ms(1_665_651_482_136), &permissive());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_single_byte_change_of_a_real_document_fails(
        which in 0usize..9,
        pos in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let docs = nitro_documents();
        let (_, doc) = &docs[which];
        let when = doc_time(doc);
        let i = pos.index(doc.len());
        prop_assume!(doc[i] != value);
        let mut bad = doc.clone();
        bad[i] = value;
        prop_assert!(verify(&bad, &TrustRoot::aws_nitro_g1(), when, &permissive()).is_err());
    }

    #[test]
    fn truncation_or_insertion_fails(which in 0usize..9, pos in any::<prop::sample::Index>(), value in any::<u8>()) {
        let docs = nitro_documents();
        let (_, doc) = &docs[which];
        let when = doc_time(doc);
        let i = pos.index(doc.len());
        let mut inserted = doc.clone();
        inserted.insert(i, value);
        prop_assert!(verify(&inserted, &TrustRoot::aws_nitro_g1(), when, &permissive()).is_err());
        let mut removed = doc.clone();
        removed.remove(i);
        prop_assert!(verify(&removed, &TrustRoot::aws_nitro_g1(), when, &permissive()).is_err());
    }
}
