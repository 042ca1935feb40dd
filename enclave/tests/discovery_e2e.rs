//! Symbol discovery end to end (issue 18): the `strongroom-enclave` binary
//! (simulator) computes, with no symbols named, over the mock exchange's
//! large generated fixture (321 symbols, every one traded; a third of the
//! balances zero) through the egress proxy. Every symbol the account traded
//! is queried (none left out by the 200 cap that bounds *named* symbols),
//! the signed selection says so (`mode` all, `complete` true), and every
//! trade of the fixture is aggregated. Heavier shapes belong to
//! `scripts/bench`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "dev-simulator")]

mod e2e;

use std::collections::BTreeSet;
use std::process::Command;

use e2e::{Stack, seal_credential};
use strongroom_protocol::aggregates::{AggregatePayload, SelectionMode};

const SYMBOLS: &str = "320";
const TRADES: usize = 4_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_traded_symbol_of_a_large_account_is_discovered_and_aggregated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.json");
    let status = Command::new(e2e::mock_binary())
        .args(["--generate-fixture"])
        .arg(&path)
        .args(["--large", "--symbols", SYMBOLS, "--trades"])
        .arg(TRADES.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let fixture: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let account = &fixture["accounts"][0];
    let trades = account["trades"].as_array().unwrap();
    assert_eq!(trades.len(), TRADES);
    let traded: BTreeSet<String> = trades
        .iter()
        .map(|t| t["symbol"].as_str().unwrap().to_owned())
        .collect();
    assert!(traded.len() > 300, "{}", traded.len());
    let (key, secret) = (
        account["api_key"].as_str().unwrap(),
        account["api_secret"].as_str().unwrap(),
    );

    // One myTrades (20 weight) per symbol is past Binance's 6,000 a minute:
    // both the mock's limit and the enclave's budget are raised so the
    // computation completes in one go.
    let stack = Stack::start_with(
        &path,
        &["--weight-limit", "1000000"],
        &["--exchange-weight-limit", "1000000"],
    )
    .await;
    let att = stack.enclave.attest().await;
    let cred = seal_credential(&att, "binance", key, secret);
    stack.enclave.open("sess-large", &cred).await.unwrap();
    let r = stack
        .enclave
        .compute("sess-large", &cred, None, None, None)
        .await
        .unwrap();
    let key_v = p256::ecdsa::VerifyingKey::from_sec1_bytes(&att.signing_public_key).unwrap();
    let bytes = strongroom_verifier::cose::verify_es256(&r.signed, &key_v, None).unwrap();
    let payload = AggregatePayload::from_cbor(&bytes).unwrap();

    let selection = payload.selection.as_ref().unwrap();
    assert_eq!(selection.mode, SelectionMode::All);
    assert!(selection.complete);
    let considered: BTreeSet<String> = selection.considered.iter().cloned().collect();
    let missing: Vec<&String> = traded.difference(&considered).collect();
    assert!(missing.is_empty(), "traded but not considered: {missing:?}");
    let counted: u64 = payload.symbols.values().map(|s| s.trade_count).sum();
    assert_eq!(counted, TRADES as u64, "every trade aggregated");
    assert_eq!(payload.symbols.len(), traded.len());
}
