//! The Binance spot REST client: `time`, `exchangeInfo`, `account`, `myTrades`.
//!
//! - Signed calls carry `timestamp` (enclave clock + the offset learned from
//!   `GET /api/v3/time`) and `recvWindow`, and `signature` = hex HMAC-SHA256 of
//!   the query string under the API secret; the key goes in `X-MBX-APIKEY`.
//! - `myTrades` is paged by `fromId`, 1000 a call, until a short page: from
//!   0, or from the cursor of the stored history segments the host handed
//!   in for the account (`crate::history`); a weight budget spent once
//!   something was fetched (a page, or a symbol found up to date) ends the
//!   fetch as [`Fetched::Pending`] with what was fetched so far.
//! - 429/418 are retried after `Retry-After` within a bounded budget; a dropped
//!   connection is reopened and the call retried (it is a read: idempotent).
//! - Every request is first admitted by the shared [`WeightBudget`] (the
//!   exchange's per-IP weight per minute, less a margin) and every answer's
//!   `X-MBX-USED-WEIGHT-1M` updates it: a request that would pass the margin
//!   is not sent ([`ExchangeError::WeightBudget`]), so the egress address is
//!   never banned (418) for this enclave's traffic.
//! - Symbol discovery when none are named (`discovered_symbols`): every
//!   symbol of `exchangeInfo` whose base *or* quote asset the account may
//!   have held: every balance `account` lists (zero ones included: the
//!   enclave never sends `omitZeroBalances`), and every asset of the daily
//!   snapshots, deposits and withdrawals fetched for daily equity (the days
//!   of the latest run of daily snapshots, at most 30, see
//!   `binance_daily`; none without a snapshot). Never truncated:
//!   `selection.complete` is always true, and a history past the enclave's
//!   limits fails the computation instead of signing part of it.

//!
//! Pure protocol logic over two ports: [`ExchangeTransport`] (one HTTPS GET
//! at a time, and waiting) and [`Clock`] (the enclave's time, for
//! `timestamp` and the clock offset).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use strongroom_formats::aggregates::Permissions;
use zeroize::Zeroizing;

use super::budget::{SapiBudgets, WeightBudget, WeightLimits};
use super::progress::{Progress, Start};
use super::{
    Answer, Exchange, ExchangeError, ExchangeTransport, Fetched, KeyCheck, MAX_SYMBOLS_PER_REQUEST,
    MAX_TRADES_PER_REQUEST, Resume, RetryPolicy,
};
use crate::aggregate::{SymbolInfo, Trade, parse_trades_page, valid_name};
use crate::clock::Clock;
use crate::compute::account_pseudonym_v2;
use crate::intake::Credential;

/// Trades per `myTrades` page (Binance's maximum).
pub(crate) const PAGE_LIMIT: usize = 1000;

/// The Binance spot client over `transport`.
pub struct Binance<T> {
    transport: T,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    budget: WeightBudget,
    sapi: SapiBudgets,
    daily: daily::DailyCache,
}

impl<T> std::fmt::Debug for Binance<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binance")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<T: ExchangeTransport> Binance<T> {
    /// A client reaching the exchange through `transport`, stamping signed
    /// requests with `clock` (plus the learned offset).
    pub fn new(transport: T, clock: Arc<dyn Clock>, policy: RetryPolicy) -> Self {
        Self {
            transport,
            clock,
            policy,
            budget: WeightBudget::new(WeightLimits::default()),
            sapi: SapiBudgets::default(),
            daily: daily::DailyCache::default(),
        }
    }

    /// The same client under other weight limits.
    pub fn with_weight_limits(mut self, limits: WeightLimits) -> Self {
        self.budget = WeightBudget::new(limits);
        self
    }

    /// The weight budget of the egress address.
    pub fn budget(&self) -> &WeightBudget {
        &self.budget
    }

    /// The transport in use.
    pub fn transport(&self) -> &T {
        &self.transport
    }
}

