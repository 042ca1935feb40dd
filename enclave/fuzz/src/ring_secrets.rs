//! `KeyRing::import_secrets`: the CBOR ring secrets (what an opened sealed
//! ring or an imported key sync decodes). Arbitrary bytes never panic; input
//! over the maximum is `TooLarge`; whatever imports re-exports canonically
//! (export ∘ import is a fixed point after one round) and keeps its identity.

use strongroom_enclave_core::ring::KeyRing;
use strongroom_enclave_core::ring::{MAX_RING_SECRETS_LEN, RingError};

/// One input.
pub fn run(data: &[u8]) {
    let ring = match KeyRing::import_secrets(data) {
        Ok(ring) => ring,
        Err(e) => {
            if data.len() > MAX_RING_SECRETS_LEN {
                assert_eq!(e, RingError::TooLarge, "oversized input must be TooLarge");
            }
            return;
        }
    };
    assert!(
        data.len() <= MAX_RING_SECRETS_LEN,
        "oversized secrets imported"
    );
    let once = ring.export_secrets().expect("an imported ring exports");
    let again = KeyRing::import_secrets(&once).expect("an exported ring imports");
    let twice = again.export_secrets().expect("a re-imported ring exports");
    assert_eq!(&once[..], &twice[..], "export is not canonical");
    assert_eq!(again.ring_id(), ring.ring_id());
    assert_eq!(again.ring_version(), ring.ring_version());
    assert_eq!(again.key_ids(), ring.key_ids());
    assert_eq!(again.current().key_id(), ring.current().key_id());
    assert_eq!(again.kms_blob(), ring.kms_blob());
    assert!(ring.key_ids().contains(&ring.current().key_id().to_owned()));
    assert!(ring.ring_version() >= 1);
}
