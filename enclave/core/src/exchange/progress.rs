//! The bookkeeping of one incremental fetch, apart from any exchange's
//! protocol: per symbol, the stored chain first, then what the exchange
//! adds after its cursor; the new trades become segments; what the job
//! brought up to date is remembered.

use std::collections::BTreeMap;

use super::{ExchangeError, History, Interrupted, MAX_TRADES_PER_REQUEST, Resume};
use crate::aggregate::{SymbolInfo, Trade};
use crate::history::segments_of;

/// One fetch under way for one account.
#[derive(Debug)]
pub(crate) struct Progress<'a> {
    resume: Resume<'a>,
    account: String,
    checked_at_ms: u64,
    /// The history being built (trades, symbols, new segments).
    pub(crate) history: History,
    done: BTreeMap<String, u64>,
    total: usize,
}

/// Where one symbol starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// Already brought up to date by this job, and the stored chain reaches
    /// that far: not queried again.
    UpToDate,
    /// Query `myTrades` from this `fromId`.
    From(u64),
}

impl<'a> Progress<'a> {
    /// A fetch for the account whose pseudonym is `account`, at enclave
    /// time `checked_at_ms`.
    pub(crate) fn new(
        resume: Resume<'a>,
        account: String,
        account_id: String,
        checked_at_ms: u64,
    ) -> Self {
        let history = History {
            account_id: Some(account_id),
            ..History::default()
        };
        Self {
            resume,
            account,
            checked_at_ms,
            history,
            done: BTreeMap::new(),
            total: 0,
        }
    }

    /// The symbols to cover.
    pub(crate) fn plan(&mut self, wanted: &[String]) {
        self.total = wanted.len();
    }

    /// Starts `symbol`: adds its stored chain's trades and says where the
    /// exchange is queried from.
    pub(crate) fn begin(
        &mut self,
        symbol: &str,
        info: &SymbolInfo,
    ) -> Result<Start, ExchangeError> {
        let chain = self.resume.stored.chain(&self.account, symbol);
        if !chain.trades.is_empty() {
            self.history.symbols.insert(symbol.to_owned(), info.clone());
        }
        self.history.trades.extend(chain.trades);
        if self.history.trades.len() > MAX_TRADES_PER_REQUEST {
            return Err(ExchangeError::TooLarge);
        }
        match self.resume.done.get(symbol) {
            Some(&reached) if chain.cursor >= reached => {
                self.done.insert(symbol.to_owned(), chain.cursor);
                Ok(Start::UpToDate)
            }
            _ => Ok(Start::From(chain.cursor)),
        }
    }

    /// Trades counted so far (stored and fetched), for the request's limit.
    pub(crate) fn count(&self) -> usize {
        self.history.trades.len()
    }

    /// Records the trades of `symbol` fetched from `from_id`, `complete`
    /// when the exchange had no more (the symbol is then up to date).
    pub(crate) fn record(
        &mut self,
        symbol: &str,
        info: &SymbolInfo,
        from_id: u64,
        fresh: Vec<Trade>,
        complete: bool,
    ) {
        let next_id = fresh
            .iter()
            .map(|t| t.id.saturating_add(1))
            .max()
            .unwrap_or(from_id);
        let range = (from_id, next_id);
        let segments = segments_of(symbol, info, range, &fresh, self.checked_at_ms);
        self.history.segments.extend(segments);
        if !fresh.is_empty() {
            self.history.symbols.insert(symbol.to_owned(), info.clone());
        }
        self.history.trades.extend(fresh);
        if complete {
            self.done.insert(symbol.to_owned(), next_id);
        }
    }

    /// Whether anything was gained: a symbol up to date or a trade fetched.
    pub(crate) fn made(&self) -> bool {
        !self.done.is_empty() || !self.history.segments.is_empty()
    }

    /// The finished history: trades in (symbol, id) order, a repeated id
    /// (impossible for well-formed segments, kept out defensively) once.
    pub(crate) fn finish(mut self) -> History {
        let trades = &mut self.history.trades;
        trades.sort_by(|a, b| (&a.symbol, a.id).cmp(&(&b.symbol, b.id)));
        trades.dedup_by(|a, b| a.symbol == b.symbol && a.id == b.id);
        self.history
    }

    /// The progress so far, interrupted by the weight budget.
    pub(crate) fn interrupted(self, weight_used: u64, retry_after_s: u32) -> Interrupted {
        Interrupted {
            account_id: self.history.account_id.unwrap_or_default(),
            segments: self.history.segments,
            done: self.done,
            symbols_total: u32::try_from(self.total).unwrap_or(u32::MAX),
            weight_used,
            retry_after_s,
        }
    }
}