impl<T: ExchangeTransport> Exchange for Binance<T> {
    fn name(&self) -> &'static str {
        "binance"
    }

    async fn fetch(
        &self,
        credential: &Credential,
        symbols: Option<&[String]>,
        resume: Resume<'_>,
    ) -> Result<Fetched, ExchangeError> {
        let mut session = Session::new(self, credential);
        session.sync_time().await?;
        let info = session.exchange_info().await?;
        let account = session.account().await?;
        let uid = account.uid.to_string();
        let pseudonym = account_pseudonym_v2(self.name(), &uid);
        let now_ms = self.clock.now_unix_ms();
        let mut progress = Progress::new(resume, pseudonym, uid, now_ms);
        // Once something of the history is fetched, a spent weight budget
        // is progress, not a failure; before that it stays the error (a
        // host without jobs loses nothing, and retries as before).
        match session
            .history(&info, &account, symbols, &mut progress)
            .await
        {
            Ok(()) => Ok(Fetched::Complete(progress.finish())),
            Err(ExchangeError::WeightBudget { retry_after_s }) if progress.made() => Ok(
                Fetched::Pending(progress.interrupted(session.weight_used, retry_after_s)),
            ),
            Err(e) => Err(e),
        }
    }

    /// `time`, `apiRestrictions`, then `account` (for the uid) over one
    /// connection: 21 weight of the `/api` budget, and one call of
    /// `apiRestrictions`. A key that can do more than read is refused
    /// before its account is asked for.
    async fn check_key(&self, credential: &Credential) -> Result<KeyCheck, ExchangeError> {
        let mut session = Session::new(self, credential);
        session.sync_time().await?;
        let permissions = session.restrictions().await?;
        if !permissions.read_only() {
            return Err(ExchangeError::KeyNotReadOnly);
        }
        let account = session.account().await?;
        Ok(KeyCheck {
            account_id: account.uid.to_string(),
            permissions,
        })
    }
}

fn named_symbols(
    list: &[String],
    info: &BTreeMap<String, SymbolInfo>,
) -> Result<Vec<String>, ExchangeError> {
    if list.len() > MAX_SYMBOLS_PER_REQUEST {
        return Err(ExchangeError::UnknownSymbol);
    }
    let set: BTreeSet<&String> = list.iter().collect();
    set.into_iter()
        .map(|s| {
            if valid_name(s) && info.contains_key(s) {
                Ok(s.clone())
            } else {
                Err(ExchangeError::UnknownSymbol)
            }
        })
        .collect()
}

/// Every symbol with `assets` on either side, sorted; never truncated (the
/// body of `exchangeInfo` is bounded by [`super::MAX_RESPONSE_BYTES`], so
/// the list is too). [`MAX_SYMBOLS_PER_REQUEST`] bounds only a request that
/// names its symbols.
fn discovered_symbols(
    info: &BTreeMap<String, SymbolInfo>,
    assets: &BTreeSet<String>,
) -> Vec<String> {
    info.iter()
        .filter(|(_, i)| assets.contains(&i.base) || assets.contains(&i.quote))
        .map(|(s, _)| s.clone())
        .collect()
}

/// `GET /sapi/v1/account/apiRestrictions`, as far as the result states it.
/// A flag Binance leaves out counts as not granted.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRestrictions {
    #[serde(default)]
    ip_restrict: bool,
    #[serde(default)]
    enable_reading: bool,
    #[serde(default)]
    enable_spot_and_margin_trading: bool,
    #[serde(default)]
    enable_margin: bool,
    #[serde(default)]
    enable_portfolio_margin_trading: bool,
    #[serde(default)]
    enable_futures: bool,
    #[serde(default)]
    enable_vanilla_options: bool,
    #[serde(default)]
    enable_withdrawals: bool,
    #[serde(default)]
    enable_internal_transfer: bool,
    #[serde(default)]
    permits_universal_transfer: bool,
}

impl RawRestrictions {
    /// The signed `permissions`: portfolio margin counts as margin, options
    /// as futures, universal transfer as internal transfer.
    fn permissions(&self, checked_at: String) -> Permissions {
        Permissions {
            reading: self.enable_reading,
            spot_trading: self.enable_spot_and_margin_trading,
            margin: self.enable_margin || self.enable_portfolio_margin_trading,
            futures: self.enable_futures || self.enable_vanilla_options,
            withdrawals: self.enable_withdrawals,
            internal_transfer: self.enable_internal_transfer || self.permits_universal_transfer,
            ip_restricted: self.ip_restrict,
            checked_at,
        }
    }
}

