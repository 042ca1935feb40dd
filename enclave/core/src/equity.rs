//! Daily equity: the series `strongroom_formats::returns::compute` turns
//! into the `returns` block, built from what the exchange told the enclave
//! over TLS (daily spot snapshots, daily closes, deposits and withdrawals).
//! Pure: the exchange client fetches ([`crate::exchange::binance`]), this
//! module decides. METHODOLOGY.md section 1 ("Valuation", "Where the
//! series comes from") is the contract:
//!
//! - The series is the latest run of consecutive snapshot days: a day
//!   without a snapshot ends it, and the days before the gap are not used
//!   (never bridged, never interpolated). `daily[0].date` shows where the
//!   run starts.
//! - Each asset is valued through the first route that has a close for
//!   every day of the run on which the asset is held or moved: the
//!   valuation asset itself (1), `ASSET`+valuation, else `ASSET`+`BTC` ×
//!   `BTC`+valuation. An asset with no such route is left out of every day
//!   (equity and flows alike) and named in the block's `unvalued`.
//! - Each holding and each flow is valued at the day's close and rounded
//!   half-even to [`VALUE_DP`] places; `E_d` and `F_d` are sums of those.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use strongroom_formats::returns::DayInput;
use strongroom_protocol::aggregates::Dec;

use crate::aggregate::valid_name;
use crate::exchange::wallet::{Day, Flow, Snapshot, date_text};

/// Decimal places of each valued holding and flow (Binance's own precision).
pub const VALUE_DP: u32 = 8;

/// Most assets valued in one series (held or moved on some day of it); an
/// account beyond it is refused, never truncated.
pub const MAX_EQUITY_ASSETS: usize = 300;

/// The bridge asset of the second route.
pub const BRIDGE_ASSET: &str = "BTC";

/// Default valuation asset.
pub const DEFAULT_VALUATION_ASSET: &str = "USDT";

/// Everything daily equity is built from, as fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyInputs {
    /// Asset the equity is valued in.
    pub valuation_asset: String,
    /// Spot snapshots, sorted by day, one per day at most.
    pub snapshots: Vec<Snapshot>,
    /// Counted deposits and withdrawals.
    pub flows: Vec<Flow>,
    /// symbol -> day -> close, for every symbol fetched.
    pub closes: BTreeMap<String, BTreeMap<Day, Decimal>>,
}

/// The daily series and the assets it leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equity {
    /// One entry per day of the run.
    pub series: Vec<DayInput>,
    /// Assets held or moved but without a route covering their days, sorted.
    pub unvalued: Vec<String>,
}

/// Why no series could be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EquityError {
    /// More than [`MAX_EQUITY_ASSETS`] assets to value.
    #[error("too many assets to value")]
    TooManyAssets,
    /// A value or a sum beyond the decimal range, or a day out of the calendar.
    #[error("equity out of range")]
    OutOfRange,
}

/// How an asset is priced in the valuation asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The valuation asset itself: 1.
    Unit,
    /// One pair, e.g. `ETHUSDT`.
    Direct(String),
    /// `ASSETBTC` × `BTCUSDT`.
    ViaBridge(String, String),
}

/// The latest run of consecutive days of `snapshots` (sorted by day).
pub fn latest_run(snapshots: &[Snapshot]) -> &[Snapshot] {
    let mut start = snapshots.len().saturating_sub(1);
    while start > 0 && snapshots[start - 1].day + 1 == snapshots[start].day {
        start -= 1;
    }
    &snapshots[start..]
}

/// The pair `base`+`quote` when it is a valid symbol name.
pub fn pair(base: &str, quote: &str) -> Option<String> {
    let s = format!("{base}{quote}");
    valid_name(&s).then_some(s)
}

