//! Golden bytes: the exact CBOR of one message of every kind. A change here is a
//! wire-format change and needs a protocol version bump. Regenerate deliberately
//! with `STRONGROOM_BLESS=1 cargo test -p strongroom-protocol --test golden`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common as common_messages;

use std::path::PathBuf;

use serde::{Serialize, de::DeserializeOwned};
use strongroom_protocol::codec::{decode, encode};
use strongroom_protocol::messages::{ClientHello, Request, Response, ServerHello};

fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, msg: &T) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.hex"));
    let bytes = encode(msg).unwrap();
    if std::env::var_os("STRONGROOM_BLESS").is_some() {
        std::fs::write(&path, hex::encode(&bytes) + "\n").unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    let golden = hex::decode(golden.trim()).unwrap();
    assert_eq!(
        hex::encode(&bytes),
        hex::encode(&golden),
        "{name}: encoding changed"
    );
    assert_eq!(
        &decode::<T>(&golden).unwrap(),
        msg,
        "{name}: decoding changed"
    );
}

#[test]
fn every_request_kind_matches_its_golden_bytes() {
    for (name, msg) in common_messages::requests() {
        check::<Request>(name, &msg);
    }
}

#[test]
fn every_response_kind_matches_its_golden_bytes() {
    for (name, msg) in common_messages::responses() {
        check::<Response>(name, &msg);
    }
}

#[test]
fn hellos_match_their_golden_bytes() {
    let (client, server) = common_messages::hellos();
    check::<ClientHello>("client_hello", &client);
    check::<ServerHello>("server_hello", &server);
}

#[test]
fn trailing_bytes_and_unknown_fields_are_refused() {
    let (_, msg) = &common_messages::requests()[0];
    let mut bytes = encode(msg).unwrap();
    bytes.push(0);
    assert!(decode::<Request>(&bytes).is_err());
    // {"id": 1, "body": "health", "extra": 0}
    let extra =
        hex::decode("a36269640164626f6479666865616c7468656578747261 00".replace(' ', "")).unwrap();
    assert!(decode::<Request>(&extra).is_err());
}

#[test]
fn an_unknown_error_code_from_a_newer_peer_still_decodes() {
    use strongroom_protocol::ErrorCode;
    // {"code": "brand_new_code", "message": "x"}
    let bytes = serde_cbor::to_vec(&serde_cbor::Value::Map(
        [
            (
                serde_cbor::Value::Text("code".into()),
                serde_cbor::Value::Text("brand_new_code".into()),
            ),
            (
                serde_cbor::Value::Text("message".into()),
                serde_cbor::Value::Text("x".into()),
            ),
        ]
        .into_iter()
        .collect(),
    ))
    .unwrap();
    let err: strongroom_protocol::RpcError = decode(&bytes).unwrap();
    assert_eq!(err.code, ErrorCode::Unknown);
    for code in ErrorCode::ALL {
        let text = serde_cbor::to_vec(code).unwrap();
        let back: ErrorCode = decode(&text).unwrap();
        assert_eq!(back, *code);
        assert_eq!(
            serde_cbor::from_slice::<String>(&text).unwrap(),
            code.as_str()
        );
    }
}
