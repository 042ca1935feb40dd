//! A decimal floating point on top of `rust_decimal`: `m · 10^e` with
//! `1 ≤ |m| < 10` held in a `Decimal` (28–29 significant digits).
//!
//! Why: a plain `Decimal` has a fixed 28 *decimal places*, so a small
//! intermediate (a variance of 10⁻²⁴, an index of 10⁻¹⁰) keeps only a few
//! significant digits. Here every intermediate keeps 28 significant digits
//! whatever its magnitude, every operation rounds once (to the mantissa's
//! precision), and the only place a figure is rounded to 12 decimal places
//! is [`Sci::round_dp`], once, from the unrounded value. No floats.
//!
//! Every operation returns `None` instead of overflowing or panicking.

use core::cmp::Ordering;

use rust_decimal::{Decimal, RoundingStrategy};

/// Largest scale a `Decimal` holds.
const MAX_SCALE: u32 = 28;

/// Bound on |e|: far beyond any figure (which must fit a `Decimal`, below
/// 10²⁹) yet keeps every loop short. Beyond it: `None` (overflow).
const MAX_EXP: i32 = 400;

const HALF_EVEN: RoundingStrategy = RoundingStrategy::MidpointNearestEven;

/// `m · 10^e`, normalized: `m = 0, e = 0` or `1 ≤ |m| < 10`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Sci {
    m: Decimal,
    e: i32,
}

impl Sci {
    pub(super) const ZERO: Sci = Sci::raw(Decimal::ZERO, 0);
    pub(super) const ONE: Sci = Sci::raw(Decimal::ONE, 0);
    pub(super) const TWO: Sci = Sci::raw(Decimal::TWO, 0);

    /// A constant already normalized (the caller's promise).
    pub(super) const fn raw(m: Decimal, e: i32) -> Sci {
        Sci { m, e }
    }

    fn new(m: Decimal, e: i32) -> Option<Sci> {
        if m.is_zero() {
            return Some(Sci::ZERO);
        }
        let (mut m, mut e) = (m, e);
        while m.abs() >= Decimal::TEN {
            m = shift_right(m, 1)?;
            e = e.checked_add(1)?;
        }
        while m.abs() < Decimal::ONE {
            m = times_ten(m)?;
            e = e.checked_sub(1)?;
        }
        (e.abs() <= MAX_EXP).then_some(Sci { m, e })
    }

    pub(super) fn from_decimal(d: Decimal) -> Option<Sci> {
        Sci::new(d, 0)
    }

    pub(super) fn from_usize(n: usize) -> Option<Sci> {
        Sci::new(Decimal::from(u64::try_from(n).ok()?), 0)
    }

    /// (mantissa as a number in [1, 10), exponent).
    pub(super) fn split(self) -> (Sci, i32) {
        (Sci { m: self.m, e: 0 }, self.e)
    }

    pub(super) fn is_zero(self) -> bool {
        self.m.is_zero()
    }

    pub(super) fn is_negative(self) -> bool {
        self.m.is_sign_negative() && !self.m.is_zero()
    }

    pub(super) fn neg(self) -> Sci {
        Sci {
            m: -self.m,
            e: self.e,
        }
    }

    pub(super) fn abs(self) -> Sci {
        Sci {
            m: self.m.abs(),
            e: self.e,
        }
    }

    pub(super) fn mul(self, o: Sci) -> Option<Sci> {
        if self.is_zero() || o.is_zero() {
            return Some(Sci::ZERO);
        }
        Sci::new(self.m.checked_mul(o.m)?, self.e.checked_add(o.e)?)
    }

    /// The quotient of the mantissas is brought into [1, 10) before
    /// dividing, so it gets all the digits a `Decimal` can hold.
    pub(super) fn div(self, o: Sci) -> Option<Sci> {
        if o.is_zero() {
            return None;
        }
        if self.is_zero() {
            return Some(Sci::ZERO);
        }
        let (m, e) = if self.m.abs() < o.m.abs() {
            (times_ten(self.m)?, self.e.checked_sub(1)?)
        } else {
            (self.m, self.e)
        };
        Sci::new(m.checked_div(o.m)?, e.checked_sub(o.e)?)
    }

    pub(super) fn add(self, o: Sci) -> Option<Sci> {
        if o.is_zero() {
            return Some(self);
        }
        if self.is_zero() {
            return Some(o);
        }
        let (big, small) = if self.e >= o.e { (self, o) } else { (o, self) };
        let shift = u32::try_from(big.e.checked_sub(small.e)?).ok()?;
        if shift > MAX_SCALE {
            // |small| < 10⁻²⁸·|big|: below big's last digit.
            return Some(big);
        }
        let aligned = shift_right(small.m, shift)?;
        Sci::new(big.m.checked_add(aligned)?, big.e)
    }

    pub(super) fn sub(self, o: Sci) -> Option<Sci> {
        self.add(o.neg())
    }

    /// √self by Newton's method on the mantissa (brought into [1, 100)).
    pub(super) fn sqrt(self) -> Option<Sci> {
        if self.is_negative() {
            return None;
        }
        if self.is_zero() {
            return Some(Sci::ZERO);
        }
        let (m, e) = if self.e.rem_euclid(2) == 1 {
            (times_ten(self.m)?, self.e - 1)
        } else {
            (self.m, self.e)
        };
        Sci::new(sqrt_1_100(m)?, e.div_euclid(2))
    }

