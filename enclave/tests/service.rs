//! The service layer in-process with a scripted exchange: how
//! `ComputeAggregates` picks the credential (cache or re-open), which errors
//! it maps to which codes, and that the attestation it returns binds exactly
//! the signed bytes (nonce = SHA-256) and the signing key id.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{FakeNsm, seal};
use sha2::{Digest, Sha256};
use strongroom_enclave::service::EnclaveService;
use strongroom_enclave_core::aggregate::{SymbolInfo, Trade, parse_trades_page};
use strongroom_enclave_core::clock::FixedClock;
use strongroom_enclave_core::exchange::{Exchange, ExchangeError, History};
use strongroom_enclave_core::intake::{Credential, IntakePolicy};
use strongroom_enclave_core::state::Enclave;
use strongroom_protocol::ErrorCode;
use strongroom_protocol::aggregates::AggregatePayload;
use strongroom_protocol::messages::{
    AggregatesResult, ComputeAggregatesRequest, CredentialMetadata, ForgetRequest,
    OpenCredentialRequest, RequestBody, ResponseBody, SealedCredential,
};
use strongroom_protocol::server::Handler;
use strongroom_verifier::cose::verify_es256;

const NOW_MS: u64 = 1_800_000_000_000;

/// Serves a fixed history, or a fixed error; records the API keys it saw.
struct Scripted {
    trades: Vec<Trade>,
    info: BTreeMap<String, SymbolInfo>,
    error: Mutex<Option<ExchangeError>>,
    seen: Mutex<Vec<String>>,
}

impl Exchange for Scripted {
    fn name(&self) -> &'static str {
        "binance"
    }

    async fn fetch_history(
        &self,
        credential: &Credential,
        _symbols: Option<&[String]>,
    ) -> Result<History, ExchangeError> {
        self.seen
            .lock()
            .unwrap()
            .push(credential.api_key().to_owned());
        if let Some(e) = self.error.lock().unwrap().clone() {
            return Err(e);
        }
        Ok(History {
            symbols: self.info.clone(),
            trades: self.trades.clone(),
            exchange_time_ms: NOW_MS as i64 + 1_000,
        })
    }
}

fn scripted() -> Scripted {
    let trades =
        br#"[{"symbol":"BTCUSDT","id":1,"orderId":1,"orderListId":-1,"price":"100","qty":"2",
        "quoteQty":"200","commission":"0.1","commissionAsset":"USDT","time":1700000000000,
        "isBuyer":true,"isMaker":false,"isBestMatch":true},
        {"symbol":"BTCUSDT","id":2,"orderId":2,"orderListId":-1,"price":"110","qty":"1",
        "quoteQty":"110","commission":"0.1","commissionAsset":"USDT","time":1700000001000,
        "isBuyer":false,"isMaker":false,"isBestMatch":true}]"#;
    let info = BTreeMap::from([(
        "BTCUSDT".to_owned(),
        SymbolInfo {
            base: "BTC".into(),
            quote: "USDT".into(),
        },
    )]);
    Scripted {
        trades: parse_trades_page(trades).unwrap(),
        info,
        error: Mutex::new(None),
        seen: Mutex::new(Vec::new()),
    }
}

struct Fixture {
    nsm: Arc<FakeNsm>,
    enclave: Arc<Enclave>,
    exchange: Arc<Scripted>,
    service: EnclaveService<Scripted>,
}

fn fixture() -> Fixture {
    fixture_with_cache(10_000)
}

fn fixture_with_cache(capacity: usize) -> Fixture {
    let nsm = Arc::new(FakeNsm::new(5));
    let clock = Arc::new(FixedClock::new(NOW_MS));
    let enclave = Enclave::new(nsm.clone(), clock, IntakePolicy::default()).unwrap();
    let enclave = Arc::new(enclave.with_session_cache_capacity(capacity));
    common::new_key_ring(&enclave);
    let exchange = Arc::new(scripted());
    let service = EnclaveService::with_exchange(enclave.clone(), Some(exchange.clone()));
    Fixture {
        nsm,
        enclave,
        exchange,
        service,
    }
}

fn sealed(e: &Enclave, exchange: &str, key: &str) -> (SealedCredential, CredentialMetadata) {
    let (key_id, public) = e
        .with_key_ring(|r| (r.current().key_id().to_owned(), *r.current().public_sec1()))
        .unwrap();
    let json = format!(
        r#"{{"exchange":"{exchange}","api_key":"{key}","api_secret":"s","label":"main","not_after":{}}}"#,
        NOW_MS / 1000 + 3600
    );
    let (enc, ciphertext) = seal(&public, json.as_bytes());
    let meta = CredentialMetadata {
        exchange: exchange.into(),
        label: "main".into(),
        ttl_seconds: 600,
    };
    (
        SealedCredential::from_aead(&key_id, enc, ciphertext).unwrap(),
        meta,
    )
}

