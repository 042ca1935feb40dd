//! Jobs and sealed history through the service, with a staged exchange
//! (issue 18): a computation interrupted by the weight budget answers
//! `pending` with sealed segments; the next attempt of the same job, handed
//! those segments, opens them (and nothing tampered or misfiled), runs
//! under the grant of the first attempt for the same credential and terms
//! only, and neither the policy's interval nor the owner's authorization is
//! spent by a pending answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{FakeNsm, seal_v2};
use strongroom_enclave::service::EnclaveService;
use strongroom_enclave_core::aggregate::{SymbolInfo, Trade, parse_trades_page};
use strongroom_enclave_core::clock::{Clock, FixedClock};
use strongroom_enclave_core::compute::account_pseudonym_v2;
use strongroom_enclave_core::exchange::{
    Exchange, ExchangeError, Fetched, History, Interrupted, KeyCheck, Resume,
};
use strongroom_enclave_core::history::segments_of;
use strongroom_enclave_core::intake::{Credential, IntakePolicy};
use strongroom_enclave_core::state::Enclave;
use strongroom_protocol::ErrorCode;
use strongroom_protocol::messages::{
    ComputeAggregatesRequest, ComputePending, CredentialMetadata, RequestBody, ResponseBody,
    SealedCredential, SealedHistory,
};
use strongroom_protocol::server::Handler;
use strongroom_verifier::owner::Action;

const NOW_MS: u64 = 1_800_000_000_000;
const POLICY: &str =
    r#"{"windows":"any","symbols":"all","min_interval_seconds":3600,"publish":false}"#;

/// What one `fetch` was handed: the job's symbols done, and the cursor of
/// the stored chain of BTCUSDT for the account.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    done: BTreeMap<String, u64>,
    cursor: u64,
    stored_trades: usize,
}

/// The first `pending` fetches are interrupted after BTCUSDT (trades 1 and
/// 2); every later one completes with ETHUSDT's trade 5 added to what the
/// stored chain holds.
struct Staged {
    clock: Arc<FixedClock>,
    pending: Mutex<u32>,
    seen: Mutex<Vec<Seen>>,
}

fn info(base: &str) -> SymbolInfo {
    SymbolInfo {
        base: base.into(),
        quote: "USDT".into(),
    }
}

fn trades(symbol: &str, ids: &[u64]) -> Vec<Trade> {
    let one = |id: &u64| {
        format!(
            r#"{{"symbol":"{symbol}","id":{id},"orderId":{id},"price":"100","qty":"1","quoteQty":"100","commission":"0","commissionAsset":"USDT","time":{},"isBuyer":{},"isMaker":false}}"#,
            1_700_000_000_000u64 + id,
            id % 2 == 1
        )
    };
    let body = format!("[{}]", ids.iter().map(one).collect::<Vec<_>>().join(","));
    parse_trades_page(body.as_bytes()).unwrap()
}

fn account() -> String {
    account_pseudonym_v2("binance", "1001")
}

impl Exchange for Staged {
    fn name(&self) -> &'static str {
        "binance"
    }

    async fn fetch(
        &self,
        _credential: &Credential,
        _symbols: Option<&[String]>,
        resume: Resume<'_>,
    ) -> Result<Fetched, ExchangeError> {
        let chain = resume.stored.chain(&account(), "BTCUSDT");
        self.seen.lock().unwrap().push(Seen {
            done: resume.done.clone(),
            cursor: chain.cursor,
            stored_trades: chain.trades.len(),
        });
        let btc = trades("BTCUSDT", &[1, 2]);
        let btc_segments = segments_of("BTCUSDT", &info("BTC"), (0, 3), &btc, NOW_MS);
        let mut left = self.pending.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return Ok(Fetched::Pending(Interrupted {
                account_id: "1001".into(),
                segments: btc_segments,
                done: BTreeMap::from([("BTCUSDT".to_owned(), 3)]),
                symbols_total: 2,
                weight_used: 61,
                retry_after_s: 42,
            }));
        }
        let eth = trades("ETHUSDT", &[5]);
        let mut all = if chain.cursor >= 3 { chain.trades } else { btc };
        all.extend(eth.clone());
        Ok(Fetched::Complete(History {
            symbols: BTreeMap::from([
                ("BTCUSDT".to_owned(), info("BTC")),
                ("ETHUSDT".to_owned(), info("ETH")),
            ]),
            trades: all,
            exchange_time_ms: self.clock.now_unix_ms() as i64,
            account_id: Some("1001".into()),
            permissions: None,
            considered: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            complete: true,
            daily: None,
            segments: segments_of("ETHUSDT", &info("ETH"), (0, 6), &eth, NOW_MS),
        }))
    }

    async fn check_key(&self, _credential: &Credential) -> Result<KeyCheck, ExchangeError> {
        // The jobs tests never ask for the check at submit.
        Err(ExchangeError::Unreachable)
    }
}

