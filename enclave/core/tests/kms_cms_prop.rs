//! Arbitrary and mutated `CiphertextForRecipient` bytes never panic the
//! parser, and never parse unless they keep the exact structure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use strongroom_enclave_core::kms::cms::{CmsError, Envelope};

fn real() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/kms_data/aws_kms_ciphertext_for_recipient.ber");
    std::fs::read(path).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Envelope::parse(&bytes);
    }

    #[test]
    fn mutated_kms_answers_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
                                       cut in any::<usize>()) {
        let mut bytes = real();
        for (at, v) in edits {
            let i = at % bytes.len();
            bytes[i] = v;
        }
        let keep = bytes.len() - cut % 4;
        bytes.truncate(keep);
        match Envelope::parse(&bytes) {
            Ok(env) => {
                prop_assert_eq!(env.encrypted_key.len(), 256);
                prop_assert!(env.encrypted_content.len() % 16 == 0);
            }
            Err(e) => prop_assert!(matches!(e, CmsError::Malformed | CmsError::TooLarge)),
        }
    }
}
