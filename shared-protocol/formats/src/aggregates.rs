//! The aggregate payload: the map the enclave signs (CBOR, inside a
//! COSE_Sign1) and the host returns as JSON in `aggregates`. DESIGN.md,
//! "Aggregates", is the contract; this module is its typed form.
//!
//! # Decimals
//!
//! Money and quantities are [`Dec`]: a `rust_decimal::Decimal` that travels
//! as a string. On the way out it is *normalized* (`Decimal::normalize`):
//! no trailing zeros, no exponent, no plus sign, `-0` written `0`, so
//! `1.50` becomes `"1.5"`, `100` stays `"100"` and zero is `"0"`. The same
//! value therefore always has the same bytes, which keeps signatures over
//! the CBOR reproducible. On the way in any plain decimal string
//! (`-?[0-9]+(\.[0-9]+)?`, at most [`MAX_DECIMAL_LEN`] characters) is
//! accepted and compared by value; numbers, exponents, `+`, `_` and spaces
//! are refused.
//!
//! # Encoding
//!
//! Structs encode as CBOR/JSON maps with text keys in declaration order and
//! maps are `BTreeMap`s, so serde_cbor output is deterministic. `None`
//! encodes as null. (This is serde_cbor's definite-length, minimal-integer
//! form with keys in declaration order, not RFC 8949's length-first key
//! order; signatures are always checked over the bytes as received.)
//! The decoder accepts only that exact encoding: unknown fields, trailing
//! bytes and non-canonical forms are rejected.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::policy::Policy;
use crate::returns::Returns;

/// Payload version this code writes (it reads 1 and 2).
pub const AGGREGATES_VERSION: u32 = 2;
/// The versions this code reads.
pub const READABLE_VERSIONS: &[u32] = &[1, 2];

/// Largest encoded payload accepted by [`AggregatePayload::from_cbor`].
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// Longest decimal string accepted.
pub const MAX_DECIMAL_LEN: usize = 64;

/// A decimal that travels as a normalized string (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dec(pub Decimal);

impl Dec {
    /// Zero.
    pub const ZERO: Dec = Dec(Decimal::ZERO);

    /// The wire form: normalized, plain notation.
    pub fn to_wire(&self) -> String {
        self.0.normalize().to_string()
    }
}

impl fmt::Debug for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dec({})", self.to_wire())
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

impl From<Decimal> for Dec {
    fn from(d: Decimal) -> Self {
        Dec(d)
    }
}

/// A string that is not a plain decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a plain decimal string")]
pub struct DecimalSyntaxError;

/// Strict syntax check: `-?[0-9]+(\.[0-9]+)?`, bounded length.
pub fn is_plain_decimal(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_DECIMAL_LEN {
        return false;
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && frac.is_none_or(all_digits)
}

impl FromStr for Dec {
    type Err = DecimalSyntaxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !is_plain_decimal(s) {
            return Err(DecimalSyntaxError);
        }
        Decimal::from_str_exact(s)
            .map(Dec)
            .map_err(|_| DecimalSyntaxError)
    }
}

impl Serialize for Dec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_wire())
    }
}

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dec, E> {
                Dec::from_str(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Per-symbol figures (DESIGN.md "Per symbol").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolAggregates {
    /// Base asset, e.g. `BTC`.
    pub base: String,
    /// Quote asset, e.g. `USDT`.
    pub quote: String,
    /// Trades in the window.
    pub trade_count: u64,
    /// Σ qty of buys.
    pub buy_qty: Dec,
    /// Σ qty of sells.
    pub sell_qty: Dec,
    /// Σ quoteQty of all trades.
    pub volume_quote: Dec,
    /// FIFO realized PnL in the quote asset, fees excluded.
    pub realized_pnl_quote: Dec,
    /// Sell quantity that found no open lot.
    pub unmatched_sell_qty: Dec,
    /// commissionAsset -> Σ commission.
    pub fees: BTreeMap<String, Dec>,
    /// Sells with positive realized PnL.
    pub wins: u64,
    /// Sells with negative realized PnL.
    pub losses: u64,
    /// wins / (wins + losses); null when both are 0.
    pub win_rate: Option<Dec>,
    /// Largest peak-to-trough fall of cumulative realized PnL.
    pub max_drawdown_quote: Dec,
}

/// Per-quote-asset totals (DESIGN.md "Totals").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteTotals {
    /// Σ trade_count.
    pub trade_count: u64,
    /// Σ volume_quote.
    pub volume_quote: Dec,
    /// Σ realized_pnl_quote.
    pub realized_pnl_quote: Dec,
    /// Σ wins.
    pub wins: u64,
    /// Σ losses.
    pub losses: u64,
    /// Drawdown over the merged sells, ordered by (time, symbol, id).
    pub max_drawdown_quote: Dec,
}

/// The API-key restrictions the exchange reported (DESIGN.md "Result
/// payload v2", `permissions`): Binance `GET /sapi/v1/account/apiRestrictions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permissions {
    /// `enableReading`.
    pub reading: bool,
    /// `enableSpotAndMarginTrading`.
    pub spot_trading: bool,
    /// `enableMargin`.
    pub margin: bool,
    /// `enableFutures`.
    pub futures: bool,
    /// `enableWithdrawals`.
    pub withdrawals: bool,
    /// `enableInternalTransfer` (or `permitsUniversalTransfer`).
    pub internal_transfer: bool,
    /// `ipRestrict`.
    pub ip_restricted: bool,
    /// When the enclave read them, RFC 3339.
    pub checked_at: String,
}

