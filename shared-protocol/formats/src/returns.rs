//! The `returns` block of a v2 result: time-weighted return and risk figures
//! from a daily equity series, methodology [`METHODOLOGY`]. DESIGN.md,
//! "Returns: the formulas", is the contract; `METHODOLOGY.md` at the
//! repository root is the full, implementable definition (including what
//! DESIGN.md leaves open); this module is its exact, float-free form.
//!
//! # Precision
//!
//! No floats. Intermediates are a decimal floating point built on
//! `rust_decimal` (`returns_sci.rs`: 28 significant digits at any
//! magnitude); square root, `ln(1 + t)` and `e^y − 1` are our own
//! (`returns_math.rs`), not the library's `maths` feature. Each figure is
//! rounded once, from its unrounded value, half-even to [`FIGURE_DP`]
//! places. See METHODOLOGY.md, "Precision", for the guarantee.
//!
//! # Bounds
//!
//! At most [`MAX_DAYS`] entries, amounts within ±[`MAX_AMOUNT`], a
//! risk-free rate within ±1 (100 % a year). Anything else is a
//! [`ReturnsError`], never a panic and never a silently altered series.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::aggregates::Dec;

#[path = "returns_math.rs"]
mod math;
#[path = "returns_sci.rs"]
mod sci;

use sci::Sci;

/// Methodology id carried in the payload's `methodology` field.
pub const METHODOLOGY: &str = "strongroom/metrics/v2";

/// Longest series accepted (entries, i.e. days including day 0): 100 years.
pub const MAX_DAYS: usize = 36_600;

/// Largest |equity| or |net_flow| accepted: 10^15 units of the valuation asset.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// Largest |risk-free annual rate| accepted (1 = 100 % a year).
pub const MAX_RISK_FREE_RATE: Decimal = Decimal::ONE;

/// Decimal places of every output figure (half-even).
pub const FIGURE_DP: u32 = 12;

/// Longest valuation asset name accepted (ASCII letters and digits).
pub const MAX_ASSET_LEN: usize = 16;

/// One day of the input series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayInput {
    /// UTC day, `YYYY-MM-DD`.
    pub date: String,
    /// E_d: equity at the day's close, in the valuation asset (≥ 0).
    pub equity: Dec,
    /// F_d: deposits − withdrawals on that day, valued at the day's close.
    pub net_flow: Dec,
}

/// One day of the output series: the input plus its return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyReturn {
    /// UTC day, `YYYY-MM-DD`.
    pub date: String,
    /// E_d as given.
    pub equity: Dec,
    /// F_d as given.
    pub net_flow: Dec,
    /// r_d; null for day 0 and for a day whose base E_{d−1} + F_d is ≤ 0.
    #[serde(rename = "return")]
    pub ret: Option<Dec>,
}

/// The `returns` block (DESIGN.md "Result payload v2"). Ratios are rounded
/// half-even to [`FIGURE_DP`] places and travel as normalized strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Returns {
    /// Asset the equity is valued in, e.g. `USDT`.
    pub valuation_asset: String,
    /// Number of returns (days with a return), not of entries.
    pub days: u32,
    /// The series with its returns.
    pub daily: Vec<DailyReturn>,
    /// Π(1 + r_d) − 1; 0 when there is no return.
    pub twr: Dec,
    /// s·√365; null with fewer than 2 returns.
    pub volatility: Option<Dec>,
    /// (mean − rf/365)/s·√365; null with fewer than 2 returns or s = 0.
    pub sharpe: Option<Dec>,
    /// mean/D·√365; null with no return or D = 0.
    pub sortino: Option<Dec>,
    /// Largest fall of the index from its running peak, in [0, 1].
    pub max_drawdown: Dec,
    /// Annualised return / max_drawdown; null with no return or no drawdown.
    pub calmar: Option<Dec>,
    /// Largest r_d; null with no return.
    pub best_day: Option<Dec>,
    /// Smallest r_d; null with no return.
    pub worst_day: Option<Dec>,
    /// The risk-free annual rate, present only when it is not 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_free_rate: Option<Dec>,
    /// Assets the account held or moved that have no valuation route
    /// (METHODOLOGY.md section 1): left out of every day's equity and
    /// flows, named here, sorted; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unvalued: Vec<String>,
}

