//! Strict parsers of the exchange answers daily equity is built from:
//! `GET /sapi/v1/accountSnapshot` (type SPOT), `GET /api/v3/klines` (daily),
//! `GET /sapi/v1/capital/deposit/hisrec` and
//! `GET /sapi/v1/capital/withdraw/history`. Untrusted bytes (they come over
//! TLS from the exchange, but the enclave trusts no size it did not bound):
//! every body and every list has a named maximum, decimals are plain decimal
//! strings, names are upper-case alphanumeric, times are integers where
//! Binance sends integers. Fields Binance may add are ignored; nothing
//! unknown reaches the figures. Pure functions, fuzzed
//! (`enclave/fuzz/fuzz_targets/wallet_answers.rs`).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;
use strongroom_protocol::aggregates::Dec;

use crate::aggregate::valid_name;

/// One UTC day, as days since 1970-01-01.
pub type Day = i64;

/// Milliseconds in a UTC day.
pub const DAY_MS: i64 = 86_400_000;

/// Largest wallet or klines answer accepted (a 30-snapshot answer of an
/// account holding 1,000 assets is ~2.5 MiB).
pub const MAX_WALLET_BODY_BYTES: usize = 8 << 20;
/// Most snapshots one `accountSnapshot` answer may carry (Binance's `limit`
/// maximum).
pub const MAX_SNAPSHOTS: usize = 30;
/// Most balances one snapshot may list.
pub const MAX_SNAPSHOT_BALANCES: usize = 2_000;
/// Most klines one answer may carry (Binance's `limit` maximum).
pub const MAX_KLINES: usize = 1_000;
/// Most records of one deposit or withdrawal page (Binance's `limit` maximum).
pub const MAX_FLOW_PAGE: usize = 1_000;

/// Deposit statuses whose amount is in the balance: 1 success, 6 credited
/// but not yet withdrawable.
const CREDITED_DEPOSIT: [i64; 2] = [1, 6];
/// Withdrawal status counted as a flow: 6 completed.
const COMPLETED_WITHDRAWAL: i64 = 6;

/// An answer that does not parse or breaks a bound. Carries nothing from
/// the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WalletParseError {
    /// Body, list or count beyond its maximum.
    #[error("wallet answer too large")]
    TooLarge,
    /// Not of the documented shape, or a field out of its domain.
    #[error("malformed wallet answer")]
    Malformed,
}

/// The account's balances at the close of one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The day whose close the snapshot is (the UTC day of `updateTime`).
    pub day: Day,
    /// asset -> free + locked, non-zero balances only.
    pub balances: BTreeMap<String, Decimal>,
}

/// A deposit (positive) or withdrawal (negative) of one asset on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// UTC day of `insertTime` (deposit) or `applyTime` (withdrawal).
    pub day: Day,
    /// Asset moved.
    pub asset: String,
    /// Signed quantity: deposits positive, withdrawals negative.
    pub amount: Decimal,
}

/// The UTC day of unix milliseconds.
pub fn day_of_ms(ms: i64) -> Day {
    ms.div_euclid(DAY_MS)
}

fn bounded(body: &[u8]) -> Result<(), WalletParseError> {
    if body.len() > MAX_WALLET_BODY_BYTES {
        return Err(WalletParseError::TooLarge);
    }
    Ok(())
}

fn non_negative(s: &str) -> Result<Decimal, WalletParseError> {
    match s.parse::<Dec>() {
        Ok(Dec(d)) if !d.is_sign_negative() => Ok(d.normalize()),
        _ => Err(WalletParseError::Malformed),
    }
}