impl Permissions {
    /// Whether the key can do nothing but read.
    pub fn read_only(&self) -> bool {
        !(self.spot_trading
            || self.margin
            || self.futures
            || self.withdrawals
            || self.internal_transfer)
    }
}

/// How the symbols of a result were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SelectionMode {
    /// Discovered by the enclave from the account.
    All,
    /// Named by the request (a policy with `symbols: choice`, or an
    /// owner-signed request).
    Listed,
}

/// Which symbols a result considered (`selection`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// How they were chosen.
    pub mode: SelectionMode,
    /// Every symbol queried, sorted.
    pub considered: Vec<String>,
    /// Whether `considered` is every symbol the mode calls for (false only
    /// when discovery had to stop short: never silently).
    pub complete: bool,
}

/// The signed aggregate payload, version 1 or 2 (DESIGN.md "Aggregates" and
/// "Result payload v2"). One type for both so that readers see one shape;
/// each version has its exact wire form (`to_cbor`, `Serialize`), and a
/// field of the other version is refused, never carried silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatePayload {
    /// 1 or 2.
    pub version: u32,
    /// Exchange name, e.g. `binance`.
    pub exchange: String,
    /// Credential label.
    pub label: String,
    /// Hex account pseudonym (v1: from the API key; v2: from the exchange's
    /// account id).
    pub account: String,
    /// v1 only: hex SHA-256 of the session id text.
    pub session: Option<String>,
    /// v2: hex SHA-256 of the sealed credential.
    pub credential: Option<String>,
    /// v2: hex SHA-256 of the owner key, or null.
    pub owner: Option<String>,
    /// v2: the credential's sealed policy.
    pub policy: Option<Policy>,
    /// v2: the key's restrictions, or null when the exchange was not asked.
    pub permissions: Option<Permissions>,
    /// v2: which symbols were considered.
    pub selection: Option<Selection>,
    /// v2: [`crate::returns::METHODOLOGY`].
    pub methodology: Option<String>,
    /// v2: returns and risk, or null without a daily equity series.
    pub returns: Option<Returns>,
    /// v2: hex leaf hash of the account's previous result in the log, or null.
    pub previous: Option<String>,
    /// Window start (inclusive), RFC 3339.
    pub from: Option<String>,
    /// Window end (exclusive), RFC 3339.
    pub to: Option<String>,
    /// When the enclave computed the figures, RFC 3339.
    pub computed_at: String,
    /// Signing key id.
    pub key_id: String,
    /// Hex PCR0 of the enclave image.
    pub pcr0: String,
    /// Symbol -> figures; symbols without trades are left out.
    pub symbols: BTreeMap<String, SymbolAggregates>,
    /// Quote asset -> totals.
    pub totals: BTreeMap<String, QuoteTotals>,
}

/// Version 1 on the wire.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireV1 {
    version: u32,
    exchange: String,
    label: String,
    account: String,
    session: String,
    from: Option<String>,
    to: Option<String>,
    computed_at: String,
    key_id: String,
    pcr0: String,
    symbols: BTreeMap<String, SymbolAggregates>,
    totals: BTreeMap<String, QuoteTotals>,
}

/// Version 2 on the wire: every field present, nullable ones as null.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireV2 {
    version: u32,
    exchange: String,
    label: String,
    account: String,
    credential: String,
    owner: Option<String>,
    policy: Policy,
    permissions: Option<Permissions>,
    selection: Selection,
    methodology: String,
    returns: Option<Returns>,
    previous: Option<String>,
    from: Option<String>,
    to: Option<String>,
    computed_at: String,
    key_id: String,
    pcr0: String,
    symbols: BTreeMap<String, SymbolAggregates>,
    totals: BTreeMap<String, QuoteTotals>,
}

/// Only the version, to choose the wire form.
#[derive(Deserialize)]
struct VersionProbe {
    version: u32,
}

impl AggregatePayload {
    fn to_v1(&self) -> Option<WireV1> {
        let v2_fields = self.credential.is_some()
            || self.owner.is_some()
            || self.policy.is_some()
            || self.permissions.is_some()
            || self.selection.is_some()
            || self.methodology.is_some()
            || self.returns.is_some()
            || self.previous.is_some();
        if self.version != 1 || v2_fields {
            return None;
        }
        Some(WireV1 {
            version: 1,
            exchange: self.exchange.clone(),
            label: self.label.clone(),
            account: self.account.clone(),
            session: self.session.clone()?,
            from: self.from.clone(),
            to: self.to.clone(),
            computed_at: self.computed_at.clone(),
            key_id: self.key_id.clone(),
            pcr0: self.pcr0.clone(),
            symbols: self.symbols.clone(),
            totals: self.totals.clone(),
        })
    }

