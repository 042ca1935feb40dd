#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// Consecutive days from 2024-01-01 with (equity, net_flow).
fn series(rows: &[(&str, &str)]) -> Vec<DayInput> {
    rows.iter()
        .enumerate()
        .map(|(i, (e, f))| DayInput {
            date: date_of(i),
            equity: e.parse().unwrap(),
            net_flow: f.parse().unwrap(),
        })
        .collect()
}

/// The i-th day after 2023-12-31 (i < 366), as `YYYY-MM-DD`.
fn date_of(i: usize) -> String {
    let lens = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let (mut m, mut day) = (0, i);
    while day >= lens[m] {
        day -= lens[m];
        m += 1;
    }
    format!("2024-{:02}-{:02}", m + 1, day + 1)
}

fn run(rows: &[(&str, &str)]) -> Returns {
    compute("USDT", &series(rows), Decimal::ZERO).unwrap()
}

fn s(x: &Option<Dec>) -> Option<String> {
    x.map(|v| v.to_wire())
}

#[test]
fn up_down_up_by_hand() {
    let r = run(&[("100", "0"), ("110", "0"), ("99", "0"), ("108.9", "0")]);
    assert_eq!(r.days, 3);
    let rets: Vec<_> = r.daily.iter().map(|x| s(&x.ret)).collect();
    assert_eq!(
        rets,
        [
            None,
            Some("0.1".into()),
            Some("-0.1".into()),
            Some("0.1".into())
        ]
    );
    assert_eq!(r.twr.to_wire(), "0.089");
    assert_eq!(r.max_drawdown.to_wire(), "0.1");
    assert_eq!(s(&r.best_day).unwrap(), "0.1");
    assert_eq!(s(&r.worst_day).unwrap(), "-0.1");
    // mean 1/30, s² = (2·(1/15)² + (2/15)²)/2 = 0.0133…; s·√365 = √(365·0.04/3).
    assert_eq!(s(&r.volatility).unwrap(), "2.206052281037");
    assert!(r.sharpe.is_some() && r.sortino.is_some() && r.calmar.is_some());
}

#[test]
fn deposit_at_start_of_day_is_not_a_gain() {
    let r = run(&[("100", "0"), ("210", "100")]);
    assert_eq!(s(&r.daily[1].ret).unwrap(), "0.05");
    assert_eq!(r.twr.to_wire(), "0.05");
}

#[test]
fn single_day_has_no_return() {
    let r = run(&[("100", "5")]);
    assert_eq!(
        (r.days, r.twr.to_wire(), r.max_drawdown.to_wire()),
        (0, "0".into(), "0".into())
    );
    assert_eq!(r.daily[0].ret, None);
    let nulls = [
        r.volatility,
        r.sharpe,
        r.sortino,
        r.calmar,
        r.best_day,
        r.worst_day,
    ];
    assert!(nulls.iter().all(Option::is_none));
}

#[test]
fn zero_and_negative_bases_have_no_return() {
    // Withdraw everything (base 0), then more than everything (base < 0),
    // then redeposit 50 that stays flat.
    let r = run(&[("100", "0"), ("0", "-100"), ("5", "-20"), ("55", "50")]);
    let rets: Vec<_> = r.daily.iter().map(|x| s(&x.ret)).collect();
    assert_eq!(rets, [None, None, None, Some("0".into())]);
    assert_eq!(r.days, 1);
    assert_eq!(r.volatility, None);
}

#[test]
fn total_loss() {
    let r = run(&[("100", "0"), ("0", "0"), ("0", "0")]);
    assert_eq!(r.days, 1);
    assert_eq!(s(&r.daily[1].ret).unwrap(), "-1");
    assert_eq!(
        (r.twr.to_wire(), r.max_drawdown.to_wire()),
        ("-1".into(), "1".into())
    );
    assert_eq!(s(&r.calmar).unwrap(), "-1");
    assert_eq!(s(&r.sortino).unwrap(), "-19.104973174543");
}

#[test]
fn flat_series_has_zero_volatility_and_null_ratios() {
    let r = run(&[("7", "0"), ("7", "0"), ("7", "0")]);
    assert_eq!(s(&r.volatility).unwrap(), "0");
    assert_eq!((r.sharpe, r.sortino, r.calmar), (None, None, None));
}

