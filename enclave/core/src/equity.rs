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

use std::collections::{BTreeMap, BTreeSet};

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

/// asset -> the days of `run` on which it is held or moved (the valuation
/// asset left out: it needs no price).
pub fn needed_days(
    run: &[Snapshot],
    flows: &[Flow],
    valuation: &str,
) -> BTreeMap<String, BTreeSet<Day>> {
    let days: BTreeSet<Day> = run.iter().map(|s| s.day).collect();
    let mut out: BTreeMap<String, BTreeSet<Day>> = BTreeMap::new();
    for s in run {
        for asset in s.balances.keys() {
            out.entry(asset.clone()).or_default().insert(s.day);
        }
    }
    for f in flows.iter().filter(|f| days.contains(&f.day)) {
        out.entry(f.asset.clone()).or_default().insert(f.day);
    }
    out.remove(valuation);
    out
}

fn covers(
    closes: &BTreeMap<String, BTreeMap<Day, Decimal>>,
    sym: &str,
    days: &BTreeSet<Day>,
) -> bool {
    closes
        .get(sym)
        .is_some_and(|c| days.iter().all(|d| c.contains_key(d)))
}

/// The first route of `asset` whose closes cover `days`, if any.
pub fn route(
    asset: &str,
    valuation: &str,
    days: &BTreeSet<Day>,
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

struct Pricer<'a> {
    routes: BTreeMap<&'a str, Route>,
    closes: &'a BTreeMap<String, BTreeMap<Day, Decimal>>,
}

impl Pricer<'_> {
    /// `qty` valued at `day`'s close, rounded; `None` for an unvalued asset.
    fn value(&self, asset: &str, qty: Decimal, day: Day) -> Result<Option<Decimal>, EquityError> {
        let close = |sym: &str| {
            self.closes
                .get(sym)
                .and_then(|c| c.get(&day))
                .copied()
                .ok_or(EquityError::OutOfRange)
        };
        let price = match self.routes.get(asset) {
            None => return Ok(None),
            Some(Route::Unit) => Decimal::ONE,
            Some(Route::Direct(s)) => close(s)?,
            Some(Route::ViaBridge(a, b)) => close(a)?
                .checked_mul(close(b)?)
                .ok_or(EquityError::OutOfRange)?,
        };
        let v = qty.checked_mul(price).ok_or(EquityError::OutOfRange)?;
        Ok(Some(v.round_dp_with_strategy(
            VALUE_DP,
            RoundingStrategy::MidpointNearestEven,
        )))
    }

    /// Σ of the valued `items` on `day` (unvalued assets left out).
    fn sum<'i>(
        &self,
        items: impl Iterator<Item = (&'i str, Decimal)>,
        day: Day,
    ) -> Result<Decimal, EquityError> {
        let mut acc = Decimal::ZERO;
        for (asset, qty) in items {
            if let Some(v) = self.value(asset, qty, day)? {
                acc = acc.checked_add(v).ok_or(EquityError::OutOfRange)?;
            }
        }
        Ok(acc)
    }
}

/// Builds the daily series of `inputs`, or `None` when there is no
/// snapshot (no daily equity: the payload's `returns` is null).
pub fn build(inputs: &DailyInputs) -> Result<Option<Equity>, EquityError> {
    let run = latest_run(&inputs.snapshots);
    if run.is_empty() {
        return Ok(None);
    }
    let v = inputs.valuation_asset.as_str();
    let needed = needed_days(run, &inputs.flows, v);
    if needed.len() > MAX_EQUITY_ASSETS {
        return Err(EquityError::TooManyAssets);
    }
    let mut routes: BTreeMap<&str, Route> = BTreeMap::new();
    routes.insert(v, Route::Unit);
    let mut unvalued = Vec::new();
    for (asset, days) in &needed {
        match route(asset, v, days, &inputs.closes) {
            Some(r) => {
                routes.insert(asset, r);
            }
            None => unvalued.push(asset.clone()),
        }
    }
    let pricer = Pricer {
        routes,
        closes: &inputs.closes,
    };
    let series = run
        .iter()
        .map(|s| day_entry(&pricer, s, &inputs.flows))
        .collect::<Result<_, _>>()?;
    Ok(Some(Equity { series, unvalued }))
}

fn day_entry(p: &Pricer<'_>, s: &Snapshot, flows: &[Flow]) -> Result<DayInput, EquityError> {
    let holdings = s.balances.iter().map(|(a, q)| (a.as_str(), *q));
    let equity = p.sum(holdings, s.day)?;
    let moved = flows
        .iter()
        .filter(|f| f.day == s.day)
        .map(|f| (f.asset.as_str(), f.amount));
    let net_flow = p.sum(moved, s.day)?;
    Ok(DayInput {
        date: date_text(s.day).ok_or(EquityError::OutOfRange)?,
        equity: Dec(equity.normalize()),
        net_flow: Dec(net_flow.normalize()),
    })
}

#[cfg(test)]
#[path = "equity_tests.rs"]
mod tests;
