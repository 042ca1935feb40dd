//! The `returns` block end to end: the `strongroom-enclave` binary
//! (simulator) fetches snapshots, daily klines and both flow histories from
//! the `strongroom-mock-exchange` binary over TLS through the egress proxy,
//! and signs the block. It must equal what the independent Python
//! references (`scripts/checks/returns_series.py` for the series,
//! `returns_reference.py` for the figures, both written from METHODOLOGY.md)
//! compute from the same fixture file; and the verifier's recheck (R6b)
//! must refuse the same payload with one figure changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "dev-simulator")]

mod e2e;

use std::path::Path;
use std::process::Command;

use e2e::{Stack, fixture, repo_root, seal_credential};
use strongroom_formats::aggregates::Dec;
use strongroom_protocol::aggregates::AggregatePayload;
use strongroom_protocol::messages::ResponseBody;
use strongroom_verifier::result::verify_returns;

/// The Python with the outside-check libraries: `STRONGROOM_PYTHON` (set by
/// scripts/test) or `python3` (the references need the standard library only).
fn python() -> String {
    std::env::var("STRONGROOM_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// The Python reference's block for `api_key`'s account of `fixture`.
fn reference(fixture: &Path, api_key: &str) -> serde_json::Value {
    let script = repo_root().join("scripts/checks/returns_series.py");
    let out = Command::new(python())
        .arg(script)
        .arg(fixture)
        .arg(api_key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The signed payload of one computation of `fixture`'s demo account.
async fn signed_payload(fixture: &Path) -> AggregatePayload {
    let stack = Stack::start(fixture, &[]).await;
    let att = stack.enclave.attest().await;
    let cred = seal_credential(&att, "binance", "demo-api-key", "demo-api-secret");
    let opened = stack.enclave.open("sess-returns", &cred).await.unwrap();
    assert!(matches!(opened, ResponseBody::CredentialAccepted(_)));
    let r = stack
        .enclave
        .compute("sess-returns", &cred, None, None, None)
        .await
        .unwrap();
    // Signed as computed: the same bytes decode to the payload checked here.
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&att.signing_public_key).unwrap();
    let bytes = strongroom_verifier::cose::verify_es256(&r.signed, &key, None).unwrap();
    AggregatePayload::from_cbor(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_returns_equal_the_python_reference() {
    let path = fixture("demo.json");
    let payload = signed_payload(&path).await;
    let block = payload
        .returns
        .as_ref()
        .expect("the demo account has snapshots");
    assert_eq!(
        payload.methodology.as_deref(),
        Some("strongroom/metrics/v2")
    );
    assert_eq!(block.valuation_asset, "USDT");
    assert_eq!(block.daily.len(), 30, "30 daily snapshots");
    // DEMO has no DEMOUSDT: valued via DEMOBTC × BTCUSDT, so nothing unvalued.
    assert!(block.unvalued.is_empty());
    assert!(
        block
            .daily
            .iter()
            .any(|d| d.net_flow.0 > rust_decimal::Decimal::ZERO)
    );
    assert!(
        block
            .daily
            .iter()
            .any(|d| d.net_flow.0 < rust_decimal::Decimal::ZERO)
    );
    assert_eq!(
        serde_json::to_value(block).unwrap(),
        reference(&path, "demo-api-key")
    );
    verify_returns(&payload).unwrap();

    // One figure changed: the verifier's recheck refuses it, coded.
    let mut forged = payload.clone();
    let r = forged.returns.as_mut().unwrap();
    r.twr = Dec(r.twr.0 + rust_decimal::Decimal::new(1, 12));
    let err = verify_returns(&forged).unwrap_err();
    assert_eq!(err.code(), "returns_mismatch");
    let mut forged = payload.clone();
    forged.returns.as_mut().unwrap().daily[3].ret = None;
    assert_eq!(
        verify_returns(&forged).unwrap_err().code(),
        "returns_mismatch"
    );
}

/// The demo fixture with a day's snapshot removed (a gap) and an asset no
/// route can value held throughout.
fn gapped_fixture(dir: &Path) -> std::path::PathBuf {
    let mut f: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("demo.json")).unwrap()).unwrap();
    let snaps = f["accounts"][0]["snapshots"].as_array_mut().unwrap();
    snaps.remove(9);
    for s in snaps.iter_mut() {
        s["data"]["balances"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"asset": "NOPE", "free": "7", "locked": "0"}));
    }
    let path = dir.join("gapped.json");
    std::fs::write(&path, serde_json::to_vec(&f).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_ends_the_series_and_unvalued_assets_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = gapped_fixture(dir.path());
    let payload = signed_payload(&path).await;
    let block = payload.returns.as_ref().unwrap();
    // Snapshots 0..=8, gap, 10..=29: only the latest run, never bridged.
    assert_eq!(block.daily.len(), 20);
    assert_eq!(block.unvalued, ["NOPE"]);
    assert_eq!(
        serde_json::to_value(block).unwrap(),
        reference(&path, "demo-api-key")
    );
    verify_returns(&payload).unwrap();
}

/// Binance's weights of the calls one daily snapshot makes (the mock
/// charges the same): klines 2 on the shared `/api/*` budget (6,000 a
/// minute); accountSnapshot 2,400 and deposit history 1 on their own
/// 12,000-a-minute budgets; withdraw history 18,000 on 180,000 a second.
const WEIGHTS: [(&str, u32); 4] = [
    ("/api/v3/klines", 2),
    ("/sapi/v1/accountSnapshot", 2_400),
    ("/sapi/v1/capital/deposit/hisrec", 1),
    ("/sapi/v1/capital/withdraw/history", 18_000),
];

/// The mock's large fixture reshaped to an account holding 50 assets (44
/// with a USDT pair, 6 with only a BTC pair) on each of its 30 days.
fn fifty_assets(dir: &Path) -> (std::path::PathBuf, String, String) {
    let out = dir.join("large.json");
    let status = Command::new(e2e::mock_binary())
        .args(["--generate-fixture"])
        .arg(&out)
        .args(["--large", "--symbols", "50", "--trades", "200"])
        .status()
        .unwrap();
    assert!(status.success());
    let mut f: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let assets: Vec<String> = f["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["baseAsset"].as_str().unwrap().to_owned())
        .filter(|a| a != "BTC")
        .collect();
    assert_eq!(assets.len(), 50);
    let account = &mut f["accounts"][0];
    for s in account["snapshots"].as_array_mut().unwrap() {
        let b = s["data"]["balances"].as_array_mut().unwrap();
        b.retain(|x| x["asset"] == "BTC" || x["asset"] == "USDT");
        b.extend(
            assets
                .iter()
                .map(|a| serde_json::json!({"asset": a, "free": "3.5", "locked": "0.25"})),
        );
    }
    let key = account["api_key"].as_str().unwrap().to_owned();
    let secret = account["api_secret"].as_str().unwrap().to_owned();
    std::fs::write(&out, serde_json::to_vec(&f).unwrap()).unwrap();
    (out, key, secret)
}

/// One daily snapshot of an account holding 50 assets: what it costs in
/// exchange weight, measured from the requests the mock served, against
/// Binance's limits; and its block equals the Python reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_snapshot_of_50_assets_stays_within_the_weight_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (path, key, secret) = fifty_assets(dir.path());
    let stack = Stack::start(&path, &[]).await;
    let att = stack.enclave.attest().await;
    let cred = seal_credential(&att, "binance", &key, &secret);
    stack.enclave.open("sess-50", &cred).await.unwrap();
    let r = stack
        .enclave
        .compute("sess-50", &cred, None, None, Some(vec!["BTCUSDT".into()]))
        .await
        .unwrap();
    let key_v = p256::ecdsa::VerifyingKey::from_sec1_bytes(&att.signing_public_key).unwrap();
    let bytes = strongroom_verifier::cose::verify_es256(&r.signed, &key_v, None).unwrap();
    let payload = AggregatePayload::from_cbor(&bytes).unwrap();
    let block = payload.returns.as_ref().unwrap();
    assert_eq!((block.daily.len(), block.days), (30, 29));
    assert!(block.unvalued.is_empty(), "{:?}", block.unvalued);
    assert_eq!(serde_json::to_value(block).unwrap(), reference(&path, &key));

    let log = stack.mock.log_text();
    let count = |p: &str| {
        log.lines()
            .filter(|l| l.contains(" request") && l.contains(p))
            .count() as u32
    };
    let spent: Vec<(&str, u32, u32)> = WEIGHTS
        .iter()
        .map(|(p, w)| (*p, count(p), count(p) * w))
        .collect();
    println!("daily snapshot of 50 assets: {spent:?}");
    // 50 USDT pairs tried (6 unknown), 6 BTC pairs and BTCUSDT: 57 klines.
    assert_eq!(spent[0].1, 57, "{spent:?}");
    assert!(spent[0].2 <= 5_400, "klines within the /api margin");
    assert_eq!(spent[1].1, 1);
    assert_eq!((spent[2].1, spent[3].1), (1, 1));
    assert!(spent[1].2 <= 10_800 && spent[3].2 <= 162_000);
}