    /// The exact value `m · 10^e` rounded half-even to `dp` decimal places
    /// (one rounding); `None` when it does not fit a `Decimal`.
    pub(super) fn round_dp(self, dp: u32) -> Option<Decimal> {
        if self.e >= 0 {
            let mut v = self.m;
            for _ in 0..self.e {
                v = times_ten(v)?;
            }
            return Some(v.round_dp_with_strategy(dp, HALF_EVEN));
        }
        let k = self.e.unsigned_abs();
        match k.cmp(&(dp + 1)) {
            // |value| < 10^(−dp−1): below half a unit of the last place.
            Ordering::Greater => Some(Decimal::ZERO),
            // |value| = |m|·10^(−dp−1): a unit if |m| > 5, else 0 (5 ties to even 0).
            Ordering::Equal => {
                let unit = Decimal::new(1, dp);
                let v = if self.m.abs() > Decimal::from(5) {
                    unit
                } else {
                    Decimal::ZERO
                };
                Some(if self.is_negative() { -v } else { v })
            }
            Ordering::Less => {
                let mut v = self.m.round_dp_with_strategy(dp - k, HALF_EVEN);
                v.set_scale(v.scale() + k).ok()?;
                Some(v)
            }
        }
    }
}

impl PartialOrd for Sci {
    fn partial_cmp(&self, o: &Sci) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Sci {
    fn cmp(&self, o: &Sci) -> Ordering {
        let sign = |x: &Sci| x.m.cmp(&Decimal::ZERO);
        let (a, b) = (sign(self), sign(o));
        if a != b || a == Ordering::Equal {
            return a.cmp(&b);
        }
        let by_exponent = self.e.cmp(&o.e);
        let by_exponent = if a == Ordering::Greater {
            by_exponent
        } else {
            by_exponent.reverse()
        };
        by_exponent.then(self.m.cmp(&o.m))
    }
}

/// m·10 exactly (lower the scale, or multiply an integer).
fn times_ten(m: Decimal) -> Option<Decimal> {
    let mut v = m;
    if v.scale() > 0 {
        v.set_scale(v.scale() - 1).ok()?;
        Some(v)
    } else {
        v.checked_mul(Decimal::TEN)
    }
}

/// m / 10^k, rounded half-even to 28 decimals when it needs more.
fn shift_right(m: Decimal, k: u32) -> Option<Decimal> {
    let keep = MAX_SCALE.checked_sub(k)?;
    let mut v = if m.scale() > keep {
        m.round_dp_with_strategy(keep, HALF_EVEN)
    } else {
        m
    };
    v.set_scale(v.scale() + k).ok()?;
    Some(v)
}

/// √m for m in [1, 100): Newton from 10 (above the root), so the iterates
/// decrease; the first that does not is the answer, to an ulp or two.
fn sqrt_1_100(m: Decimal) -> Option<Decimal> {
    let mut x = Decimal::TEN;
    for _ in 0..100 {
        let next = x.checked_add(m.checked_div(x)?)? / Decimal::TWO;
        if next >= x {
            return Some(x);
        }
        x = next;
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn s(text: &str) -> Sci {
        Sci::from_decimal(text.parse().unwrap()).unwrap()
    }

    fn show(x: Sci) -> String {
        x.round_dp(28).unwrap().normalize().to_string()
    }

    #[test]
    fn keeps_significant_digits_at_any_magnitude() {
        // 1e-20/3 has 28 significant digits here; a Decimal would keep 8.
        let third = s("0.00000000000000000001").div(s("3")).unwrap();
        assert_eq!(third.m.to_string(), "3.3333333333333333333333333333");
        assert_eq!(third.e, -21);
        let sq = third.mul(third).unwrap();
        assert_eq!(sq.e, -41);
        assert_eq!(sq.sqrt().unwrap(), third);
    }

    #[test]
    fn add_sub_cmp() {
        assert_eq!(show(s("1.5").add(s("-0.25")).unwrap()), "1.25");
        assert_eq!(show(s("123456").sub(s("123456")).unwrap()), "0");
        assert_eq!(Sci::raw(Decimal::ONE, -40).add(Sci::ONE).unwrap(), Sci::ONE);
        let mut v = vec![
            s("-2"),
            s("0.001"),
            s("-0.5"),
            Sci::ZERO,
            s("300"),
            s("-1000"),
        ];
        v.sort();
        let shown: Vec<_> = v.into_iter().map(show).collect();
        assert_eq!(shown, ["-1000", "-2", "-0.5", "0", "0.001", "300"]);
    }

    #[test]
    fn round_dp_is_one_half_even_rounding() {
        assert_eq!(s("0.0000000000005").round_dp(12).unwrap(), Decimal::ZERO);
        assert_eq!(
            s("0.0000000000015").round_dp(12).unwrap().to_string(),
            "0.000000000002"
        );
        assert_eq!(
            s("-0.00000000000051").round_dp(12).unwrap().to_string(),
            "-0.000000000001"
        );
        assert_eq!(s("0.00000000000004").round_dp(12).unwrap(), Decimal::ZERO);
        assert_eq!(s("2.5").round_dp(0).unwrap().to_string(), "2");
        assert_eq!(
            s("123.4567890123455").round_dp(12).unwrap().to_string(),
            "123.456789012346"
        );
        let huge = Sci::raw(Decimal::ONE, 30);
        assert_eq!(huge.round_dp(12), None);
    }

    #[test]
    fn sqrt_values() {
        assert_eq!(
            show(s("2").sqrt().unwrap()),
            "1.4142135623730950488016887242"
        );
        assert_eq!(show(s("0.0004").sqrt().unwrap()), "0.02");
        assert_eq!(s("-1").sqrt(), None);
    }
}
