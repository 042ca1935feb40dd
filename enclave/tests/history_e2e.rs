//! Sealed history end to end (issue 18; real enclave, real mock exchange,
//! test proxy). The mock's request log (`RUST_LOG=info`) names every
//! `myTrades` call's symbol and `fromId`, which shows what the enclave
//! fetched:
//!
//! - a second computation handed the first one's segments asks only from
//!   their cursors, and signs the same figures;
//! - a dropped middle segment makes it fetch from the gap, a tampered or
//!   misfiled one from 0, and the figures stay those of a full fetch;
//! - under a tight weight budget a computation answers `pending` with its
//!   progress, and the same job, handed the segments, completes a minute
//!   (of the exchange's clock) later without asking for the symbol done.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "dev-simulator")]

mod e2e;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use e2e::{Sealed, Stack, mock_binary, seal_credential};
use sha2::{Digest, Sha256};
use strongroom_enclave_core::aggregate::{SymbolInfo, Window, aggregate, parse_trades_page};
use strongroom_protocol::aggregates::AggregatePayload;
use strongroom_protocol::messages::{
    AggregatesResult, ComputeAggregatesRequest, ComputePending, RequestBody, ResponseBody,
    SealedHistory,
};
use strongroom_verifier::cose::verify_es256;
use strongroom_verifier::{KeyBinding, Policy, TrustRoot, verify};

/// Account of generated fixtures (`strongroom_devtools::generate`).
const GEN_KEY: &str = "gen-api-key-0000000000000000000000000000000000000000000000000000";
const GEN_SECRET: &str = "gen-api-secret-000000000000000000000000000000000000000000000000";

fn generate(out: &Path, trades: usize) -> serde_json::Value {
    let status = Command::new(mock_binary())
        .arg("--generate-fixture")
        .arg(out)
        .args(["--trades", &trades.to_string(), "--seed", "7"])
        .status()
        .unwrap();
    assert!(status.success());
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

type Figures = (serde_json::Value, serde_json::Value);

/// The figures of the fixture's trades aggregated directly.
fn reference(f: &serde_json::Value) -> Figures {
    let trades =
        parse_trades_page(&serde_json::to_vec(&f["accounts"][0]["trades"]).unwrap()).unwrap();
    let info: BTreeMap<String, SymbolInfo> = [("BTCUSDT", "BTC"), ("ETHUSDT", "ETH")]
        .into_iter()
        .map(|(s, b)| {
            let i = SymbolInfo {
                base: b.into(),
                quote: "USDT".into(),
            };
            (s.to_owned(), i)
        })
        .collect();
    let (symbols, totals) = aggregate(&trades, &info, Window::default()).unwrap();
    (
        serde_json::to_value(symbols).unwrap(),
        serde_json::to_value(totals).unwrap(),
    )
}

/// The fixture's trade ids of `symbol`, ascending.
fn ids(f: &serde_json::Value, symbol: &str) -> Vec<u64> {
    let mut v: Vec<u64> = f["accounts"][0]["trades"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["symbol"] == symbol)
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    v.sort_unstable();
    v
}

fn figures(stack: &Stack, r: &AggregatesResult) -> Figures {
    let root = TrustRoot::dev_from_pem(&std::fs::read_to_string(&stack.enclave.root_pem).unwrap())
        .unwrap();
    let policy = Policy::default().with_nonce(Sha256::digest(&r.signed).to_vec());
    let doc = verify(&r.attestation, &root, std::time::SystemTime::now(), &policy).unwrap();
    let binding = KeyBinding::from_document(&doc).unwrap();
    let bytes = verify_es256(&r.signed, &binding.signing_key, Some(&binding.kid)).unwrap();
    let p = AggregatePayload::from_cbor(&bytes).unwrap();
    (
        serde_json::to_value(&p.symbols).unwrap(),
        serde_json::to_value(&p.totals).unwrap(),
    )
}

/// A field of a log line, without quotes.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name))
        .unwrap_or("")
        .trim_matches('"')
}

/// The mock's `myTrades` calls as `SYMBOL@fromId`, in order.
fn my_trades(stack: &Stack) -> Vec<String> {
    stack
        .mock
        .log_text()
        .lines()
        .filter(|l| l.contains("/api/v3/myTrades"))
        .map(|l| format!("{}@{}", field(l, "symbol="), field(l, "from_id=")))
        .collect()
}

async fn call(
    stack: &Stack,
    cred: &Sealed,
    history: Vec<SealedHistory>,
    job: Option<&str>,
) -> ResponseBody {
    let body = RequestBody::ComputeAggregates(ComputeAggregatesRequest {
        tenant: None,
        session_id: "sess-history".into(),
        sealed: cred.sealed.clone(),
        metadata: cred.metadata.clone(),
        from_ms: None,
        to_ms: None,
        symbols: None,
        owner_authorization: None,
        previous: Vec::new(),
        history,
        job: job.map(str::to_owned),
    });
    stack.enclave.client.call(body).await.unwrap()
}

async fn signed(stack: &Stack, cred: &Sealed, history: Vec<SealedHistory>) -> AggregatesResult {
    match call(stack, cred, history, None).await {
        ResponseBody::Aggregates(r) => r,
        other => panic!("not aggregates: {other:?}"),
    }
}

