//! `ComputeAggregates` and `AppendLog` end to end with real processes: the
//! `strongroom-enclave` binary (simulator), the `strongroom-mock-exchange`
//! binary, and an egress proxy between them. The results are checked with
//! the verifier's code only (attestation under the dev root, COSE under the
//! attested key, nonce = SHA-256(signed), RFC 9162 inclusion).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "dev-simulator")]

mod e2e;

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use e2e::{Sealed, Stack, fixture, seal_credential};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};
use strongroom_enclave_core::aggregate::{SymbolInfo, Window, aggregate, parse_trades_page};
use strongroom_protocol::ErrorCode;
use strongroom_protocol::aggregates::AggregatePayload;
use strongroom_protocol::client::error_code;
use strongroom_protocol::messages::{
    AggregatesResult, AppendLogRequest, ForgetRequest, LogAppended, RequestBody, ResponseBody,
};
use strongroom_verifier::cose::verify_es256;
use strongroom_verifier::merkle::{Frontier, Hash, inclusion_proof, leaf_hash};
use strongroom_verifier::result::{AggregatesAnswer, LogEntry, verify_result};
use strongroom_verifier::{KeyBinding, PcrSet, Policy, TrustRoot, verify};

/// 2025-01-01T00:00:00Z, hour 0 of the demo fixture.
const DEMO_H0: i64 = 1_735_689_600_000;
const HOUR: i64 = 3_600_000;

fn demo_expected() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixture("demo.expected.json")).unwrap()).unwrap()
}

/// Verifies a result the way a client does and returns its payload:
/// attestation under the dev root with nonce = SHA-256(signed), the signed
/// payload under the attested key and kid.
fn verified(stack: &Stack, r: &AggregatesResult) -> (AggregatePayload, KeyBinding) {
    let root = TrustRoot::dev_from_pem(&std::fs::read_to_string(&stack.enclave.root_pem).unwrap())
        .unwrap();
    let nonce = Sha256::digest(&r.signed).to_vec();
    assert_eq!(nonce.len(), 32);
    // The PCR policy is the enclave's own `--dev-pcrs-out` file.
    let pcrs = PcrSet::from_file(&stack.enclave.pcrs_json).unwrap();
    assert_eq!(pcrs.pcrs.len(), 3);
    let policy = Policy::default().allow_pcrs(pcrs).with_nonce(nonce.clone());
    let doc = verify(&r.attestation, &root, SystemTime::now(), &policy).unwrap();
    assert_eq!(doc.nonce.as_deref(), Some(nonce.as_slice()));
    let binding = KeyBinding::from_document(&doc).unwrap();
    let bytes = verify_es256(&r.signed, &binding.signing_key, Some(&binding.kid)).unwrap();
    let payload = AggregatePayload::from_cbor(&bytes).unwrap();
    assert_eq!(payload.key_id, binding.kid);
    assert_eq!(payload.pcr0, doc.pcr0_hex());
    (payload, binding)
}

fn figures(p: &AggregatePayload) -> serde_json::Value {
    serde_json::json!({"symbols": p.symbols, "totals": p.totals})
}

/// Trades and symbol info of a fixture file's first account, parsed by the
/// enclave's own page parser, for in-process reference figures.
fn fixture_trades(
    path: &std::path::Path,
) -> (
    Vec<strongroom_enclave_core::aggregate::Trade>,
    BTreeMap<String, SymbolInfo>,
) {
    let f: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let trades = serde_json::to_vec(&f["accounts"][0]["trades"]).unwrap();
    let info = f["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap().to_owned();
            (
                text("symbol"),
                SymbolInfo {
                    base: text("baseAsset"),
                    quote: text("quoteAsset"),
                },
            )
        })
        .collect();
    (parse_trades_page(&trades).unwrap(), info)
}

async fn code_of(
    stack: &Stack,
    session: &str,
    cred: &Sealed,
    w: (Option<i64>, Option<i64>),
) -> ErrorCode {
    let err = stack
        .enclave
        .compute(session, cred, w.0, w.1, None)
        .await
        .unwrap_err();
    error_code(&err).unwrap_or_else(|| panic!("no error code: {err:?}"))
}

