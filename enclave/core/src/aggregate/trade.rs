//! One spot trade as Binance `GET /api/v3/myTrades` returns it, parsed
//! strictly: decimals must be plain decimal *strings* (never JSON numbers),
//! quantities and prices non-negative, every field the aggregation needs
//! present with the right type. Fields Binance may add later are ignored
//! rather than refused, so a harmless API addition cannot take the enclave
//! down; nothing unknown ever reaches the figures.

use rust_decimal::Decimal;
use serde::Deserialize;
use strongroom_protocol::aggregates::Dec;

/// Largest myTrades response body accepted (1000 trades are ~300 KiB).
pub(crate) const MAX_TRADES_PAGE_BYTES: usize = 4 << 20;

/// Longest symbol or asset name accepted.
pub(crate) const MAX_SYMBOL_LEN: usize = 32;

/// One trade, ready for aggregation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    /// Market, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Trade id, unique per symbol, ascending in time.
    pub id: u64,
    /// Order the trade belongs to.
    pub order_id: i64,
    /// Price in the quote asset.
    pub price: Decimal,
    /// Quantity in the base asset.
    pub qty: Decimal,
    /// price × qty as the exchange computed it.
    pub quote_qty: Decimal,
    /// Fee charged.
    pub commission: Decimal,
    /// Asset the fee was charged in.
    pub commission_asset: String,
    /// Execution time, unix milliseconds.
    pub time: i64,
    /// True for a buy.
    pub is_buyer: bool,
    /// True when the account was the maker.
    pub is_maker: bool,
}

/// A trade (or page of trades) that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TradeParseError {
    /// Body larger than `MAX_TRADES_PAGE_BYTES`.
    #[error("trade page too large")]
    TooLarge,
    /// Not JSON of the myTrades shape.
    #[error("malformed trade JSON")]
    Malformed,
    /// A decimal field is not a plain non-negative decimal string.
    #[error("trade {id}: field {field} is not a non-negative decimal string")]
    Decimal {
        /// Trade id.
        id: u64,
        /// JSON field name.
        field: &'static str,
    },
    /// A name is empty, too long or not upper-case alphanumeric.
    #[error("trade {id}: field {field} is not a valid asset or symbol name")]
    Name {
        /// Trade id.
        id: u64,
        /// JSON field name.
        field: &'static str,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTrade {
    symbol: String,
    id: u64,
    order_id: i64,
    price: String,
    qty: String,
    quote_qty: String,
    commission: String,
    commission_asset: String,
    time: i64,
    is_buyer: bool,
    is_maker: bool,
}

fn dec(id: u64, field: &'static str, s: &str) -> Result<Decimal, TradeParseError> {
    match s.parse::<Dec>() {
        Ok(Dec(d)) if !d.is_sign_negative() => Ok(d),
        _ => Err(TradeParseError::Decimal { id, field }),
    }
}

/// Upper-case ASCII letters and digits, 1..=MAX_SYMBOL_LEN.
pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SYMBOL_LEN
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl TryFrom<RawTrade> for Trade {
    type Error = TradeParseError;

    fn try_from(r: RawTrade) -> Result<Self, Self::Error> {
        let id = r.id;
        for (field, v) in [
            ("symbol", &r.symbol),
            ("commissionAsset", &r.commission_asset),
        ] {
            if !valid_name(v) {
                return Err(TradeParseError::Name { id, field });
            }
        }
        Ok(Trade {
            price: dec(id, "price", &r.price)?,
            qty: dec(id, "qty", &r.qty)?,
            quote_qty: dec(id, "quoteQty", &r.quote_qty)?,
            commission: dec(id, "commission", &r.commission)?,
            symbol: r.symbol,
            id,
            order_id: r.order_id,
            commission_asset: r.commission_asset,
            time: r.time,
            is_buyer: r.is_buyer,
            is_maker: r.is_maker,
        })
    }
}

/// Parse a myTrades response body (a JSON array), bounded in size.
pub fn parse_trades_page(body: &[u8]) -> Result<Vec<Trade>, TradeParseError> {
    if body.len() > MAX_TRADES_PAGE_BYTES {
        return Err(TradeParseError::TooLarge);
    }
    let raw: Vec<RawTrade> =
        serde_json::from_slice(body).map_err(|_| TradeParseError::Malformed)?;
    raw.into_iter().map(Trade::try_from).collect()
}
