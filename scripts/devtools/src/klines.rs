//! `GET /api/v3/klines` (public, weight 2): the fixture's daily klines
//! served as Binance's arrays (spot API "Kline/Candlestick data": `symbol`,
//! `interval`, `startTime`, `endTime`, `limit` default 500, max 1000).

use serde_json::{Value, json};

use crate::binance::Response;
use crate::fixture::KlineIndex;
use crate::query::{Query, QueryError};

/// Most klines one call returns.
pub const MAX_KLINES_LIMIT: usize = 1000;
/// Page size when the request gives none.
pub const DEFAULT_KLINES_LIMIT: usize = 500;
/// The one interval served: the fixture holds daily klines.
pub const SERVED_INTERVAL: &str = "1d";

/// Klines whose open time lies in `[startTime, endTime]`: from `startTime`
/// the first `limit`, otherwise the newest `limit`; ascending. A symbol is
/// known if the fixture has klines for it or lists it in `symbols` (then
/// `[]`). Any interval but `1d` is `-1120` ("Invalid interval.").
pub fn klines(
    index: &KlineIndex,
    listed: impl Fn(&str) -> bool,
    q: &Query<'_>,
) -> Result<Response, Response> {
    let symbol = q
        .get("symbol")
        .ok_or_else(|| Response::from(QueryError::Missing("symbol".into())))?;
    let interval = q
        .get("interval")
        .ok_or_else(|| Response::from(QueryError::Missing("interval".into())))?;
    let all = match index.get(symbol.as_ref()) {
        Some(v) => v.as_slice(),
        None if listed(&symbol) => &[],
        None => return Err(Response::error(400, -1121, "Invalid symbol.")),
    };
    if interval != SERVED_INTERVAL {
        return Err(Response::error(400, -1120, "Invalid interval."));
    }
    let limit = q.num::<usize>("limit")?.unwrap_or(DEFAULT_KLINES_LIMIT);
    if !(1..=MAX_KLINES_LIMIT).contains(&limit) {
        return Err(Response::error(
            400,
            -1130,
            "Data sent for parameter 'limit' is not valid.",
        ));
    }
    let (start, end) = (q.num::<i64>("startTime")?, q.num::<i64>("endTime")?);
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(Response::error(
            400,
            -1128,
            "Combination of optional parameters invalid.",
        ));
    }
    let inside = all
        .iter()
        .filter(|(t, _)| start.is_none_or(|s| *t >= s) && end.is_none_or(|e| *t <= e));
    let out: Vec<&Value> = if start.is_some() {
        inside.take(limit).map(|(_, v)| v).collect()
    } else {
        let mut v: Vec<&Value> = inside.rev().take(limit).map(|(_, v)| v).collect();
        v.reverse();
        v
    };
    Ok(Response::ok(&json!(out)))
}
