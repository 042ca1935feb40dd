//! Arbitrary bytes through `verify` under the AWS root, at a time when the
//! real seed documents in corpus/verify are valid (so mutations reach the
//! chain and signature code): must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};
use strongroom_verifier::{Policy, TrustRoot, verify};

fuzz_target!(|data: &[u8]| {
    let policy = Policy::default().with_allow_debug(true);
    // 2022-10-13T09:00:00Z: inside the validity of corpus document 02.
    let now = UNIX_EPOCH + Duration::from_secs(1_665_651_600);
    let _ = verify(data, &TrustRoot::aws_nitro_g1(), now, &policy);
    let _ = strongroom_verifier::inspect_unverified(data);
});
