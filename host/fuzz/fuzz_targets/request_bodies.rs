//! Every decoder of untrusted input: JSON bodies of each route, their
//! validation, the query strings, the COSE_Sign1 reader the host applies to
//! enclave answers, and the owner-action check of `POST /enclave/publish`.
//! None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_host::http::validate::{
    OwnerRequest, RequestAggregates, SubmitKey, parse_json, query_u64, quote_nonce,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = parse_json::<SubmitKey>(data) {
        let _ = s.validate(604_800);
    }
    if let Ok(r) = parse_json::<RequestAggregates>(data) {
        let _ = r.validate();
    }
    if let Ok(r) = parse_json::<OwnerRequest>(data) {
        let _ = r.validate();
    }
    if let Ok(q) = std::str::from_utf8(data) {
        let _ = quote_nonce(Some(q));
        let _ = query_u64(Some(q), ["leaf_index", "tree_size"]);
    }
    let _ = strongroom_formats::cose::Sign1::payload_of(data);
    if let Ok(v) = strongroom_verifier::owner::verify_action(data, None) {
        let _ = v.check(v.action.action, &v.action.credential, 0);
    }
});
