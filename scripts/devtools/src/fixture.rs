//! Fixture files (DESIGN.md "Dev mode" and "Dev fixtures and the dev stack,
//! v2"): the symbols `exchangeInfo` serves, daily klines and, per account, its
//! key, secret, balances, myTrades objects and the v2 fields (uid, API key
//! restrictions, deposits, withdrawals, daily snapshots). Objects are served
//! verbatim; only the fields paging and windows need are read, and every list
//! has a named maximum checked at load.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Largest fixture file read.
pub const MAX_FIXTURE_BYTES: u64 = 256 << 20;

/// Most deposits, and most withdrawals, one account may list.
pub const MAX_FLOWS_PER_ACCOUNT: usize = 100_000;
/// Most daily snapshots one account may list (ten years).
pub const MAX_SNAPSHOTS_PER_ACCOUNT: usize = 3_660;
/// Most symbols with klines.
pub const MAX_KLINE_SYMBOLS: usize = 10_000;
/// Most daily klines per symbol (ten years).
pub const MAX_KLINES_PER_SYMBOL: usize = 3_660;
/// Fields of a Binance kline array (open time .. "ignore").
pub const KLINE_FIELDS: usize = 12;

/// A fixture file. The v2 fields are optional: a v1 fixture loads unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Markets served by `exchangeInfo`.
    pub symbols: Vec<SymbolDef>,
    /// Accounts with their credentials and history.
    pub accounts: Vec<Account>,
    /// symbol -> daily kline arrays as `GET /api/v3/klines` returns them. A
    /// symbol here need not be listed in `symbols` (e.g. an `XBTC` pair used
    /// only for valuation); absent: no klines.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub klines: BTreeMap<String, Vec<serde_json::Value>>,
}

/// One market.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SymbolDef {
    /// e.g. `BTCUSDT`.
    pub symbol: String,
    /// e.g. `BTC`.
    pub base_asset: String,
    /// e.g. `USDT`.
    pub quote_asset: String,
}

/// One account. The secret is dev-only fixture data, printed nowhere.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Value of `X-MBX-APIKEY`.
    pub api_key: String,
    /// HMAC key for request signatures.
    pub api_secret: String,
    /// `account` balances.
    pub balances: Vec<serde_json::Value>,
    /// myTrades objects, each with its `symbol`.
    pub trades: Vec<serde_json::Value>,
    /// Binance account id served as `account.uid`; absent: derived from the
    /// API key ([`derived_uid`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u64>,
    /// The object `GET /sapi/v1/account/apiRestrictions` returns; absent:
    /// read-only defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_restrictions: Option<serde_json::Value>,
    /// `capital/deposit/hisrec` objects (each with `insertTime`, ms).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposits: Vec<serde_json::Value>,
    /// `capital/withdraw/history` objects (each with `applyTime`,
    /// `"YYYY-MM-DD HH:MM:SS"` UTC).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdrawals: Vec<serde_json::Value>,
    /// `accountSnapshot` `snapshotVos` entries (each with `updateTime`, ms).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<serde_json::Value>,
}

/// The uid served for an account whose fixture gives none: a 9-digit number
/// from SHA-256 of the API key, so every run and every test agree.
pub fn derived_uid(api_key: &str) -> u64 {
    use sha2::Digest;
    let h = sha2::Sha256::new()
        .chain_update(b"strongroom/mock-uid\0")
        .chain_update(api_key.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&h[..8]);
    100_000_000 + u64::from_be_bytes(first) % 900_000_000
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("api_key", &self.api_key)
            .field("trades", &self.trades.len())
            .finish_non_exhaustive()
    }
}

/// Why a fixture was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureError {
    /// The file could not be read.
    #[error("cannot read fixture: {0}")]
    Io(#[from] std::io::Error),
    /// Larger than [`MAX_FIXTURE_BYTES`].
    #[error("fixture larger than {MAX_FIXTURE_BYTES} bytes")]
    TooLarge,
    /// Not the fixture format.
    #[error("fixture is not valid: {0}")]
    Invalid(String),
}

/// The fields of a trade that serving needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TradeKey {
    /// Trade id.
    pub id: u64,
    /// Time, unix ms.
    pub time: i64,
}

/// Objects keyed by their time (ms), in serving order.
pub type Timed = Vec<(i64, serde_json::Value)>;