struct Fixture {
    clock: Arc<FixedClock>,
    enclave: Arc<Enclave>,
    exchange: Arc<Staged>,
    service: EnclaveService<Staged>,
}

fn fixture(pending: u32) -> Fixture {
    let nsm = Arc::new(FakeNsm::new(5));
    let clock = Arc::new(FixedClock::new(NOW_MS));
    let enclave = Arc::new(Enclave::new(nsm, clock.clone(), IntakePolicy::default()).unwrap());
    common::new_key_ring(&enclave);
    let exchange = Arc::new(Staged {
        clock: clock.clone(),
        pending: Mutex::new(pending),
        seen: Mutex::new(Vec::new()),
    });
    let service = EnclaveService::with_exchange(enclave.clone(), Some(exchange.clone()));
    Fixture {
        clock,
        enclave,
        exchange,
        service,
    }
}

type Sealed = (SealedCredential, CredentialMetadata);

fn sealed(e: &Enclave, key: &str, owner: Option<&[u8]>) -> Sealed {
    use base64::Engine as _;
    let (key_id, public) = e
        .with_key_ring(|r| (r.current().key_id().to_owned(), *r.current().public_sec1()))
        .unwrap();
    let owner = owner
        .map(|o| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(o);
            format!(r#","owner":"{b64}""#)
        })
        .unwrap_or_default();
    let plain = format!(
        r#"{{"exchange":"binance","api_key":"{key}","api_secret":"s","label":"main","not_after":{},"policy":{POLICY}{owner}}}"#,
        NOW_MS / 1000 + 86_400
    );
    let (enc, ciphertext) = seal_v2(&public, plain.as_bytes());
    let meta = CredentialMetadata {
        exchange: "binance".into(),
        label: "main".into(),
        ttl_seconds: 3600,
    };
    (
        SealedCredential::from_aead(&key_id, enc, ciphertext).unwrap(),
        meta,
    )
}

fn owner_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[9; 32]).unwrap()
}

/// The owner's authorization of the default ask (no window, no symbols).
fn authorization(s: &Sealed, time_ms: u64) -> Vec<u8> {
    let action = strongroom_verifier::owner::OwnerAction {
        action: Action::Aggregates,
        credential: hex::encode(s.0.id()),
        from: None,
        to: None,
        symbols: None,
        time: strongroom_enclave_core::compute::rfc3339_ms(time_ms as i64).unwrap(),
    };
    strongroom_verifier::owner::sign_action(&action, &owner_key()).unwrap()
}

fn ask(
    session: &str,
    s: &Sealed,
    auth: Option<Vec<u8>>,
    history: Vec<SealedHistory>,
    job: Option<&str>,
) -> RequestBody {
    RequestBody::ComputeAggregates(ComputeAggregatesRequest {
        tenant: None,
        session_id: session.into(),
        sealed: s.0.clone(),
        metadata: s.1.clone(),
        from_ms: None,
        to_ms: None,
        symbols: None,
        owner_authorization: auth,
        previous: Vec::new(),
        history,
        job: job.map(str::to_owned),
    })
}

async fn pending(service: &impl Handler, body: RequestBody) -> ComputePending {
    match service.handle(body).await {
        ResponseBody::Pending(p) => p,
        other => panic!("not pending: {other:?}"),
    }
}

async fn answer(
    service: &impl Handler,
    body: RequestBody,
) -> Result<Vec<SealedHistory>, ErrorCode> {
    match service.handle(body).await {
        ResponseBody::Aggregates(r) => Ok(r.history),
        ResponseBody::Error(e) => Err(e.code),
        other => panic!("{other:?}"),
    }
}