fn compute(session: &str, s: &(SealedCredential, CredentialMetadata)) -> RequestBody {
    RequestBody::ComputeAggregates(ComputeAggregatesRequest {
        tenant: None,
        session_id: session.into(),
        sealed: s.0.clone(),
        metadata: s.1.clone(),
        from_ms: None,
        to_ms: None,
        symbols: None,
    })
}

async fn ok(service: &impl Handler, body: RequestBody) -> AggregatesResult {
    match service.handle(body).await {
        ResponseBody::Aggregates(r) => r,
        other => panic!("not aggregates: {other:?}"),
    }
}

async fn code(service: &impl Handler, body: RequestBody) -> ErrorCode {
    match service.handle(body).await {
        ResponseBody::Error(e) => e.code,
        other => panic!("not an error: {other:?}"),
    }
}

#[tokio::test]
async fn result_is_signed_and_attested_with_nonce_of_the_signed_bytes() {
    let f = fixture();
    let cred = sealed(&f.enclave, "binance", "KEY-A");
    let r = ok(&f.service, compute("s1", &cred)).await;
    let (verifying, kid) = f
        .enclave
        .with_key_ring(|r| {
            (
                *r.signing().verifying_key(),
                r.current().key_id().to_owned(),
            )
        })
        .unwrap();
    let payload = verify_es256(&r.signed, &verifying, Some(&kid)).unwrap();
    let payload = AggregatePayload::from_cbor(&payload).unwrap();
    assert_eq!(payload.key_id, kid);
    assert_eq!(
        payload.symbols["BTCUSDT"].realized_pnl_quote.to_wire(),
        "10"
    );
    assert_eq!(payload.computed_at, "2027-01-15T08:00:00Z");
    // The NSM was asked for exactly: HPKE key, {kid, sign}, SHA-256(signed).
    assert_eq!(r.attestation, b"fake-document");
    let (pk, user_data, nonce) = f.nsm.last_attest.lock().unwrap().clone().unwrap();
    assert_eq!(nonce.unwrap(), Sha256::digest(&r.signed).to_vec());
    let public = f
        .enclave
        .with_key_ring(|r| r.current().public_sec1().to_vec())
        .unwrap();
    assert_eq!(pk.unwrap(), public);
    let binding = strongroom_verifier::KeyBinding::from_user_data(&user_data.unwrap()).unwrap();
    assert_eq!(
        (binding.kid.as_str(), binding.signing_key),
        (kid.as_str(), verifying)
    );
    assert_eq!(f.exchange.seen.lock().unwrap().as_slice(), ["KEY-A"]);
}

#[tokio::test]
async fn credential_comes_from_the_cache_or_the_envelope() {
    let f = fixture();
    let a = sealed(&f.enclave, "binance", "KEY-A");
    let b = sealed(&f.enclave, "binance", "KEY-B");
    let open = RequestBody::OpenCredential(OpenCredentialRequest {
        tenant: None,
        session_id: "s1".into(),
        sealed: a.0.clone(),
        metadata: a.1.clone(),
    });
    assert!(matches!(
        f.service.handle(open).await,
        ResponseBody::CredentialAccepted(_)
    ));
    // Cached: the session's own credential is used, whatever else is sent.
    ok(&f.service, compute("s1", &b)).await;
    // Not cached: the forwarded envelope is opened (and then cached).
    ok(&f.service, compute("s2", &b)).await;
    assert!(f.enclave.credential("s2").is_some());
    let forget = RequestBody::Forget(ForgetRequest {
        session_id: "s1".into(),
    });
    f.service.handle(forget).await;
    ok(&f.service, compute("s1", &b)).await;
    assert_eq!(
        f.exchange.seen.lock().unwrap().as_slice(),
        ["KEY-A", "KEY-B", "KEY-B"]
    );
    // A broken envelope for an uncached session is the intake's refusal.
    let mut broken = b.clone();
    let mut aead = b.0.aead().to_vec();
    aead[0] ^= 1;
    broken.0 = SealedCredential::from_aead(b.0.key_id(), b.0.enc().to_vec(), aead).unwrap();
    assert_eq!(
        code(&f.service, compute("s3", &broken)).await,
        ErrorCode::OpenFailed
    );
    let mut bad_id = a.clone();
    bad_id.0 =
        SealedCredential::from_aead("v9:nope", a.0.enc().to_vec(), a.0.aead().to_vec()).unwrap();
    assert_eq!(
        code(&f.service, compute("s4", &bad_id)).await,
        ErrorCode::UnknownKeyId
    );
    assert_eq!(
        code(&f.service, compute("bad id!", &a)).await,
        ErrorCode::InvalidArgument
    );
}