/// An account ready to serve: trades per symbol sorted by id, flows newest
/// first (as Binance lists them), snapshots oldest first.
#[derive(Debug, Clone)]
pub struct IndexedAccount {
    /// The account as loaded.
    pub account: Account,
    /// symbol -> (key, trade object) ascending by id.
    pub trades: BTreeMap<String, Vec<(TradeKey, serde_json::Value)>>,
    /// The fixture's uid or the derived one.
    pub uid: u64,
    /// Deposits by `insertTime`, newest first.
    pub deposits: Timed,
    /// Withdrawals by `applyTime`, newest first.
    pub withdrawals: Timed,
    /// Snapshots by `updateTime`, oldest first.
    pub snapshots: Timed,
}

impl Fixture {
    /// Read and validate a fixture file.
    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        if std::fs::metadata(path)?.len() > MAX_FIXTURE_BYTES {
            return Err(FixtureError::TooLarge);
        }
        let bytes = std::fs::read(path)?;
        let f: Fixture =
            serde_json::from_slice(&bytes).map_err(|e| FixtureError::Invalid(e.to_string()))?;
        f.index()?;
        f.index_klines()?;
        Ok(f)
    }

    /// Index every account's trades by symbol and id, checking that each
    /// trade names a known symbol and that ids are unique per symbol.
    pub fn index(&self) -> Result<Vec<IndexedAccount>, FixtureError> {
        let known: std::collections::BTreeSet<&str> =
            self.symbols.iter().map(|s| s.symbol.as_str()).collect();
        self.accounts
            .iter()
            .map(|a| index_account(a, &known))
            .collect()
    }
}

fn index_account(
    a: &Account,
    known: &std::collections::BTreeSet<&str>,
) -> Result<IndexedAccount, FixtureError> {
    let bad = |m: String| FixtureError::Invalid(m);
    let mut by_symbol: BTreeMap<String, Vec<(TradeKey, serde_json::Value)>> = BTreeMap::new();
    for t in &a.trades {
        let sym = t["symbol"]
            .as_str()
            .filter(|s| known.contains(s))
            .ok_or_else(|| bad(format!("trade with unknown symbol: {t}")))?;
        let id = t["id"]
            .as_u64()
            .ok_or_else(|| bad(format!("trade without id: {t}")))?;
        let time = t["time"]
            .as_i64()
            .ok_or_else(|| bad(format!("trade without time: {t}")))?;
        by_symbol
            .entry(sym.to_string())
            .or_default()
            .push((TradeKey { id, time }, t.clone()));
    }
    for (sym, v) in by_symbol.iter_mut() {
        v.sort_by_key(|(k, _)| k.id);
        if let Some(w) = v.windows(2).find(|w| w[0].0.id == w[1].0.id) {
            return Err(bad(format!("duplicate trade id {} in {sym}", w[0].0.id)));
        }
    }
    Ok(IndexedAccount {
        account: a.clone(),
        trades: by_symbol,
        uid: a.uid.unwrap_or_else(|| derived_uid(&a.api_key)),
        deposits: timed(&a.deposits, "deposits", MAX_FLOWS_PER_ACCOUNT, true, |v| {
            v["insertTime"].as_i64()
        })?,
        withdrawals: timed(
            &a.withdrawals,
            "withdrawals",
            MAX_FLOWS_PER_ACCOUNT,
            true,
            |v| v["applyTime"].as_str().and_then(parse_utc),
        )?,
        snapshots: timed(
            &a.snapshots,
            "snapshots",
            MAX_SNAPSHOTS_PER_ACCOUNT,
            false,
            |v| v["updateTime"].as_i64(),
        )?,
    })
}

/// Key each object by its time, refusing a list over `max` or an object
/// without a time; sorted newest first if `newest_first`.
fn timed(
    list: &[serde_json::Value],
    what: &str,
    max: usize,
    newest_first: bool,
    time: impl Fn(&serde_json::Value) -> Option<i64>,
) -> Result<Timed, FixtureError> {
    if list.len() > max {
        return Err(FixtureError::Invalid(format!("more than {max} {what}")));
    }
    let mut out = list
        .iter()
        .map(|v| {
            time(v)
                .map(|t| (t, v.clone()))
                .ok_or_else(|| FixtureError::Invalid(format!("{what}: entry without time: {v}")))
        })
        .collect::<Result<Timed, _>>()?;
    out.sort_by_key(|(t, _)| if newest_first { -*t } else { *t });
    Ok(out)
}

/// Binance's `"YYYY-MM-DD HH:MM:SS"` (UTC) as unix ms.
pub fn parse_utc(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let t = time::PrimitiveDateTime::parse(s, &fmt).ok()?;
    i64::try_from(t.assume_utc().unix_timestamp_nanos() / 1_000_000).ok()
}