/// asset -> the days of `run` on which it is held or moved, sorted and
/// distinct (the valuation asset left out: it needs no price).
pub fn needed_days<'a>(
    run: &'a [Snapshot],
    flows: &'a [Flow],
    valuation: &str,
) -> BTreeMap<&'a str, Vec<Day>> {
    let mut out: BTreeMap<&'a str, Vec<Day>> = BTreeMap::new();
    for s in run {
        for asset in s.balances.keys() {
            out.entry(asset.as_str()).or_default().push(s.day);
        }
    }
    let (first, last) = match (run.first(), run.last()) {
        (Some(f), Some(l)) => (f.day, l.day),
        _ => return BTreeMap::new(),
    };
    for f in flows.iter().filter(|f| (first..=last).contains(&f.day)) {
        out.entry(f.asset.as_str()).or_default().push(f.day);
    }
    out.remove(valuation);
    for days in out.values_mut() {
        days.sort_unstable();
        days.dedup();
    }
    out
}

/// Whether `sym` has a close on each of `days` (sorted): one merge walk.
fn covers(closes: &BTreeMap<String, BTreeMap<Day, Decimal>>, sym: &str, days: &[Day]) -> bool {
    let (Some(c), Some(first), Some(last)) = (closes.get(sym), days.first(), days.last()) else {
        return days.is_empty() && closes.contains_key(sym);
    };
    let mut have = c.range(*first..=*last).map(|(d, _)| *d).peekable();
    days.iter().all(|d| {
        while have.next_if(|h| h < d).is_some() {}
        have.next_if_eq(d).is_some()
    })
}

/// The first route of `asset` whose closes cover `days`, if any.
pub fn route(
    asset: &str,
    valuation: &str,
    days: &[Day],
    closes: &BTreeMap<String, BTreeMap<Day, Decimal>>,
) -> Option<Route> {
    if asset == valuation {
        return Some(Route::Unit);
    }
    if let Some(direct) = pair(asset, valuation).filter(|s| covers(closes, s, days)) {
        return Some(Route::Direct(direct));
    }
    let leg = pair(asset, BRIDGE_ASSET)?;
    let bridge = pair(BRIDGE_ASSET, valuation)?;
    (asset != BRIDGE_ASSET && covers(closes, &leg, days) && covers(closes, &bridge, days))
        .then_some(Route::ViaBridge(leg, bridge))
}

/// The run with its assets numbered: each day's holdings and flows as
/// (asset index, quantity), and each asset's needed days (sorted, distinct).
/// One map lookup per holding, once.
struct Indexed<'a> {
    names: Vec<&'a str>,
    needed: Vec<Vec<Day>>,
    holdings: Vec<Vec<(usize, Decimal)>>,
    flows: Vec<Vec<(usize, Decimal)>>,
}

impl<'a> Indexed<'a> {
    fn of(run: &'a [Snapshot], flows: &'a [Flow], first: Day) -> Self {
        let mut index: BTreeMap<&'a str, usize> = BTreeMap::new();
        let mut names: Vec<&'a str> = Vec::new();
        let mut needed: Vec<Vec<Day>> = Vec::new();
        let mut id = |asset: &'a str, needed: &mut Vec<Vec<Day>>| {
            *index.entry(asset).or_insert_with(|| {
                names.push(asset);
                needed.push(Vec::new());
                names.len() - 1
            })
        };
        let mut holdings = Vec::with_capacity(run.len());
        // Days mostly hold the same assets, and balances iterate sorted by
        // name: a merge walk against the previous day finds most indices
        // with one comparison instead of a map lookup.
        let mut prev: Vec<(&'a str, usize)> = Vec::new();
        for s in run {
            let mut h = Vec::with_capacity(s.balances.len());
            let mut today = Vec::with_capacity(s.balances.len());
            let mut j = 0;
            for (asset, qty) in &s.balances {
                while prev.get(j).is_some_and(|(p, _)| *p < asset.as_str()) {
                    j += 1;
                }
                let i = match prev.get(j) {
                    Some((p, i)) if *p == asset.as_str() => *i,
                    _ => id(asset, &mut needed),
                };
                needed[i].push(s.day);
                h.push((i, *qty));
                today.push((asset.as_str(), i));
            }
            holdings.push(h);
            prev = today;
        }
        let mut by_day = vec![Vec::new(); run.len()];
        for f in flows {
            let Some(slot) = usize::try_from(f.day - first)
                .ok()
                .and_then(|d| by_day.get_mut(d))
            else {
                continue;
            };
            let i = id(&f.asset, &mut needed);
            needed[i].push(f.day);
            slot.push((i, f.amount));
        }
        for days in &mut needed {
            days.sort_unstable();
            days.dedup();
        }
        Indexed {
            names,
            needed,
            holdings,
            flows: by_day,
        }
    }
}

