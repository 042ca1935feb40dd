//! A large deterministic v2 fixture for tests and benchmarks: hundreds of
//! symbols, 100,000+ trades over all of them, zero balances, deposits and
//! withdrawals, 30 daily snapshots and daily klines, a uid. Generated at
//! test or bench time, never committed:
//! `strongroom-mock-exchange --generate-fixture OUT --large [--symbols 320]
//! [--trades 120000] [--seed 1]`.

use serde_json::{Value, json};

use crate::fixture::{Account, Fixture, SymbolDef, format_utc};
use crate::generate::{GENERATED_START_MS, XorShift, dec8};

/// API key of the large fixture's account.
pub const LARGE_API_KEY: &str = "large-api-key-000000000000000000000000000000000000000000000000";
/// API secret of the large fixture's account (dev fixture data).
pub const LARGE_API_SECRET: &str =
    "large-api-secret-0000000000000000000000000000000000000000000000";
/// Days covered by trades, snapshots and klines, from 2024-01-01.
pub const LARGE_DAYS: i64 = 30;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Every `BTC_ONLY_EVERY`-th asset has only an `XBTC` pair (valued via BTC).
pub const BTC_ONLY_EVERY: usize = 8;

/// Shape of the large fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LargeParams {
    /// Generated assets, one market each (plus BTCUSDT).
    pub symbols: usize,
    /// Trades; the first one per symbol, then spread at random.
    pub trades: usize,
    /// Seed: the same seed always gives the same fixture.
    pub seed: u64,
}

impl Default for LargeParams {
    fn default() -> Self {
        Self {
            symbols: 320,
            trades: 120_000,
            seed: 1,
        }
    }
}

/// `AAAA`, `AAAB`, ...: four letters, so 456,976 names.
fn asset(i: usize) -> String {
    (0..4)
        .rev()
        .map(|k| char::from(b'A' + u8::try_from(i / 26usize.pow(k) % 26).unwrap_or(0)))
        .collect()
}

struct Market {
    def: SymbolDef,
    /// Price on day 0, in 10^-8 of the quote asset.
    base_units: u64,
}

fn markets(n: usize, rng: &mut XorShift) -> Vec<Market> {
    let btc = SymbolDef {
        symbol: "BTCUSDT".into(),
        base_asset: "BTC".into(),
        quote_asset: "USDT".into(),
    };
    let mut out = vec![Market {
        def: btc,
        base_units: 40_000 * 100_000_000,
    }];
    for i in 0..n {
        let (base, r) = (asset(i), rng.next());
        let btc_only = i % BTC_ONLY_EVERY == BTC_ONLY_EVERY - 1;
        let (quote, base_units) = if btc_only {
            ("BTC", 1_000 + r % 1_000_000) // 0.00001..0.01 BTC
        } else {
            ("USDT", 1_000_000 + r % 100_000_000_000) // 0.01..1000 USDT
        };
        out.push(Market {
            def: SymbolDef {
                symbol: format!("{base}{quote}"),
                base_asset: base,
                quote_asset: quote.into(),
            },
            base_units,
        });
    }
    out
}

/// Close of `m` on `day` (10^-8 units): a deterministic ±10 % walk.
fn close(m: &Market, idx: usize, day: i64) -> u64 {
    let step = (idx as u64 * 7 + day.unsigned_abs() * 13) % 200;
    m.base_units / 1_000 * (900 + step)
}

fn kline(m: &Market, idx: usize, day: i64) -> Value {
    let open_time = GENERATED_START_MS + day * DAY_MS;
    let (o, c) = (close(m, idx, day - 1), close(m, idx, day));
    let (h, l) = (o.max(c) + o / 50, o.min(c) - o.min(c) / 50);
    let vol = 1_000_000_000 + (idx as u64 % 97) * 100_000_000;
    let quote = u64::try_from(u128::from(vol) * u128::from(c) / 100_000_000).unwrap_or(0);
    json!([
        open_time,
        dec8(o),
        dec8(h),
        dec8(l),
        dec8(c),
        dec8(vol),
        open_time + DAY_MS - 1,
        dec8(quote),
        100 + idx % 900,
        dec8(vol / 2),
        dec8(quote / 2),
        "0"
    ])
}

fn trade(m: &Market, idx: usize, id: u64, time: i64, r: u64) -> Value {
    let day = (time - GENERATED_START_MS) / DAY_MS;
    let price = close(m, idx, day) / 1_000 * (995 + r % 10);
    let qty_milli = 1 + (r >> 24) % 1_000;
    let quote = u64::try_from(u128::from(price) * u128::from(qty_milli) / 1_000).unwrap_or(0);
    json!({
        "symbol": m.def.symbol, "id": id, "orderId": id / 2, "orderListId": -1,
        "price": dec8(price), "qty": dec8(qty_milli * 100_000), "quoteQty": dec8(quote),
        "commission": dec8(quote / 1_000), "commissionAsset": m.def.quote_asset,
        "time": time, "isBuyer": r & 1 == 0, "isMaker": r & 2 == 0, "isBestMatch": true
    })
}

