//! The signed `/sapi/*` wallet endpoints the v2 enclave reads: API key
//! restrictions, deposit and withdrawal history, daily account snapshots.
//! Shapes, parameters and limits follow Binance's wallet pages
//! (developers.binance.com/docs/wallet: "Get API Key Permission", "Deposit
//! History (supporting network)", "Withdraw History (supporting network)",
//! "Daily Account Snapshot").

use serde_json::{Value, json};

use crate::binance::Response;
use crate::fixture::{IndexedAccount, Timed};
use crate::query::{Query, QueryError};

const DAY_MS: i64 = 24 * 3600 * 1000;
/// Widest startTime..endTime window of the capital history endpoints.
pub const MAX_FLOW_WINDOW_MS: i64 = 90 * DAY_MS;
/// Window of withdraw history when `withdrawOrderId` is given.
pub const MAX_ORDER_ID_WINDOW_MS: i64 = 7 * DAY_MS;
/// Most and default records of one capital history page.
pub const MAX_FLOW_LIMIT: usize = 1000;
/// Most ids in withdraw history's `idList`.
pub const MAX_ID_LIST: usize = 50;
/// Widest startTime..endTime window of accountSnapshot.
pub const MAX_SNAPSHOT_WINDOW_MS: i64 = 30 * DAY_MS;
/// accountSnapshot's `limit` range and default.
pub const SNAPSHOT_LIMITS: std::ops::RangeInclusive<usize> = 7..=30;
/// Default accountSnapshot `limit`.
pub const DEFAULT_SNAPSHOT_LIMIT: usize = 7;
/// `createTime` of the default restrictions: 2024-01-01T00:00:00Z.
pub const DEFAULT_KEY_CREATE_TIME_MS: i64 = 1_704_067_200_000;

/// The fixture's restrictions object verbatim, else a read-only key.
pub fn api_restrictions(acct: &IndexedAccount) -> Response {
    Response::ok(
        acct.account
            .api_restrictions
            .as_ref()
            .unwrap_or(&read_only_restrictions()),
    )
}

/// The restrictions of a key that can only read, as Binance lists them.
pub fn read_only_restrictions() -> Value {
    json!({"ipRestrict": false, "createTime": DEFAULT_KEY_CREATE_TIME_MS,
        "enableReading": true, "enableWithdrawals": false, "enableInternalTransfer": false,
        "enableMargin": false, "enableFutures": false, "permitsUniversalTransfer": false,
        "enableVanillaOptions": false, "enableFixApiTrade": false, "enableFixReadOnly": false,
        "enableSpotAndMarginTrading": false, "enablePortfolioMarginTrading": false})
}

fn bad_limit() -> Response {
    Response::error(400, -1130, "Data sent for parameter 'limit' is not valid.")
}

fn too_wide(days: i64) -> Response {
    Response::error(
        400,
        -1127,
        &format!("More than {days} days between startTime and endTime."),
    )
}

/// startTime/endTime with Binance's defaults for the capital history
/// endpoints: end = now, start = end - `max`; refused when the window is
/// inverted or wider than `max`.
fn window(q: &Query<'_>, now: i64, max: i64) -> Result<(i64, i64), Response> {
    let (start, end) = (q.num::<i64>("startTime")?, q.num::<i64>("endTime")?);
    let (s, e) = match (start, end) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, now.max(s)),
        (None, Some(e)) => (e.saturating_sub(max), e),
        (None, None) => (now.saturating_sub(max), now),
    };
    if e < s || e.saturating_sub(s) > max {
        return Err(too_wide(max / DAY_MS));
    }
    Ok((s, e))
}

/// `offset` (default 0) and `limit` (1..=1000, default 1000).
fn paging(q: &Query<'_>) -> Result<(usize, usize), Response> {
    let limit = q.num::<usize>("limit")?.unwrap_or(MAX_FLOW_LIMIT);
    if !(1..=MAX_FLOW_LIMIT).contains(&limit) {
        return Err(bad_limit());
    }
    Ok((q.num::<usize>("offset")?.unwrap_or(0), limit))
}

/// One page of `list` (newest first) inside `[s, e]` passing `keep`.
fn page(
    list: &Timed,
    (s, e): (i64, i64),
    (offset, limit): (usize, usize),
    keep: impl Fn(&Value) -> bool,
) -> Response {
    let out: Vec<&Value> = list
        .iter()
        .filter(|(t, v)| (s..=e).contains(t) && keep(v))
        .skip(offset)
        .take(limit)
        .map(|(_, v)| v)
        .collect();
    Response::ok(&json!(out))
}