/// Why a series was refused. Every variant is a property of the input;
/// none carries amounts (indices are positions in the series).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReturnsError {
    /// No entry at all: there is no daily equity, hence no `returns` block.
    #[error("empty series")]
    Empty,
    /// More than [`MAX_DAYS`] entries.
    #[error("series longer than {MAX_DAYS} days")]
    TooLong,
    /// Entry `i`'s date is not a valid `YYYY-MM-DD`.
    #[error("entry {0}: not a YYYY-MM-DD date")]
    BadDate(usize),
    /// Entry `i` is not the UTC day after entry `i − 1` (gap, repeat or
    /// disorder): a missing day is never filled in.
    #[error("entry {0}: not the day after the previous entry")]
    NotConsecutive(usize),
    /// Entry `i` has a negative equity.
    #[error("entry {0}: negative equity")]
    NegativeEquity(usize),
    /// Entry `i` has an equity or flow beyond ±[`MAX_AMOUNT`].
    #[error("entry {0}: amount out of range")]
    AmountOutOfRange(usize),
    /// |risk-free rate| > [`MAX_RISK_FREE_RATE`].
    #[error("risk-free rate out of range")]
    RateOutOfRange,
    /// Valuation asset empty, too long or not ASCII alphanumeric.
    #[error("bad valuation asset")]
    BadValuationAsset,
    /// A figure (named) does not fit the decimal range (e.g. a huge
    /// annualised return of a very short series).
    #[error("arithmetic overflow computing {0}")]
    Overflow(&'static str),
}

/// Compute the `returns` block of `series` valued in `valuation_asset`,
/// with `risk_free_rate` a yearly rate (0 unless configured).
pub fn compute(
    valuation_asset: &str,
    series: &[DayInput],
    risk_free_rate: Decimal,
) -> Result<Returns, ReturnsError> {
    validate(valuation_asset, series, risk_free_rate)?;
    let per_day = daily_returns(series)?;
    let mut daily = Vec::with_capacity(series.len());
    for (day, ret) in series.iter().zip(&per_day) {
        daily.push(DailyReturn {
            date: day.date.clone(),
            equity: day.equity,
            net_flow: day.net_flow,
            ret: ret.map(|r| figure(r, "return")).transpose()?,
        });
    }
    let rets: Vec<Sci> = per_day.into_iter().flatten().collect();
    let f = Figures::of(&rets, risk_free_rate)?;
    let opt = |x: Option<Sci>, name| x.map(|v| figure(v, name)).transpose();
    Ok(Returns {
        valuation_asset: valuation_asset.to_string(),
        days: u32::try_from(rets.len()).map_err(|_| ReturnsError::TooLong)?,
        daily,
        twr: figure(f.twr, "twr")?,
        volatility: opt(f.volatility, "volatility")?,
        sharpe: opt(f.sharpe, "sharpe")?,
        sortino: opt(f.sortino, "sortino")?,
        max_drawdown: figure(f.max_drawdown, "max_drawdown")?,
        calmar: opt(f.calmar, "calmar")?,
        best_day: opt(f.best, "best_day")?,
        worst_day: opt(f.worst, "worst_day")?,
        risk_free_rate: (!risk_free_rate.is_zero()).then_some(Dec(risk_free_rate)),
        unvalued: Vec::new(),
    })
}

/// Why a signed `returns` block does not follow from its own daily series.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecheckError {
    /// The series itself is refused (gap, bad date, bad amount...).
    #[error(transparent)]
    Series(#[from] ReturnsError),
    /// A figure differs from the one recomputed from the series (named:
    /// `twr`, `sharpe`, ..., or `daily[i].return`).
    #[error("{0} does not follow from the daily series")]
    Mismatch(String),
}