fn trades(ms: &[Market], n: usize, rng: &mut XorShift) -> Vec<Value> {
    let mut next_id = vec![1u64; ms.len()];
    let span = LARGE_DAYS * DAY_MS;
    (0..n)
        .map(|i| {
            let r = rng.next();
            let s = if i < ms.len() {
                i
            } else {
                usize::try_from(r >> 40).unwrap_or(0) % ms.len()
            };
            let id = next_id[s];
            next_id[s] += 1 + (r >> 62);
            let time = GENERATED_START_MS
                + i64::try_from(i as u128 * span as u128 / n as u128).unwrap_or(0);
            trade(&ms[s], s, id, time, r)
        })
        .collect()
}

/// Every generated asset's balance; every third one is zero.
fn balances(ms: &[Market]) -> Vec<Value> {
    let zero = "0.00000000";
    let mut out = vec![
        json!({"asset": "BTC", "free": "1.50000000", "locked": zero}),
        json!({"asset": "USDT", "free": "25000.00000000", "locked": "100.00000000"}),
    ];
    out.extend(ms.iter().skip(1).enumerate().map(|(i, m)| {
        let free = if i % 3 == 0 {
            zero.to_string()
        } else {
            dec8(1 + i as u64 * 12_345_678)
        };
        json!({"asset": m.def.base_asset, "free": free, "locked": zero})
    }));
    out
}

fn flows() -> (Vec<Value>, Vec<Value>) {
    let deposits = (0..LARGE_DAYS / 3)
        .map(|k| {
            let t = GENERATED_START_MS + (3 * k + 1) * DAY_MS + 3_600_000;
            json!({"id": format!("{}", 900_000_000_000u64 + k as u64), "amount": "1000.00000000",
                "coin": "USDT", "network": "ETH", "status": 1, "address": "0xdev",
                "addressTag": "", "txId": format!("0xdeposit{k:04}"), "insertTime": t,
                "transferType": 0, "confirmTimes": "12/12", "unlockConfirm": 0, "walletType": 0})
        })
        .collect();
    let withdrawals = (0..LARGE_DAYS / 6)
        .map(|k| {
            let t = GENERATED_START_MS + (6 * k + 4) * DAY_MS + 7_200_000;
            json!({"id": format!("w{k:031}"), "amount": "0.01000000", "transactionFee": "0.0001",
                "coin": "BTC", "status": 6, "address": "bc1qdev", "txId": format!("wtx{k:04}"),
                "applyTime": format_utc(t), "network": "BTC", "transferType": 0,
                "info": "", "confirmNo": 3, "walletType": 0, "txKey": "",
                "completeTime": format_utc(t + 600_000)})
        })
        .collect();
    (deposits, withdrawals)
}

/// 30 daily spot snapshots (23:59:59 UTC) of BTC, USDT and the first ten
/// generated assets.
fn snapshots(ms: &[Market]) -> Vec<Value> {
    (0..LARGE_DAYS)
        .map(|d| {
            let mut b = vec![
                json!({"asset": "BTC", "free": dec8(150_000_000 - d as u64 * 100_000), "locked": "0.00000000"}),
                json!({"asset": "USDT", "free": dec8(2_000_000_000_000 + d as u64 * 10_000_000_000), "locked": "0.00000000"}),
            ];
            b.extend(ms.iter().skip(1).take(10).enumerate().map(|(i, m)| {
                json!({"asset": m.def.base_asset, "free": dec8(1 + (i as u64 + 1) * 100_000_000), "locked": "0.00000000"})
            }));
            json!({"type": "spot", "updateTime": GENERATED_START_MS + d * DAY_MS + DAY_MS - 1_000,
                "data": {"balances": b, "totalAssetOfBtc": dec8(200_000_000 + d as u64 * 1_000_000)}})
        })
        .collect()
}

/// The large fixture for `p`.
pub fn generate_large(p: LargeParams) -> Fixture {
    let mut rng = XorShift(p.seed | 1);
    let ms = markets(p.symbols, &mut rng);
    let trades = trades(&ms, p.trades, &mut rng);
    let (deposits, withdrawals) = flows();
    let klines = ms
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let v = (0..LARGE_DAYS).map(|d| kline(m, i, d)).collect();
            (m.def.symbol.clone(), v)
        })
        .collect();
    Fixture {
        symbols: ms.iter().map(|m| m.def.clone()).collect(),
        accounts: vec![Account {
            api_key: LARGE_API_KEY.into(),
            api_secret: LARGE_API_SECRET.into(),
            balances: balances(&ms),
            trades,
            uid: Some(300_000_000 + p.seed % 100_000_000),
            api_restrictions: None,
            deposits,
            withdrawals,
            snapshots: snapshots(&ms),
        }],
        klines,
    }
}

/// Trades planted in the future (the mock serves a trade only once its
/// `time` has passed): `batches` batches of `batch_trades` trades each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FutureBatches {
    /// Batches.
    pub batches: usize,
    /// Trades per batch, spread over the symbols.
    pub batch_trades: usize,
    /// Batch k (1-based) appears at `start_ms + k * every_ms`.
    pub every_ms: i64,
    /// Unix ms the batches count from (usually the generation time).
    pub start_ms: i64,
}

