//! The Binance spot REST subset as a plain function from request to
//! response (no sockets), so it is tested without a runtime.

use std::collections::BTreeMap;
use std::sync::Mutex;

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::fixture::{Fixture, FixtureError, IndexedAccount, KlineIndex, SymbolDef};
use crate::limiter::{Charge, Limiter, WeightBudget};
use crate::query::{Query, QueryError};
use crate::{klines, wallet};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Largest `recvWindow` Binance accepts.
pub const MAX_RECV_WINDOW_MS: i64 = 60_000;
/// `recvWindow` when the request gives none.
pub const DEFAULT_RECV_WINDOW_MS: i64 = 5_000;
/// Most trades one myTrades call returns.
pub const MAX_TRADES_LIMIT: usize = 1000;
/// myTrades page size when the request gives none.
pub const DEFAULT_TRADES_LIMIT: usize = 500;
/// Longest startTime..endTime span myTrades accepts.
pub const MAX_TIME_SPAN_MS: i64 = 24 * 3600 * 1000;

/// Header of the shared `/api/*` budget; every answer carries it.
pub const USED_WEIGHT_HEADER: &str = "X-MBX-USED-WEIGHT-1M";
/// Weight each IP-limited `/sapi/*` endpoint may use per minute, on its own
/// budget (Binance "LIMITS": "each IP-limited endpoint has an independent
/// 12,000 per minute"); past it 429, never 418.
pub const SAPI_IP_LIMIT_PER_MINUTE: u32 = 12_000;
/// `capital/withdraw/history` counts per second instead: 180,000 a second
/// at weight 18,000, i.e. 10 requests a second (its Binance page).
pub const WITHDRAW_HISTORY_LIMIT_PER_SECOND: u32 = 180_000;

/// The endpoints served. Weights as Binance documents them (spot API
/// "rest-api.md" and the wallet pages at developers.binance.com, read
/// 2026-12): ping 1, time 1, exchangeInfo 20, account 20, myTrades 20 (5
/// with orderId), klines 2, apiRestrictions 1 (IP), deposit/hisrec 1 (IP),
/// withdraw/history 18000 (IP, per second), accountSnapshot 2400 (IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Ping,
    Time,
    ExchangeInfo,
    Account,
    MyTrades,
    Klines,
    ApiRestrictions,
    Deposits,
    Withdrawals,
    Snapshot,
}

/// The `/sapi/*` endpoints, each with its own budget: index into
/// [`Exchange::sapi`] and its weight header.
const SAPI: [(Endpoint, &str); 4] = [
    (Endpoint::ApiRestrictions, "X-SAPI-USED-IP-WEIGHT-1M"),
    (Endpoint::Deposits, "X-SAPI-USED-IP-WEIGHT-1M"),
    (Endpoint::Withdrawals, "X-SAPI-USED-IP-WEIGHT-1S"),
    (Endpoint::Snapshot, "X-SAPI-USED-IP-WEIGHT-1M"),
];

impl Endpoint {
    fn from_path(path: &str) -> Option<Self> {
        Some(match path {
            "/api/v3/ping" => Self::Ping,
            "/api/v3/time" => Self::Time,
            "/api/v3/exchangeInfo" => Self::ExchangeInfo,
            "/api/v3/account" => Self::Account,
            "/api/v3/myTrades" => Self::MyTrades,
            "/api/v3/klines" => Self::Klines,
            "/sapi/v1/account/apiRestrictions" => Self::ApiRestrictions,
            "/sapi/v1/capital/deposit/hisrec" => Self::Deposits,
            "/sapi/v1/capital/withdraw/history" => Self::Withdrawals,
            "/sapi/v1/accountSnapshot" => Self::Snapshot,
            _ => return None,
        })
    }

    fn weight(self, raw_query: &str) -> u32 {
        match self {
            Self::Ping | Self::Time | Self::ApiRestrictions | Self::Deposits => 1,
            Self::Klines => 2,
            Self::ExchangeInfo | Self::Account => 20,
            Self::MyTrades if raw_query.split('&').any(|p| p.starts_with("orderId=")) => 5,
            Self::MyTrades => 20,
            Self::Withdrawals => 18_000,
            Self::Snapshot => 2_400,
        }
    }

    fn sapi_slot(self) -> Option<usize> {
        SAPI.iter().position(|(e, _)| *e == self)
    }
}

/// The weight Binance charges for `path` with `query` (`None`: not served).
pub fn request_weight(path: &str, query: &str) -> Option<u32> {
    Endpoint::from_path(path).map(|e| e.weight(query))
}

/// A request as the handler sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path without query.
    pub path: &'a str,
    /// Raw query string (what the signature covers).
    pub query: &'a str,
    /// `X-MBX-APIKEY` header.
    pub api_key: Option<&'a str>,
}