/// What `GET /api/v3/account` tells: the account's id and its assets
/// (every balance listed, zero ones included).
struct AccountInfo {
    uid: u64,
    assets: BTreeSet<String>,
}

/// One request's worth of calls on one connection.
struct Session<'a, T: ExchangeTransport> {
    client: &'a Binance<T>,
    credential: &'a Credential,
    conn: Option<T::Connection>,
    offset_ms: i64,
    /// Weight admitted for this session's requests, every budget together.
    weight_used: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerTime {
    server_time: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSymbol {
    symbol: String,
    base_asset: String,
    quote_asset: String,
}

#[derive(Deserialize)]
struct RawExchangeInfo {
    symbols: Vec<RawSymbol>,
}

#[derive(Deserialize)]
struct RawBalance {
    asset: String,
}

#[derive(Deserialize)]
struct RawAccount {
    uid: u64,
    balances: Vec<RawBalance>,
}

#[derive(Deserialize)]
struct ApiError {
    code: i64,
}

impl<'a, T: ExchangeTransport> Session<'a, T> {
    fn new(client: &'a Binance<T>, credential: &'a Credential) -> Self {
        Self {
            client,
            credential,
            conn: None,
            offset_ms: 0,
            weight_used: 0,
        }
    }

    /// Enclave wall clock, unix ms.
    fn local_now_ms(&self) -> i64 {
        i64::try_from(self.client.clock.now_unix_ms()).unwrap_or(i64::MAX)
    }

    fn exchange_now_ms(&self) -> i64 {
        self.local_now_ms() + self.offset_ms
    }

    /// Learns the exchange clock's offset (the round trip's midpoint), with the
    /// same retries as any call.
    async fn sync_time(&mut self) -> Result<(), ExchangeError> {
        self.call("/api/v3/time", String::new(), false).await?;
        Ok(())
    }

    /// One `GET /api/v3/time` without retries (used by the retry loop itself).
    async fn time_once(&mut self) -> Result<(), ExchangeError> {
        let t0 = self.local_now_ms();
        let answer = self.send("/api/v3/time", false).await?;
        let t1 = self.local_now_ms();
        if !(200..300).contains(&answer.status) {
            return Err(ExchangeError::Unreachable);
        }
        let st: ServerTime =
            serde_json::from_slice(&answer.body).map_err(|_| ExchangeError::Malformed)?;
        self.offset_ms = st.server_time - (t0 + t1) / 2;
        Ok(())
    }

    async fn exchange_info(&mut self) -> Result<BTreeMap<String, SymbolInfo>, ExchangeError> {
        let body = self
            .call("/api/v3/exchangeInfo", String::new(), false)
            .await?;
        let raw: RawExchangeInfo =
            serde_json::from_slice(&body).map_err(|_| ExchangeError::Malformed)?;
        let mut out = BTreeMap::new();
        for s in raw.symbols {
            if valid_name(&s.symbol) && valid_name(&s.base_asset) && valid_name(&s.quote_asset) {
                out.insert(
                    s.symbol,
                    SymbolInfo {
                        base: s.base_asset,
                        quote: s.quote_asset,
                    },
                );
            }
        }
        Ok(out)
    }

    /// The key's restrictions (`/sapi/v1/account/apiRestrictions`, signed).
    async fn restrictions(&mut self) -> Result<Permissions, ExchangeError> {
        let body = self
            .call("/sapi/v1/account/apiRestrictions", String::new(), true)
            .await?;
        let raw: RawRestrictions =
            serde_json::from_slice(&body).map_err(|_| ExchangeError::Malformed)?;
        let checked_at =
            crate::compute::rfc3339_ms(self.local_now_ms()).ok_or(ExchangeError::Malformed)?;
        Ok(raw.permissions(checked_at))
    }

    async fn account(&mut self) -> Result<AccountInfo, ExchangeError> {
        let body = self.call("/api/v3/account", String::new(), true).await?;
        let raw: RawAccount =
            serde_json::from_slice(&body).map_err(|_| ExchangeError::Malformed)?;
        Ok(AccountInfo {
            uid: raw.uid,
            assets: raw
                .balances
                .into_iter()
                .map(|b| b.asset)
                .filter(|a| valid_name(a))
                .collect(),
        })
    }

    /// After the account is known: the key's restrictions, then each
    /// symbol from its stored chain's cursor, then the daily inputs.
    async fn history(
        &mut self,
        info: &BTreeMap<String, SymbolInfo>,
        account: &AccountInfo,
        symbols: Option<&[String]>,
        progress: &mut Progress<'_>,
    ) -> Result<(), ExchangeError> {
        // Only a key that can do nothing but read is used (and the snapshot
        // of its restrictions is signed into the result).
        let permissions = self.restrictions().await?;
        if !permissions.read_only() {
            return Err(ExchangeError::KeyNotReadOnly);
        }
        // Daily equity's inputs come first: their snapshots, deposits and
        // withdrawals also name assets the account held.
        let daily = self.daily_inputs(account.uid).await?;
        let wanted = match symbols {
            Some(list) => named_symbols(list, info)?,
            None => {
                let mut assets = account.assets.clone();
                if let Some(d) = &daily {
                    assets.extend(d.flows.iter().map(|f| f.asset.clone()));
                    let held = d.snapshots.iter().flat_map(|s| s.balances.keys());
                    assets.extend(held.cloned());
                }
                discovered_symbols(info, &assets)
            }
        };
        progress.plan(&wanted);
        progress.history.exchange_time_ms = self.exchange_now_ms();
        progress.history.permissions = Some(permissions);
        progress.history.considered = wanted.clone();
        progress.history.complete = true;
        progress.history.daily = daily;
        for symbol in &wanted {
            let si = info.get(symbol).ok_or(ExchangeError::UnknownSymbol)?;
            let Start::From(from_id) = progress.begin(symbol, si)? else {
                continue;
            };
            let mut fresh = Vec::new();
            let fetched = self
                .my_trades(symbol, from_id, progress.count(), &mut fresh)
                .await;
            // Pages already fetched are kept even when the next one is refused.
            progress.record(symbol, si, from_id, fresh, fetched.is_ok());
            fetched?;
        }
        Ok(())
    }

    /// `myTrades` of `symbol` from `fromId = from_id`, paged, into `out`
    /// (which keeps the pages received when a later one fails).
    async fn my_trades(
        &mut self,
        symbol: &str,
        mut from_id: u64,
        already: usize,
        out: &mut Vec<Trade>,
    ) -> Result<(), ExchangeError> {
        loop {
            let query = format!("symbol={symbol}&fromId={from_id}&limit={PAGE_LIMIT}");
            let body = self.call("/api/v3/myTrades", query, true).await?;
            let page = parse_trades_page(&body).map_err(|_| ExchangeError::Malformed)?;
            let n = page.len();
            if page.iter().any(|t| t.symbol != symbol || t.id < from_id) {
                return Err(ExchangeError::Malformed);
            }
            let last = page.iter().map(|t| t.id).max();
            out.extend(page);
            if already + out.len() > MAX_TRADES_PER_REQUEST {
                return Err(ExchangeError::TooLarge);
            }
            match last {
                Some(id) if n >= PAGE_LIMIT => from_id = id + 1,
                _ => return Ok(()),
            }
        }
    }

    /// One REST call with retries; returns the body of a 2xx answer.
    async fn call(
        &mut self,
        path: &str,
        query: String,
        signed: bool,
    ) -> Result<Vec<u8>, ExchangeError> {
        let mut resynced = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let target = self.target(path, &query, signed);
            let sent_at = self.local_now_ms();
            let answer = match self.send(&target, signed).await {
                Ok(a) => a,
                Err(e)
                    if attempt < self.client.policy.max_attempts
                        && e == ExchangeError::Unreachable =>
                {
                    self.conn = None;
                    let backoff = Duration::from_millis(100 * u64::from(attempt));
                    self.client.transport.sleep(backoff).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match classify(&answer) {
                Outcome::Ok if path == "/api/v3/time" => {
                    let st: ServerTime = serde_json::from_slice(&answer.body)
                        .map_err(|_| ExchangeError::Malformed)?;
                    self.offset_ms = st.server_time - (sent_at + self.local_now_ms()) / 2;
                    return Ok(answer.body);
                }
                Outcome::Ok => return Ok(answer.body),
                Outcome::Retry(wait) if attempt < self.client.policy.max_attempts => {
                    if wait > self.client.policy.max_retry_wait {
                        return Err(ExchangeError::RateLimited);
                    }
                    tracing::info!(wait_s = wait.as_secs(), "exchange rate limit: waiting");
                    self.client.transport.sleep(wait).await;
                    // The wait (up to a minute) is longer than servers keep
                    // an idle connection: Binance and the mock (10 s) close
                    // it meanwhile. Reusing it would spend the retry on a
                    // dead connection (or, if the close crosses the request,
                    // wait out the I/O timeout): open a fresh one.
                    self.conn = None;
                }
                Outcome::Retry(_) => return Err(ExchangeError::RateLimited),
                Outcome::ClockSkew if !resynced => {
                    resynced = true;
                    self.time_once().await?;
                }
                Outcome::Fail(e) => return Err(e),
                Outcome::ClockSkew => return Err(ExchangeError::Unreachable),
            }
        }
    }

    fn target(&self, path: &str, query: &str, signed: bool) -> String {
        if !signed {
            return if query.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{query}")
            };
        }
        let sep = if query.is_empty() { "" } else { "&" };
        let q = format!(
            "{query}{sep}recvWindow={}&timestamp={}",
            self.client.policy.recv_window_ms,
            self.exchange_now_ms()
        );
        let signature = sign(self.credential.api_secret().as_bytes(), q.as_bytes());
        format!("{path}?{q}&signature={}", signature.as_str())
    }

    async fn send(&mut self, target: &str, signed: bool) -> Result<Answer, ExchangeError> {
        let path = target.split('?').next().unwrap_or_default();
        let (admitting, weight) = self
            .client
            .sapi
            .of(path)
            .unwrap_or((&self.client.budget, request_weight(target)));
        let budget = &self.client.budget;
        admitting
            .admit(weight, self.exchange_now_ms())
            .map_err(|retry_after_s| {
                tracing::warn!(
                    retry_after_s,
                    "exchange weight budget spent: request not sent"
                );
                ExchangeError::WeightBudget { retry_after_s }
            })?;
        self.weight_used = self.weight_used.saturating_add(u64::from(weight));
        let transport = &self.client.transport;
        if self.conn.is_none() {
            self.conn = Some(transport.connect().await?);
        }
        let key = signed.then(|| self.credential.api_key());
        let conn = self.conn.as_mut().ok_or(ExchangeError::Unreachable)?;
        let answer = transport.get(conn, target, key).await?;
        if let Some(used) = answer.used_weight {
            budget.observe(used, self.exchange_now_ms());
        }
        Ok(answer)
    }
}

/// Binance's weight of an `/api/*` request (its spot API documentation):
/// `time` 1; `klines` 2; `exchangeInfo` (all symbols), `account` and
/// `myTrades` (without `orderId`) 20. Anything else counts 20 as well,
/// erring high. (`/sapi/*` calls count on their own budgets:
/// [`SapiBudgets`].)
fn request_weight(target: &str) -> u32 {
    match target.split('?').next() {
        Some("/api/v3/time" | "/api/v3/ping") => 1,
        Some("/api/v3/klines") => 2,
        _ => 20,
    }
}

/// hex(HMAC-SHA256(secret, message)).
pub fn sign(secret: &[u8], message: &[u8]) -> Zeroizing<String> {
    // HMAC accepts keys of any length, so this cannot fail; fall back to an
    // impossible signature rather than panic.
    let Ok(mut mac) = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return Zeroizing::new(String::new());
    };
    mac.update(message);
    Zeroizing::new(hex::encode(mac.finalize().into_bytes()))
}