/// The uid the demo fixture gives the account of `api_key`.
fn demo_uid(api_key: &str) -> u64 {
    let fx = fixture("demo.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fx).unwrap()).unwrap();
    v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["api_key"] == api_key)
        .and_then(|a| a["uid"].as_u64())
        .expect("the demo account has a uid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_fixture_signed_aggregates() {
    let stack = Stack::start(&fixture("demo.json"), &[]).await;
    assert!(
        stack
            .enclave
            .log_text()
            .contains("DEV: trusting mock exchange CA")
    );
    let enclave = &stack.enclave;
    let att = enclave.attest().await;
    let cred = seal_credential(&att, "binance", "demo-api-key", "demo-api-secret");
    let opened = enclave.open("sess-demo", &cred).await.unwrap();
    assert!(matches!(opened, ResponseBody::CredentialAccepted(_)));

    // The figures equal the hand-computed ones; the result verifies.
    let r = enclave
        .compute("sess-demo", &cred, None, None, None)
        .await
        .unwrap();
    let (payload, binding) = verified(&stack, &r);
    let expected = demo_expected();
    assert_eq!(figures(&payload)["symbols"], expected["symbols"]);
    assert_eq!(figures(&payload)["totals"], expected["totals"]);
    assert_eq!(binding.signing_key_sec1.to_vec(), att.signing_public_key);
    assert_eq!(binding.kid, att.key_id);
    assert_eq!(payload.pcr0, hex::encode(&att.pcr0));
    // Payload v2: the account from the exchange's uid, the credential from
    // the sealed bytes, no host-chosen session.
    assert_eq!(payload.version, 2);
    let uid = demo_uid("demo-api-key");
    let mut account = Sha256::new();
    account.update(format!("strongroom/account/v2\0binance\0{uid}").as_bytes());
    assert_eq!(payload.account, hex::encode(account.finalize()));
    assert_eq!(payload.session, None);
    assert_eq!(
        payload.credential.as_deref(),
        Some(hex::encode(cred.sealed.id()).as_str())
    );
    assert_eq!(payload.owner, None);
    let selection = payload.selection.as_ref().unwrap();
    assert!(selection.complete);
    assert!(selection.considered.contains(&"BTCUSDT".to_owned()));
    assert_eq!(
        (payload.from.as_deref(), payload.to.as_deref()),
        (None, None)
    );
    assert_eq!(
        (payload.exchange.as_str(), payload.label.as_str()),
        ("binance", "main")
    );
    // One byte changed in the signed bytes: the signature no longer holds.
    let mut tampered = r.signed.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 1;
    assert!(verify_es256(&tampered, &binding.signing_key, None).is_err());
    // A policy naming another image refuses the attestation.
    let other = format!(r#"{{"PCR0": "{}"}}"#, "00".repeat(48));
    let other = PcrSet::from_json("other.json", other.as_bytes()).unwrap();
    let root = TrustRoot::dev_from_pem(&std::fs::read_to_string(&stack.enclave.root_pem).unwrap())
        .unwrap();
    let policy = Policy::default().allow_pcrs(other);
    assert!(verify(&r.attestation, &root, SystemTime::now(), &policy).is_err());

    // Not cached (forgotten, or never opened here): the envelope is re-opened.
    let ResponseBody::Forgotten(f) = enclave
        .client
        .call(RequestBody::Forget(ForgetRequest {
            session_id: "sess-demo".into(),
        }))
        .await
        .unwrap()
    else {
        panic!("not forgotten")
    };
    assert!(f.was_cached);
    let again = enclave
        .compute("sess-demo", &cred, None, None, None)
        .await
        .unwrap();
    assert_eq!(figures(&verified(&stack, &again).0), figures(&payload));
    let fresh = enclave
        .compute("sess-never-opened", &cred, None, None, None)
        .await
        .unwrap();
    assert_eq!(figures(&verified(&stack, &fresh).0), figures(&payload));

    // The host's metadata must match the cached credential too.
    let mut lying = cred.clone();
    lying.metadata.label = "other".into();
    assert_eq!(
        code_of(&stack, "sess-demo", &lying, (None, None)).await,
        ErrorCode::MetadataMismatch
    );

    // Named symbols: only those; unknown ones refused.
    let r = enclave
        .compute("sess-demo", &cred, None, None, Some(vec!["BTCUSDT".into()]))
        .await
        .unwrap();
    let p = verified(&stack, &r).0;
    assert_eq!(p.symbols.keys().collect::<Vec<_>>(), ["BTCUSDT"]);
    assert_eq!(
        serde_json::to_value(&p.symbols["BTCUSDT"]).unwrap(),
        expected["symbols"]["BTCUSDT"]
    );
    let err = enclave
        .compute(
            "sess-demo",
            &cred,
            None,
            None,
            Some(vec!["NOPEUSDT".into()]),
        )
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), Some(ErrorCode::InvalidArgument));

    window_filter(&stack, &cred).await;
    refusals(&stack, &att).await;
    append_log(&stack, &cred).await;
}

