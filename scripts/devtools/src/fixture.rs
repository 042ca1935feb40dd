//! Fixture files (DESIGN.md "Dev mode"): the symbols `exchangeInfo` serves
//! and, per account, its key, secret, balances and myTrades objects. Trades
//! are served verbatim; only the fields paging needs are read.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Largest fixture file read.
pub const MAX_FIXTURE_BYTES: u64 = 256 << 20;

/// A fixture file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Markets served by `exchangeInfo`.
    pub symbols: Vec<SymbolDef>,
    /// Accounts with their credentials and history.
    pub accounts: Vec<Account>,
}

/// One market.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Clone, Serialize, Deserialize)]
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

/// An account ready to serve: trades per symbol sorted by id.
#[derive(Debug, Clone)]
pub struct IndexedAccount {
    /// The account as loaded.
    pub account: Account,
    /// symbol -> (key, trade object) ascending by id.
    pub trades: BTreeMap<String, Vec<(TradeKey, serde_json::Value)>>,
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
    })
}