enum Outcome {
    Ok,
    Retry(Duration),
    ClockSkew,
    Fail(ExchangeError),
}

fn classify(a: &Answer) -> Outcome {
    match a.status {
        200..=299 => Outcome::Ok,
        429 | 418 => Outcome::Retry(Duration::from_secs(a.retry_after.unwrap_or(1))),
        401 | 403 => Outcome::Fail(ExchangeError::RejectedCredentials),
        400 => {
            let code = serde_json::from_slice::<ApiError>(&a.body)
                .map(|e| e.code)
                .unwrap_or(0);
            match code {
                // -1021: timestamp outside recvWindow.
                -1021 => Outcome::ClockSkew,
                // -1022 bad signature, -2014 bad key format, -2015 invalid key/IP/permissions.
                -1022 | -2014 | -2015 => Outcome::Fail(ExchangeError::RejectedCredentials),
                -1121 => Outcome::Fail(ExchangeError::UnknownSymbol),
                _ => Outcome::Fail(ExchangeError::Malformed),
            }
        }
        _ => Outcome::Fail(ExchangeError::Unreachable),
    }
}

#[path = "binance_daily.rs"]
mod daily;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "binance_tests.rs"]
mod scripted;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "binance_resume_tests.rs"]
mod resume_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_binance_documentation_example() {
        // From Binance's API docs ("SIGNED endpoint examples").
        let secret = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let query = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            sign(secret, query).as_str(),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: Some(3),
            used_weight: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn answers_are_classified() {
        assert!(matches!(classify(&answer(200, "[]")), Outcome::Ok));
        assert!(
            matches!(classify(&answer(429, "")), Outcome::Retry(d) if d == Duration::from_secs(3))
        );
        assert!(matches!(classify(&answer(418, "")), Outcome::Retry(_)));
        assert!(matches!(
            classify(&answer(400, r#"{"code":-2015,"msg":"Invalid API-key"}"#)),
            Outcome::Fail(ExchangeError::RejectedCredentials)
        ));
        assert!(matches!(
            classify(&answer(400, r#"{"code":-1022,"msg":"Signature"}"#)),
            Outcome::Fail(ExchangeError::RejectedCredentials)
        ));
        assert!(matches!(
            classify(&answer(400, r#"{"code":-1021}"#)),
            Outcome::ClockSkew
        ));
        assert!(matches!(
            classify(&answer(401, "")),
            Outcome::Fail(ExchangeError::RejectedCredentials)
        ));
        assert!(matches!(
            classify(&answer(503, "")),
            Outcome::Fail(ExchangeError::Unreachable)
        ));
    }

    #[test]
    fn symbol_selection() {
        let mut info = BTreeMap::new();
        for (s, b, q) in [
            ("BTCUSDT", "BTC", "USDT"),
            ("ETHUSDT", "ETH", "USDT"),
            ("ETHBTC", "ETH", "BTC"),
        ] {
            info.insert(
                s.to_owned(),
                SymbolInfo {
                    base: b.into(),
                    quote: q.into(),
                },
            );
        }
        let assets: BTreeSet<String> = ["ETH".to_owned()].into();
        assert_eq!(
            discovered_symbols(&info, &assets),
            ["ETHBTC".to_owned(), "ETHUSDT".to_owned()]
        );
        // Quote side too.
        let assets: BTreeSet<String> = ["BTC".to_owned()].into();
        assert_eq!(
            discovered_symbols(&info, &assets),
            ["BTCUSDT".to_owned(), "ETHBTC".to_owned()]
        );
        assert_eq!(
            named_symbols(&["BTCUSDT".into(), "BTCUSDT".into()], &info).unwrap_or_default(),
            vec!["BTCUSDT"]
        );
        assert_eq!(
            named_symbols(&["NOPE".into()], &info),
            Err(ExchangeError::UnknownSymbol)
        );
        assert_eq!(
            named_symbols(&["bad symbol".into()], &info),
            Err(ExchangeError::UnknownSymbol)
        );
    }
}