    fn to_v2(&self) -> Option<WireV2> {
        if self.version != 2 || self.session.is_some() {
            return None;
        }
        Some(WireV2 {
            version: 2,
            exchange: self.exchange.clone(),
            label: self.label.clone(),
            account: self.account.clone(),
            credential: self.credential.clone()?,
            owner: self.owner.clone(),
            policy: self.policy?,
            permissions: self.permissions.clone(),
            selection: self.selection.clone()?,
            methodology: self.methodology.clone()?,
            returns: self.returns.clone(),
            previous: self.previous.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            computed_at: self.computed_at.clone(),
            key_id: self.key_id.clone(),
            pcr0: self.pcr0.clone(),
            symbols: self.symbols.clone(),
            totals: self.totals.clone(),
        })
    }
}

impl From<WireV1> for AggregatePayload {
    fn from(w: WireV1) -> Self {
        AggregatePayload {
            version: w.version,
            exchange: w.exchange,
            label: w.label,
            account: w.account,
            session: Some(w.session),
            credential: None,
            owner: None,
            policy: None,
            permissions: None,
            selection: None,
            methodology: None,
            returns: None,
            previous: None,
            from: w.from,
            to: w.to,
            computed_at: w.computed_at,
            key_id: w.key_id,
            pcr0: w.pcr0,
            symbols: w.symbols,
            totals: w.totals,
        }
    }
}

impl From<WireV2> for AggregatePayload {
    fn from(w: WireV2) -> Self {
        AggregatePayload {
            version: w.version,
            exchange: w.exchange,
            label: w.label,
            account: w.account,
            session: None,
            credential: Some(w.credential),
            owner: w.owner,
            policy: Some(w.policy),
            permissions: w.permissions,
            selection: Some(w.selection),
            methodology: Some(w.methodology),
            returns: w.returns,
            previous: w.previous,
            from: w.from,
            to: w.to,
            computed_at: w.computed_at,
            key_id: w.key_id,
            pcr0: w.pcr0,
            symbols: w.symbols,
            totals: w.totals,
        }
    }
}

impl Serialize for AggregatePayload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        match self.version {
            1 => self
                .to_v1()
                .ok_or_else(|| S::Error::custom("not a version 1 payload"))?
                .serialize(s),
            2 => self
                .to_v2()
                .ok_or_else(|| S::Error::custom("not a version 2 payload"))?
                .serialize(s),
            v => Err(S::Error::custom(format!("unknown payload version {v}"))),
        }
    }
}

impl<'de> Deserialize<'de> for AggregatePayload {
    /// Self-describing formats only (CBOR, JSON): the version picks the form.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_cbor::Value::deserialize(d)?;
        let probe: VersionProbe =
            serde_cbor::value::from_value(value.clone()).map_err(D::Error::custom)?;
        match probe.version {
            1 => serde_cbor::value::from_value::<WireV1>(value)
                .map(Into::into)
                .map_err(D::Error::custom),
            2 => serde_cbor::value::from_value::<WireV2>(value)
                .map(Into::into)
                .map_err(D::Error::custom),
            v => Err(D::Error::custom(format!("unknown payload version {v}"))),
        }
    }
}

/// Why a payload could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Input larger than [`MAX_PAYLOAD_BYTES`].
    #[error("payload too large")]
    TooLarge,
    /// Not a valid payload (bad CBOR, unknown field, trailing bytes, bad decimal).
    #[error("malformed aggregate payload")]
    Malformed,
    /// A version this code does not know.
    #[error("unsupported aggregate payload version {0}")]
    Version(u32),
}

impl AggregatePayload {
    /// Deterministic CBOR bytes (the COSE_Sign1 payload).
    pub fn to_cbor(&self) -> Result<Vec<u8>, PayloadError> {
        serde_cbor::to_vec(self).map_err(|_| PayloadError::Malformed)
    }

    /// Decode CBOR, bounded, rejecting trailing bytes, unknown versions and
    /// any encoding other than the one [`AggregatePayload::to_cbor`] writes
    /// (serde would otherwise accept e.g. a byte string for a text string,
    /// non-minimal integers or `"1.50"`): one payload, one byte string.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, PayloadError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge);
        }
        let probe: VersionProbe =
            serde_cbor::from_slice(bytes).map_err(|_| PayloadError::Malformed)?;
        if !READABLE_VERSIONS.contains(&probe.version) {
            return Err(PayloadError::Version(probe.version));
        }
        let p: Self = serde_cbor::from_slice(bytes).map_err(|_| PayloadError::Malformed)?;
        if p.to_cbor()? != bytes {
            return Err(PayloadError::Malformed);
        }
        Ok(p)
    }
}

#[cfg(test)]
#[path = "aggregates_tests.rs"]
mod tests;