#[tokio::test]
async fn errors_map_to_wire_codes() {
    let f = fixture();
    let a = sealed(&f.enclave, "binance", "KEY-A");
    for (err, want) in [
        (
            ExchangeError::RejectedCredentials,
            ErrorCode::ExchangeRejectedCredentials,
        ),
        (ExchangeError::RateLimited, ErrorCode::ExchangeRateLimited),
        (ExchangeError::Unreachable, ErrorCode::ExchangeUnreachable),
        (ExchangeError::EgressRefused, ErrorCode::EgressRefused),
        (ExchangeError::UnknownSymbol, ErrorCode::InvalidArgument),
    ] {
        *f.exchange.error.lock().unwrap() = Some(err);
        assert_eq!(code(&f.service, compute("s1", &a)).await, want);
    }
    *f.exchange.error.lock().unwrap() = None;
    // Inverted window: refused before any fetch.
    let seen = f.exchange.seen.lock().unwrap().len();
    let mut req = compute("s1", &a);
    if let RequestBody::ComputeAggregates(r) = &mut req {
        r.from_ms = Some(10);
        r.to_ms = Some(10);
    }
    assert_eq!(code(&f.service, req).await, ErrorCode::InvalidArgument);
    // An exchange without a client here.
    let k = sealed(&f.enclave, "kraken", "KEY-K");
    assert_eq!(
        code(&f.service, compute("s5", &k)).await,
        ErrorCode::InvalidArgument
    );
    assert_eq!(f.exchange.seen.lock().unwrap().len(), seen);
    // No egress configured.
    let none: EnclaveService<Scripted> = EnclaveService::with_exchange(f.enclave.clone(), None);
    assert_eq!(
        code(&none, compute("s1", &a)).await,
        ErrorCode::ExchangeUnreachable
    );
}

#[tokio::test]
async fn booting_enclave_refuses_aggregates() {
    let nsm = Arc::new(FakeNsm::new(6));
    let clock = Arc::new(FixedClock::new(NOW_MS));
    let enclave = Arc::new(Enclave::new(nsm, clock, IntakePolicy::default()).unwrap());
    let service = EnclaveService::with_exchange(enclave, Some(Arc::new(scripted())));
    let body = RequestBody::ComputeAggregates(ComputeAggregatesRequest {
        tenant: None,
        session_id: "s".into(),
        sealed: SealedCredential::from_aead("v1:x", vec![4; 65], vec![0; 17]).unwrap(),
        metadata: CredentialMetadata {
            exchange: "binance".into(),
            label: "main".into(),
            ttl_seconds: 1,
        },
        from_ms: None,
        to_ms: None,
        symbols: None,
    });
    assert_eq!(code(&service, body).await, ErrorCode::NotReady);
}

/// The session cache at the core API (issue 15.5): 200 sessions of 4
/// tenants through a cache of 8, every one opened and accepted (none
/// refused as before when the cache was full); a sample of every tenant's
/// evicted sessions still aggregates, each with its own credential, opened
/// again from the envelope the host forwards.
#[tokio::test]
async fn evicted_sessions_reopen_from_their_envelope_and_aggregate() {
    let f = fixture_with_cache(8);
    let mut creds = Vec::new();
    for i in 0..200 {
        let cred = sealed(&f.enclave, "binance", &format!("KEY-{i}"));
        let open = RequestBody::OpenCredential(OpenCredentialRequest {
            tenant: Some(format!("tenant-{}", i % 4)),
            session_id: format!("s{i}"),
            sealed: cred.0.clone(),
            metadata: cred.1.clone(),
        });
        assert!(matches!(
            f.service.handle(open).await,
            ResponseBody::CredentialAccepted(_)
        ));
        creds.push(cred);
    }
    let cached = (0..200).filter(|i| f.enclave.credential(&format!("s{i}")).is_some());
    assert_eq!(cached.count(), 8);
    let sample: Vec<usize> = (0..200).step_by(17).collect();
    for &i in &sample {
        assert!(
            f.enclave.credential(&format!("s{i}")).is_none(),
            "s{i} was evicted"
        );
        let mut body = compute(&format!("s{i}"), &creds[i]);
        if let RequestBody::ComputeAggregates(req) = &mut body {
            req.tenant = Some(format!("tenant-{}", i % 4));
        }
        ok(&f.service, body).await;
    }
    let expected: Vec<String> = sample.iter().map(|i| format!("KEY-{i}")).collect();
    assert_eq!(*f.exchange.seen.lock().unwrap(), expected);
}
