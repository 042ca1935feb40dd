#![allow(clippy::unwrap_used)]

use strongroom_formats::returns::compute;

use super::*;

/// 2025-01-01 as a day number.
const D0: Day = 20_089;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn snap(day: Day, balances: &[(&str, &str)]) -> Snapshot {
    Snapshot {
        day,
        balances: balances
            .iter()
            .map(|(a, q)| ((*a).to_owned(), d(q)))
            .collect(),
    }
}

fn closes(sym: &str, from: Day, values: &[&str]) -> (String, BTreeMap<Day, Decimal>) {
    let m = values
        .iter()
        .enumerate()
        .map(|(i, c)| (from + i as Day, d(c)))
        .collect();
    (sym.to_owned(), m)
}

fn inputs(
    snapshots: Vec<Snapshot>,
    flows: Vec<Flow>,
    cl: &[(String, BTreeMap<Day, Decimal>)],
) -> DailyInputs {
    DailyInputs {
        valuation_asset: "USDT".into(),
        snapshots,
        flows,
        closes: cl.iter().cloned().collect(),
    }
}

fn rows(e: &Equity) -> Vec<(String, String, String)> {
    e.series
        .iter()
        .map(|x| (x.date.clone(), x.equity.to_string(), x.net_flow.to_string()))
        .collect()
}

fn row(date: &str, e: &str, f: &str) -> (String, String, String) {
    (date.into(), e.into(), f.into())
}

#[test]
fn no_snapshot_no_series() {
    assert_eq!(build(&inputs(vec![], vec![], &[])).unwrap(), None);
}

#[test]
fn flows_mid_series_are_valued_at_the_days_close() {
    // 1 BTC, then 1,000 USDT deposited on day 1 and 0.5 BTC withdrawn on day 2.
    let s = vec![
        snap(D0, &[("BTC", "1")]),
        snap(D0 + 1, &[("BTC", "1"), ("USDT", "1000")]),
        snap(D0 + 2, &[("BTC", "0.5"), ("USDT", "1000")]),
    ];
    let flows = vec![
        Flow {
            day: D0 + 1,
            asset: "USDT".into(),
            amount: d("1000"),
        },
        Flow {
            day: D0 + 2,
            asset: "BTC".into(),
            amount: d("-0.5"),
        },
        // Before the run: not part of any day.
        Flow {
            day: D0 - 5,
            asset: "USDT".into(),
            amount: d("7"),
        },
    ];
    let cl = [closes("BTCUSDT", D0, &["100", "110", "99"])];
    let e = build(&inputs(s, flows, &cl)).unwrap().unwrap();
    assert_eq!(
        rows(&e),
        [
            row("2025-01-01", "100", "0"),
            row("2025-01-02", "1110", "1000"),
            row("2025-01-03", "1049.5", "-49.5"),
        ]
    );
    assert!(e.unvalued.is_empty());
    let r = compute("USDT", &e.series, Decimal::ZERO).unwrap();
    // r1 = 1110 / (100 + 1000) − 1; r2 = 1049.5 / (1110 − 49.5) − 1.
    assert_eq!(r.daily[1].ret.unwrap().to_string(), "0.009090909091");
    assert_eq!(r.daily[2].ret.unwrap().to_string(), "-0.010372465818");
}

#[test]
fn an_asset_without_a_direct_pair_goes_through_btc() {
    let s = vec![
        snap(D0, &[("DEMO", "100")]),
        snap(D0 + 1, &[("DEMO", "100")]),
    ];
    let cl = [
        closes("DEMOBTC", D0, &["0.0001", "0.00012"]),
        closes("BTCUSDT", D0, &["100000", "90000"]),
    ];
    let e = build(&inputs(s, vec![], &cl)).unwrap().unwrap();
    assert_eq!(
        rows(&e),
        [
            row("2025-01-01", "1000", "0"),
            row("2025-01-02", "1080", "0")
        ]
    );
    // A direct pair wins when it covers the days.
    let mut cl = cl.to_vec();
    cl.push(closes("DEMOUSDT", D0, &["10", "11"]));
    let s = vec![
        snap(D0, &[("DEMO", "100")]),
        snap(D0 + 1, &[("DEMO", "100")]),
    ];
    let e = build(&inputs(s, vec![], &cl)).unwrap().unwrap();
    assert_eq!(e.series[1].equity.to_string(), "1100");
    // A direct pair missing a needed day does not count: via BTC instead.
    cl.pop();
    cl.push(closes("DEMOUSDT", D0 + 1, &["11"]));
    let s = vec![
        snap(D0, &[("DEMO", "100")]),
        snap(D0 + 1, &[("DEMO", "100")]),
    ];
    let e = build(&inputs(s, vec![], &cl)).unwrap().unwrap();
    assert_eq!(e.series[1].equity.to_string(), "1080");
}

