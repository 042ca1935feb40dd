//! Daily equity's inputs, fetched over the same session (same TLS
//! connection, same signing, retries and weight budgets) as the trades:
//!
//! 1. `GET /sapi/v1/accountSnapshot?type=SPOT&limit=30` (2,400 weight on
//!    its own 12,000-a-minute budget): the last 30 daily spot snapshots;
//!    only their latest run of consecutive days is used
//!    ([`crate::equity::latest_run`]).
//! 2. `capital/deposit/hisrec` and `capital/withdraw/history` over that
//!    run's days (`offset` paging, 1,000 a page, at most
//!    [`MAX_FLOW_PAGES`] pages; more is refused, never truncated).
//! 3. `GET /api/v3/klines` (2 weight) daily closes of each asset's pair with
//!    the valuation asset; only for an asset that pair does not cover, the
//!    asset's `BTC` pair and `BTC`+valuation. A pair the exchange does not
//!    know (`-1121`) has no closes.
//!
//! The answer is kept per account (Binance `uid`) for [`CACHE_TTL_MS`]
//! within one UTC day: snapshots change once a day, and accountSnapshot's
//! weight allows four a minute per egress address, so recomputing an
//! account's figures does not spend it again.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rust_decimal::Decimal;

use super::{ExchangeError, ExchangeTransport, Session};
use crate::equity::{
    BRIDGE_ASSET, DEFAULT_VALUATION_ASSET, DailyInputs, MAX_EQUITY_ASSETS, latest_run, needed_days,
    pair, route,
};
use crate::exchange::wallet::{
    DAY_MS, Day, Flow, FlowPage, MAX_FLOW_PAGE, WalletParseError, parse_daily_closes,
    parse_deposits, parse_snapshots, parse_withdrawals,
};

/// Most pages of deposits, and of withdrawals, for one series.
pub(crate) const MAX_FLOW_PAGES: usize = 10;
/// How long an account's fetched inputs are reused (within one UTC day).
pub(crate) const CACHE_TTL_MS: i64 = 3_600_000;
/// Most accounts whose inputs are kept; the oldest entry goes first.
pub(crate) const MAX_CACHED_ACCOUNTS: usize = 1_024;

const SNAPSHOT_QUERY: &str = "type=SPOT&limit=30";

fn wallet_error(e: WalletParseError) -> ExchangeError {
    match e {
        WalletParseError::TooLarge => ExchangeError::TooLarge,
        WalletParseError::Malformed => ExchangeError::Malformed,
    }
}

/// uid -> (exchange time fetched, ms; what was fetched).
#[derive(Debug, Default)]
pub(super) struct DailyCache(Mutex<BTreeMap<u64, (i64, Option<DailyInputs>)>>);

impl DailyCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, (i64, Option<DailyInputs>)>> {
        // Plain data, consistent after any panic.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, uid: u64, now_ms: i64) -> Option<Option<DailyInputs>> {
        let map = self.lock();
        let (at, v) = map.get(&uid)?;
        let fresh = (0..CACHE_TTL_MS).contains(&(now_ms - at))
            && at.div_euclid(DAY_MS) == now_ms.div_euclid(DAY_MS);
        fresh.then(|| v.clone())
    }

    fn put(&self, uid: u64, now_ms: i64, v: Option<DailyInputs>) {
        let mut map = self.lock();
        if !map.contains_key(&uid) && map.len() >= MAX_CACHED_ACCOUNTS {
            let oldest = map.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| *k);
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(uid, (now_ms, v));
    }
}

impl<T: ExchangeTransport> Session<'_, T> {
    /// The account's daily equity inputs (cached per account, see the
    /// module doc), or `None` without any snapshot.
    pub(super) async fn daily_inputs(
        &mut self,
        uid: u64,
    ) -> Result<Option<DailyInputs>, ExchangeError> {
        let now = self.exchange_now_ms();
        if let Some(hit) = self.client.daily.get(uid, now) {
            return Ok(hit);
        }
        let fetched = self.fetch_daily().await?;
        self.client.daily.put(uid, now, fetched.clone());
        Ok(fetched)
    }

    async fn fetch_daily(&mut self) -> Result<Option<DailyInputs>, ExchangeError> {
        let v = DEFAULT_VALUATION_ASSET;
        let body = self
            .call("/sapi/v1/accountSnapshot", SNAPSHOT_QUERY.to_owned(), true)
            .await?;
        let snapshots = parse_snapshots(&body).map_err(wallet_error)?;
        let run = latest_run(&snapshots).to_vec();
        let (Some(first), Some(last)) = (run.first().map(|s| s.day), run.last().map(|s| s.day))
        else {
            return Ok(None);
        };
        let span = (first * DAY_MS, (last + 1) * DAY_MS - 1);
        let mut flows = self
            .flows("/sapi/v1/capital/deposit/hisrec", span, parse_deposits)
            .await?;
        flows.extend(
            self.flows("/sapi/v1/capital/withdraw/history", span, parse_withdrawals)
                .await?,
        );
        flows.retain(|f| (first..=last).contains(&f.day));
        let needed = needed_days(&run, &flows, v);
        if needed.len() > MAX_EQUITY_ASSETS {
            return Err(ExchangeError::TooLarge);
        }
        let mut closes = BTreeMap::new();
        for (asset, days) in &needed {
            if let Some(direct) = pair(asset, v) {
                self.closes_of(&direct, (first, last), &mut closes).await?;
            }
            if route(asset, v, days, &closes).is_some() {
                continue;
            }
            for sym in [pair(asset, BRIDGE_ASSET), pair(BRIDGE_ASSET, v)]
                .into_iter()
                .flatten()
            {
                self.closes_of(&sym, (first, last), &mut closes).await?;
            }
        }
        Ok(Some(DailyInputs {
            valuation_asset: v.to_owned(),
            snapshots: run,
            flows,
            closes,
        }))
    }

    /// Daily closes of `symbol` over `days` into `closes` (empty when the
    /// exchange does not know the symbol); each symbol is asked once.
    async fn closes_of(
        &mut self,
        symbol: &str,
        (first, last): (Day, Day),
        closes: &mut BTreeMap<String, BTreeMap<Day, Decimal>>,
    ) -> Result<(), ExchangeError> {
        if closes.contains_key(symbol) {
            return Ok(());
        }
        let query = format!(
            "symbol={symbol}&interval=1d&startTime={}&endTime={}&limit={}",
            first * DAY_MS,
            last * DAY_MS,
            last - first + 1
        );
        let mut got = match self.call("/api/v3/klines", query, false).await {
            Ok(body) => parse_daily_closes(&body).map_err(wallet_error)?,
            Err(ExchangeError::UnknownSymbol) => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        got.retain(|d, _| (first..=last).contains(d));
        closes.insert(symbol.to_owned(), got);
        Ok(())
    }

    /// Every page of one flow history over `(start, end)` ms.
    async fn flows(
        &mut self,
        path: &str,
        (start, end): (i64, i64),
        parse: fn(&[u8]) -> Result<FlowPage, WalletParseError>,
    ) -> Result<Vec<Flow>, ExchangeError> {
        let mut out = Vec::new();
        for page in 0..MAX_FLOW_PAGES {
            let query = format!(
                "startTime={start}&endTime={end}&offset={}&limit={MAX_FLOW_PAGE}",
                page * MAX_FLOW_PAGE
            );
            let body = self.call(path, query, true).await?;
            let p = parse(&body).map_err(wallet_error)?;
            out.extend(p.flows);
            if p.records < MAX_FLOW_PAGE {
                return Ok(out);
            }
        }
        Err(ExchangeError::TooLarge)
    }
}
