//! Arbitrary bytes as a `request_aggregates` answer or a result bundle
//! (`GET /r/{id}`): bounded JSON parse, then the whole result chain. Must
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_verifier::{
    Policy, ResultBundle, TrustRoot, parse_answer, verify_bundle, verify_result,
};

fuzz_target!(|data: &[u8]| {
    let (root, policy) = (TrustRoot::aws_nitro_g1(), Policy::default());
    if let Ok(answer) = parse_answer(data) {
        let _ = verify_result(&answer, &root, &policy);
    }
    if let Ok(bundle) = ResultBundle::parse(data) {
        let _ = verify_bundle(&bundle, &root, &policy);
    }
});