#[test]
fn equal_returns_give_exactly_zero_volatility() {
    // r = 1/3 twice: a rounded mean must not make s a tiny positive number.
    let r = run(&[("9", "0"), ("12", "0"), ("16", "0")]);
    assert_eq!(s(&r.volatility).unwrap(), "0");
    assert_eq!(r.sharpe, None);
    let r = run(&[("100", "0"), ("110", "0"), ("121", "0"), ("133.1", "0")]);
    assert_eq!((s(&r.volatility).unwrap(), r.sharpe), ("0".into(), None));
}

#[test]
fn rounding_is_half_even_and_negative_zero_is_zero() {
    // r = 0.0000000000005 exactly: ties to even (0); 0.0000000000015 -> 2e-12.
    let r = run(&[("1", "0"), ("1.0000000000005", "0")]);
    assert_eq!(s(&r.daily[1].ret).unwrap(), "0");
    let r = run(&[("1", "0"), ("1.0000000000015", "0")]);
    assert_eq!(s(&r.daily[1].ret).unwrap(), "0.000000000002");
    let r = run(&[("1", "0"), ("0.9999999999999", "0")]);
    assert_eq!(s(&r.daily[1].ret).unwrap(), "0");
}

#[test]
fn risk_free_rate_lowers_sharpe_and_is_named() {
    let rows = [("100", "0"), ("101", "0"), ("100.5", "0"), ("102", "0")];
    let plain = run(&rows);
    let with_rf = compute("USDT", &series(&rows), d("0.05")).unwrap();
    assert!(with_rf.sharpe.unwrap() < plain.sharpe.unwrap());
    assert_eq!(with_rf.sortino, plain.sortino);
    let json = serde_json::to_value(&with_rf).unwrap();
    assert_eq!(json["risk_free_rate"], "0.05");
    assert!(
        serde_json::to_value(&plain)
            .unwrap()
            .get("risk_free_rate")
            .is_none()
    );
}

#[test]
fn wire_form() {
    let r = run(&[("100", "0"), ("110.50", "0")]);
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.starts_with(r#"{"valuation_asset":"USDT","days":1,"daily":[{"date":"2024-01-01","equity":"100","net_flow":"0","return":null},{"date":"2024-01-02","equity":"110.5","net_flow":"0","return":"0.105"}],"twr":"0.105","volatility":null,"sharpe":null,"sortino":null,"max_drawdown":"0","calmar":null,"best_day":"0.105","worst_day":"0.105"}"#), "{json}");
    let back: Returns = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let cbor = serde_cbor::to_vec(&r).unwrap();
    assert_eq!(serde_cbor::from_slice::<Returns>(&cbor).unwrap(), r);
}

#[test]
fn refuses_bad_input() {
    let ok = series(&[("1", "0"), ("1", "0")]);
    let with = |f: &dyn Fn(&mut Vec<DayInput>)| {
        let mut v = ok.clone();
        f(&mut v);
        compute("USDT", &v, Decimal::ZERO).unwrap_err()
    };
    use ReturnsError::*;
    assert_eq!(compute("USDT", &[], Decimal::ZERO).unwrap_err(), Empty);
    assert_eq!(
        with(&|v| v[1].date = "2024-01-03".into()),
        NotConsecutive(1)
    );
    assert_eq!(
        with(&|v| v[1].date = "2024-01-01".into()),
        NotConsecutive(1)
    );
    assert_eq!(
        with(&|v| v[0].date = "2023-12-30".into()),
        NotConsecutive(1)
    );
    for bad in [
        "2024-1-01",
        "2024-02-30",
        "2023-02-29",
        "0000-01-01",
        "2024-13-01",
        "20240101xx",
    ] {
        assert_eq!(with(&|v| v[0].date = bad.into()), BadDate(0), "{bad}");
    }
    assert_eq!(with(&|v| v[1].equity = Dec(d("-0.01"))), NegativeEquity(1));
    assert_eq!(
        with(&|v| v[1].equity = Dec(MAX_AMOUNT + Decimal::ONE)),
        AmountOutOfRange(1)
    );
    assert_eq!(
        with(&|v| v[0].net_flow = Dec(-MAX_AMOUNT - Decimal::ONE)),
        AmountOutOfRange(0)
    );
    assert_eq!(
        compute("US DT", &ok, Decimal::ZERO).unwrap_err(),
        BadValuationAsset
    );
    assert_eq!(
        compute("", &ok, Decimal::ZERO).unwrap_err(),
        BadValuationAsset
    );
    assert_eq!(
        compute(&"A".repeat(17), &ok, Decimal::ZERO).unwrap_err(),
        BadValuationAsset
    );
    assert_eq!(compute("USDT", &ok, d("1.01")).unwrap_err(), RateOutOfRange);
}

#[test]
fn leap_days_and_year_ends_are_consecutive() {
    let mut v = series(&[("1", "0"), ("1", "0"), ("1", "0")]);
    for (day, date) in v.iter_mut().zip(["2024-02-28", "2024-02-29", "2024-03-01"]) {
        day.date = date.into();
    }
    assert!(compute("USDT", &v, Decimal::ZERO).is_ok());
    for (day, date) in v.iter_mut().zip(["2099-12-31", "2100-01-01", "2100-01-02"]) {
        day.date = date.into();
    }
    assert!(compute("USDT", &v, Decimal::ZERO).is_ok());
    assert_eq!(day_number("1970-01-01"), Some(0));
    assert_eq!(day_number("2000-03-01"), Some(11_017));
}

#[test]
fn limits_at_and_one_over() {
    assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000i64));
    let mut v = series(&[("1", "0"), ("1", "0")]);
    v[1].equity = Dec(MAX_AMOUNT);
    v[1].net_flow = Dec(-MAX_AMOUNT);
    assert!(compute("USDT", &v, MAX_RISK_FREE_RATE).is_ok());
    let long: Vec<DayInput> = dates_from_1900(MAX_DAYS + 1)
        .into_iter()
        .map(|date| DayInput {
            date,
            equity: Dec(Decimal::ONE),
            net_flow: Dec::ZERO,
        })
        .collect();
    let r = compute("USDT", &long[..MAX_DAYS], Decimal::ZERO).unwrap();
    assert_eq!(r.days as usize, MAX_DAYS - 1);
    assert_eq!(
        compute("USDT", &long, Decimal::ZERO).unwrap_err(),
        ReturnsError::TooLong
    );
}

