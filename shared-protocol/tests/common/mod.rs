//! One sample of every message kind, shared by the golden and property tests.
#![allow(dead_code)]

use serde_bytes::ByteBuf;
use strongroom_protocol::messages::*;
use strongroom_protocol::{ErrorCode, RpcError};

pub fn sealed() -> SealedCredential {
    SealedCredential::from_aead("v1:0a1b2c3d", vec![4; 65], vec![0xC7; 48]).unwrap()
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
                    tenant: None,
                    session_id: SID.into(),
                    sealed: sealed(),
                    metadata: metadata(),
                check_key: false,
}),
            ),
        ),
        (
            "request_compute_aggregates",
            r(
                4,
                RequestBody::ComputeAggregates(ComputeAggregatesRequest {
                    tenant: None,
                    session_id: SID.into(),
                    sealed: sealed(),
                    metadata: metadata(),
                    from_ms: Some(1_700_000_000_000),
                    to_ms: None,
                    symbols: Some(vec!["BTCUSDT".into()]),
                    owner_authorization: None,
                    previous: Vec::new(),
                history: Vec::new(), job: None,
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
                    checkpoint: Some("strongroom.test/log/00\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— strongroom.test/log/00 AAAAAA==\n".into()),
                }),
            ),
        ),
        (
            "request_cancel",
            r(15, RequestBody::Cancel(CancelRequest { id: 4 })),
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
        (
            "request_new_key_ring",
            r(
                8,
                RequestBody::NewKeyRing(NewKeyRingRequest {
                    kms: Some(kms_access()),
                }),
            ),
        ),
        (
            "request_unseal_key_ring",
            r(
                9,
                RequestBody::UnsealKeyRing(UnsealKeyRingRequest {
                    sealed: sealed_ring(),
                    kms: kms_access(),
                }),
            ),
        ),
        (
            "request_reload_key_ring",
            r(10, RequestBody::ReloadKeyRing(sealed_ring())),
        ),
        ("request_sync_challenge", r(11, RequestBody::SyncChallenge)),
        (
            "request_sync_request",
            r(
                12,
                RequestBody::SyncRequest(SyncRequestRequest {
                    challenge: vec![0x5C; 32],
                }),
            ),
        ),
        (
            "request_sync_export",
            r(
                13,
                RequestBody::SyncExport(SyncExportRequest {
                    document: vec![0x84, 0x44],
                }),
            ),
        ),
        (
            "request_sync_import",
            r(
                14,
                RequestBody::SyncImport(SyncImportRequest {
                    exported: sync_exported(),
                }),
            ),
        ),
        ("request_add_key_version", r(15, RequestBody::AddKeyVersion)),
        (
            "request_reseal_credentials",
            r(
                16,
                RequestBody::ResealCredentials(ResealRequest {
                    items: vec![ResealItem {
                        session_id: SID.into(),
                        sealed: sealed(),
                        metadata: metadata(),
                    }],
                }),
            ),
        ),
        (
            "request_retire_key_versions",
            r(
                17,
                RequestBody::RetireKeyVersions(RetireRequest {
                    key_ids: vec!["v1:0a1b2c3d".into()],
                }),
            ),
        ),
        (
            "request_open_credential_check_key",
            r(
                23,
                RequestBody::OpenCredential(OpenCredentialRequest {
                    tenant: Some("7d0e2c54-2f0c-4c9a-9a43-5b7f3c1e9a01".into()),
                    session_id: SID.into(),
                    sealed: sealed(),
                    metadata: metadata(),
                    check_key: true,
                }),
            ),
        ),
        (
            "request_compute_aggregates_job",
            r(
                24,
                RequestBody::ComputeAggregates(ComputeAggregatesRequest {
                    tenant: None,
                    session_id: SID.into(),
                    sealed: sealed(),
                    metadata: metadata(),
                    from_ms: None,
                    to_ms: None,
                    symbols: None,
                    owner_authorization: None,
                    previous: Vec::new(),
                    history: vec![SealedHistory {
                        account: "ab".repeat(32),
                        sealed: vec![0xA1; 40],
                    }],
                    job: Some("4f1c2b8e-6d1a-4f5b-9c3e-2a7d8e9f0b1c".into()),
                }),
            ),
        ),
    ]
}

pub fn kms_access() -> KmsAccess {
    KmsAccess {
        region: "eu-central-1".into(),
        endpoint: "kms.eu-central-1.amazonaws.com".into(),
        key_id: "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            .into(),
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: None,
    }
}

