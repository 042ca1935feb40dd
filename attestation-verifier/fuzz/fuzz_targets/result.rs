//! Arbitrary bytes as a `request_aggregates` answer: bounded JSON parse,
//! then the whole result chain. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_verifier::{Policy, TrustRoot, parse_answer, verify_result};

fuzz_target!(|data: &[u8]| {
    if let Ok(answer) = parse_answer(data) {
        let _ = verify_result(&answer, &TrustRoot::aws_nitro_g1(), &Policy::default());
    }
});
