//! Property tests that cannot fail by chance: each generator only draws
//! series for which the property holds *exactly* (in exact arithmetic),
//! and unrounded values are compared with a tolerance that is far above
//! the proven rounding error (each of the ≤ 3N operations rounds one
//! 28-digit mantissa: a relative error ≤ 5·10⁻²⁸) and far below the
//! 5·10⁻¹³ that would change a figure rounded to 12 places. Rounded
//! outputs are never compared where a value could sit on a rounding tie.

use proptest::prelude::*;

use super::*;

fn at_dates(rows: &[(Decimal, Decimal)]) -> Vec<DayInput> {
    rows.iter()
        .enumerate()
        .map(|(i, (e, f))| DayInput {
            date: date_of(i),
            equity: Dec(*e),
            net_flow: Dec(*f),
        })
        .collect()
}

/// Unrounded per-day returns and the returns actually present.
fn returns_of(rows: &[(Decimal, Decimal)]) -> (Vec<Option<Sci>>, Vec<Sci>) {
    let per_day = daily_returns(&at_dates(rows)).unwrap();
    let rets = per_day.iter().flatten().copied().collect();
    (per_day, rets)
}

fn tol(mantissa: i64, exp: i32) -> Sci {
    Sci::from_decimal(Decimal::from(mantissa))
        .unwrap()
        .mul(Sci::raw(Decimal::ONE, exp))
        .unwrap()
}

fn within(a: Sci, b: Sci, tolerance: Sci) -> bool {
    a.sub(b).unwrap().abs() <= tolerance
}

/// |a − b| ≤ |a|·10⁻²⁶.
fn same_relative(a: Sci, b: Sci) -> bool {
    within(a, b, a.abs().mul(tol(1, -26)).unwrap())
}

/// 2..40 equities in cents, 1000.00 to 2000.00, no flows.
fn cents() -> impl Strategy<Value = Vec<Decimal>> {
    prop::collection::vec(100_000i64..=200_000, 2..40)
        .prop_map(|v| v.into_iter().map(|c| Decimal::new(c, 2)).collect())
}

/// Any shape: zero equities, flows that make bases zero or negative.
fn wild() -> impl Strategy<Value = Vec<(Decimal, Decimal)>> {
    let equity = prop_oneof![Just(0i64), 1i64..=1_000_000];
    prop::collection::vec((equity, -1_000_000i64..=1_000_000), 1..40).prop_map(|v| {
        v.into_iter()
            .map(|(e, f)| (Decimal::new(e, 2), Decimal::new(f, 2)))
            .collect()
    })
}

/// Equities 0 or 9,000..10,000 and flows 0 or ±100 (never a deposit onto
/// an empty account): every return is in [−1, 0.124], so no figure can
/// overflow and distinct returns differ by more than 10⁻⁹. Or a flat run.
fn bounded() -> impl Strategy<Value = Vec<(i64, i64)>> {
    let equity = prop_oneof![1 => Just(0i64), 7 => 9_000i64..=10_000];
    let flow = prop_oneof![2 => Just(0i64), 1 => Just(100i64), 1 => Just(-100i64)];
    let general = prop::collection::vec((equity, flow), 1..30).prop_map(|mut v| {
        for i in 1..v.len() {
            if v[i - 1].0 == 0 {
                v[i].1 = v[i].1.min(0);
            }
        }
        v
    });
    let flat = (9_000i64..=10_000, 1usize..10).prop_map(|(e, n)| vec![(e, 0); n]);
    prop_oneof![4 => general, 1 => flat]
}

