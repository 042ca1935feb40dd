//! Arbitrary `user_data` through the strict key-binding decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = strongroom_verifier::KeyBinding::from_user_data(data);
    let _ = strongroom_verifier::cbor::decode(data);
});