/// Format unix ms as Binance's `"YYYY-MM-DD HH:MM:SS"` (UTC).
pub fn format_utc(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// Daily klines per symbol, ascending by open time.
pub type KlineIndex = BTreeMap<String, Timed>;

impl Fixture {
    /// Check and index the klines: at most [`MAX_KLINE_SYMBOLS`] symbols of
    /// at most [`MAX_KLINES_PER_SYMBOL`] arrays of [`KLINE_FIELDS`] fields,
    /// open times unique per symbol.
    pub fn index_klines(&self) -> Result<KlineIndex, FixtureError> {
        let bad = |m: String| Err(FixtureError::Invalid(m));
        if self.klines.len() > MAX_KLINE_SYMBOLS {
            return bad(format!("klines for more than {MAX_KLINE_SYMBOLS} symbols"));
        }
        let mut out = KlineIndex::new();
        for (sym, list) in &self.klines {
            let ok_name = !sym.is_empty()
                && sym.len() <= 20
                && sym
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !ok_name {
                return bad(format!("klines: bad symbol {sym:?}"));
            }
            let open = |v: &serde_json::Value| {
                v.as_array()
                    .filter(|a| a.len() == KLINE_FIELDS)
                    .and_then(|a| a[0].as_i64())
            };
            let what = format!("klines of {sym}");
            let v = timed(list, &what, MAX_KLINES_PER_SYMBOL, false, open)?;
            if let Some(w) = v.windows(2).find(|w| w[0].0 == w[1].0) {
                return bad(format!("{what}: open time {} twice", w[0].0));
            }
            out.insert(sym.clone(), v);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn with(account: Account, klines: BTreeMap<String, Vec<serde_json::Value>>) -> Fixture {
        Fixture {
            accounts: vec![account],
            klines,
            ..Fixture::default()
        }
    }

    fn refused(f: &Fixture) -> bool {
        f.index().is_err() || f.index_klines().is_err()
    }

    #[test]
    fn v2_fields_are_optional_checked_and_bounded() {
        let v1: Fixture = serde_json::from_value(json!({"symbols": [], "accounts": [
            {"api_key": "k", "api_secret": "s", "balances": [], "trades": []}]}))
        .unwrap();
        let idx = v1.index().unwrap();
        assert_eq!(idx[0].uid, derived_uid("k"));
        assert!(idx[0].snapshots.is_empty() && v1.index_klines().unwrap().is_empty());
        assert!(
            !serde_json::to_string(&v1).unwrap().contains("klines"),
            "a v1 fixture round-trips without v2 fields"
        );
        let k = |n: usize, t: i64| {
            let full = json!([t, "1", "1", "1", "1", "1", t + 1, "1", 1, "1", "1", "0"]);
            json!(full.as_array().unwrap()[..n])
        };
        let one = |v: Vec<serde_json::Value>| [("ABCBTC".to_string(), v)].into();
        assert!(!refused(&with(
            Account::default(),
            one(vec![k(12, 0), k(12, 1)])
        )));
        assert!(refused(&with(Account::default(), one(vec![k(11, 0)]))));
        assert!(refused(&with(
            Account::default(),
            one(vec![k(12, 0), k(12, 0)])
        )));
        let bad_name = [("abc".to_string(), vec![k(12, 0)])].into();
        assert!(refused(&with(Account::default(), bad_name)));
        let too_many = (0..=MAX_KLINES_PER_SYMBOL as i64)
            .map(|t| k(12, t))
            .collect();
        assert!(refused(&with(Account::default(), one(too_many))));
        let snap = |t: i64| json!({"type": "spot", "updateTime": t, "data": {}});
        let at_max = Account {
            snapshots: (0..MAX_SNAPSHOTS_PER_ACCOUNT as i64).map(snap).collect(),
            ..Account::default()
        };
        assert!(!refused(&with(at_max.clone(), BTreeMap::new())));
        let mut over = at_max;
        over.snapshots.push(snap(-1));
        assert!(refused(&with(over, BTreeMap::new())));
        let bad_time = Account {
            withdrawals: vec![json!({"id": "w", "applyTime": "2025-01-01T00:00:00Z"})],
            ..Account::default()
        };
        assert!(refused(&with(bad_time, BTreeMap::new())));
        let no_time = Account {
            deposits: vec![json!({"id": "d"})],
            ..Account::default()
        };
        assert!(refused(&with(no_time, BTreeMap::new())));
    }

    #[test]
    fn binance_utc_times_round_trip() {
        assert_eq!(parse_utc("2019-10-12 11:12:02"), Some(1_570_878_722_000));
        assert_eq!(format_utc(1_570_878_722_000), "2019-10-12 11:12:02");
        assert_eq!(parse_utc("2019-10-12"), None);
    }
}
