//! `ln(1 + t)` and `e^y − 1` on [`Sci`], without floats, to a few units of
//! the 28th significant digit. The `…1p`/`…m1` forms matter: a twr of
//! 10⁻¹⁰ and its annualised return must keep their significant digits,
//! which `ln(1 + t)` computed as `ln` of a rounded `1 + t` would lose.
//!
//! The `maths` feature of rust_decimal is not used: its functions work in
//! fixed 28 decimal places, which is not enough for small arguments.

use rust_decimal::Decimal;

use super::sci::Sci;

/// ln 2 = LN2_HI + LN2_LO (27 + 27 digits), so k·ln 2 carries no error
/// from the constant.
const LN2_HI: Sci = Sci::raw(
    Decimal::from_parts(715_511_545, 4_083_503_488, 37_575_583, false, 26),
    -1,
);
const LN2_LO: Sci = Sci::raw(
    Decimal::from_parts(1_592_363_798, 2_252_583_615, 24_837_801, false, 26),
    -28,
);
/// ln 10 = LN10_HI + LN10_LO.
const LN10_HI: Sci = Sci::raw(
    Decimal::from_parts(267_849_503, 33_690_064, 124_823_388, false, 27),
    0,
);
const LN10_LO: Sci = Sci::raw(
    Decimal::from_parts(1_459_015_568, 2_541_132_311, 17_110_650, true, 26),
    -28,
);

/// Series arguments: |t| ≤ 0.25 for ln1p's atanh, |y| ≤ 0.35 for expm1.
const QUARTER: Sci = Sci::raw(Decimal::from_parts(25, 0, 0, false, 1), -1);
const SERIES_Y: Sci = Sci::raw(Decimal::from_parts(35, 0, 0, false, 1), -1);

/// |y| beyond which e^y − 1 is refused (> 10⁸⁶) or is −1 to far more
/// than 28 digits.
const EXP_LIMIT: Sci = Sci::raw(Decimal::TWO, 2);

/// Enough terms for every argument these functions accept.
const MAX_TERMS: usize = 200;

/// Stop a series when a term is below 10⁻³⁰ of the sum.
fn negligible(term: Sci, sum: Sci) -> bool {
    term.is_zero()
        || (!sum.is_zero()
            && term.abs()
                < sum
                    .abs()
                    .mul(Sci::raw(Decimal::ONE, -30))
                    .unwrap_or(Sci::ZERO))
}

/// atanh z = z + z³/3 + z⁵/5 + … for |z| ≤ 1/5.
fn atanh(z: Sci) -> Option<Sci> {
    let z2 = z.mul(z)?;
    let (mut sum, mut power) = (z, z);
    for i in 1..MAX_TERMS {
        power = power.mul(z2)?;
        let term = power.div(Sci::from_usize(2 * i + 1)?)?;
        if negligible(term, sum) {
            break;
        }
        sum = sum.add(term)?;
    }
    Some(sum)
}

/// ln(1 + t) for t > −1.
pub(super) fn ln1p(t: Sci) -> Option<Sci> {
    if t.abs() <= QUARTER {
        // ln(1 + t) = 2·atanh(t / (2 + t)), |t/(2+t)| ≤ 1/7.
        let z = t.div(Sci::TWO.add(t)?)?;
        return atanh(z)?.mul(Sci::TWO);
    }
    ln(Sci::ONE.add(t)?)
}

/// ln x for x > 0: x = u · 2^k · 10^e with u in [2/3, 4/3].
fn ln(x: Sci) -> Option<Sci> {
    if x.is_negative() || x.is_zero() {
        return None;
    }
    let (mut u, e) = x.split();
    let (lo, hi) = (
        Sci::TWO.div(Sci::from_usize(3)?)?,
        Sci::from_usize(4)?.div(Sci::from_usize(3)?)?,
    );
    let mut k = 0usize;
    while u > hi {
        u = u.div(Sci::TWO)?;
        k += 1;
    }
    while u < lo {
        u = u.mul(Sci::TWO)?;
        k = k.checked_sub(1)?;
    }
    let z = u.sub(Sci::ONE)?.div(u.add(Sci::ONE)?)?;
    let k = Sci::from_usize(k)?;
    let e = Sci::from_decimal(Decimal::from(e))?;
    // Small terms first, then the large ones.
    let small = atanh(z)?
        .mul(Sci::TWO)?
        .add(k.mul(LN2_LO)?)?
        .add(e.mul(LN10_LO)?)?;
    small.add(k.mul(LN2_HI)?)?.add(e.mul(LN10_HI)?)
}