/// `count` consecutive dates from 1900-01-01 (test helper, by counting).
fn dates_from_1900(count: usize) -> Vec<String> {
    let (mut y, mut m, mut day) = (1900, 1, 1);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(format!("{y:04}-{m:02}-{day:02}"));
        day += 1;
        if day_number(&format!("{y:04}-{m:02}-{day:02}")).is_none() {
            (m, day) = (m + 1, 1);
            if m == 13 {
                (y, m) = (y + 1, 1);
            }
        }
    }
    out
}

#[test]
fn huge_annualised_return_is_an_overflow_only_when_calmar_needs_it() {
    // Doubling in a day with no drawdown: calmar null, no overflow.
    assert_eq!(run(&[("1", "0"), ("2", "0")]).calmar, None);
    let v = series(&[("1", "0"), ("2", "0"), ("1.5", "0")]);
    let err = compute("USDT", &v, Decimal::ZERO).unwrap_err();
    assert_eq!(err, ReturnsError::Overflow("calmar"));
}

/// A verifier recomputes the block from its signed series: an honest block
/// passes; a doctored figure, a doctored daily return, a changed equity
/// under unchanged figures, a zero rate written out, and a gap are refused.
#[test]
fn recheck_accepts_only_figures_that_follow_from_the_series() {
    let rows = [
        ("100", "0"),
        ("110", "0"),
        ("99", "0"),
        ("150", "40"),
        ("151", "0"),
    ];
    let honest = run(&rows);
    recheck(&honest).unwrap();
    let mismatch = |r: &Returns| match recheck(r) {
        Err(RecheckError::Mismatch(name)) => name,
        other => panic!("{other:?}"),
    };
    let mut r = honest.clone();
    r.sharpe = Some(Dec(d("9.9")));
    assert_eq!(mismatch(&r), "sharpe");
    let mut r = honest.clone();
    r.daily[2].ret = Some(Dec(d("0.5")));
    assert_eq!(mismatch(&r), "daily[2].return");
    let mut r = honest.clone();
    r.daily[4].equity = Dec(d("141"));
    assert_eq!(mismatch(&r), "daily[4].return");
    let mut r = honest.clone();
    r.risk_free_rate = Some(Dec(Decimal::ZERO));
    assert_eq!(mismatch(&r), "risk_free_rate");
    let mut r = honest.clone();
    r.daily.remove(2);
    assert!(matches!(
        recheck(&r),
        Err(RecheckError::Series(ReturnsError::NotConsecutive(2)))
    ));
    let with_rate = compute("USDT", &series(&rows), d("0.05")).unwrap();
    recheck(&with_rate).unwrap();
}

#[path = "returns_props.rs"]
mod props;
