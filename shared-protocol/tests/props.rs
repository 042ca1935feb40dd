//! Property tests: round trips hold, and no byte string makes a decoder panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use proptest::prelude::*;
use strongroom_protocol::codec::{decode, encode};
use strongroom_protocol::frame::{DEFAULT_MAX_FRAME_LEN, encode_frame, split_frame};
use strongroom_protocol::messages::*;

fn arb_request() -> impl Strategy<Value = Request> {
    let body = prop_oneof![
        Just(RequestBody::Health),
        Just(RequestBody::KeyRingStatus),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..80))
            .prop_map(|nonce| RequestBody::Attest(AttestRequest { nonce })),
        (
            ".{0,40}",
            // Key ids and AEAD outputs inside the sealed-credential contract
            // (only those decode), so every drawn request round-trips.
            "[!-~]{1,20}",
            proptest::collection::vec(any::<u8>(), 17..300),
            any::<u64>()
        )
            .prop_map(|(sid, kid, ct, ttl)| {
                RequestBody::OpenCredential(OpenCredentialRequest {
                    tenant: None,
                    session_id: sid,
                    sealed: SealedCredential::from_aead(&kid, vec![4; 65], ct).unwrap(),
                    metadata: CredentialMetadata {
                        exchange: "binance".into(),
                        label: "x".into(),
                        ttl_seconds: ttl,
                    },
                    check_key: false,
                })
            }),
        ".{0,40}".prop_map(|session_id| RequestBody::Forget(ForgetRequest { session_id })),
    ];
    (any::<u64>(), body).prop_map(|(id, body)| Request { id, body })
}

proptest! {
    #[test]
    fn requests_round_trip(req in arb_request()) {
        let bytes = encode(&req).unwrap();
        prop_assert_eq!(decode::<Request>(&bytes).unwrap(), req);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<Request>(&bytes);
        let _ = decode::<Response>(&bytes);
        let _ = decode::<ClientHello>(&bytes);
        let _ = decode::<ServerHello>(&bytes);
        let _ = split_frame(&bytes, DEFAULT_MAX_FRAME_LEN);
    }

    #[test]
    fn mutated_golden_messages_never_panic(idx in 0usize..7, pos in any::<usize>(), byte in any::<u8>()) {
        let (_, req) = &common::requests()[idx];
        let mut bytes = encode(req).unwrap();
        let at = pos % bytes.len();
        bytes[at] = byte;
        let _ = decode::<Request>(&bytes);
    }

    #[test]
    fn frames_round_trip(body in proptest::collection::vec(any::<u8>(), 1..2048), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut frame = encode_frame(&body, 4096).unwrap();
        frame.extend_from_slice(&tail);
        let (got, rest) = split_frame(&frame, 4096).unwrap().unwrap();
        prop_assert_eq!(got, &body[..]);
        prop_assert_eq!(rest, &tail[..]);
    }
}
