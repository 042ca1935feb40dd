//! One sample of every message kind, shared by the golden and property tests.
#![allow(dead_code)]

use serde_bytes::ByteBuf;
use strongroom_protocol::messages::*;
use strongroom_protocol::{ErrorCode, RpcError};

pub fn sealed() -> SealedCredential {
    SealedCredential {
        key_id: "v1:0a1b2c3d".into(),
        enc: vec![4; 65],
        ciphertext: vec![0xC7; 48],
    }
}

pub fn metadata() -> CredentialMetadata {
    CredentialMetadata {
        exchange: "binance".into(),
        label: "main".into(),
        ttl_seconds: 3600,
    }
}

const SID: &str = "7f9c2ba4-e88f-4a3c-b1d2-0c5f9e3a8b11";

pub fn requests() -> Vec<(&'static str, Request)> {
    let r = |id, body| Request { id, body };
    vec![
        ("request_health", r(1, RequestBody::Health)),
        (
            "request_attest",
            r(
                2,
                RequestBody::Attest(AttestRequest {
                    nonce: Some(vec![0xAB; 32]),
                }),
            ),
        ),
        (
            "request_open_credential",
            r(
                3,
                RequestBody::OpenCredential(OpenCredentialRequest {
                    session_id: SID.into(),
                    sealed: sealed(),
                    metadata: metadata(),
                }),
            ),
        ),
        (
            "request_compute_aggregates",
            r(
                4,
                RequestBody::ComputeAggregates(ComputeAggregatesRequest {
                    session_id: SID.into(),
                    sealed: sealed(),
                    metadata: metadata(),
                    from_ms: Some(1_700_000_000_000),
                    to_ms: None,
                    symbols: Some(vec!["BTCUSDT".into()]),
                }),
            ),
        ),
        (
            "request_append_log",
            r(
                5,
                RequestBody::AppendLog(AppendLogRequest {
                    leaf: vec![0xD2, 0x84],
                    tree_size: 3,
                    frontier: vec![ByteBuf::from(vec![1; 32]), ByteBuf::from(vec![2; 32])],
                    head: Some(vec![0x84, 0x40]),
                }),
            ),
        ),
        (
            "request_forget",
            r(
                6,
                RequestBody::Forget(ForgetRequest {
                    session_id: SID.into(),
                }),
            ),
        ),
        ("request_key_ring_status", r(7, RequestBody::KeyRingStatus)),
    ]
}

pub fn responses() -> Vec<(&'static str, Response)> {
    let r = |id, body| Response { id, body };
    vec![
        (
            "response_health",
            r(
                1,
                ResponseBody::Health(HealthInfo {
                    phase: Phase::Ready,
                    version: "0.1.0".into(),
                    simulator: true,
                }),
            ),
        ),
        (
            "response_attestation",
            r(
                2,
                ResponseBody::Attestation(AttestationInfo {
                    document: vec![0x84, 0x44],
                    hpke_public_key: vec![4; 65],
                    signing_public_key: vec![4; 65],
                    key_id: "v1:0a1b2c3d".into(),
                    pcr0: vec![0; 48],
                }),
            ),
        ),
        (
            "response_credential_accepted",
            r(
                3,
                ResponseBody::CredentialAccepted(CredentialAccepted {
                    session_id: SID.into(),
                    key_id: "v1:0a1b2c3d".into(),
                    expires_at: 1_767_225_600,
                    resealed: None,
                }),
            ),
        ),
        (
            "response_aggregates",
            r(
                4,
                ResponseBody::Aggregates(AggregatesResult {
                    signed: vec![0x84, 0x43],
                    attestation: vec![0x84, 0x44],
                }),
            ),
        ),
        (
            "response_log_appended",
            r(
                5,
                ResponseBody::LogAppended(LogAppended {
                    leaf_index: 3,
                    tree_size: 4,
                    tree_head: vec![0x84],
                }),
            ),
        ),
        (
            "response_forgotten",
            r(
                6,
                ResponseBody::Forgotten(Forgotten {
                    session_id: SID.into(),
                    was_cached: true,
                }),
            ),
        ),
        (
            "response_key_ring_status",
            r(
                7,
                ResponseBody::KeyRingStatus(KeyRingInfo {
                    phase: Phase::Ready,
                    current_key_id: Some("v1:0a1b2c3d".into()),
                    key_ids: vec!["v1:0a1b2c3d".into()],
                    ring_id: Some(vec![0x11; 16]),
                    ring_version: Some(1),
                }),
            ),
        ),
        (
            "response_error",
            r(
                8,
                ResponseBody::Error(RpcError::new(ErrorCode::UnknownKeyId)),
            ),
        ),
    ]
}

pub fn hellos() -> (ClientHello, ServerHello) {
    (
        ClientHello {
            versions: vec![1],
            agent: "strongroom-host/0.1.0".into(),
        },
        ServerHello::Accept {
            version: 1,
            agent: "strongroom-enclave/0.1.0".into(),
        },
    )
}
