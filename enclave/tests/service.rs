//! The service layer in-process with a scripted exchange: how
//! `ComputeAggregates` picks the credential (cache or re-open), which errors
//! it maps to which codes, and that the attestation it returns binds exactly
//! the signed bytes (nonce = SHA-256) and the signing key id.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{FakeNsm, OPEN_POLICY, seal, seal_v2};
use sha2::{Digest, Sha256};
use strongroom_enclave::service::EnclaveService;
use strongroom_enclave_core::aggregate::{SymbolInfo, Trade, parse_trades_page};
use strongroom_enclave_core::clock::FixedClock;
use strongroom_enclave_core::exchange::{
    Exchange, ExchangeError, Fetched, History, KeyCheck, Resume,
};
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
    /// The exchange's clock: NOW_MS plus this.
    offset_ms: std::sync::atomic::AtomicI64,
    /// `check_key` never answers.
    stall: std::sync::atomic::AtomicBool,
}

impl Exchange for Scripted {
    fn name(&self) -> &'static str {
        "binance"
    }

    async fn fetch(
        &self,
        credential: &Credential,
        _symbols: Option<&[String]>,
        _resume: Resume<'_>,
    ) -> Result<Fetched, ExchangeError> {
        self.seen
            .lock()
            .unwrap()
            .push(credential.api_key().to_owned());
        if let Some(e) = self.error.lock().unwrap().clone() {
            return Err(e);
        }
        Ok(Fetched::Complete(History {
            symbols: self.info.clone(),
            trades: self.trades.clone(),
            exchange_time_ms: NOW_MS as i64
                + self.offset_ms.load(std::sync::atomic::Ordering::SeqCst),
            account_id: Some("1001".into()),
            permissions: None,
            considered: self.info.keys().cloned().collect(),
            complete: true,
            daily: None,
            segments: Vec::new(),
        }))
    }

    /// Account 1001, read-only; or the scripted error.
    async fn check_key(&self, credential: &Credential) -> Result<KeyCheck, ExchangeError> {
        self.seen
            .lock()
            .unwrap()
            .push(credential.api_key().to_owned());
        if let Some(e) = self.error.lock().unwrap().clone() {
            return Err(e);
        }
        if self.stall.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(KeyCheck {
            account_id: "1001".into(),
            permissions: strongroom_protocol::aggregates::Permissions {
                reading: true,
                spot_trading: false,
                margin: false,
                futures: false,
                withdrawals: false,
                internal_transfer: false,
                ip_restricted: false,
                checked_at: "2027-01-15T08:00:00.000Z".into(),
            },
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
        offset_ms: 1_000.into(),
        stall: false.into(),
    }
}

struct Fixture {
    clock: Arc<FixedClock>,
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
    let enclave = Enclave::new(nsm.clone(), clock.clone(), IntakePolicy::default()).unwrap();
    let enclave = Arc::new(enclave.with_session_cache_capacity(capacity));
    common::new_key_ring(&enclave);
    let exchange = Arc::new(scripted());
    let service = EnclaveService::with_exchange(enclave.clone(), Some(exchange.clone()));
    Fixture {
        clock,
        nsm,
        enclave,
        exchange,
        service,
    }
}

fn sealed(e: &Enclave, exchange: &str, key: &str) -> (SealedCredential, CredentialMetadata) {
    sealed_with(e, exchange, key, Some(OPEN_POLICY), None)
}

/// A credential sealed as a client does: version 2 with `policy` (JSON) and
/// `owner`, or version 1 when `policy` is `None`.
fn sealed_with(
    e: &Enclave,
    exchange: &str,
    key: &str,
    policy: Option<&str>,
    owner: Option<&[u8]>,
) -> (SealedCredential, CredentialMetadata) {
    use base64::Engine as _;
    let (key_id, public) = e
        .with_key_ring(|r| (r.current().key_id().to_owned(), *r.current().public_sec1()))
        .unwrap();
    let base = format!(
        r#""exchange":"{exchange}","api_key":"{key}","api_secret":"s","label":"main","not_after":{}"#,
        NOW_MS / 1000 + 7200
    );
    let (enc, ciphertext) = match policy {
        None => seal(&public, format!("{{{base}}}").as_bytes()),
        Some(policy) => {
            let owner = owner
                .map(|o| {
                    format!(
                        r#","owner":"{}""#,
                        base64::engine::general_purpose::STANDARD.encode(o)
                    )
                })
                .unwrap_or_default();
            seal_v2(
                &public,
                format!(r#"{{{base},"policy":{policy}{owner}}}"#).as_bytes(),
            )
        }
    };
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
        owner_authorization: None,
        previous: Vec::new(),
        history: Vec::new(),
        job: None,
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
        check_key: false,
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
        owner_authorization: None,
        previous: Vec::new(),
        history: Vec::new(),
        job: None,
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
            check_key: false,
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

// ---- Credential v2: the trader's terms (issue 17) ----

const DAY_MS: i64 = 86_400_000;
/// 2027-01-15T00:00:00Z, the day of NOW_MS.
const MIDNIGHT: i64 = (NOW_MS as i64 / DAY_MS) * DAY_MS;
const DEFAULT_POLICY: &str =
    r#"{"windows":"days","symbols":"all","min_interval_seconds":3600,"publish":false}"#;

fn owner_key(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn ask(
    session: &str,
    s: &(SealedCredential, CredentialMetadata),
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    symbols: Option<Vec<String>>,
    owner_authorization: Option<Vec<u8>>,
) -> RequestBody {
    RequestBody::ComputeAggregates(ComputeAggregatesRequest {
        tenant: None,
        session_id: session.into(),
        sealed: s.0.clone(),
        metadata: s.1.clone(),
        from_ms,
        to_ms,
        symbols,
        owner_authorization,
        previous: Vec::new(),
        history: Vec::new(),
        job: None,
    })
}

fn payload_of(r: &AggregatesResult) -> AggregatePayload {
    let bytes = strongroom_formats::cose::Sign1::payload_of(&r.signed).unwrap();
    AggregatePayload::from_cbor(&bytes).unwrap()
}

fn credential_id(s: &(SealedCredential, CredentialMetadata)) -> String {
    hex::encode(s.0.id())
}

/// An owner action signed by `key` at `time_ms`.
fn signed_action(
    key: &p256::ecdsa::SigningKey,
    action: strongroom_verifier::owner::Action,
    credential: &str,
    time_ms: u64,
    window: (Option<i64>, Option<i64>),
    symbols: Option<Vec<String>>,
) -> Vec<u8> {
    let t = |ms: i64| strongroom_enclave_core::compute::rfc3339_ms(ms).unwrap();
    let action = strongroom_verifier::owner::OwnerAction {
        action,
        credential: credential.into(),
        from: window.0.map(t),
        to: window.1.map(t),
        symbols,
        time: t(time_ms as i64),
    };
    strongroom_verifier::owner::sign_action(&action, key).unwrap()
}

/// The bisection attack: adjacent one-millisecond windows would read back
/// every trade. Under the default policy (whole days) each is refused, and
/// so is a subset of symbols; whole days and all symbols are computed.
#[tokio::test]
async fn the_default_policy_refuses_the_bisection_attack() {
    let f = fixture();
    let cred = sealed_with(&f.enclave, "binance", "KEY-A", Some(DEFAULT_POLICY), None);
    let t = 1_700_000_000_000i64;
    for (from, to) in [(t, t + 1), (t + 1, t + 2), (MIDNIGHT, MIDNIGHT + 1)] {
        let body = ask("s1", &cred, Some(from), Some(to), None, None);
        assert_eq!(code(&f.service, body).await, ErrorCode::PolicyWindow);
    }
    let subset = ask("s1", &cred, None, None, Some(vec!["BTCUSDT".into()]), None);
    assert_eq!(code(&f.service, subset).await, ErrorCode::PolicySymbols);
    assert!(
        f.exchange.seen.lock().unwrap().is_empty(),
        "nothing fetched"
    );
    let day = ask(
        "s1",
        &cred,
        Some(MIDNIGHT - DAY_MS),
        Some(MIDNIGHT),
        None,
        None,
    );
    let p = payload_of(&ok(&f.service, day).await);
    assert_eq!(p.policy.unwrap().min_interval_seconds, 3600);
    assert_eq!(p.credential.as_deref(), Some(credential_id(&cred).as_str()));
}

/// At most one computation per `min_interval_seconds`, answered with the
/// seconds to wait; a failed computation does not use the interval up.
#[tokio::test]
async fn the_interval_is_enforced_per_credential() {
    let f = fixture();
    let cred = sealed_with(&f.enclave, "binance", "KEY-A", Some(DEFAULT_POLICY), None);
    *f.exchange.error.lock().unwrap() = Some(ExchangeError::Unreachable);
    let failed = f.service.handle(compute("s1", &cred)).await;
    assert!(matches!(failed, ResponseBody::Error(_)));
    *f.exchange.error.lock().unwrap() = None;
    ok(&f.service, compute("s1", &cred)).await;
    // Another session of the same sealed credential is the same credential.
    match f.service.handle(compute("s2", &cred)).await {
        ResponseBody::Error(e) => {
            assert_eq!(e.code, ErrorCode::PolicyInterval);
            assert_eq!(e.retry_after, Some(3600));
        }
        other => panic!("{other:?}"),
    }
    f.clock.set(NOW_MS + 3_599_000);
    let early = f.service.handle(compute("s2", &cred)).await;
    assert!(matches!(early, ResponseBody::Error(e) if e.retry_after == Some(1)));
    f.clock.set(NOW_MS + 3_600_000);
    f.exchange
        .offset_ms
        .store(3_601_000, std::sync::atomic::Ordering::SeqCst);
    ok(&f.service, compute("s2", &cred)).await;
}

/// A version 1 credential keeps working under the strictest policy: from
/// inception only, every symbol.
#[tokio::test]
async fn v1_credentials_get_the_strictest_policy() {
    let f = fixture();
    let cred = sealed_with(&f.enclave, "binance", "KEY-A", None, None);
    let day = ask(
        "s1",
        &cred,
        Some(MIDNIGHT - DAY_MS),
        Some(MIDNIGHT),
        None,
        None,
    );
    assert_eq!(code(&f.service, day).await, ErrorCode::PolicyWindow);
    let p = payload_of(&ok(&f.service, compute("s1", &cred)).await);
    assert_eq!(
        p.policy,
        Some(strongroom_formats::policy::Policy::STRICTEST)
    );
    assert_eq!(p.owner, None);
    assert_eq!(p.credential.as_deref(), Some(credential_id(&cred).as_str()));
}

/// Replaying a ciphertext under another session or tenant gives results
/// that name the same credential (and owner).
#[tokio::test]
async fn a_replayed_ciphertext_names_the_same_credential() {
    let f = fixture();
    let owner = owner_key(9);
    let pubkey = strongroom_verifier::owner::owner_public_key(&owner);
    let cred = sealed_with(
        &f.enclave,
        "binance",
        "KEY-A",
        Some(OPEN_POLICY),
        Some(&pubkey),
    );
    let a = payload_of(&ok(&f.service, compute("s1", &cred)).await);
    let mut replay = ask("s2", &cred, None, None, None, None);
    if let RequestBody::ComputeAggregates(r) = &mut replay {
        r.tenant = Some("another-tenant".into());
    }
    let b = payload_of(&ok(&f.service, replay).await);
    assert_eq!(a.credential, b.credential);
    assert_eq!(a.credential.as_deref(), Some(credential_id(&cred).as_str()));
    assert_eq!(
        a.owner.as_deref(),
        Some(strongroom_verifier::owner::owner_id(&pubkey).as_str())
    );
    assert_eq!(a.owner, b.owner);
}

/// Outside the policy only with the owner's signature over exactly this
/// request; another credential's, a stale, a foreign, or another request's
/// signature is refused, and so is any on a credential without an owner.
#[tokio::test]
async fn the_owner_signs_for_requests_outside_the_policy() {
    use strongroom_verifier::owner::Action;
    let f = fixture();
    let owner = owner_key(9);
    let pubkey = strongroom_verifier::owner::owner_public_key(&owner);
    let cred = sealed_with(
        &f.enclave,
        "binance",
        "KEY-A",
        Some(DEFAULT_POLICY),
        Some(&pubkey),
    );
    let id = credential_id(&cred);
    let w = (Some(1_700_000_000_000), Some(1_700_000_000_500));
    let sym = Some(vec!["BTCUSDT".to_owned()]);
    let stranger = owner_key(8);
    let sign = |key, cred: &str, time, window, symbols| {
        signed_action(key, Action::Aggregates, cred, time, window, symbols)
    };
    let cases = [
        (
            sign(&owner, &"ab".repeat(32), NOW_MS, w, sym.clone()),
            ErrorCode::OwnerAuthorizationMismatch,
        ),
        (
            sign(&owner, &id, NOW_MS - 301_000, w, sym.clone()),
            ErrorCode::OwnerAuthorizationStale,
        ),
        (
            sign(&stranger, &id, NOW_MS, w, sym.clone()),
            ErrorCode::OwnerSignatureInvalid,
        ),
        (
            sign(&owner, &id, NOW_MS, (w.0, None), sym.clone()),
            ErrorCode::OwnerAuthorizationMismatch,
        ),
        (
            signed_action(&owner, Action::Revoke, &id, NOW_MS, w, sym.clone()),
            ErrorCode::OwnerAuthorizationMismatch,
        ),
        (b"not cose".to_vec(), ErrorCode::MalformedOwnerAuthorization),
    ];
    for (auth, want) in cases {
        let body = ask("s1", &cred, w.0, w.1, sym.clone(), Some(auth));
        assert_eq!(code(&f.service, body).await, want);
    }
    let good = sign(&owner, &id, NOW_MS + 200_000, w, sym.clone());
    // A computation that fails does not spend the authorization.
    *f.exchange.error.lock().unwrap() = Some(ExchangeError::Unreachable);
    let body = ask("s1", &cred, w.0, w.1, sym.clone(), Some(good.clone()));
    assert_eq!(code(&f.service, body).await, ErrorCode::ExchangeUnreachable);
    *f.exchange.error.lock().unwrap() = None;
    let body = ask("s1", &cred, w.0, w.1, sym.clone(), Some(good.clone()));
    let p = payload_of(&ok(&f.service, body).await);
    // The host replays the same authorization: used once, refused after.
    let replay = ask("s2", &cred, w.0, w.1, sym.clone(), Some(good));
    assert_eq!(
        code(&f.service, replay).await,
        ErrorCode::OwnerAuthorizationStale
    );
    assert_eq!(
        p.selection.unwrap().mode,
        strongroom_formats::aggregates::SelectionMode::Listed
    );
    // No owner key sealed: nobody can sign for it.
    let ownerless = sealed_with(&f.enclave, "binance", "KEY-B", Some(DEFAULT_POLICY), None);
    let auth = sign(&owner, &credential_id(&ownerless), NOW_MS, w, sym.clone());
    let body = ask("s3", &ownerless, w.0, w.1, sym, Some(auth));
    assert_eq!(code(&f.service, body).await, ErrorCode::NoOwnerKey);
}

fn revoke_body(s: &(SealedCredential, CredentialMetadata), authorization: Vec<u8>) -> RequestBody {
    RequestBody::RevokeCredential(strongroom_protocol::messages::RevokeCredentialRequest {
        sealed: s.0.clone(),
        metadata: s.1.clone(),
        authorization,
    })
}

/// An owner-signed revoke: a signed revocation entry to log and a new ring
/// version to store; the credential is refused from then on (cached or
/// re-opened, on this instance, on one that reloads the stored ring, and on
/// one booted from the ring's secrets as a restart or peer sync leaves it),
/// even re-sealed by a rotation. Another's or a stale signature revokes
/// nothing.
#[tokio::test]
async fn an_owner_signed_revoke_is_logged_and_final() {
    use strongroom_verifier::owner::Action;
    let f = fixture();
    let twin = {
        let secrets = f
            .enclave
            .with_key_ring(|r| r.export_secrets().unwrap())
            .unwrap();
        let e = Enclave::new(
            Arc::new(FakeNsm::new(6)),
            f.clock.clone(),
            IntakePolicy::default(),
        )
        .unwrap();
        e.install_key_ring(
            strongroom_enclave_core::ring::KeyRing::import_secrets(&secrets).unwrap(),
        )
        .unwrap();
        e
    };
    let owner = owner_key(9);
    let pubkey = strongroom_verifier::owner::owner_public_key(&owner);
    let cred = sealed_with(
        &f.enclave,
        "binance",
        "KEY-A",
        Some(OPEN_POLICY),
        Some(&pubkey),
    );
    let id = credential_id(&cred);
    ok(&f.service, compute("s1", &cred)).await;
    let no = |w: (Option<i64>, Option<i64>)| w;
    for (auth, want) in [
        (
            signed_action(
                &owner_key(8),
                Action::Revoke,
                &id,
                NOW_MS,
                no((None, None)),
                None,
            ),
            ErrorCode::OwnerSignatureInvalid,
        ),
        (
            signed_action(
                &owner,
                Action::Revoke,
                &id,
                NOW_MS + 400_000,
                (None, None),
                None,
            ),
            ErrorCode::OwnerAuthorizationStale,
        ),
        (
            signed_action(&owner, Action::Publish, &id, NOW_MS, (None, None), None),
            ErrorCode::OwnerAuthorizationMismatch,
        ),
    ] {
        assert_eq!(code(&f.service, revoke_body(&cred, auth)).await, want);
    }
    let before = ok(&f.service, compute("s1", &cred)).await;
    let other = sealed_with(&f.enclave, "binance", "KEY-B", Some(OPEN_POLICY), None);
    let unrevoked = ok(&f.service, compute("o1", &other)).await;

    let auth = signed_action(&owner, Action::Revoke, &id, NOW_MS, (None, None), None);
    let ResponseBody::CredentialRevoked(revoked) = f.service.handle(revoke_body(&cred, auth)).await
    else {
        panic!("not revoked");
    };
    assert_eq!(revoked.credential, id);
    let verifying = f
        .enclave
        .with_key_ring(|r| *r.signing().verifying_key())
        .unwrap();
    let entry = verify_es256(&revoked.entry, &verifying, None).unwrap();
    let entry = strongroom_formats::owner::RevocationEntry::from_cbor(&entry).unwrap();
    assert_eq!(
        (entry.kind.as_str(), entry.credential.as_str()),
        ("revocation", id.as_str())
    );
    let ring = revoked.ring.expect("a new ring version to store");
    // A result signed before the revocation is not logged after it; another
    // credential's is.
    let append = |leaf: Vec<u8>| {
        RequestBody::AppendLog(strongroom_protocol::messages::AppendLogRequest {
            leaf,
            tree_size: 0,
            frontier: Vec::new(),
            head: None,
            checkpoint: None,
        })
    };
    assert_eq!(
        code(&f.service, append(before.signed.clone())).await,
        ErrorCode::CredentialRevoked
    );
    assert!(matches!(
        f.service.handle(append(unrevoked.signed.clone())).await,
        ResponseBody::LogAppended(_)
    ));

    // Here: the cached session and any new one are refused.
    for session in ["s1", "s2"] {
        assert_eq!(
            code(&f.service, compute(session, &cred)).await,
            ErrorCode::CredentialRevoked
        );
    }
    let reopen = RequestBody::OpenCredential(OpenCredentialRequest {
        tenant: None,
        session_id: "s3".into(),
        sealed: cred.0.clone(),
        metadata: cred.1.clone(),
        check_key: false,
    });
    assert_eq!(code(&f.service, reopen).await, ErrorCode::CredentialRevoked);

    // Another instance that opened it before, then reloads the stored ring.
    let twin_service = EnclaveService::with_exchange(Arc::new(twin), Some(f.exchange.clone()));
    ok(&twin_service, compute("t1", &cred)).await;
    let reload = twin_service.handle(RequestBody::ReloadKeyRing(ring)).await;
    assert!(
        matches!(reload, ResponseBody::KeyRingStatus(_)),
        "{reload:?}"
    );
    assert_eq!(
        code(&twin_service, compute("t1", &cred)).await,
        ErrorCode::CredentialRevoked
    );

    // An instance booted from the ring's secrets (restart, peer sync).
    let secrets = f
        .enclave
        .with_key_ring(|r| r.export_secrets().unwrap())
        .unwrap();
    let booted = Arc::new(
        Enclave::new(
            Arc::new(FakeNsm::new(7)),
            f.clock.clone(),
            IntakePolicy::default(),
        )
        .unwrap(),
    );
    booted
        .install_key_ring(strongroom_enclave_core::ring::KeyRing::import_secrets(&secrets).unwrap())
        .unwrap();
    let booted_service = EnclaveService::with_exchange(booted.clone(), Some(f.exchange.clone()));
    assert_eq!(
        code(&booted_service, compute("b1", &cred)).await,
        ErrorCode::CredentialRevoked
    );

    // Re-sealed to a new key version by a rotation: still the same credential.
    assert!(matches!(
        booted.handle(RequestBody::AddKeyVersion),
        ResponseBody::KeyRingSealed(_)
    ));
    let batch = strongroom_protocol::messages::ResealRequest {
        items: vec![strongroom_protocol::messages::ResealItem {
            session_id: "b1".into(),
            sealed: cred.0.clone(),
            metadata: cred.1.clone(),
        }],
    };
    let ResponseBody::Resealed(out) = booted.handle(RequestBody::ResealCredentials(batch)) else {
        panic!("not resealed");
    };
    // A revoked credential is not re-sealed either.
    assert_eq!(
        out.items[0].error.as_ref().map(|e| e.code),
        Some(ErrorCode::CredentialRevoked)
    );
}

/// A rotation re-seals a credential to the new key; its results keep the
/// identity the client's sealed bytes gave it, and a client cannot claim
/// another credential's identity by sealing the enclave's wrapper itself.
#[tokio::test]
async fn a_resealed_credential_keeps_its_identity() {
    let f = fixture();
    let cred = sealed_with(&f.enclave, "binance", "KEY-A", Some(OPEN_POLICY), None);
    let id = credential_id(&cred);
    assert!(matches!(
        f.enclave.handle(RequestBody::AddKeyVersion),
        ResponseBody::KeyRingSealed(_)
    ));
    let batch = strongroom_protocol::messages::ResealRequest {
        items: vec![strongroom_protocol::messages::ResealItem {
            session_id: "s1".into(),
            sealed: cred.0.clone(),
            metadata: cred.1.clone(),
        }],
    };
    let ResponseBody::Resealed(out) = f.enclave.handle(RequestBody::ResealCredentials(batch))
    else {
        panic!("not resealed");
    };
    let resealed = (out.items[0].sealed.clone().unwrap(), cred.1.clone());
    assert_ne!(resealed.0.key_id(), cred.0.key_id());
    assert_ne!(credential_id(&resealed), id);
    let p = payload_of(&ok(&f.service, compute("s9", &resealed)).await);
    assert_eq!(p.credential.as_deref(), Some(id.as_str()));

    // A forged wrapper (a client claiming `id` for its own credential).
    let public = f
        .enclave
        .with_key_ring(|r| (r.current().key_id().to_owned(), *r.current().public_sec1()))
        .unwrap();
    let forged = format!(
        r#"{{"resealed":{{"credential":"{id}","version":2,"plaintext":"e30=","mac":"{}"}}}}"#,
        "00".repeat(32)
    );
    let (enc, ct) = seal_v2(&public.1, forged.as_bytes());
    let forged = (
        SealedCredential::from_aead(&public.0, enc, ct).unwrap(),
        cred.1.clone(),
    );
    assert_eq!(
        code(&f.service, compute("s10", &forged)).await,
        ErrorCode::MalformedCredential
    );
}

fn open_checked(session: &str, s: &(SealedCredential, CredentialMetadata)) -> RequestBody {
    RequestBody::OpenCredential(OpenCredentialRequest {
        tenant: None,
        session_id: session.into(),
        sealed: s.0.clone(),
        metadata: s.1.clone(),
        check_key: true,
    })
}

/// Protocol 5's `check_key`: a checked key answers its account's v2
/// pseudonym and stays cached; a key the check refuses (not read-only,
/// rejected, or not checkable now) is forgotten at once; without egress
/// the check is `not_implemented`, never skipped.
#[tokio::test]
async fn open_credential_checks_the_key_when_asked() {
    let f = fixture();
    let cred = sealed(&f.enclave, "binance", "k1");
    match f.service.handle(open_checked("s1", &cred)).await {
        ResponseBody::CredentialAccepted(a) => assert_eq!(
            a.account.as_deref(),
            Some(
                strongroom_enclave_core::compute::account_pseudonym_v2("binance", "1001").as_str()
            )
        ),
        other => panic!("not accepted: {other:?}"),
    }
    assert!(f.enclave.credential("s1").is_some());
    assert_eq!(*f.exchange.seen.lock().unwrap(), ["k1"]);
    for (err, want) in [
        (ExchangeError::KeyNotReadOnly, ErrorCode::KeyNotReadOnly),
        (
            ExchangeError::RejectedCredentials,
            ErrorCode::ExchangeRejectedCredentials,
        ),
        (ExchangeError::Unreachable, ErrorCode::ExchangeUnreachable),
        (
            ExchangeError::WeightBudget { retry_after_s: 7 },
            ErrorCode::ExchangeBudget,
        ),
    ] {
        *f.exchange.error.lock().unwrap() = Some(err);
        assert_eq!(code(&f.service, open_checked("s2", &cred)).await, want);
        assert!(f.enclave.credential("s2").is_none(), "{want:?}: forgotten");
    }
    // Without egress (the in-place handler): refused, not opened unchecked.
    let ResponseBody::Error(e) = f.enclave.handle(open_checked("s3", &cred)) else {
        panic!("opened without a check");
    };
    assert_eq!(e.code, ErrorCode::NotImplemented);
    assert!(f.enclave.credential("s3").is_none());
    // Dropped mid-check (a cancel, the host's deadline): forgotten too.
    *f.exchange.error.lock().unwrap() = None;
    f.exchange
        .stall
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let stalled = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        f.service.handle(open_checked("s5", &cred)),
    )
    .await;
    assert!(stalled.is_err(), "the check never answers");
    assert!(f.enclave.credential("s5").is_none(), "forgotten on drop");
    f.exchange
        .stall
        .store(false, std::sync::atomic::Ordering::SeqCst);
    // Without the flag: no exchange call, no account.
    *f.exchange.error.lock().unwrap() = None;
    let open = RequestBody::OpenCredential(OpenCredentialRequest {
        tenant: None,
        session_id: "s4".into(),
        sealed: cred.0.clone(),
        metadata: cred.1.clone(),
        check_key: false,
    });
    let before = f.exchange.seen.lock().unwrap().len();
    match f.service.handle(open).await {
        ResponseBody::CredentialAccepted(a) => assert_eq!(a.account, None),
        other => panic!("not accepted: {other:?}"),
    }
    assert_eq!(f.exchange.seen.lock().unwrap().len(), before);
}