/// Recomputes a signed `returns` block from its own daily series (dates,
/// equities, flows, valuation asset, risk-free rate) and refuses it unless
/// every figure, each daily return included, is exactly the recomputed one.
/// A verifier thus needs to trust only the signed series, not the figures.
pub fn recheck(signed: &Returns) -> Result<(), RecheckError> {
    let series: Vec<DayInput> = signed
        .daily
        .iter()
        .map(|d| DayInput {
            date: d.date.clone(),
            equity: d.equity,
            net_flow: d.net_flow,
        })
        .collect();
    let rf = signed.risk_free_rate.map_or(Decimal::ZERO, |r| r.0);
    let again = compute(&signed.valuation_asset, &series, rf)?;
    if !valid_unvalued(&signed.unvalued) {
        return Err(RecheckError::Mismatch("unvalued".to_owned()));
    }
    if let Some(i) = (0..again.daily.len()).find(|&i| again.daily[i].ret != signed.daily[i].ret) {
        return Err(RecheckError::Mismatch(format!("daily[{i}].return")));
    }
    let figures = [
        ("days", again.days == signed.days),
        ("twr", again.twr == signed.twr),
        ("volatility", again.volatility == signed.volatility),
        ("sharpe", again.sharpe == signed.sharpe),
        ("sortino", again.sortino == signed.sortino),
        ("max_drawdown", again.max_drawdown == signed.max_drawdown),
        ("calmar", again.calmar == signed.calmar),
        ("best_day", again.best_day == signed.best_day),
        ("worst_day", again.worst_day == signed.worst_day),
        // A zero rate is never written out: `Some(0)` is not the canonical form.
        (
            "risk_free_rate",
            again.risk_free_rate == signed.risk_free_rate,
        ),
    ];
    match figures.iter().find(|(_, same)| !same) {
        Some((name, _)) => Err(RecheckError::Mismatch((*name).to_owned())),
        None => Ok(()),
    }
}

/// Most assets `unvalued` may name.
pub const MAX_UNVALUED: usize = 1_000;

/// `unvalued` is a sorted list of distinct asset names (1 to 32 upper-case
/// letters or digits), at most [`MAX_UNVALUED`].
fn valid_unvalued(list: &[String]) -> bool {
    let name = |s: &String| {
        !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    };
    list.len() <= MAX_UNVALUED && list.iter().all(name) && list.windows(2).all(|w| w[0] < w[1])
}

/// The one rounding of a figure, from its unrounded value.
fn figure(x: Sci, name: &'static str) -> Result<Dec, ReturnsError> {
    x.round_dp(FIGURE_DP)
        .map(Dec)
        .ok_or(ReturnsError::Overflow(name))
}

fn validate(asset: &str, series: &[DayInput], rf: Decimal) -> Result<(), ReturnsError> {
    let asset_ok = !asset.is_empty()
        && asset.len() <= MAX_ASSET_LEN
        && asset.bytes().all(|b| b.is_ascii_alphanumeric());
    if !asset_ok {
        return Err(ReturnsError::BadValuationAsset);
    }
    if rf.abs() > MAX_RISK_FREE_RATE {
        return Err(ReturnsError::RateOutOfRange);
    }
    if series.is_empty() {
        return Err(ReturnsError::Empty);
    }
    if series.len() > MAX_DAYS {
        return Err(ReturnsError::TooLong);
    }
    let mut prev: Option<i64> = None;
    for (i, day) in series.iter().enumerate() {
        let n = day_number(&day.date).ok_or(ReturnsError::BadDate(i))?;
        if prev.is_some_and(|p| p + 1 != n) {
            return Err(ReturnsError::NotConsecutive(i));
        }
        prev = Some(n);
        if day.equity.0.is_sign_negative() && !day.equity.0.is_zero() {
            return Err(ReturnsError::NegativeEquity(i));
        }
        if day.equity.0.abs() > MAX_AMOUNT || day.net_flow.0.abs() > MAX_AMOUNT {
            return Err(ReturnsError::AmountOutOfRange(i));
        }
    }
    Ok(())
}