/// A response ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (`Retry-After`, `X-MBX-USED-WEIGHT-1M`).
    pub headers: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: String,
}

impl Response {
    fn json(status: u16, v: &Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: v.to_string(),
        }
    }

    pub(crate) fn ok(v: &Value) -> Self {
        Self::json(200, v)
    }

    /// A Binance error body `{"code":..,"msg":..}`.
    pub fn error(status: u16, code: i32, msg: &str) -> Self {
        Self::json(status, &json!({"code": code, "msg": msg}))
    }
}

impl From<QueryError> for Response {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Duplicate(p) => Response::error(
                400,
                -1101,
                &format!("Duplicate values for parameter '{p}'."),
            ),
            QueryError::Missing(p) => Response::error(
                400,
                -1102,
                &format!("Mandatory parameter '{p}' was not sent, was empty/null, or malformed."),
            ),
            QueryError::Invalid(p) => Response::error(
                400,
                -1100,
                &format!("Illegal characters found in parameter '{p}'."),
            ),
        }
    }
}

/// Behaviour knobs (all dev-only).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExchangeConfig {
    /// Request weight budget.
    pub budget: WeightBudget,
    /// Offset of the exchange clock from the host clock, ms (lets tests
    /// check that clients learn the offset from `/api/v3/time`).
    pub clock_skew_ms: i64,
}

/// The mock exchange state.
#[derive(Debug)]
pub struct Exchange {
    symbols: Vec<SymbolDef>,
    accounts: BTreeMap<String, IndexedAccount>,
    klines: KlineIndex,
    limiter: Mutex<Limiter>,
    /// One budget per `/sapi/*` endpoint, in [`SAPI`] order.
    sapi: [Mutex<Limiter>; SAPI.len()],
    config: ExchangeConfig,
}

impl Exchange {
    /// Build from a validated fixture.
    pub fn new(fixture: &Fixture, config: ExchangeConfig) -> Result<Self, FixtureError> {
        let accounts = fixture
            .index()?
            .into_iter()
            .map(|a| (a.account.api_key.clone(), a))
            .collect();
        let minute = WeightBudget {
            limit: SAPI_IP_LIMIT_PER_MINUTE,
            window_ms: config.budget.window_ms,
            ban_after: 0,
            background: 0,
        };
        let second = WeightBudget {
            limit: WITHDRAW_HISTORY_LIMIT_PER_SECOND,
            window_ms: 1_000,
            ban_after: 0,
            background: 0,
        };
        let sapi = SAPI.map(|(e, _)| {
            Mutex::new(Limiter::new(if e == Endpoint::Withdrawals {
                second
            } else {
                minute
            }))
        });
        Ok(Self {
            symbols: fixture.symbols.clone(),
            accounts,
            klines: fixture.index_klines()?,
            limiter: Mutex::new(Limiter::new(config.budget)),
            sapi,
            config,
        })
    }

    /// Answer one request at host time `now_ms`. Every answer carries
    /// `X-MBX-USED-WEIGHT-1M` (the shared `/api/*` budget's use this
    /// minute); `/sapi/*` answers also carry their own budget's header.
    pub fn handle(&self, req: &Request<'_>, now_ms: i64) -> Response {
        let now = now_ms + self.config.clock_skew_ms;
        let mut resp = self.handle_charged(req, now);
        if !resp.headers.iter().any(|(h, _)| *h == USED_WEIGHT_HEADER) {
            let used = self.limiter.lock().map(|l| l.used(now)).unwrap_or(0);
            resp.headers.push((USED_WEIGHT_HEADER, used.to_string()));
        }
        resp
    }

    fn handle_charged(&self, req: &Request<'_>, now: i64) -> Response {
        if req.method != "GET" {
            return Response::error(405, -1000, "Method not allowed.");
        }
        let Some(ep) = Endpoint::from_path(req.path) else {
            return Response::error(404, -1000, "Unknown endpoint.");
        };
        let (limiter, header) = match ep.sapi_slot() {
            Some(i) => (&self.sapi[i], SAPI[i].1),
            None => (&self.limiter, USED_WEIGHT_HEADER),
        };
        let (mut resp, used) = match charge(limiter, ep.weight(req.query), now) {
            Ok(used) => (self.route(ep, req, now).unwrap_or_else(|e| e), used),
            Err((r, used)) => (r, used),
        };
        resp.headers.push((header, used.to_string()));
        resp
    }
}

