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

/// Payload version this code writes and accepts.
pub const AGGREGATES_VERSION: u32 = 1;

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

/// The signed aggregate payload, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatePayload {
    /// Always [`AGGREGATES_VERSION`].
    pub version: u32,
    /// Exchange name, e.g. `binance`.
    pub exchange: String,
    /// Credential label.
    pub label: String,
    /// Hex account pseudonym (see DESIGN.md).
    pub account: String,
    /// Hex SHA-256 of the session id text.
    pub session: String,
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
        let p: Self = serde_cbor::from_slice(bytes).map_err(|_| PayloadError::Malformed)?;
        if p.version != AGGREGATES_VERSION {
            return Err(PayloadError::Version(p.version));
        }
        if p.to_cbor()? != bytes {
            return Err(PayloadError::Malformed);
        }
        Ok(p)
    }
}

#[cfg(test)]
#[path = "aggregates_tests.rs"]
mod tests;
