#![allow(clippy::unwrap_used)]

use super::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

const SNAPS: &str = r#"{"code":200,"msg":"","snapshotVos":[
 {"type":"spot","updateTime":1734653999000,"data":{"balances":[
   {"asset":"BTC","free":"0.1","locked":"0.05"},{"asset":"ETH","free":"0","locked":"0.00000000"}],
   "totalAssetOfBtc":"0.2"}},
 {"type":"spot","updateTime":1734566399000,"data":{"balances":[{"asset":"USDT","free":"500","locked":"0"}],"totalAssetOfBtc":"0"}}]}"#;

#[test]
fn snapshots_parse_sorted_with_zero_balances_left_out() {
    let s = parse_snapshots(SNAPS.as_bytes()).unwrap();
    assert_eq!(s.len(), 2);
    // 1734566399000 = 2024-12-18T23:59:59Z.
    assert_eq!(date_text(s[0].day).unwrap(), "2024-12-18");
    assert_eq!(s[0].balances["USDT"], d("500"));
    assert_eq!(s[1].balances.len(), 1, "zero ETH left out");
    assert_eq!(s[1].balances["BTC"], d("0.15"));
}

#[test]
fn snapshots_are_strict() {
    let one = |b: &str| {
        format!(
            r#"{{"code":200,"msg":"","snapshotVos":[{{"type":"spot","updateTime":0,"data":{{"balances":[{b}]}}}}]}}"#
        )
    };
    let ok = one(r#"{"asset":"BTC","free":"1","locked":"0"}"#);
    assert!(parse_snapshots(ok.as_bytes()).is_ok());
    for bad in [
        one(r#"{"asset":"BTC","free":"-1","locked":"0"}"#),
        one(r#"{"asset":"BTC","free":1,"locked":"0"}"#),
        one(r#"{"asset":"btc","free":"1","locked":"0"}"#),
        one(r#"{"asset":"BTC","free":"1","locked":"0"},{"asset":"BTC","free":"1","locked":"0"}"#),
        one(r#"{"asset":"BTC","free":"1e3","locked":"0"}"#),
        r#"{"code":-1,"msg":"","snapshotVos":[]}"#.to_owned(),
        r#"{"code":200,"msg":"","snapshotVos":[{"type":"margin","updateTime":0,"data":{"balances":[]}}]}"#.to_owned(),
    ] {
        assert_eq!(
            parse_snapshots(bad.as_bytes()),
            Err(WalletParseError::Malformed),
            "{bad}"
        );
    }
    // Two snapshots of one day.
    let vo = r#"{"type":"spot","updateTime":1000,"data":{"balances":[]}}"#;
    let two = format!(r#"{{"code":200,"msg":"","snapshotVos":[{vo},{vo}]}}"#);
    assert_eq!(
        parse_snapshots(two.as_bytes()),
        Err(WalletParseError::Malformed)
    );
}

#[test]
fn snapshot_limits_at_and_over() {
    let vo = |i: usize| {
        format!(
            r#"{{"type":"spot","updateTime":{},"data":{{"balances":[]}}}}"#,
            i as i64 * DAY_MS
        )
    };
    let body = |n: usize| {
        let vos: Vec<String> = (0..n).map(vo).collect();
        format!(
            r#"{{"code":200,"msg":"","snapshotVos":[{}]}}"#,
            vos.join(",")
        )
    };
    assert_eq!(
        parse_snapshots(body(MAX_SNAPSHOTS).as_bytes())
            .unwrap()
            .len(),
        MAX_SNAPSHOTS
    );
    assert_eq!(
        parse_snapshots(body(MAX_SNAPSHOTS + 1).as_bytes()),
        Err(WalletParseError::TooLarge)
    );
    let balances = |n: usize| {
        let b: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"asset":"A{i}","free":"1","locked":"0"}}"#))
            .collect();
        format!(
            r#"{{"code":200,"msg":"","snapshotVos":[{{"type":"spot","updateTime":0,"data":{{"balances":[{}]}}}}]}}"#,
            b.join(",")
        )
    };
    assert!(parse_snapshots(balances(MAX_SNAPSHOT_BALANCES).as_bytes()).is_ok());
    assert_eq!(
        parse_snapshots(balances(MAX_SNAPSHOT_BALANCES + 1).as_bytes()),
        Err(WalletParseError::TooLarge)
    );
    let huge = vec![b' '; MAX_WALLET_BODY_BYTES + 1];
    assert_eq!(parse_snapshots(&huge), Err(WalletParseError::TooLarge));
}

fn kline(open: i64, close: &str) -> String {
    format!(
        r#"[{open},"1","2","0.5","{close}","10",{},"10",5,"1","1","0"]"#,
        open + DAY_MS - 1
    )
}

#[test]
fn klines_give_daily_closes() {
    let body = format!("[{},{}]", kline(0, "1.5"), kline(DAY_MS, "2"));
    let c = parse_daily_closes(body.as_bytes()).unwrap();
    assert_eq!(c[&0], d("1.5"));
    assert_eq!(c[&1], d("2"));
    for bad in [
        format!("[{},{}]", kline(DAY_MS, "1"), kline(0, "2")),
        format!("[{},{}]", kline(0, "1"), kline(0, "2")),
        format!("[{}]", kline(1000, "1")),
        format!("[{}]", kline(0, "-1")),
        r#"[[0,"1","2","0.5",1.5,"10",1,"10",5,"1","1","0"]]"#.to_owned(),
        r#"[[0,"1","2","0.5","1.5"]]"#.to_owned(),
    ] {
        assert_eq!(
            parse_daily_closes(bad.as_bytes()),
            Err(WalletParseError::Malformed),
            "{bad}"
        );
    }
    let many: Vec<String> = (0..=MAX_KLINES as i64)
        .map(|i| kline(i * DAY_MS, "1"))
        .collect();
    assert_eq!(
        parse_daily_closes(format!("[{}]", many.join(",")).as_bytes()),
        Err(WalletParseError::TooLarge)
    );
    let at: Vec<String> = (0..MAX_KLINES as i64)
        .map(|i| kline(i * DAY_MS, "1"))
        .collect();
    assert!(parse_daily_closes(format!("[{}]", at.join(",")).as_bytes()).is_ok());
}

#[test]
fn flows_count_credited_deposits_and_completed_withdrawals() {
    let deposits = r#"[
      {"id":"1","amount":"500","coin":"USDT","status":1,"insertTime":1735120800000,"txId":"x"},
      {"id":"2","amount":"7","coin":"USDT","status":6,"insertTime":1735120800000},
      {"id":"3","amount":"9","coin":"USDT","status":0,"insertTime":1735120800000}]"#;
    let p = parse_deposits(deposits.as_bytes()).unwrap();
    assert_eq!(p.records, 3);
    assert_eq!(p.flows.len(), 2, "pending deposit not in the balance");
    assert_eq!(date_text(p.flows[0].day).unwrap(), "2024-12-25");
    let withdrawals = r#"[
      {"id":"w","amount":"100","transactionFee":"1","coin":"DEMO","status":6,"applyTime":"2025-01-08 09:00:00"},
      {"id":"v","amount":"3","transactionFee":"1","coin":"DEMO","status":1,"applyTime":"2025-01-09 09:00:00"}]"#;
    let p = parse_withdrawals(withdrawals.as_bytes()).unwrap();
    assert_eq!(p.records, 2);
    assert_eq!(p.flows.len(), 1, "cancelled withdrawal not a flow");
    assert_eq!(p.flows[0].amount, d("-100"), "the fee is not a flow");
    assert_eq!(date_text(p.flows[0].day).unwrap(), "2025-01-08");
    for bad in [
        r#"[{"amount":"1","coin":"X","status":6,"applyTime":"2025-01-08T09:00:00Z"}]"#,
        r#"[{"amount":"-1","coin":"X","status":6,"applyTime":"2025-01-08 09:00:00"}]"#,
        r#"[{"amount":"1","coin":"x y","status":6,"applyTime":"2025-01-08 09:00:00"}]"#,
    ] {
        assert_eq!(
            parse_withdrawals(bad.as_bytes()),
            Err(WalletParseError::Malformed),
            "{bad}"
        );
    }
    assert_eq!(
        parse_deposits(br#"[{"amount":"1","coin":"X","status":1,"insertTime":"1"}]"#),
        Err(WalletParseError::Malformed)
    );
    let page: Vec<String> = (0..=MAX_FLOW_PAGE)
        .map(|_| r#"{"amount":"1","coin":"X","status":1,"insertTime":1}"#.to_owned())
        .collect();
    assert_eq!(
        parse_deposits(format!("[{}]", page.join(",")).as_bytes()),
        Err(WalletParseError::TooLarge)
    );
}