/// Charge `weight` to `limiter`: the weight used after it, or the refusal
/// with the weight used so far.
fn charge(limiter: &Mutex<Limiter>, weight: u32, now: i64) -> Result<u32, (Response, u32)> {
    let internal = || (Response::error(500, -1000, "Internal error."), 0);
    let mut limiter = limiter.lock().map_err(|_| internal())?;
    let refusal = match limiter.charge(weight, now) {
        Charge::Ok(used) => return Ok(used),
        refused => refused,
    };
    Err((refusal_response(refusal), limiter.used(now)))
}

/// 429 (or 418 once banned) with `Retry-After`, as Binance answers.
fn refusal_response(refusal: Charge) -> Response {
    let (status, secs, code, msg) = match refusal {
        Charge::TooMany(s) => (
            429,
            s,
            -1003,
            "Too much request weight used; current limit exceeded. Please use WebSocket Streams for live updates to avoid polling the API.",
        ),
        Charge::Banned(s) => (
            418,
            s,
            -1003,
            "Way too much request weight used; IP banned until later.",
        ),
        // Not a refusal: `charge` returns before calling this.
        Charge::Ok(_) => (500, 0, -1000, "Internal error."),
    };
    let mut r = Response::error(status, code, msg);
    r.headers.push(("Retry-After", secs.to_string()));
    r
}

impl Exchange {
    fn route(&self, ep: Endpoint, req: &Request<'_>, now: i64) -> Result<Response, Response> {
        let q = Query::parse(req.query)?;
        let known = |s: &str| self.symbols.iter().any(|d| d.symbol == s);
        match ep {
            Endpoint::Ping => Ok(Response::json(200, &json!({}))),
            Endpoint::Time => Ok(Response::json(200, &json!({"serverTime": now}))),
            Endpoint::ExchangeInfo => self.exchange_info(&q, now),
            Endpoint::Klines => klines::klines(&self.klines, known, &q),
            Endpoint::Account => {
                let acct = self.authenticate(req, &q, now)?;
                account_json(acct, &q, now)
            }
            Endpoint::MyTrades => {
                let acct = self.authenticate(req, &q, now)?;
                my_trades(acct, &q, known, now)
            }
            Endpoint::ApiRestrictions => {
                Ok(wallet::api_restrictions(self.authenticate(req, &q, now)?))
            }
            Endpoint::Deposits => wallet::deposits(self.authenticate(req, &q, now)?, &q, now),
            Endpoint::Withdrawals => wallet::withdrawals(self.authenticate(req, &q, now)?, &q, now),
            Endpoint::Snapshot => wallet::snapshots(self.authenticate(req, &q, now)?, &q),
        }
    }

    fn exchange_info(&self, q: &Query<'_>, now: i64) -> Result<Response, Response> {
        let wanted: Option<Vec<String>> = match (q.get("symbol"), q.get("symbols")) {
            (Some(s), None) => Some(vec![s.to_string()]),
            (None, Some(list)) => Some(serde_json::from_str(&list).map_err(|_| {
                Response::error(
                    400,
                    -1100,
                    "Illegal characters found in parameter 'symbols'.",
                )
            })?),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(Response::error(
                    400,
                    -1128,
                    "Combination of optional parameters invalid.",
                ));
            }
        };
        if let Some(w) = &wanted
            && w.iter()
                .any(|s| !self.symbols.iter().any(|d| &d.symbol == s))
        {
            return Err(Response::error(400, -1121, "Invalid symbol."));
        }
        let symbols: Vec<Value> = self
            .symbols
            .iter()
            .filter(|d| wanted.as_ref().is_none_or(|w| w.contains(&d.symbol)))
            .map(|d| {
                json!({"symbol": d.symbol, "status": "TRADING", "baseAsset": d.base_asset,
                "baseAssetPrecision": 8, "quoteAsset": d.quote_asset, "quotePrecision": 8,
                "quoteAssetPrecision": 8, "isSpotTradingAllowed": true, "permissions": ["SPOT"]})
            })
            .collect();
        let limit = self.config.budget;
        Ok(Response::json(
            200,
            &json!({
            "timezone": "UTC", "serverTime": now,
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                "intervalNum": 1, "limit": limit.limit}],
            "exchangeFilters": [], "symbols": symbols}),
        ))
    }

    /// Binance's signed-endpoint checks: API key, timestamp, recvWindow,
    /// HMAC-SHA256 over the query string before `&signature=`.
    fn authenticate(
        &self,
        req: &Request<'_>,
        q: &Query<'_>,
        now: i64,
    ) -> Result<&IndexedAccount, Response> {
        let acct = req
            .api_key
            .and_then(|k| self.accounts.get(k))
            .ok_or_else(|| {
                Response::error(
                    401,
                    -2015,
                    "Invalid API-key, IP, or permissions for action.",
                )
            })?;
        let ts: i64 = q.required_num("timestamp")?;
        let recv: i64 = q.num("recvWindow")?.unwrap_or(DEFAULT_RECV_WINDOW_MS);
        if !(1..=MAX_RECV_WINDOW_MS).contains(&recv) {
            return Err(Response::error(
                400,
                -1131,
                "recvWindow must be less than 60000",
            ));
        }
        check_signature(req.query, &acct.account.api_secret)?;
        if ts >= now + 1000 || now - ts > recv {
            return Err(Response::error(
                400,
                -1021,
                "Timestamp for this request is outside of the recvWindow.",
            ));
        }
        Ok(acct)
    }
}

