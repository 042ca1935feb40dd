//! Arbitrary bytes into the signed-payload decoders (aggregate payload, tree
//! head) and the egress preamble: nothing panics, and whatever decodes
//! re-encodes to the same bytes (one encoding per payload).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_protocol::aggregates::AggregatePayload;
use strongroom_protocol::codec::decode;
use strongroom_protocol::egress::{EgressOpen, EgressReply};
use strongroom_protocol::tlog::TreeHead;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = AggregatePayload::from_cbor(data) {
        assert_eq!(p.to_cbor().expect("re-encodes"), data);
    }
    if let Ok(h) = TreeHead::from_cbor(data) {
        let again = h.to_cbor().expect("re-encodes");
        assert_eq!(TreeHead::from_cbor(&again).expect("re-decodes"), h);
    }
    let _ = decode::<EgressOpen>(data);
    let _ = decode::<EgressReply>(data);
});