/// `from <= time < to`, against the fixture's trades counted here and the
/// aggregation run in-process on them.
async fn window_filter(stack: &Stack, cred: &Sealed) {
    let (trades, info) = fixture_trades(&fixture("demo.json"));
    for (from, to) in [
        (Some(DEMO_H0 + 3 * HOUR), Some(DEMO_H0 + 11 * HOUR)),
        (Some(DEMO_H0 + 11 * HOUR), None),
        (None, Some(DEMO_H0 + 6 * HOUR)),
    ] {
        let r = stack
            .enclave
            .compute("sess-demo", cred, from, to, None)
            .await
            .unwrap();
        let p = verified(stack, &r).0;
        let w = Window {
            from_ms: from,
            to_ms: to,
        };
        let inside = trades.iter().filter(|t| w.contains(t.time)).count() as u64;
        let total: u64 = p.symbols.values().map(|s| s.trade_count).sum();
        assert_eq!(total, inside, "{from:?}..{to:?}");
        assert!(inside > 0 && inside < trades.len() as u64);
        let (symbols, totals) = aggregate(&trades, &info, w).unwrap();
        assert_eq!(p.symbols, symbols);
        assert_eq!(p.totals, totals);
        let fmt = |ms: Option<i64>| {
            ms.map(|ms| strongroom_enclave_core::compute::rfc3339_ms(ms).unwrap())
        };
        assert_eq!((p.from, p.to), (fmt(from), fmt(to)));
    }
    // `to` is exclusive, `from` inclusive: the BTCUSDT buy at exactly h1.
    let mut counts = Vec::new();
    for w in [
        (None, Some(DEMO_H0 + HOUR)),
        (None, Some(DEMO_H0 + HOUR + 1)),
        (Some(DEMO_H0 + HOUR), Some(DEMO_H0 + HOUR + 1)),
    ] {
        let r = stack
            .enclave
            .compute("sess-demo", cred, w.0, w.1, None)
            .await
            .unwrap();
        let p = verified(stack, &r).0;
        counts.push(p.symbols.values().map(|s| s.trade_count).sum::<u64>());
    }
    let at_h1 = trades.iter().filter(|t| t.time == DEMO_H0 + HOUR).count() as u64;
    assert!(at_h1 > 0);
    assert_eq!(counts[1], counts[0] + at_h1);
    assert_eq!(counts[2], at_h1);
    let code = code_of(stack, "sess-demo", cred, (Some(DEMO_H0), Some(DEMO_H0))).await;
    assert_eq!(code, ErrorCode::InvalidArgument);
}

/// Credentials the exchange refuses, an exchange the enclave has no client
/// for, and a destination the host's proxy refuses.
async fn refusals(stack: &Stack, att: &strongroom_protocol::messages::AttestationInfo) {
    let wrong = seal_credential(att, "binance", "demo-api-key", "not-the-secret");
    let code = code_of(stack, "sess-wrong", &wrong, (None, None)).await;
    assert_eq!(code, ErrorCode::ExchangeRejectedCredentials);
    let unknown = seal_credential(att, "binance", "no-such-key", "demo-api-secret");
    let code = code_of(stack, "sess-unknown", &unknown, (None, None)).await;
    assert_eq!(code, ErrorCode::ExchangeRejectedCredentials);

    let connected = stack.proxy_state().connected();
    let kraken = seal_credential(att, "kraken", "demo-api-key", "demo-api-secret");
    let code = code_of(stack, "sess-kraken", &kraken, (None, None)).await;
    assert_eq!(code, ErrorCode::InvalidArgument);
    assert_eq!(
        stack.proxy_state().connected(),
        connected,
        "no egress for an unsupported exchange"
    );

    let ok = seal_credential(att, "binance", "demo-api-key", "demo-api-secret");
    let saved = std::mem::take(&mut *stack.proxy_state().allow.lock().unwrap());
    let refused = stack.proxy_state().refused();
    let code = code_of(stack, "sess-proxy", &ok, (None, None)).await;
    *stack.proxy_state().allow.lock().unwrap() = saved;
    assert_eq!(code, ErrorCode::EgressRefused);
    assert_eq!(
        stack.proxy_state().refused(),
        refused + 1,
        "refused once, not retried"
    );
    assert!(
        stack
            .enclave
            .compute("sess-proxy", &ok, None, None, None)
            .await
            .is_ok()
    );
}

/// The host's side of the log: every leaf and the last signed head.
#[derive(Default)]
struct HostLog {
    leaves: Vec<Vec<u8>>,
    head: Option<Vec<u8>>,
}

impl HostLog {
    fn request(&self, leaf: &[u8]) -> AppendLogRequest {
        let hashes: Vec<Hash> = self.leaves.iter().map(|l| leaf_hash(l)).collect();
        let f = Frontier::from_leaf_hashes(&hashes);
        AppendLogRequest {
            leaf: leaf.to_vec(),
            tree_size: f.size(),
            frontier: f
                .hashes()
                .iter()
                .map(|h| ByteBuf::from(h.to_vec()))
                .collect(),
            checkpoint: None,
            head: self.head.clone(),
        }
    }
}

