//! Performance aggregates exactly as DESIGN.md "Aggregates" defines them:
//! a pure function from trades to figures, in exact decimals.
//!
//! Decisions where the contract is silent:
//! - Trades are grouped by symbol and processed in `(time, id)` order; two
//!   trades of one symbol with the same id are refused
//!   ([`AggregateError::DuplicateTrade`]) rather than silently counted
//!   twice, which also makes the result independent of input order.
//! - `win_rate` is `wins / (wins + losses)` rounded half-to-even to
//!   `WIN_RATE_DP` decimal places (≥ 8 significant digits for any rate
//!   above 1e-10), then normalized on the wire.
//! - Every sum and product is checked; an overflow of `Decimal`'s 96-bit
//!   mantissa is an error, never a panic or a wrapped value.
//! - Speed: the loop runs first on exact 10^-8 fixed point in `i128`
//!   (Binance sends at most 8 decimals) and falls back to `Decimal` when an
//!   input is finer or a value leaves that range; see `num.rs`.
//! - A trade whose symbol has no base/quote information is an error: the
//!   figures are per quote asset and must not guess it.

mod num;
mod prepare;
mod state;
mod trade;

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use strongroom_protocol::aggregates::{Dec, QuoteTotals, SymbolAggregates};

use num::{Fixed8, Num};
use prepare::{Prepared, prepare};
use state::{Drawdown, SellEvent, SymbolState};
pub(crate) use trade::valid_name;
pub use trade::{Trade, TradeParseError, parse_trades_page};

/// Decimal places of `win_rate` before normalization.
pub(crate) const WIN_RATE_DP: u32 = 18;

/// Base and quote asset of a symbol (from `exchangeInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolInfo {
    /// Base asset, e.g. `BTC`.
    pub base: String,
    /// Quote asset, e.g. `USDT`.
    pub quote: String,
}

/// The time window `from <= time < to`, unix milliseconds, bounds optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Inclusive lower bound.
    pub from_ms: Option<i64>,
    /// Exclusive upper bound.
    pub to_ms: Option<i64>,
}

impl Window {
    /// Whether a trade time lies in the window.
    pub fn contains(&self, t: i64) -> bool {
        self.from_ms.is_none_or(|f| f <= t) && self.to_ms.is_none_or(|e| t < e)
    }
}

/// Why the figures could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AggregateError {
    /// A trade's symbol is not in the symbol information.
    #[error("no base/quote information for symbol {0}")]
    UnknownSymbol(String),
    /// Two trades of one symbol share an id.
    #[error("duplicate trade id {id} for symbol {symbol}")]
    DuplicateTrade {
        /// Symbol.
        symbol: String,
        /// Repeated id.
        id: u64,
    },
    /// A sum or product left the range of `Decimal`.
    #[error("decimal overflow while aggregating")]
    Overflow,
    /// More trades than the index type can address.
    #[error("too many trades")]
    TooManyTrades,
}

/// Per-symbol figures and per-quote-asset totals.
pub type Aggregates = (
    BTreeMap<String, SymbolAggregates>,
    BTreeMap<String, QuoteTotals>,
);

/// Compute the aggregates of `trades` inside `window`.
pub fn aggregate(
    trades: &[Trade],
    symbols_info: &BTreeMap<String, SymbolInfo>,
    window: Window,
) -> Result<Aggregates, AggregateError> {
    let prepared = prepare(trades, symbols_info, window)?;
    // Exact fixed point first; exact Decimal when an input has more than 8
    // decimal places or a value leaves the fixed-point range.
    compute::<Fixed8>(trades, &prepared)
        .or_else(|| compute::<Decimal>(trades, &prepared))
        .ok_or(AggregateError::Overflow)
}

/// The figures of prepared trades; `None` when a value is not
/// representable in `N`.
fn compute<N: Num>(trades: &[Trade], p: &Prepared<'_>) -> Option<Aggregates> {
    let mut quotes: Vec<&str> = Vec::new();
    let quote_of: Vec<usize> = p
        .symbols
        .iter()
        .map(
            |(_, info)| match quotes.iter().position(|q| *q == info.quote) {
                Some(i) => i,
                None => {
                    quotes.push(&info.quote);
                    quotes.len() - 1
                }
            },
        )
        .collect();
    let mut states: Vec<SymbolState<N>> =
        p.symbols.iter().map(|_| SymbolState::default()).collect();
    let mut events: Vec<Vec<SellEvent<N>>> = quotes.iter().map(|_| Vec::new()).collect();
    for &(_, s, _, idx) in &p.keys {
        let s = s as usize;
        states[s].apply(&trades[idx as usize], s, &mut events[quote_of[s]])?;
    }
    let mut symbols = BTreeMap::new();
    for ((name, info), state) in p.symbols.iter().zip(states.iter_mut()) {
        symbols.insert(name.to_string(), state.finish(info)?);
    }
    let totals = totals(&symbols, quotes.into_iter().zip(events).collect())?;
    Some((symbols, totals))
}

fn totals<N: Num>(
    symbols: &BTreeMap<String, SymbolAggregates>,
    mut events: BTreeMap<&str, Vec<SellEvent<N>>>,
) -> Option<BTreeMap<String, QuoteTotals>> {
    let mut out: BTreeMap<String, QuoteTotals> = BTreeMap::new();
    for s in symbols.values() {
        let t = out.entry(s.quote.clone()).or_insert_with(|| QuoteTotals {
            trade_count: 0,
            volume_quote: Dec::ZERO,
            realized_pnl_quote: Dec::ZERO,
            wins: 0,
            losses: 0,
            max_drawdown_quote: Dec::ZERO,
        });
        t.trade_count += s.trade_count;
        t.wins += s.wins;
        t.losses += s.losses;
        t.volume_quote = Dec(t.volume_quote.0.checked_add(s.volume_quote.0)?);
        t.realized_pnl_quote = Dec(t.realized_pnl_quote.0.checked_add(s.realized_pnl_quote.0)?);
    }
    for (quote, t) in out.iter_mut() {
        let ev = events
            .get_mut(quote.as_str())
            .map(std::mem::take)
            .unwrap_or_default();
        t.max_drawdown_quote = Dec(merged_drawdown(ev)?);
    }
    Some(out)
}

/// Drawdown over sells merged by (time, symbol, id): the processing order
/// already is that order; the check keeps it true should that change.
fn merged_drawdown<N: Num>(mut ev: Vec<SellEvent<N>>) -> Option<Decimal> {
    if !ev.is_sorted_by_key(|e| e.key) {
        ev.sort_by_key(|e| e.key);
    }
    let mut dd = Drawdown::<N>::default();
    for e in &ev {
        dd.step(e.pnl)?;
    }
    dd.max.pnl_to_dec()
}

#[cfg(test)]
mod tests;