/// 14,000 generated trades: BTCUSDT 10,500 (segments of 5,000, 5,000 and
/// 500), ETHUSDT 3,500 (one segment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_segments_are_not_fetched_again_and_gaps_are() {
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("gen-14000.json");
    let f = generate(&fx, 14_000);
    let (btc, eth) = (ids(&f, "BTCUSDT"), ids(&f, "ETHUSDT"));
    let want = reference(&f);
    let stack = Stack::start(&fx, &[]).await;
    let att = stack.enclave.attest().await;
    let cred = seal_credential(&att, "binance", GEN_KEY, GEN_SECRET);

    let first = signed(&stack, &cred, vec![]).await;
    assert_eq!(figures(&stack, &first), want);
    assert_eq!(first.history.len(), 4, "3 BTCUSDT segments and 1 ETHUSDT");
    let full = my_trades(&stack).len();

    // (a) Handed every segment: one call per symbol, from after its last id.
    let again = signed(&stack, &cred, first.history.clone()).await;
    assert_eq!(figures(&stack, &again), want);
    assert!(again.history.is_empty(), "nothing new to store");
    let btc_end = btc.last().unwrap() + 1;
    let eth_end = eth.last().unwrap() + 1;
    assert_eq!(
        my_trades(&stack)[full..],
        [format!("BTCUSDT@{btc_end}"), format!("ETHUSDT@{eth_end}")]
    );

    // (c) The host drops BTCUSDT's middle segment: fetched from the gap.
    // Segments come back in fetch order: BTCUSDT's three, then ETHUSDT's.
    let mut dropped = first.history.clone();
    dropped.remove(1);
    let before = my_trades(&stack).len();
    let r = signed(&stack, &cred, dropped).await;
    assert_eq!(figures(&stack, &r), want, "still complete");
    let gap = btc[4_999] + 1;
    let sent = my_trades(&stack)[before..].to_vec();
    assert_eq!(sent[0], format!("BTCUSDT@{gap}"), "{sent:?}");
    assert_eq!(sent.last().unwrap(), &format!("ETHUSDT@{eth_end}"));
    assert_eq!(r.history.len(), 2, "the refetched range, sealed again");

    // (d) A tampered segment and a misfiled one do not open: from 0.
    let before = my_trades(&stack).len();
    let mut bad = first.history.clone();
    for s in &mut bad {
        let mid = s.sealed.len() / 2;
        s.sealed[mid] ^= 0x40;
    }
    bad[0].account = "00".repeat(32);
    let r = signed(&stack, &cred, bad).await;
    assert_eq!(figures(&stack, &r), want);
    let sent = my_trades(&stack)[before..].to_vec();
    assert!(sent.contains(&"BTCUSDT@0".to_owned()) && sent.contains(&"ETHUSDT@0".to_owned()));
    assert!(
        stack
            .enclave
            .log_text()
            .contains("stored history segments refused")
    );
}

/// Weight limit 100: time 1 + exchangeInfo 20 + account 20, then BTCUSDT's
/// two pages (1,500 trades) reach 81 and ETHUSDT's page would make 101: not
/// sent. The
/// mock's clock is set so that the exchange's minute ends about 25 s after
/// the first attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_answers_pending_and_the_job_completes_later() {
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("gen-2000.json");
    let f = generate(&fx, 2_000);
    let want = reference(&f);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Exchange time = now + skew lies 25 s into its minute.
    let skew = (25_000 - now.rem_euclid(60_000)).to_string();
    let stack = Stack::start_with(
        &fx,
        &["--clock-skew-ms", &skew],
        &[
            "--exchange-weight-limit",
            "100",
            "--exchange-weight-margin",
            "0",
        ],
    )
    .await;
    let att = stack.enclave.attest().await;
    let cred = seal_credential(&att, "binance", GEN_KEY, GEN_SECRET);

    let p: ComputePending = match call(&stack, &cred, vec![], Some("job-1")).await {
        ResponseBody::Pending(p) => p,
        other => panic!("not pending: {other:?}"),
    };
    assert_eq!((p.symbols_done, p.symbols_total), (1, 2));
    assert_eq!(p.history.len(), 1, "BTCUSDT's segment");
    assert!(p.weight_used >= 81, "{}", p.weight_used);
    assert!((1..=60).contains(&p.retry_after_s));
    let btc_pages = [
        "BTCUSDT@0".to_owned(),
        format!("BTCUSDT@{}", ids(&f, "BTCUSDT")[999] + 1),
    ];
    assert_eq!(my_trades(&stack), btc_pages);

    tokio::time::sleep(std::time::Duration::from_secs(
        u64::from(p.retry_after_s) + 1,
    ))
    .await;
    let r = match call(&stack, &cred, p.history, Some("job-1")).await {
        ResponseBody::Aggregates(r) => r,
        other => panic!("not aggregates: {other:?}"),
    };
    assert_eq!(figures(&stack, &r), want);
    assert_eq!(r.history.len(), 1, "ETHUSDT's segment");
    assert_eq!(
        my_trades(&stack)[2..],
        ["ETHUSDT@0".to_owned()],
        "BTCUSDT not asked again"
    );
}