/// Per asset index, its close in the valuation asset on each day of the
/// run (index = day − first day); `None` for an unvalued asset.
struct Prices(Vec<Option<Vec<Option<Decimal>>>>);

impl Prices {
    /// Σ of the valued `items` on day index `d`, each rounded to
    /// [`VALUE_DP`] places (unvalued assets left out).
    fn sum(&self, items: &[(usize, Decimal)], d: usize) -> Result<Decimal, EquityError> {
        let mut acc: i128 = 0;
        for (i, qty) in items {
            let Some(Some(prices)) = self.0.get(*i) else {
                continue;
            };
            let price = prices
                .get(d)
                .copied()
                .flatten()
                .ok_or(EquityError::OutOfRange)?;
            acc = acc
                .checked_add(value_units(*qty, price)?)
                .ok_or(EquityError::OutOfRange)?;
        }
        Decimal::try_from_i128_with_scale(acc, VALUE_DP).map_err(|_| EquityError::OutOfRange)
    }
}

/// 10^k for k ≤ 38.
fn pow10(k: u32) -> Option<i128> {
    const P: [i128; 39] = {
        let mut t = [1i128; 39];
        let mut i = 1;
        while i < 39 {
            t[i] = t[i - 1] * 10;
            i += 1;
        }
        t
    };
    P.get(usize::try_from(k).ok()?).copied()
}

/// `qty × price` exactly, rounded half-even to [`VALUE_DP`] places, in
/// 10^-8 units. Exact integer arithmetic whenever the product fits 127
/// bits (every Binance amount and price does); otherwise rust_decimal's
/// product (28 significant digits) rounded the same way.
fn value_units(qty: Decimal, price: Decimal) -> Result<i128, EquityError> {
    let scale = qty.scale() + price.scale();
    if let Some(m) = qty.mantissa().checked_mul(price.mantissa()) {
        if scale <= VALUE_DP {
            let up = pow10(VALUE_DP - scale).ok_or(EquityError::OutOfRange)?;
            return m.checked_mul(up).ok_or(EquityError::OutOfRange);
        }
        if let Some(v) = div_pow10_half_even(m, scale - VALUE_DP) {
            return Ok(v);
        }
    }
    let v = qty
        .checked_mul(price)
        .ok_or(EquityError::OutOfRange)?
        .round_dp_with_strategy(VALUE_DP, RoundingStrategy::MidpointNearestEven);
    let up = pow10(VALUE_DP - v.scale().min(VALUE_DP)).ok_or(EquityError::OutOfRange)?;
    v.mantissa().checked_mul(up).ok_or(EquityError::OutOfRange)
}

/// `m / 10^k` rounded half-even. For a quotient of a 64-bit value by a
/// power of ten up to 10^19, the divisor is a constant of a `match` arm, so
/// the compiler turns the division into a multiplication (this runs once
/// per holding per day: 182,500 times for ten years of 50 assets).
fn div_pow10_half_even(m: i128, k: u32) -> Option<i128> {
    let div = pow10(k)?;
    let um = m.unsigned_abs();
    let (q, r) = match u64::try_from(um) {
        Ok(a) => {
            let q = u128::from(div_pow10_u64(a, k)?);
            (q, um - q * div.unsigned_abs())
        }
        Err(_) => (um / div.unsigned_abs(), um % div.unsigned_abs()),
    };
    let twice = r * 2;
    let ud = div.unsigned_abs();
    let up = twice > ud || (twice == ud && q % 2 == 1);
    let q = i128::try_from(q + u128::from(up)).ok()?;
    Some(if m < 0 { -q } else { q })
}