fn check_signature(query: &str, secret: &str) -> Result<(), Response> {
    let bad = || Response::error(400, -1022, "Signature for this request is not valid.");
    let (payload, sig_hex) = match query.rsplit_once("&signature=") {
        Some(parts) => parts,
        None => {
            return Err(Response::error(
                400,
                -1102,
                "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
            ));
        }
    };
    let sig = hex::decode(sig_hex).map_err(|_| bad())?;
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).map_err(|_| bad())?;
    mac.update(payload.as_bytes());
    mac.verify_slice(&sig).map_err(|_| bad())
}

/// `account`: the fixture's balances as listed, zero ones included unless
/// `omitZeroBalances=true` (Binance's parameter, default false), and `uid`.
fn account_json(acct: &IndexedAccount, q: &Query<'_>, now: i64) -> Result<Response, Response> {
    let omit_zero = match q.get("omitZeroBalances").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(QueryError::Invalid("omitZeroBalances".into()).into()),
    };
    let balances: Vec<&Value> = acct
        .account
        .balances
        .iter()
        .filter(|b| !(omit_zero && is_zero(&b["free"]) && is_zero(&b["locked"])))
        .collect();
    Ok(Response::ok(
        &json!({"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
        "sellerCommission": 0, "canTrade": true, "canWithdraw": false, "canDeposit": false,
        "brokered": false, "requireSelfTradePrevention": false, "updateTime": now,
        "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"],
        "uid": acct.uid}),
    ))
}

/// A decimal string of zeros (`"0"`, `"0.00000000"`); absent counts as zero.
fn is_zero(v: &Value) -> bool {
    v.as_str()
        .is_none_or(|s| s.bytes().all(|b| b == b'0' || b == b'.'))
}

/// myTrades: `fromId` pages ascending from that id; otherwise a time range
/// (from `startTime`, or the newest before `endTime`), otherwise the newest
/// `limit` trades; always answered in ascending id order. A fixture trade
/// whose `time` is after `now` has not happened yet and is not served (as
/// on a real exchange), so a fixture can plant trades that appear later.
fn my_trades(
    acct: &IndexedAccount,
    q: &Query<'_>,
    known: impl Fn(&str) -> bool,
    now: i64,
) -> Result<Response, Response> {
    let symbol = q
        .get("symbol")
        .ok_or_else(|| Response::from(QueryError::Missing("symbol".into())))?;
    if !known(&symbol) {
        return Err(Response::error(400, -1121, "Invalid symbol."));
    }
    let limit = q.num::<usize>("limit")?.unwrap_or(DEFAULT_TRADES_LIMIT);
    if !(1..=MAX_TRADES_LIMIT).contains(&limit) {
        return Err(Response::error(
            400,
            -1130,
            "Data sent for parameter 'limit' is not valid.",
        ));
    }
    let (from_id, start, end) = (
        q.num::<u64>("fromId")?,
        q.num::<i64>("startTime")?,
        q.num::<i64>("endTime")?,
    );
    let order_id = q.num::<i64>("orderId")?;
    if let (Some(s), Some(e)) = (start, end)
        && (e < s || e.saturating_sub(s) > MAX_TIME_SPAN_MS)
    {
        return Err(Response::error(
            400,
            -1127,
            "More than 24 hours between startTime and endTime.",
        ));
    }
    let all = acct
        .trades
        .get(symbol.as_ref())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let matching = all.iter().filter(|(k, v)| {
        k.time <= now
            && from_id.is_none_or(|f| k.id >= f)
            && start.is_none_or(|s| k.time >= s)
            && end.is_none_or(|e| k.time <= e)
            && order_id.is_none_or(|o| v["orderId"].as_i64() == Some(o))
    });
    let newest_first = from_id.is_none() && start.is_none();
    let mut page: Vec<&Value> = if newest_first {
        let mut v: Vec<&Value> = matching.rev().take(limit).map(|(_, v)| v).collect();
        v.reverse();
        v
    } else {
        matching.take(limit).map(|(_, v)| v).collect()
    };
    page.shrink_to_fit();
    Ok(Response::json(
        200,
        &Value::from(page.into_iter().cloned().collect::<Vec<_>>()),
    ))
}

#[cfg(test)]
#[path = "binance_tests.rs"]
mod tests;