/// Appends `b`'s batches to the fixture's first account: batch k's trades go
/// round-robin over the symbols (continuing where batch k-1 stopped), each
/// with an id above every id its symbol already has, all at time
/// `start_ms + k * every_ms`.
pub fn append_future_batches(f: &mut Fixture, b: FutureBatches, seed: u64) {
    let Some(acct) = f.accounts.first_mut() else {
        return;
    };
    let mut rng = XorShift(seed.wrapping_mul(31) | 1);
    let mut rng_markets = XorShift(seed | 1);
    let ms = markets(f.symbols.len().saturating_sub(1), &mut rng_markets);
    let mut next_id: Vec<u64> = vec![1; ms.len()];
    let pos: std::collections::HashMap<&str, usize> = ms
        .iter()
        .enumerate()
        .map(|(i, m)| (m.def.symbol.as_str(), i))
        .collect();
    for t in &acct.trades {
        if let (Some(&s), Some(id)) = (
            t["symbol"].as_str().and_then(|s| pos.get(s)),
            t["id"].as_u64(),
        ) {
            next_id[s] = next_id[s].max(id + 1);
        }
    }
    if ms.is_empty() {
        return;
    }
    let mut s = 0usize;
    for k in 1..=b.batches {
        let time = b.start_ms + i64::try_from(k).unwrap_or(i64::MAX / 2) * b.every_ms;
        for _ in 0..b.batch_trades {
            let id = next_id[s];
            next_id[s] += 1;
            acct.trades.push(trade(&ms[s], s, id, time, rng.next()));
            s = (s + 1) % ms.len();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn large_fixture_has_the_promised_sizes() {
        let t0 = std::time::Instant::now();
        let f = generate_large(LargeParams::default());
        assert!(f.symbols.len() >= 300, "{}", f.symbols.len());
        let a = &f.accounts[0];
        assert!(a.trades.len() >= 100_000);
        let traded: std::collections::BTreeSet<&str> = a
            .trades
            .iter()
            .filter_map(|t| t["symbol"].as_str())
            .collect();
        assert_eq!(traded.len(), f.symbols.len(), "every symbol traded");
        assert!(a.balances.iter().any(|b| b["free"] == "0.00000000"));
        assert_eq!((a.snapshots.len(), a.uid), (30, Some(300_000_001)));
        assert!(!a.deposits.is_empty() && !a.withdrawals.is_empty());
        assert_eq!(f.klines.len(), f.symbols.len());
        assert!(f.klines.values().all(|v| v.len() == 30));
        assert!(f.symbols.iter().any(|s| s.symbol.ends_with("BTC")));
        assert!(t0.elapsed().as_secs() < 10, "{:?}", t0.elapsed());
    }

    #[test]
    fn large_fixture_is_deterministic_and_valid() {
        let mid = |seed| {
            generate_large(LargeParams {
                symbols: 300,
                trades: 5_000,
                seed,
            })
        };
        let f = mid(1);
        let idx = f.index().unwrap();
        assert_eq!(idx[0].trades.len(), 301);
        assert_eq!(idx[0].snapshots.len(), 30);
        f.index_klines().unwrap();
        assert!(f == mid(1), "same seed, same fixture");
        assert!(f != mid(2), "the seed matters");
        assert_eq!(asset(0), "AAAA");
        assert_eq!(asset(27), "AABB");
    }

    #[test]
    fn future_batches_continue_each_symbol_and_appear_on_time() {
        let p = LargeParams {
            symbols: 300,
            trades: 5_000,
            seed: 1,
        };
        let mut f = generate_large(p);
        let before = f.index().unwrap()[0].clone();
        let b = FutureBatches {
            batches: 4,
            batch_trades: 100,
            every_ms: 10_000,
            start_ms: 1_800_000_000_000,
        };
        append_future_batches(&mut f, b, p.seed);
        let acct = &f.accounts[0];
        assert_eq!(acct.trades.len(), 5_000 + 400);
        let after = f.index().unwrap().remove(0); // ids still unique per symbol
        let planted = &acct.trades[5_000..];
        for (k, batch) in planted.chunks(100).enumerate() {
            let want = b.start_ms + (k as i64 + 1) * b.every_ms;
            assert!(batch.iter().all(|t| t["time"] == want), "batch {k}");
            let syms: std::collections::BTreeSet<_> =
                batch.iter().filter_map(|t| t["symbol"].as_str()).collect();
            assert_eq!(syms.len(), 100, "a batch is spread over 100 symbols");
        }
        for t in planted {
            let sym = t["symbol"].as_str().unwrap();
            let old_max = before.trades[sym].last().unwrap().0.id;
            assert!(t["id"].as_u64().unwrap() > old_max, "{t}");
        }
        // 400 trades round-robin over 301 symbols: the first 99 get two.
        assert_eq!(
            after.trades["BTCUSDT"].len(),
            before.trades["BTCUSDT"].len() + 2
        );
    }
}