/// `a / 10^k` for k ≤ 19, with constant divisors.
fn div_pow10_u64(a: u64, k: u32) -> Option<u64> {
    macro_rules! by {
        ($($k:literal),*) => {
            match k {
                $($k => Some(a / 10u64.pow($k)),)*
                _ => None,
            }
        };
    }
    by!(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19
    )
}

/// The closes of `symbol` on each of the `n` days from `first`.
fn close_vector(
    closes: &BTreeMap<String, BTreeMap<Day, Decimal>>,
    symbol: &str,
    first: Day,
    n: usize,
) -> Vec<Option<Decimal>> {
    let mut out = vec![None; n];
    if let Some(c) = closes.get(symbol) {
        let last = first.saturating_add(i64::try_from(n).unwrap_or(i64::MAX) - 1);
        for (day, close) in c.range(first..=last) {
            if let Some(slot) = usize::try_from(day - first)
                .ok()
                .and_then(|i| out.get_mut(i))
            {
                *slot = Some(*close);
            }
        }
    }
    out
}

/// The price vector of `route` over `n` days from `first`.
fn route_prices(
    route: &Route,
    closes: &BTreeMap<String, BTreeMap<Day, Decimal>>,
    first: Day,
    n: usize,
) -> Result<Vec<Option<Decimal>>, EquityError> {
    Ok(match route {
        Route::Unit => vec![Some(Decimal::ONE); n],
        Route::Direct(s) => close_vector(closes, s, first, n),
        Route::ViaBridge(a, b) => {
            let (a, b) = (
                close_vector(closes, a, first, n),
                close_vector(closes, b, first, n),
            );
            let mut out = Vec::with_capacity(n);
            for (x, y) in a.into_iter().zip(b) {
                out.push(match (x, y) {
                    (Some(x), Some(y)) => Some(x.checked_mul(y).ok_or(EquityError::OutOfRange)?),
                    _ => None,
                });
            }
            out
        }
    })
}

/// Builds the daily series of `inputs`, or `None` when there is no
/// snapshot (no daily equity: the payload's `returns` is null).
pub fn build(inputs: &DailyInputs) -> Result<Option<Equity>, EquityError> {
    let run = latest_run(&inputs.snapshots);
    let Some(first) = run.first().map(|s| s.day) else {
        return Ok(None);
    };
    let v = inputs.valuation_asset.as_str();
    let ix = Indexed::of(run, &inputs.flows, first);
    let to_value = ix.names.iter().filter(|a| **a != v).count();
    if to_value > MAX_EQUITY_ASSETS {
        return Err(EquityError::TooManyAssets);
    }
    let n = run.len();
    let mut prices = Vec::with_capacity(ix.names.len());
    let mut unvalued = Vec::new();
    for (asset, days) in ix.names.iter().zip(&ix.needed) {
        match route(asset, v, days, &inputs.closes) {
            Some(r) => prices.push(Some(route_prices(&r, &inputs.closes, first, n)?)),
            None => {
                unvalued.push((*asset).to_owned());
                prices.push(None);
            }
        }
    }
    unvalued.sort_unstable();
    let prices = Prices(prices);
    let series = run
        .iter()
        .zip(ix.holdings.iter().zip(&ix.flows))
        .enumerate()
        .map(|(d, (s, (h, f)))| {
            Ok(DayInput {
                date: date_text(s.day).ok_or(EquityError::OutOfRange)?,
                equity: Dec(prices.sum(h, d)?.normalize()),
                net_flow: Dec(prices.sum(f, d)?.normalize()),
            })
        })
        .collect::<Result<_, EquityError>>()?;
    Ok(Some(Equity { series, unvalued }))
}

#[cfg(test)]
#[path = "equity_tests.rs"]
mod tests;
