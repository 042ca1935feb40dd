//! Deterministic big histories for tests (e.g. 12,000 trades to exercise
//! paging). The same seed always gives the same fixture.

use serde_json::json;

use crate::fixture::{Account, Fixture, SymbolDef};

/// API key of the generated account.
pub const GENERATED_API_KEY: &str =
    "gen-api-key-0000000000000000000000000000000000000000000000000000";
/// API secret of the generated account (dev fixture data).
pub const GENERATED_API_SECRET: &str =
    "gen-api-secret-000000000000000000000000000000000000000000000000";

/// First trade time of generated histories: 2024-01-01T00:00:00Z.
pub const GENERATED_START_MS: i64 = 1_704_067_200_000;

pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Format `units / 10^8` as Binance does (8 decimals).
pub(crate) fn dec8(units: u64) -> String {
    format!("{}.{:08}", units / 100_000_000, units % 100_000_000)
}

/// A fixture with one account holding `n` trades: 3/4 on BTCUSDT (so one
/// symbol alone needs many pages), 1/4 on ETHUSDT, one minute apart.
pub fn generate(n: usize, seed: u64) -> Fixture {
    let mut rng = XorShift(seed | 1);
    let mut next_id = [1_000_000u64, 5_000_000u64];
    let trades = (0..n)
        .map(|i| {
            let r = rng.next();
            let s = usize::from(i % 4 == 3);
            let (sym, fee_asset) = [("BTCUSDT", "BNB"), ("ETHUSDT", "USDT")][s];
            let id = next_id[s];
            next_id[s] += 1 + (r >> 60);
            // price 100..200 with 2 decimals, qty 0.001..1 with 3 decimals.
            let price_cents = 10_000 + (r >> 8) % 10_000;
            let qty_milli = 1 + (r >> 24) % 1_000;
            let quote_units = price_cents * qty_milli * 1_000; // 10^-2 * 10^-3 -> 10^-8
            json!({
                "symbol": sym, "id": id, "orderId": id / 2, "orderListId": -1,
                "price": dec8(price_cents * 1_000_000), "qty": dec8(qty_milli * 100_000),
                "quoteQty": dec8(quote_units), "commission": dec8(quote_units / 1_000),
                "commissionAsset": fee_asset,
                "time": GENERATED_START_MS + i as i64 * 60_000,
                "isBuyer": r & 1 == 0, "isMaker": r & 2 == 0, "isBestMatch": true
            })
        })
        .collect();
    Fixture {
        symbols: vec![
            SymbolDef {
                symbol: "BTCUSDT".into(),
                base_asset: "BTC".into(),
                quote_asset: "USDT".into(),
            },
            SymbolDef {
                symbol: "ETHUSDT".into(),
                base_asset: "ETH".into(),
                quote_asset: "USDT".into(),
            },
        ],
        accounts: vec![Account {
            api_key: GENERATED_API_KEY.into(),
            api_secret: GENERATED_API_SECRET.into(),
            balances: vec![
                json!({"asset": "BTC", "free": "1.00000000", "locked": "0.00000000"}),
                json!({"asset": "ETH", "free": "2.00000000", "locked": "0.00000000"}),
                json!({"asset": "USDT", "free": "1000.00000000", "locked": "0.00000000"}),
            ],
            trades,
            ..Account::default()
        }],
        ..Fixture::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_fixture_is_valid_and_deterministic() {
        let f = generate(1_000, 7);
        let idx = f.index().unwrap();
        assert_eq!(idx[0].trades["BTCUSDT"].len(), 750);
        assert_eq!(idx[0].trades["ETHUSDT"].len(), 250);
        let again = serde_json::to_string(&generate(1_000, 7)).unwrap();
        assert_eq!(serde_json::to_string(&f).unwrap(), again);
        assert_eq!(dec8(123_456_789), "1.23456789");
    }
}