async fn append(stack: &Stack, req: AppendLogRequest) -> Result<LogAppended, ErrorCode> {
    match stack.enclave.client.call(RequestBody::AppendLog(req)).await {
        Ok(ResponseBody::LogAppended(l)) => Ok(l),
        Ok(other) => panic!("not appended: {other:?}"),
        Err(e) => Err(error_code(&e).unwrap()),
    }
}

/// Three results appended over RPC; each answer then passes the verifier's
/// whole offline chain (`verify_result`): dev root -> attestation -> nonce ->
/// signing key -> payload -> inclusion under the enclave-signed head.
async fn append_log(stack: &Stack, cred: &Sealed) {
    let mut log = HostLog::default();
    let mut results = Vec::new();
    for (i, to) in [None, Some(DEMO_H0 + 10 * HOUR), Some(DEMO_H0 + 5 * HOUR)]
        .into_iter()
        .enumerate()
    {
        let r = stack
            .enclave
            .compute("sess-demo", cred, None, to, None)
            .await
            .unwrap();
        let before = log.request(&r.signed);
        let out = append(stack, before.clone()).await.unwrap();
        assert_eq!((out.leaf_index, out.tree_size), (i as u64, i as u64 + 1));
        log.leaves.push(r.signed.clone());
        log.head = Some(out.tree_head);
        results.push((r, before));
    }
    let root = TrustRoot::dev_from_pem(&std::fs::read_to_string(&stack.enclave.root_pem).unwrap())
        .unwrap();
    let hashes: Vec<Hash> = log.leaves.iter().map(|l| leaf_hash(l)).collect();
    for (i, (r, _)) in results.iter().enumerate() {
        let payload = verified(stack, r).0;
        let answer = AggregatesAnswer {
            aggregates: serde_json::to_value(&payload).unwrap(),
            aggregates_signed: B64.encode(&r.signed),
            attestation: B64.encode(&r.attestation),
            log: LogEntry {
                leaf_index: i as u64,
                tree_size: 3,
                tree_head: B64.encode(log.head.as_ref().unwrap()),
                inclusion_proof: inclusion_proof(&hashes, i as u64)
                    .unwrap()
                    .iter()
                    .map(|h| B64.encode(h))
                    .collect(),
                checkpoint: None,
                tlog_proof: None,
            },
        };
        let policy =
            Policy::default().allow_pcrs(PcrSet::from_file(&stack.enclave.pcrs_json).unwrap());
        let v = verify_result(&answer, &root, &policy).unwrap();
        assert_eq!((v.leaf_index, v.tree_head.size), (i as u64, 3));
        let mut forged = answer.clone();
        forged.log.leaf_index = (i as u64 + 1) % 3;
        assert!(verify_result(&forged, &root, &Policy::default()).is_err());
    }
    // A host replaying an older state (rollback) is refused; so is a leaf the
    // enclave did not sign.
    let (r0, stale) = &results[1];
    let mut stale = stale.clone();
    stale.leaf = r0.signed.clone();
    assert_eq!(
        append(stack, stale).await.unwrap_err(),
        ErrorCode::LogStateInvalid
    );
    let mut foreign = log.request(b"not a signed aggregate");
    foreign.leaf = b"not a signed aggregate".to_vec();
    assert_eq!(
        append(stack, foreign).await.unwrap_err(),
        ErrorCode::LogStateInvalid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_requests_are_retried() {
    // 45 weight per 1.5 s: time (1) + exchangeInfo (20) + account (20) fit,
    // the first myTrades (20) does not -> 429 with Retry-After.
    let flags = ["--weight-limit", "45", "--weight-window-ms", "1500"];
    let stack = Stack::start(&fixture("demo.json"), &flags).await;
    let att = stack.enclave.attest().await;
    let cred = seal_credential(&att, "binance", "demo-api-key", "demo-api-secret");
    let r = stack
        .enclave
        .compute("sess-429", &cred, None, None, None)
        .await
        .unwrap();
    let p = verified(&stack, &r).0;
    let expected = demo_expected();
    assert_eq!(figures(&p)["symbols"], expected["symbols"]);
    assert_eq!(figures(&p)["totals"], expected["totals"]);
    let mock_log = stack.mock.log_text();
    assert!(
        mock_log.contains("status=429"),
        "the mock never answered 429:\n{mock_log}"
    );
    assert!(
        stack
            .enclave
            .log_text()
            .contains("exchange rate limit: waiting")
    );
}