pub fn sealed_ring() -> SealedKeyRing {
    SealedKeyRing {
        ring_id: vec![0x11; 16],
        ring_version: 3,
        kms_blob: Some(vec![0x01, 0x02, 0x03]),
        nonce: vec![0x22; 12],
        ciphertext: vec![0x33; 80],
        key_ids: vec!["v1:0a1b2c3d".into(), "v2:4e5f6a7b".into()],
        current_key_id: "v2:4e5f6a7b".into(),
        signing_public_key: vec![4; 65],
    }
}

pub fn sync_exported() -> SyncExported {
    SyncExported {
        document: vec![0x84, 0x45],
        enc: vec![4; 65],
        ciphertext: vec![0x44; 64],
    }
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
                    log_vkey: "strongroom.test/log/00+0a1b2c3d+AQ==".into(),
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
                    account: None,
                }),
            ),
        ),
        (
            "response_credential_accepted_resealed",
            r(
                14,
                ResponseBody::CredentialAccepted(CredentialAccepted {
                    session_id: SID.into(),
                    key_id: "v1:0a1b2c3d".into(),
                    expires_at: 1_767_225_600,
                    resealed: Some(
                        SealedCredential::from_aead("v2:4e5f6a7b", vec![4; 65], vec![0xC8; 48])
                            .unwrap(),
                    ),
                    account: None,
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
                    history: Vec::new(),
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
                    checkpoint:
                        "strongroom.test/log/00\n4\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
                            .into(),
                    witness_quorum: 2,
                }),
            ),
        ),
        (
            "response_cancelled",
            r(
                15,
                ResponseBody::Cancelled(Cancelled {
                    id: 4,
                    running: true,
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
            "response_key_ring_sealed",
            r(9, ResponseBody::KeyRingSealed(sealed_ring())),
        ),
        (
            "response_sync_challenge",
            r(
                10,
                ResponseBody::SyncChallenge(SyncChallengeInfo {
                    nonce: vec![0x5C; 32],
                }),
            ),
        ),
        (
            "response_sync_request_document",
            r(
                11,
                ResponseBody::SyncRequestDocument(SyncRequestDocument {
                    document: vec![0x84, 0x44],
                }),
            ),
        ),
        (
            "response_sync_exported",
            r(12, ResponseBody::SyncExported(sync_exported())),
        ),
        (
            "response_resealed",
            r(
                13,
                ResponseBody::Resealed(ResealResult {
                    items: vec![
                        ResealOutcome {
                            session_id: SID.into(),
                            sealed: Some(sealed()),
                            error: None,
                        },
                        ResealOutcome {
                            session_id: "0b9d3c1e-2f4a-4b5c-8d6e-7f8091a2b3c4".into(),
                            sealed: None,
                            error: Some(RpcError::new(ErrorCode::UnknownKeyId)),
                        },
                    ],
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
        (
            "response_error_retry_after",
            r(
                9,
                ResponseBody::Error(RpcError::new(ErrorCode::ExchangeBudget).with_retry_after(42)),
            ),
        ),
        (
            "response_credential_accepted_account",
            r(
                23,
                ResponseBody::CredentialAccepted(CredentialAccepted {
                    session_id: SID.into(),
                    key_id: "v1:0a1b2c3d".into(),
                    expires_at: 1_767_225_600,
                    resealed: None,
                    account: Some("ab".repeat(32)),
                }),
            ),
        ),
        (
            "response_aggregates_history",
            r(
                24,
                ResponseBody::Aggregates(AggregatesResult {
                    signed: vec![0x84, 0x43],
                    attestation: vec![0x84, 0x44],
                    history: vec![SealedHistory {
                        account: "ab".repeat(32),
                        sealed: vec![0xA2; 40],
                    }],
                }),
            ),
        ),
        (
            "response_pending",
            r(
                24,
                ResponseBody::Pending(ComputePending {
                    account: "ab".repeat(32),
                    history: vec![SealedHistory {
                        account: "ab".repeat(32),
                        sealed: vec![0xA3; 40],
                    }],
                    symbols_done: 120,
                    symbols_total: 321,
                    weight_used: 5_380,
                    retry_after_s: 17,
                }),
            ),
        ),
    ]
}

pub fn hellos() -> (ClientHello, ServerHello) {
    (
        ClientHello {
            versions: vec![PROTOCOL_VERSION],
            agent: "strongroom-host/0.1.0".into(),
        },
        ServerHello::Accept {
            version: PROTOCOL_VERSION,
            agent: "strongroom-enclave/0.1.0".into(),
        },
    )
}