/// The owner signed at t0. The job's first attempt is pending; its second,
/// 400 s later (the authorization alone would be stale), continues under the
/// first attempt's grant, opens the sealed BTCUSDT segment and is told BTCUSDT
/// is done. Once signed, the job and the authorization are spent.
#[tokio::test]
async fn a_job_continues_past_the_authorizations_freshness_then_ends() {
    let f = fixture(1);
    let pubkey = strongroom_verifier::owner::owner_public_key(&owner_key());
    let cred = sealed(&f.enclave, "KEY-A", Some(&pubkey));
    let auth = authorization(&cred, NOW_MS);
    let p = pending(
        &f.service,
        ask("s1", &cred, Some(auth.clone()), vec![], Some("j1")),
    )
    .await;
    assert_eq!(p.account, account());
    assert_eq!((p.symbols_done, p.symbols_total), (1, 2));
    assert_eq!((p.weight_used, p.retry_after_s), (61, 42));
    assert_eq!(p.history.len(), 1);
    assert!(p.history.iter().all(|h| h.account == account()));

    f.clock.set(NOW_MS + 400_000);
    let stale = ask("s1", &cred, Some(auth.clone()), p.history.clone(), None);
    assert_eq!(
        answer(&f.service, stale).await,
        Err(ErrorCode::OwnerAuthorizationStale)
    );
    let again = ask(
        "s1",
        &cred,
        Some(auth.clone()),
        p.history.clone(),
        Some("j1"),
    );
    let new = answer(&f.service, again).await.unwrap();
    assert_eq!(new.len(), 1, "ETHUSDT's new segment");
    let seen = f.exchange.seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        2,
        "the stale request never reached the exchange"
    );
    assert_eq!(seen[1].done, BTreeMap::from([("BTCUSDT".to_owned(), 3)]));
    assert_eq!((seen[1].cursor, seen[1].stored_trades), (3, 2));

    let replay = ask("s1", &cred, Some(auth), p.history, Some("j1"));
    assert_eq!(
        answer(&f.service, replay).await,
        Err(ErrorCode::OwnerAuthorizationStale)
    );
}

/// A pending answer does not use the policy's interval up; the signed
/// result does. Another credential naming the same job id gets nothing of
/// it: neither the grant nor the symbols done.
#[tokio::test]
async fn pending_spends_no_interval_and_jobs_are_per_credential() {
    let f = fixture(2);
    let a = sealed(&f.enclave, "KEY-A", None);
    let b = sealed(&f.enclave, "KEY-B", None);
    let p = pending(&f.service, ask("s1", &a, None, vec![], Some("j"))).await;
    let other = pending(
        &f.service,
        ask("s2", &b, None, p.history.clone(), Some("j")),
    )
    .await;
    assert_eq!(other.symbols_done, 1);
    let seen = f.exchange.seen.lock().unwrap().clone();
    assert!(seen[1].done.is_empty(), "B does not inherit A's job");
    answer(
        &f.service,
        ask("s1", &a, None, p.history.clone(), Some("j")),
    )
    .await
    .unwrap();
    let next = answer(&f.service, ask("s1", &a, None, p.history, Some("j"))).await;
    assert_eq!(next, Err(ErrorCode::PolicyInterval));
}

/// Segments the host altered, filed under another account, or truncated
/// are not opened: the exchange is asked from id 0.
#[tokio::test]
async fn tampered_or_misfiled_segments_are_refused() {
    let f = fixture(1);
    let cred = sealed(&f.enclave, "KEY-A", None);
    let p = pending(&f.service, ask("s1", &cred, None, vec![], None)).await;
    let good = p.history[0].clone();
    let mut flipped = good.clone();
    let mid = flipped.sealed.len() / 2;
    flipped.sealed[mid] ^= 1;
    let mut misfiled = good.clone();
    misfiled.account = account_pseudonym_v2("binance", "2002");
    let mut short = good.clone();
    short.sealed.truncate(20);
    for bad in [flipped, misfiled, short] {
        f.clock.set(f.clock.now_unix_ms() + 3_600_000);
        answer(&f.service, ask("s1", &cred, None, vec![bad], None))
            .await
            .unwrap();
        let seen = f.exchange.seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!((seen.cursor, seen.stored_trades), (0, 0));
    }
    f.clock.set(f.clock.now_unix_ms() + 3_600_000);
    answer(&f.service, ask("s1", &cred, None, vec![good], None))
        .await
        .unwrap();
    let seen = f.exchange.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.cursor, 3, "the untouched segment opens");
}

/// A job id longer than the protocol allows is refused before anything.
#[tokio::test]
async fn an_overlong_job_id_is_refused() {
    let f = fixture(0);
    let cred = sealed(&f.enclave, "KEY-A", None);
    let long = "j".repeat(65);
    let body = ask("s1", &cred, None, vec![], Some(&long));
    assert_eq!(
        answer(&f.service, body).await,
        Err(ErrorCode::InvalidArgument)
    );
    assert!(f.exchange.seen.lock().unwrap().is_empty());
}
