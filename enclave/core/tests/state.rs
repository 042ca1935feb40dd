//! The I/O-free request processing: phases, attestation binding, sessions,
//! and that no secret type's Debug shows key material.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{FakeNsm, credential_json, seal};
use strongroom_enclave_core::clock::FixedClock;
use strongroom_enclave_core::intake::{Credential, IntakePolicy};
use strongroom_enclave_core::ring::{HpkeKeyPair, KeyRing, ResultSigningKey};
use strongroom_enclave_core::state::Enclave;
use strongroom_protocol::ErrorCode;
use strongroom_protocol::messages::{
    AttestRequest, CredentialMetadata, ForgetRequest, OpenCredentialRequest, Phase, RequestBody,
    ResponseBody, SealedCredential,
};

const NOW_MS: u64 = 1_800_000_000_000;
const NOW: u64 = NOW_MS / 1000;

fn enclave() -> (Arc<FakeNsm>, Arc<FixedClock>, Enclave) {
    let nsm = Arc::new(FakeNsm::new(11));
    let clock = Arc::new(FixedClock::new(NOW_MS));
    let e = Enclave::new(nsm.clone(), clock.clone(), IntakePolicy::default()).unwrap();
    (nsm, clock, e)
}

fn error_code(body: &ResponseBody) -> ErrorCode {
    match body {
        ResponseBody::Error(e) => e.code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn open_request(e: &Enclave, session: &str, not_after: u64, ttl: u64) -> RequestBody {
    let (key_id, public) = e
        .with_key_ring(|r| (r.current().key_id().to_owned(), *r.current().public_sec1()))
        .unwrap();
    let (enc, ciphertext) = seal(&public, &credential_json("binance", "main", not_after));
    RequestBody::OpenCredential(OpenCredentialRequest {
        tenant: None,
        session_id: session.to_owned(),
        sealed: SealedCredential::from_aead(&key_id, enc, ciphertext).unwrap(),
        metadata: CredentialMetadata {
            exchange: "binance".into(),
            label: "main".into(),
            ttl_seconds: ttl,
        },
        check_key: false,
    })
}

#[test]
fn booting_refuses_all_but_health_status_forget() {
    let (_, _, e) = enclave();
    assert_eq!(e.phase(), Phase::Booting);
    let refused = [
        RequestBody::Attest(AttestRequest { nonce: None }),
        RequestBody::ComputeAggregates(return_compute()),
    ];
    for req in refused {
        assert_eq!(error_code(&e.handle(req)), ErrorCode::NotReady);
    }
    match e.handle(RequestBody::Health) {
        ResponseBody::Health(h) => {
            assert_eq!(h.phase, Phase::Booting);
            assert!(!h.simulator);
            assert!(h.version.starts_with("strongroom-enclave/"));
        }
        other => panic!("{other:?}"),
    }
    match e.handle(RequestBody::KeyRingStatus) {
        ResponseBody::KeyRingStatus(k) => {
            assert_eq!(k.phase, Phase::Booting);
            assert_eq!(k.current_key_id, None);
        }
        other => panic!("{other:?}"),
    }
    common::new_key_ring(&e);
    assert_eq!(e.phase(), Phase::Ready);
    assert!(matches!(
        e.handle(RequestBody::Attest(AttestRequest { nonce: None })),
        ResponseBody::Attestation(_)
    ));
}

fn return_compute() -> strongroom_protocol::messages::ComputeAggregatesRequest {
    strongroom_protocol::messages::ComputeAggregatesRequest {
        tenant: None,
        session_id: "s".into(),
        sealed: SealedCredential::from_aead("k", vec![4; 65], vec![0; 17]).unwrap(),
        metadata: CredentialMetadata {
            exchange: "binance".into(),
            label: "main".into(),
            ttl_seconds: 1,
        },
        from_ms: None,
        to_ms: None,
        symbols: None,
        owner_authorization: None,
        previous: Vec::new(),
        history: Vec::new(),
        job: None,
    }
}

#[test]
fn attestation_binds_keys_and_nonce() {
    let (nsm, _, e) = enclave();
    common::new_key_ring(&e);
    let nonce = vec![0xabu8; 64];
    let att = match e.handle(RequestBody::Attest(AttestRequest {
        nonce: Some(nonce.clone()),
    })) {
        ResponseBody::Attestation(a) => a,
        other => panic!("{other:?}"),
    };
    let (pk, ud, n) = nsm.last_attest.lock().unwrap().clone().unwrap();
    assert_eq!(pk.unwrap(), att.hpke_public_key);
    assert_eq!(att.hpke_public_key.len(), 65);
    assert_eq!(att.signing_public_key.len(), 65);
    assert_eq!(n.unwrap(), nonce);
    assert_eq!(att.pcr0, vec![0u8; 48]);
    let ud: serde_cbor::Value = serde_cbor::from_slice(&ud.unwrap()).unwrap();
    let serde_cbor::Value::Map(map) = ud else {
        panic!("user_data not a map")
    };
    assert_eq!(map.len(), 3);
    let note = &map[&serde_cbor::Value::Text("note".into())];
    let log_key = strongroom_formats::c2sp::note::VerifierKey::parse(&att.log_vkey).unwrap();
    assert_eq!(
        note,
        &serde_cbor::Value::Bytes(log_key.public_key().as_bytes().to_vec())
    );
    assert_eq!(
        map[&serde_cbor::Value::Text("kid".into())],
        serde_cbor::Value::Text(att.key_id.clone())
    );
    assert_eq!(
        map[&serde_cbor::Value::Text("sign".into())],
        serde_cbor::Value::Bytes(att.signing_public_key.clone())
    );
    // 65-byte nonce: refused.
    let resp = e.handle(RequestBody::Attest(AttestRequest {
        nonce: Some(vec![0; 65]),
    }));
    assert_eq!(error_code(&resp), ErrorCode::NonceTooLong);
}

#[test]
fn sessions_open_forget_and_expire() {
    let (_, clock, e) = enclave();
    common::new_key_ring(&e);
    let resp = e.handle(open_request(&e, "s-1", NOW + 7200, 3600));
    let ResponseBody::CredentialAccepted(acc) = resp else {
        panic!("{resp:?}")
    };
    assert_eq!(acc.expires_at, NOW + 3600);
    assert_eq!(acc.session_id, "s-1");
    let cred = e.credential("s-1").unwrap();
    assert_eq!(cred.api_key(), "KEY-abcdef0123456789");
    drop(cred);
    // Forget drops it.
    let resp = e.handle(RequestBody::Forget(ForgetRequest {
        session_id: "s-1".into(),
    }));
    let ResponseBody::Forgotten(f) = resp else {
        panic!("{resp:?}")
    };
    assert!(f.was_cached);
    assert!(e.credential("s-1").is_none());
    let ResponseBody::Forgotten(f) = e.handle(RequestBody::Forget(ForgetRequest {
        session_id: "s-1".into(),
    })) else {
        panic!()
    };
    assert!(!f.was_cached);
    // Expiry drops it.
    assert!(matches!(
        e.handle(open_request(&e, "s-2", NOW + 7200, 60)),
        ResponseBody::CredentialAccepted(_)
    ));
    assert!(e.credential("s-2").is_some());
    clock.set((NOW + 60) * 1000);
    assert!(e.credential("s-2").is_none());
    // Expiry is judged on the enclave's clock.
    clock.set((NOW + 10_000) * 1000);
    let resp = e.handle(open_request(&e, "s-3", NOW + 7200, 60));
    assert_eq!(error_code(&resp), ErrorCode::CredentialExpired);
    // Bad session ids.
    for bad in ["", "a b", &"x".repeat(65)] {
        let resp = e.handle(open_request(&e, bad, NOW + 20_000, 60));
        assert_eq!(error_code(&resp), ErrorCode::InvalidArgument, "{bad:?}");
    }
    assert_eq!(e.clock().now_unix_s(), NOW + 10_000);
}

#[test]
fn aggregates_and_log_are_typed_not_implemented_for_now() {
    let (_, _, e) = enclave();
    common::new_key_ring(&e);
    let resp = e.handle(RequestBody::ComputeAggregates(return_compute()));
    assert!(matches!(
        error_code(&resp),
        ErrorCode::NotImplemented
            | ErrorCode::UnknownKeyId
            | ErrorCode::OpenFailed
            | ErrorCode::InvalidArgument
    ));
}

#[test]
fn debug_of_secret_types_shows_no_key_bytes() {
    let scalar = [0x5au8; 32];
    let hpke = HpkeKeyPair::derive(1, &[0x33u8; 32]);
    let signing = ResultSigningKey::from_scalar(&scalar).unwrap();
    let ring = KeyRing::with_keys(
        HpkeKeyPair::derive(1, &[0x33u8; 32]),
        ResultSigningKey::from_scalar(&scalar).unwrap(),
    );
    let forbidden = |s: &str| {
        let lower = s.to_lowercase();
        for needle in [
            hex::encode(scalar),
            hex::encode(&hpke.public_sec1()[1..17]),
            "5a5a".to_owned(),
            "KEY-abcdef".to_lowercase(),
            "secret-98".to_owned(),
        ] {
            assert!(
                !lower.contains(&needle.to_lowercase()),
                "{s} contains {needle}"
            );
        }
    };
    forbidden(&format!("{hpke:?} {hpke:#?}"));
    forbidden(&format!("{signing:?} {signing:#?}"));
    forbidden(&format!("{ring:?} {ring:#?}"));
    assert!(format!("{signing:?}").starts_with("ResultSigningKey"));
    assert!(format!("{hpke:?}").starts_with("HpkeKeyPair"));

    let (_, _, e) = enclave();
    common::new_key_ring(&e);
    assert!(matches!(
        e.handle(open_request(&e, "dbg", NOW + 600, 600)),
        ResponseBody::CredentialAccepted(_)
    ));
    let cred: Arc<Credential> = e.credential("dbg").unwrap();
    let shown = format!("{cred:?} {cred:#?} {e:?}");
    forbidden(&shown);
    assert!(
        !shown.contains(cred.account()),
        "pseudonym is derived from the key"
    );
    assert_eq!(format!("{cred:?}"), "Credential { .. }");
}
