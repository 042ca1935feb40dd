//! Every decoder of untrusted input: JSON bodies of each route, their
//! validation, the query strings, and the COSE_Sign1 reader the host applies to
//! enclave answers. None may panic.
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
    let _ = strongroom_host::tlog::cose::sign1_payload(data);
});