fn name(s: String) -> Result<String, WalletParseError> {
    if valid_name(&s) {
        Ok(s)
    } else {
        Err(WalletParseError::Malformed)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSnapshots {
    code: i64,
    snapshot_vos: Vec<RawSnapshot>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSnapshot {
    #[serde(rename = "type")]
    kind: String,
    update_time: i64,
    data: RawSnapshotData,
}

#[derive(Deserialize)]
struct RawSnapshotData {
    balances: Vec<RawBalance>,
}

#[derive(Deserialize)]
struct RawBalance {
    asset: String,
    free: String,
    locked: String,
}

/// Parses an `accountSnapshot?type=SPOT` answer: at most [`MAX_SNAPSHOTS`]
/// spot snapshots of at most [`MAX_SNAPSHOT_BALANCES`] balances, returned
/// sorted by day. Two snapshots of one day, or one asset listed twice in a
/// snapshot, are malformed (never silently merged).
pub fn parse_snapshots(body: &[u8]) -> Result<Vec<Snapshot>, WalletParseError> {
    bounded(body)?;
    let raw: RawSnapshots =
        serde_json::from_slice(body).map_err(|_| WalletParseError::Malformed)?;
    if raw.code != 200 {
        return Err(WalletParseError::Malformed);
    }
    if raw.snapshot_vos.len() > MAX_SNAPSHOTS {
        return Err(WalletParseError::TooLarge);
    }
    let mut out: BTreeMap<Day, Snapshot> = BTreeMap::new();
    for vo in raw.snapshot_vos {
        let snap = snapshot(vo)?;
        if out.insert(snap.day, snap).is_some() {
            return Err(WalletParseError::Malformed);
        }
    }
    Ok(out.into_values().collect())
}

fn snapshot(vo: RawSnapshot) -> Result<Snapshot, WalletParseError> {
    if !vo.kind.eq_ignore_ascii_case("spot") || vo.update_time < 0 {
        return Err(WalletParseError::Malformed);
    }
    if vo.data.balances.len() > MAX_SNAPSHOT_BALANCES {
        return Err(WalletParseError::TooLarge);
    }
    let mut balances = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for b in vo.data.balances {
        let total = non_negative(&b.free)?
            .checked_add(non_negative(&b.locked)?)
            .ok_or(WalletParseError::Malformed)?;
        let asset = name(b.asset)?;
        if !seen.insert(asset.clone()) {
            return Err(WalletParseError::Malformed);
        }
        if !total.is_zero() {
            balances.insert(asset, total);
        }
    }
    Ok(Snapshot {
        day: day_of_ms(vo.update_time),
        balances,
    })
}

/// Field index of the open time and of the close in a Binance kline array.
const KLINE_OPEN_TIME: usize = 0;
const KLINE_CLOSE: usize = 4;
/// Fields of a Binance kline array (open time .. "ignore").
const KLINE_FIELDS: usize = 12;

/// Parses a daily `klines` answer into day -> close. Each kline must open
/// at 00:00:00Z, days strictly increasing, at most [`MAX_KLINES`].
pub fn parse_daily_closes(body: &[u8]) -> Result<BTreeMap<Day, Decimal>, WalletParseError> {
    bounded(body)?;
    let raw: Vec<Vec<serde_json::Value>> =
        serde_json::from_slice(body).map_err(|_| WalletParseError::Malformed)?;
    if raw.len() > MAX_KLINES {
        return Err(WalletParseError::TooLarge);
    }
    let mut out = BTreeMap::new();
    let mut last: Option<Day> = None;
    for k in raw {
        if k.len() != KLINE_FIELDS {
            return Err(WalletParseError::Malformed);
        }
        let open = k[KLINE_OPEN_TIME]
            .as_i64()
            .filter(|t| t.rem_euclid(DAY_MS) == 0)
            .ok_or(WalletParseError::Malformed)?;
        let close = k[KLINE_CLOSE]
            .as_str()
            .ok_or(WalletParseError::Malformed)
            .and_then(non_negative)?;
        let day = day_of_ms(open);
        if last.is_some_and(|l| day <= l) {
            return Err(WalletParseError::Malformed);
        }
        last = Some(day);
        out.insert(day, close);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDeposit {
    coin: String,
    amount: String,
    status: i64,
    insert_time: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWithdrawal {
    coin: String,
    amount: String,
    status: i64,
    apply_time: String,
}

/// A page of flows: the counted flows, and how many records the page held
/// (a full page means there may be more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowPage {
    /// Flows counted (credited deposits, completed withdrawals).
    pub flows: Vec<Flow>,
    /// Records in the page, counted or not.
    pub records: usize,
}

fn flow_list<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<Vec<T>, WalletParseError> {
    bounded(body)?;
    let raw: Vec<T> = serde_json::from_slice(body).map_err(|_| WalletParseError::Malformed)?;
    if raw.len() > MAX_FLOW_PAGE {
        return Err(WalletParseError::TooLarge);
    }
    Ok(raw)
}

/// Parses a `capital/deposit/hisrec` page. Deposits with status 1 or 6
/// (credited to the balance) are flows, dated by `insertTime`.
pub fn parse_deposits(body: &[u8]) -> Result<FlowPage, WalletParseError> {
    let raw: Vec<RawDeposit> = flow_list(body)?;
    let records = raw.len();
    let mut flows = Vec::new();
    for d in raw {
        let amount = non_negative(&d.amount)?;
        let asset = name(d.coin)?;
        if d.insert_time < 0 {
            return Err(WalletParseError::Malformed);
        }
        if CREDITED_DEPOSIT.contains(&d.status) && !amount.is_zero() {
            flows.push(Flow {
                day: day_of_ms(d.insert_time),
                asset,
                amount,
            });
        }
    }
    Ok(FlowPage { flows, records })
}

/// Parses a `capital/withdraw/history` page. Completed withdrawals (status
/// 6) are flows of −`amount`, dated by `applyTime` (`YYYY-MM-DD HH:MM:SS`,
/// UTC). The `transactionFee` is not part of the flow: what the fee costs
/// shows as a loss, so a fee never flatters a return.
pub fn parse_withdrawals(body: &[u8]) -> Result<FlowPage, WalletParseError> {
    let raw: Vec<RawWithdrawal> = flow_list(body)?;
    let records = raw.len();
    let mut flows = Vec::new();
    for w in raw {
        let amount = non_negative(&w.amount)?;
        let asset = name(w.coin)?;
        let day = utc_day_of(&w.apply_time).ok_or(WalletParseError::Malformed)?;
        if w.status == COMPLETED_WITHDRAWAL && !amount.is_zero() {
            flows.push(Flow {
                day,
                asset,
                amount: -amount,
            });
        }
    }
    Ok(FlowPage { flows, records })
}

/// The UTC day of `YYYY-MM-DD HH:MM:SS` (exactly that form).
fn utc_day_of(text: &str) -> Option<Day> {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let t = time::PrimitiveDateTime::parse(text, fmt).ok()?;
    Some(day_of_ms(
        i64::try_from(t.assume_utc().unix_timestamp_nanos() / 1_000_000).ok()?,
    ))
}

/// `YYYY-MM-DD` of a day, or `None` out of the calendar's range.
pub fn date_text(day: Day) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(day.checked_mul(86_400)?).ok()?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    t.format(fmt).ok()
}

#[cfg(test)]
#[path = "wallet_tests.rs"]
mod tests;