/// e^y − 1. `None` when y > 200 (the result could never be a figure).
pub(super) fn expm1(y: Sci) -> Option<Sci> {
    if y > EXP_LIMIT {
        return None;
    }
    if y < EXP_LIMIT.neg() {
        return Some(Sci::ONE.neg());
    }
    if y.abs() <= SERIES_Y {
        return exp_series(y, Sci::ZERO);
    }
    // y = k·ln 2 + t, |t| ≤ ln2/2 (+ rounding).
    let k = y.div(LN2_HI)?.round_dp(0)?;
    let kd = Sci::from_decimal(k)?;
    let t = y.sub(kd.mul(LN2_HI)?)?.sub(kd.mul(LN2_LO)?)?;
    let mut v = exp_series(t, Sci::ONE)?;
    let half = Sci::raw(Decimal::from(5), -1);
    let (factor, count) = if k.is_sign_negative() {
        (half, -k)
    } else {
        (Sci::TWO, k)
    };
    let count = u32::try_from(count.mantissa()).ok()?;
    for _ in 0..count {
        v = v.mul(factor)?;
    }
    v.sub(Sci::ONE)
}

/// `first` + Σ_{i≥1} y^i / i!.
fn exp_series(y: Sci, first: Sci) -> Option<Sci> {
    let (mut sum, mut term) = (first, Sci::ONE);
    for i in 1..MAX_TERMS {
        term = term.mul(y)?.div(Sci::from_usize(i)?)?;
        if negligible(term, sum) {
            break;
        }
        sum = sum.add(term)?;
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn s(text: &str) -> Sci {
        Sci::from_decimal(text.parse().unwrap()).unwrap()
    }

    /// |a − b| ≤ |b|·10⁻²⁶, b = mantissa·10^e (from Python decimal at 60 digits).
    fn close(a: Sci, mantissa: &str, e: i32) {
        let b = Sci::raw(mantissa.parse().unwrap(), e);
        let tol = b.abs().mul(Sci::raw(Decimal::ONE, -26)).unwrap();
        assert!(a.sub(b).unwrap().abs() <= tol, "{a:?} vs {b:?}");
    }

    #[test]
    fn constants_match_their_digits() {
        // ln 2 = 0.69314718055994530941723212145817656807550013436…
        close(
            LN2_HI.add(LN2_LO).unwrap(),
            "6.9314718055994530941723212145818",
            -1,
        );
        close(
            LN10_HI.add(LN10_LO).unwrap(),
            "2.30258509299404568401799145468436",
            0,
        );
        assert!(LN2_LO.abs() < Sci::raw(Decimal::ONE, -27));
    }

    #[test]
    fn ln1p_values() {
        assert_eq!(ln1p(Sci::ZERO).unwrap(), Sci::ZERO);
        close(
            ln1p(s("1")).unwrap(),
            "6.9314718055994530941723212145818",
            -1,
        );
        close(
            ln1p(s("9")).unwrap(),
            "2.30258509299404568401799145468436",
            0,
        );
        close(
            ln1p(s("-0.5")).unwrap(),
            "-6.9314718055994530941723212145818",
            -1,
        );
        close(
            ln1p(s("0.0001")).unwrap(),
            "9.99950003333083353331666809511311",
            -5,
        );
        close(
            ln1p(s("0.0000000001")).unwrap(),
            "9.9999999995000000000333333333308",
            -11,
        );
        close(
            ln1p(s("10000000000000000000000000000")).unwrap(),
            "6.44723826038332791525037607312622",
            1,
        );
        close(
            ln1p(s("-0.9999999999")).unwrap(),
            "-2.30258509299404568401799145468436",
            1,
        );
    }

    #[test]
    fn expm1_values() {
        assert_eq!(expm1(Sci::ZERO).unwrap(), Sci::ZERO);
        close(
            expm1(s("1")).unwrap(),
            "1.71828182845904523536028747135266",
            0,
        );
        close(
            expm1(s("-1")).unwrap(),
            "-6.3212055882855767840447622983854",
            -1,
        );
        close(
            expm1(s("10")).unwrap(),
            "2.20254657948067165169579006452842",
            4,
        );
        close(
            expm1(s("0.0000000001")).unwrap(),
            "1.00000000005000000000166666667",
            -10,
        );
        close(
            expm1(s("66")).unwrap(),
            "4.607186634331291542677318442706",
            28,
        );
        assert!(expm1(s("201")).is_none());
        assert_eq!(expm1(s("-201")).unwrap(), Sci::ONE.neg());
    }
}