/// Days since 1970-01-01 of a strict `YYYY-MM-DD` (years 0001..=9999).
fn day_number(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &[u8]| -> Option<i64> {
        s.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_len = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if y < 1 || d < 1 || d > month_len {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// r_d per entry, unrounded: `None` for day 0 and for a base ≤ 0.
fn daily_returns(series: &[DayInput]) -> Result<Vec<Option<Sci>>, ReturnsError> {
    let err = || ReturnsError::Overflow("return");
    let mut out = Vec::with_capacity(series.len());
    out.push(None);
    for pair in series.windows(2) {
        let (prev, day) = (&pair[0], &pair[1]);
        let base = prev.equity.0.checked_add(day.net_flow.0).ok_or_else(err)?;
        if base <= Decimal::ZERO {
            out.push(None);
            continue;
        }
        // E − B is exact (both fit a Decimal); one rounding, in the division.
        let gain = Sci::from_decimal(day.equity.0.checked_sub(base).ok_or_else(err)?);
        let ret = gain
            .zip(Sci::from_decimal(base))
            .and_then(|(g, b)| g.div(b));
        out.push(Some(ret.ok_or_else(err)?));
    }
    Ok(out)
}

/// The unrounded figures over the returns.
#[derive(Debug)]
struct Figures {
    twr: Sci,
    volatility: Option<Sci>,
    sharpe: Option<Sci>,
    sortino: Option<Sci>,
    max_drawdown: Sci,
    calmar: Option<Sci>,
    best: Option<Sci>,
    worst: Option<Sci>,
}

impl Figures {
    fn of(rets: &[Sci], rf: Decimal) -> Result<Self, ReturnsError> {
        let (twr, max_drawdown) = compound(rets)?;
        let moments = Moments::of(rets)?;
        // a is computed only when calmar needs it: a short series' huge
        // annualised return must not fail a result whose calmar is null.
        let calmar = if rets.is_empty() || max_drawdown.is_zero() {
            None
        } else {
            let a = annualised(twr, rets.len())?;
            Some(ovf(a.div(max_drawdown), "calmar")?)
        };
        Ok(Figures {
            twr,
            volatility: moments.volatility()?,
            sharpe: moments.sharpe(rf)?,
            sortino: moments.sortino()?,
            max_drawdown,
            calmar,
            best: rets.iter().copied().max(),
            worst: rets.iter().copied().min(),
        })
    }
}

fn ovf(x: Option<Sci>, what: &'static str) -> Result<Sci, ReturnsError> {
    x.ok_or(ReturnsError::Overflow(what))
}

/// twr and max drawdown, as recurrences on small quantities so that they
/// keep their significant digits: with T = Π(1 + r) − 1 and the drawdown
/// δ = 1 − I/peak, a return r gives T' = T + r + T·r and
/// δ' = max(0, δ − r·(1 − δ)) (δ' < 0 means a new peak). A total loss
/// (r = −1) sets T = −1 and δ = 1 exactly, and they stay there.
fn compound(rets: &[Sci]) -> Result<(Sci, Sci), ReturnsError> {
    let minus_one = Sci::ONE.neg();
    let (mut twr, mut dd, mut max_dd) = (Sci::ZERO, Sci::ZERO, Sci::ZERO);
    for &r in rets {
        if r == minus_one || twr == minus_one {
            (twr, dd, max_dd) = (minus_one, Sci::ONE, Sci::ONE);
            continue;
        }
        twr = ovf(twr.add(r).and_then(|x| x.add(twr.mul(r)?)), "twr")?;
        let fall = Sci::ONE.sub(dd).and_then(|kept| r.mul(kept));
        // Exactly, 0 ≤ δ' ≤ 1 (r ≥ −1); the clamps only undo rounding.
        dd = ovf(fall.and_then(|f| dd.sub(f)), "max_drawdown")?.clamp(Sci::ZERO, Sci::ONE);
        max_dd = max_dd.max(dd);
    }
    Ok((twr, max_dd))
}

/// a = (1 + twr)^(365/n) − 1 = expm1(365·ln1p(twr)/n); −1 after a total loss.
fn annualised(twr: Sci, n: usize) -> Result<Sci, ReturnsError> {
    if twr == Sci::ONE.neg() {
        return Ok(twr);
    }
    let year = ovf(Sci::from_usize(365), "calmar")?;
    let y = math::ln1p(twr)
        .and_then(|l| l.mul(year))
        .and_then(|x| x.div(Sci::from_usize(n)?));
    ovf(y.and_then(math::expm1), "calmar")
}

/// Sums over the returns, unrounded.
#[derive(Debug)]
struct Moments {
    n: usize,
    /// 365·mean(r).
    mean365: Option<Sci>,
    /// Σ (r − mean)²; meaningful for n ≥ 2.
    squares: Sci,
    /// Σ min(r, 0)².
    downside: Sci,
}

impl Moments {
    fn of(rets: &[Sci]) -> Result<Self, ReturnsError> {
        let err = || ReturnsError::Overflow("volatility");
        let n = rets.len();
        let count = Sci::from_usize(n).ok_or_else(err)?;
        let sum = rets
            .iter()
            .try_fold(Sci::ZERO, |a, r| a.add(*r))
            .ok_or_else(err)?;
        let mean = if n == 0 {
            Sci::ZERO
        } else {
            sum.div(count).ok_or_else(err)?
        };
        let (mut squares, mut downside) = (Sci::ZERO, Sci::ZERO);
        // s = 0 exactly when all returns are equal; a rounded mean must not
        // turn that into a tiny s (and a huge, non-null sharpe).
        let all_equal = rets.windows(2).all(|w| w[0] == w[1]);
        for r in rets {
            let dev = if all_equal {
                Sci::ZERO
            } else {
                r.sub(mean).ok_or_else(err)?
            };
            squares = dev.mul(dev).and_then(|x| squares.add(x)).ok_or_else(err)?;
            if r.is_negative() {
                downside = r.mul(*r).and_then(|x| downside.add(x)).ok_or_else(err)?;
            }
        }
        let mean365 = Sci::from_usize(365).and_then(|y| mean.mul(y));
        let mean365 = (n > 0).then(|| mean365.ok_or_else(err)).transpose()?;
        Ok(Moments {
            n,
            mean365,
            squares,
            downside,
        })
    }

    /// 365·s² (annualised variance); None with fewer than 2 returns.
    fn annual_variance(&self) -> Result<Option<Sci>, ReturnsError> {
        if self.n < 2 {
            return Ok(None);
        }
        let v = Sci::from_usize(365)
            .and_then(|y| y.mul(self.squares))
            .and_then(|x| x.div(Sci::from_usize(self.n - 1)?));
        ovf(v, "volatility").map(Some)
    }

    fn volatility(&self) -> Result<Option<Sci>, ReturnsError> {
        match self.annual_variance()? {
            Some(v) => ovf(v.sqrt(), "volatility").map(Some),
            None => Ok(None),
        }
    }

    /// (365·mean − rf) / √(365·s²), the same as (mean − rf/365)/s·√365.
    fn sharpe(&self, rf: Decimal) -> Result<Option<Sci>, ReturnsError> {
        let Some(var) = self.annual_variance()?.filter(|v| !v.is_zero()) else {
            return Ok(None);
        };
        let rf = ovf(Sci::from_decimal(rf), "sharpe")?;
        let excess = self.mean365.and_then(|m| m.sub(rf));
        let v = excess.zip(var.sqrt()).and_then(|(x, s)| x.div(s));
        ovf(v, "sharpe").map(Some)
    }

    /// 365·mean / √(365·Σmin(r,0)²/n), the same as mean/D·√365.
    fn sortino(&self) -> Result<Option<Sci>, ReturnsError> {
        let Some(mean365) = self.mean365.filter(|_| !self.downside.is_zero()) else {
            return Ok(None);
        };
        let d2 = Sci::from_usize(365)
            .and_then(|y| y.mul(self.downside))
            .and_then(|x| x.div(Sci::from_usize(self.n)?));
        let v = d2.and_then(Sci::sqrt).and_then(|d| mean365.div(d));
        ovf(v, "sortino").map(Some)
    }
}

#[cfg(test)]
#[path = "returns_tests.rs"]
mod tests;