/// `coin` and `status` filters shared by both histories.
fn coin_status(q: &Query<'_>) -> Result<impl Fn(&Value) -> bool, Response> {
    let coin = q.get("coin").map(|c| c.into_owned());
    let status = q.num::<i64>("status")?;
    Ok(move |v: &Value| {
        coin.as_deref().is_none_or(|c| v["coin"] == c)
            && status.is_none_or(|st| v["status"].as_i64() == Some(st))
    })
}

/// `GET /sapi/v1/capital/deposit/hisrec`: newest first by `insertTime`;
/// `coin`, `status`, `txId` filters; `offset`/`limit` paging.
pub fn deposits(acct: &IndexedAccount, q: &Query<'_>, now: i64) -> Result<Response, Response> {
    let w = window(q, now, MAX_FLOW_WINDOW_MS)?;
    let p = paging(q)?;
    let base = coin_status(q)?;
    let tx = q.get("txId").map(|t| t.into_owned());
    Ok(page(&acct.deposits, w, p, |v| {
        base(v) && tx.as_deref().is_none_or(|t| v["txId"] == t)
    }))
}

/// `GET /sapi/v1/capital/withdraw/history`: newest first by `applyTime`;
/// `coin`, `status`, `withdrawOrderId` (7-day window, default the last 7
/// days), `idList` (at most 50) filters; `offset`/`limit` paging.
pub fn withdrawals(acct: &IndexedAccount, q: &Query<'_>, now: i64) -> Result<Response, Response> {
    let order_id = q.get("withdrawOrderId").map(|t| t.into_owned());
    let max = if order_id.is_some() {
        MAX_ORDER_ID_WINDOW_MS
    } else {
        MAX_FLOW_WINDOW_MS
    };
    let w = window(q, now, max)?;
    let p = paging(q)?;
    let ids: Option<Vec<String>> = q
        .get("idList")
        .map(|l| l.split(',').map(str::to_string).collect());
    if ids.as_ref().is_some_and(|l| l.len() > MAX_ID_LIST) {
        return Err(QueryError::Invalid("idList".into()).into());
    }
    let base = coin_status(q)?;
    Ok(page(&acct.withdrawals, w, p, |v| {
        base(v)
            && order_id
                .as_deref()
                .is_none_or(|o| v["withdrawOrderId"] == o)
            && ids
                .as_ref()
                .is_none_or(|l| l.iter().any(|i| v["id"] == i.as_str()))
    }))
}

/// `GET /sapi/v1/accountSnapshot?type=SPOT`: oldest first by `updateTime`.
/// `limit` 7..=30 (default 7); a startTime..endTime window of at most 30
/// days (a missing end is start + 30 days, a missing start end - 30 days),
/// the first `limit` snapshots in it. Without either bound: the newest
/// `limit` snapshots. Deliberate difference: Binance serves only the last
/// month and, unbounded, the last 7 days of the wall clock; the mock serves
/// the fixture's dates whenever they are, so a committed fixture keeps
/// working. `MARGIN`/`FUTURES` answer an empty list (the fixture holds spot
/// snapshots only).
pub fn snapshots(acct: &IndexedAccount, q: &Query<'_>) -> Result<Response, Response> {
    let kind = q
        .get("type")
        .ok_or_else(|| Response::from(QueryError::Missing("type".into())))?;
    if !["SPOT", "MARGIN", "FUTURES"].contains(&kind.as_ref()) {
        return Err(QueryError::Invalid("type".into()).into());
    }
    let limit = q.num::<usize>("limit")?.unwrap_or(DEFAULT_SNAPSHOT_LIMIT);
    if !SNAPSHOT_LIMITS.contains(&limit) {
        return Err(bad_limit());
    }
    let (start, end) = (q.num::<i64>("startTime")?, q.num::<i64>("endTime")?);
    let list: &[(i64, Value)] = if kind == "SPOT" { &acct.snapshots } else { &[] };
    let vos: Vec<&Value> = match (start, end) {
        (None, None) => {
            let skip = list.len().saturating_sub(limit);
            list[skip..].iter().map(|(_, v)| v).collect()
        }
        (s, e) => {
            let s = s.unwrap_or_else(|| e.unwrap_or(0).saturating_sub(MAX_SNAPSHOT_WINDOW_MS));
            let e = e.unwrap_or(s.saturating_add(MAX_SNAPSHOT_WINDOW_MS));
            if e < s || e.saturating_sub(s) > MAX_SNAPSHOT_WINDOW_MS {
                return Err(too_wide(30));
            }
            list.iter()
                .filter(|(t, _)| (s..=e).contains(t))
                .take(limit)
                .map(|(_, v)| v)
                .collect()
        }
    };
    Ok(Response::ok(
        &json!({"code": 200, "msg": "", "snapshotVos": vos}),
    ))
}

#[cfg(test)]
#[path = "wallet_tests.rs"]
mod tests;