#[test]
fn a_day_of_total_loss() {
    let s = vec![
        snap(D0, &[("LUNA", "1000")]),
        snap(D0 + 1, &[("LUNA", "1000")]),
        snap(D0 + 2, &[]),
    ];
    let cl = [closes("LUNAUSDT", D0, &["80", "0", "0"])];
    let e = build(&inputs(s, vec![], &cl)).unwrap().unwrap();
    assert_eq!(e.series[1].equity.to_string(), "0");
    let r = compute("USDT", &e.series, Decimal::ZERO).unwrap();
    assert_eq!(r.daily[1].ret.unwrap().to_string(), "-1");
    assert_eq!(r.daily[2].ret, None, "nothing left: no base");
    assert_eq!(r.max_drawdown.to_string(), "1");
}

#[test]
fn a_missing_day_ends_the_series_never_interpolated() {
    let s = vec![
        snap(D0, &[("USDT", "1")]),
        snap(D0 + 1, &[("USDT", "2")]),
        // D0 + 2 missing.
        snap(D0 + 3, &[("USDT", "3")]),
        snap(D0 + 4, &[("USDT", "4")]),
    ];
    assert_eq!(latest_run(&s).len(), 2);
    let e = build(&inputs(s, vec![], &[])).unwrap().unwrap();
    assert_eq!(
        rows(&e),
        [row("2025-01-04", "3", "0"), row("2025-01-05", "4", "0")]
    );
    // A gap on the last day: the run is that one day.
    let s = vec![snap(D0, &[("USDT", "1")]), snap(D0 + 2, &[("USDT", "2")])];
    assert_eq!(latest_run(&s), &s[1..]);
}

#[test]
fn an_asset_without_a_route_is_left_out_and_named() {
    let s = vec![
        snap(D0, &[("USDT", "10"), ("NOPE", "5")]),
        snap(D0 + 1, &[("USDT", "10"), ("NOPE", "5")]),
    ];
    let flows = vec![Flow {
        day: D0 + 1,
        asset: "NOPE".into(),
        amount: d("1"),
    }];
    let e = build(&inputs(s, flows, &[])).unwrap().unwrap();
    assert_eq!(e.unvalued, ["NOPE"]);
    assert_eq!(
        rows(&e),
        [row("2025-01-01", "10", "0"), row("2025-01-02", "10", "0")]
    );
}

#[test]
fn values_round_half_even_to_8_places() {
    let s = vec![snap(D0, &[("AAA", "0.00000001"), ("BBB", "0.00000003")])];
    let cl = [
        closes("AAAUSDT", D0, &["0.5"]),
        closes("BBBUSDT", D0, &["0.5"]),
    ];
    // 0.000000005 -> 0 (even), 0.000000015 -> 0.00000002 (even).
    let e = build(&inputs(s, vec![], &cl)).unwrap().unwrap();
    assert_eq!(e.series[0].equity.to_string(), "0.00000002");
}

#[test]
fn too_many_assets_is_refused_not_truncated() {
    let names: Vec<String> = (0..=MAX_EQUITY_ASSETS).map(|i| format!("A{i}")).collect();
    let b: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    assert_eq!(
        build(&inputs(vec![snap(D0, &b)], vec![], &[])),
        Err(EquityError::TooManyAssets)
    );
    let b = &b[..MAX_EQUITY_ASSETS];
    let e = build(&inputs(vec![snap(D0, b)], vec![], &[]))
        .unwrap()
        .unwrap();
    assert_eq!(e.unvalued.len(), MAX_EQUITY_ASSETS);
}