proptest! {
    /// A deposit at the start of day d that earns day d's return (and the
    /// series' returns afterwards: every later equity scaled by c) leaves
    /// every return, hence twr, unchanged: r_d = E_d·c/(E_{d−1}·c) − 1.
    #[test]
    fn a_deposit_that_earns_the_days_return_leaves_twr_unchanged(
        eq in cents(), at in any::<prop::sample::Index>(), quarters in 5i64..=12,
    ) {
        let n = eq.len();
        let d = 1 + at.index(n - 1);
        let c = Decimal::new(quarters * 25, 2);
        let plain: Vec<_> = eq.iter().map(|e| (*e, Decimal::ZERO)).collect();
        let mut with = plain.clone();
        for (k, row) in with.iter_mut().enumerate().skip(d) {
            row.0 = eq[k] * c;
        }
        with[d].1 = eq[d - 1] * (c - Decimal::ONE);
        let (a, b) = (returns_of(&plain).1, returns_of(&with).1);
        for (x, y) in a.iter().zip(&b) {
            prop_assert!(same_relative(*x, *y));
        }
        // twr = E_n/E_0 − 1 in [−0.5, 1]: error < 3·40·5·10⁻²⁸·2.
        let (ta, tb) = (compound(&a).unwrap().0, compound(&b).unwrap().0);
        prop_assert!(within(ta, tb, tol(1, -20)), "{ta:?} vs {tb:?}");
    }

    /// Scaling every equity and flow by 10^k changes no return: the same
    /// mantissas are divided, so the returns are equal to the last digit
    /// (checked within 10⁻²⁶ relative), and the same days have none.
    #[test]
    fn scaling_by_a_power_of_ten_changes_no_return(rows in wild(), k in -6i32..=6) {
        let scale = |x: Decimal| {
            if k >= 0 { x * Decimal::from(10i64.pow(k.unsigned_abs())) }
            else { x / Decimal::from(10i64.pow(k.unsigned_abs())) }
        };
        let scaled: Vec<_> = rows.iter().map(|(e, f)| (scale(*e), scale(*f))).collect();
        let (a, b) = (returns_of(&rows).0, returns_of(&scaled).0);
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!(x.is_some(), y.is_some());
            if let (Some(x), Some(y)) = (x, y) {
                prop_assert!(same_relative(*x, *y));
            }
        }
    }

    /// twr = Π(1 + r_d) − 1, the product taken directly; and, with no
    /// flows, = E_n/E_0 − 1. Tolerance 10⁻¹⁸ × the largest index reached,
    /// against an error below 3·60·5·10⁻²⁸ of it.
    #[test]
    fn twr_is_the_product_of_the_daily_returns(
        rows in prop::collection::vec((900i64..=1100, prop_oneof![Just(0i64), Just(10), Just(-10)]), 1..60),
        no_flows in any::<bool>(),
    ) {
        let rows: Vec<_> = rows.iter()
            .map(|(e, f)| (Decimal::from(*e), if no_flows { Decimal::ZERO } else { Decimal::from(*f) }))
            .collect();
        let rets = returns_of(&rows).1;
        let (mut product, mut peak) = (Sci::ONE, Sci::ONE);
        for r in &rets {
            product = product.mul(Sci::ONE.add(*r).unwrap()).unwrap();
            peak = peak.max(product);
        }
        let twr = compound(&rets).unwrap().0;
        let tolerance = peak.mul(tol(1, -18)).unwrap();
        prop_assert!(within(twr, product.sub(Sci::ONE).unwrap(), tolerance));
        if no_flows {
            let first = Sci::from_decimal(rows[0].0).unwrap();
            let last = Sci::from_decimal(rows[rows.len() - 1].0).unwrap();
            let telescoped = last.div(first).unwrap().sub(Sci::ONE).unwrap();
            prop_assert!(within(twr, telescoped, tolerance));
        }
    }

    /// 0 ≤ max_drawdown ≤ 1 for any series, unrounded and on the wire.
    #[test]
    fn max_drawdown_is_between_zero_and_one(rows in wild()) {
        let rets = returns_of(&rows).1;
        let mdd = compound(&rets).unwrap().1;
        prop_assert!(Sci::ZERO <= mdd && mdd <= Sci::ONE);
        if let Ok(r) = compute("USDT", &at_dates(&rows), Decimal::ZERO) {
            prop_assert!(r.max_drawdown.0 >= Decimal::ZERO && r.max_drawdown.0 <= Decimal::ONE);
        }
    }

    /// Each figure is null exactly when METHODOLOGY.md says, with the
    /// conditions evaluated in exact integer arithmetic.
    #[test]
    fn figures_are_null_exactly_when_the_methodology_says(rows in bounded()) {
        let series: Vec<_> = rows.iter().map(|(e, f)| (Decimal::from(*e), Decimal::from(*f))).collect();
        let r = compute("USDT", &at_dates(&series), Decimal::ZERO).unwrap();
        // (gain, base) of each day with a return.
        let mut present = vec![];
        for (d, pair) in rows.windows(2).enumerate() {
            let base = pair[0].0 + pair[1].1;
            prop_assert_eq!(r.daily[d + 1].ret.is_some(), base > 0);
            if base > 0 {
                present.push((pair[1].0 - base, base));
            }
        }
        prop_assert!(r.daily[0].ret.is_none());
        let n = present.len();
        let any_negative = present.iter().any(|(g, _)| *g < 0);
        let all_equal = present.windows(2).all(|w| w[0].0 * w[1].1 == w[1].0 * w[0].1);
        prop_assert_eq!(r.days as usize, n);
        prop_assert_eq!(r.volatility.is_none(), n < 2);
        prop_assert_eq!(r.sharpe.is_none(), n < 2 || all_equal);
        prop_assert_eq!(r.sortino.is_none(), n == 0 || !any_negative);
        prop_assert_eq!(r.calmar.is_none(), n == 0 || !any_negative);
        prop_assert_eq!(r.best_day.is_none(), n == 0);
        prop_assert_eq!(r.worst_day.is_none(), n == 0);
        prop_assert_eq!(r.max_drawdown.0.is_zero(), !any_negative);
    }
}
