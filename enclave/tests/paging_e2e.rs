//! Large histories end to end (real enclave, real mock, test proxy): 12,000
//! trades page by `fromId` without loss or duplication, and an egress proxy
//! that cuts the connection mid-response once is survived with the same result.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "dev-simulator")]

mod e2e;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use e2e::{Stack, mock_binary, seal_credential};
use sha2::{Digest, Sha256};
use strongroom_enclave_core::aggregate::{SymbolInfo, Window, aggregate, parse_trades_page};
use strongroom_protocol::aggregates::AggregatePayload;
use strongroom_protocol::messages::AggregatesResult;
use strongroom_verifier::cose::verify_es256;
use strongroom_verifier::{KeyBinding, Policy, TrustRoot, verify};

/// Account of generated fixtures (`strongroom_devtools::generate`).
const GEN_KEY: &str = "gen-api-key-0000000000000000000000000000000000000000000000000000";
const GEN_SECRET: &str = "gen-api-secret-000000000000000000000000000000000000000000000000";

fn generate(out: &Path, trades: usize) {
    let status = Command::new(mock_binary())
        .arg("--generate-fixture")
        .arg(out)
        .args(["--trades", &trades.to_string(), "--seed", "7"])
        .status()
        .unwrap();
    assert!(status.success());
}

fn verified(stack: &Stack, r: &AggregatesResult) -> AggregatePayload {
    let root = TrustRoot::dev_from_pem(&std::fs::read_to_string(&stack.enclave.root_pem).unwrap())
        .unwrap();
    let policy = Policy::default().with_nonce(Sha256::digest(&r.signed).to_vec());
    let doc = verify(&r.attestation, &root, std::time::SystemTime::now(), &policy).unwrap();
    let binding = KeyBinding::from_document(&doc).unwrap();
    let bytes = verify_es256(&r.signed, &binding.signing_key, Some(&binding.kid)).unwrap();
    AggregatePayload::from_cbor(&bytes).unwrap()
}

/// The figures the enclave's aggregation gives on the fixture's trades
/// directly (no exchange, no paging): the reference for the paged result.
fn reference(path: &Path) -> AggregatePayloadFigures {
    let f: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let trades =
        parse_trades_page(&serde_json::to_vec(&f["accounts"][0]["trades"]).unwrap()).unwrap();
    let info: BTreeMap<String, SymbolInfo> = [("BTCUSDT", "BTC"), ("ETHUSDT", "ETH")]
        .into_iter()
        .map(|(s, b)| {
            (
                s.to_owned(),
                SymbolInfo {
                    base: b.into(),
                    quote: "USDT".into(),
                },
            )
        })
        .collect();
    let (symbols, totals) = aggregate(&trades, &info, Window::default()).unwrap();
    (
        serde_json::to_value(symbols).unwrap(),
        serde_json::to_value(totals).unwrap(),
    )
}

type AggregatePayloadFigures = (serde_json::Value, serde_json::Value);

fn figures(p: &AggregatePayload) -> AggregatePayloadFigures {
    (
        serde_json::to_value(&p.symbols).unwrap(),
        serde_json::to_value(&p.totals).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_thousand_trades_page_and_survive_a_cut_connection() {
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("gen-12000.json");
    generate(&fx, 12_000);
    let stack = Stack::start(&fx, &[]).await;
    let att = stack.enclave.attest().await;
    let cred = seal_credential(&att, "binance", GEN_KEY, GEN_SECRET);

    let r = stack
        .enclave
        .compute("sess-paging", &cred, None, None, None)
        .await
        .unwrap();
    let p = verified(&stack, &r);
    assert_eq!(p.symbols["BTCUSDT"].trade_count, 9_000);
    assert_eq!(p.symbols["ETHUSDT"].trade_count, 3_000);
    assert_eq!(p.totals["USDT"].trade_count, 12_000);
    let want = reference(&fx);
    assert_eq!(figures(&p), want);
    // 1000 a page from fromId: 9 full BTCUSDT pages and an empty one, 3 full
    // ETHUSDT pages and an empty one.
    let pages = stack.mock.log_text().matches("/api/v3/myTrades").count();
    assert_eq!(pages, 10 + 4, "{pages} myTrades calls");

    // The proxy cuts the next connection after 100 kB towards the enclave:
    // inside the first 1000-trade page (~300 kB). The enclave reconnects,
    // re-sends the (idempotent, re-signed) call, and the result is the same.
    let connected = stack.proxy_state().connected();
    *stack.proxy_state().cut_next_after.lock().unwrap() = Some(100_000);
    let r = stack
        .enclave
        .compute("sess-paging", &cred, None, None, None)
        .await
        .unwrap();
    assert_eq!(stack.proxy_state().cuts(), 1);
    assert_eq!(stack.proxy_state().connected(), connected + 2);
    assert_eq!(figures(&verified(&stack, &r)), want);
}
