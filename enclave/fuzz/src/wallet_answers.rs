//! The exchange answers daily equity is built from
//! (`strongroom_enclave_core::exchange::wallet`): accountSnapshot, daily
//! klines, deposit and withdrawal history pages; then the pure series
//! construction (`strongroom_enclave_core::equity::build`) over whatever
//! parsed. Never panics; every bound and domain the parsers promise holds;
//! a built series has one entry per consecutive day, at most one per
//! snapshot, and no negative equity.

use std::collections::BTreeMap;

use strongroom_enclave_core::equity::{DailyInputs, build};
use strongroom_enclave_core::exchange::wallet::{
    MAX_FLOW_PAGE, MAX_KLINES, MAX_SNAPSHOT_BALANCES, MAX_SNAPSHOTS, parse_daily_closes,
    parse_deposits, parse_snapshots, parse_withdrawals,
};

/// One input, as each of the four answers, then as a series.
pub fn run(data: &[u8]) {
    let snapshots = parse_snapshots(data).unwrap_or_default();
    assert!(snapshots.len() <= MAX_SNAPSHOTS);
    assert!(snapshots.windows(2).all(|w| w[0].day < w[1].day));
    for s in &snapshots {
        assert!(s.balances.len() <= MAX_SNAPSHOT_BALANCES);
        assert!(s.balances.values().all(|b| b.is_sign_positive() && !b.is_zero()));
    }
    let closes = parse_daily_closes(data).unwrap_or_default();
    assert!(closes.len() <= MAX_KLINES);
    assert!(closes.values().all(|c| !c.is_sign_negative()));
    let mut flows = Vec::new();
    for page in [parse_deposits(data), parse_withdrawals(data)]
        .into_iter()
        .flatten()
    {
        assert!(page.records <= MAX_FLOW_PAGE && page.flows.len() <= page.records);
        assert!(page.flows.iter().all(|f| !f.amount.is_zero()));
        flows.extend(page.flows);
    }
    let n = snapshots.len();
    let inputs = DailyInputs {
        valuation_asset: "USDT".into(),
        snapshots,
        flows,
        closes: ["BTCUSDT", "ETHUSDT", "ETHBTC"]
            .into_iter()
            .map(|s| (s.to_owned(), closes.clone()))
            .collect::<BTreeMap<_, _>>(),
    };
    if let Ok(Some(e)) = build(&inputs) {
        assert!(!e.series.is_empty() && e.series.len() <= n);
        assert!(e.series.iter().all(|d| !d.equity.0.is_sign_negative()));
        assert!(e.unvalued.windows(2).all(|w| w[0] < w[1]));
    }
}

/// Seeds: one answer of each kind.
pub fn seeds() -> Vec<Vec<u8>> {
    [
        r#"{"code":200,"msg":"","snapshotVos":[{"type":"spot","updateTime":1734566399000,"data":{"balances":[{"asset":"BTC","free":"0.1","locked":"0"},{"asset":"ETH","free":"1.5","locked":"0"},{"asset":"USDT","free":"500","locked":"0"}],"totalAssetOfBtc":"0.2"}},{"type":"spot","updateTime":1734652799000,"data":{"balances":[{"asset":"BTC","free":"0.1","locked":"0.01"}],"totalAssetOfBtc":"0.2"}}]}"#,
        r#"[[1734480000000,"1","2","0.5","100000.5","10",1734566399999,"10",5,"1","1","0"],[1734566400000,"1","2","0.5","101000","10",1734652799999,"10",5,"1","1","0"]]"#,
        r#"[{"id":"1","amount":"500","coin":"USDT","network":"ETH","status":1,"address":"0x","addressTag":"","txId":"t","insertTime":1734600000000,"transferType":0,"confirmTimes":"12/12","unlockConfirm":0,"walletType":0}]"#,
        r#"[{"id":"w","amount":"0.01","transactionFee":"0.0001","coin":"BTC","status":6,"address":"a","txId":"t","applyTime":"2024-12-19 09:00:00","network":"BTC","transferType":0,"info":"","confirmNo":3,"walletType":0,"txKey":"","completeTime":"2024-12-19 09:10:00"}]"#,
    ]
    .into_iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}
