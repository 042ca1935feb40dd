//! Aggregation speed: the enclave's exact-decimal
//! `strongroom_enclave_core::aggregate::aggregate` against the same ordered
//! FIFO loop in f64 (the floor: what the arithmetic would cost if
//! exactness were free), on one deterministic Binance-like history.

use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;
use std::time::Instant;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;
use strongroom_enclave_core::aggregate::{SymbolInfo, Trade, Window, aggregate};

/// Symbols of the generated history: (symbol, base, quote).
pub const SYMBOLS: [(&str, &str, &str); 3] = [
    ("BTCUSDT", "BTC", "USDT"),
    ("ETHUSDT", "ETH", "USDT"),
    ("ETHBTC", "ETH", "BTC"),
];

/// A failure of the aggregation measurement.
#[derive(Debug, thiserror::Error)]
#[error("aggregate bench: {0}")]
pub struct AggBenchError(String);

/// Deterministic history with 8-decimal prices and quantities (the same
/// generator as `enclave/benches/aggregate.rs`).
pub fn history(n: usize) -> Vec<Trade> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let r = next();
            let sym = SYMBOLS[(r % 3) as usize].0;
            let price = Decimal::new(1_000_000_000_000 + (r >> 20) as i64 % 100_000_000_000, 8);
            let qty = Decimal::new(1_000 + (r >> 40) as i64 % 10_000_000, 8);
            Trade {
                symbol: sym.into(),
                id: i as u64,
                order_id: i as i64,
                price,
                qty,
                quote_qty: (price * qty).round_dp(8),
                commission: Decimal::new((r >> 8) as i64 % 100_000, 8),
                commission_asset: if r & 16 == 0 { "BNB" } else { "USDT" }.into(),
                time: 1_600_000_000_000 + i as i64 * 10,
                is_buyer: r & 1 == 0,
                is_maker: r & 2 == 0,
            }
        })
        .collect()
}

/// The symbol table of [`history`].
pub fn symbol_info() -> BTreeMap<String, SymbolInfo> {
    SYMBOLS
        .iter()
        .map(|(s, b, q)| {
            let info = SymbolInfo {
                base: (*b).into(),
                quote: (*q).into(),
            };
            ((*s).to_owned(), info)
        })
        .collect()
}

/// One trade reduced to floats.
pub struct F64Trade {
    sym: usize,
    id: u64,
    time: i64,
    price: f64,
    qty: f64,
    quote_qty: f64,
    commission: f64,
    fee_asset: usize,
    buy: bool,
}

/// Converts the history for the f64 floor.
pub fn to_f64(trades: &[Trade]) -> Vec<F64Trade> {
    let f = |d: Decimal| d.to_f64().unwrap_or(f64::NAN);
    trades
        .iter()
        .map(|t| F64Trade {
            sym: SYMBOLS.iter().position(|s| s.0 == t.symbol).unwrap_or(0),
            id: t.id,
            time: t.time,
            price: f(t.price),
            qty: f(t.qty),
            quote_qty: f(t.quote_qty),
            commission: f(t.commission),
            fee_asset: usize::from(t.commission_asset == "USDT"),
            buy: t.is_buyer,
        })
        .collect()
}

#[derive(Default)]
struct F64State {
    lots: VecDeque<(f64, f64)>,
    vol: f64,
    pnl: f64,
    cum: f64,
    peak: f64,
    dd: f64,
    fees: [f64; 2],
}

/// The same single ordered pass and FIFO matching in f64.
pub fn aggregate_f64(trades: &[F64Trade]) -> f64 {
    let mut keys: Vec<(i64, u32, u64, u32)> = trades
        .iter()
        .enumerate()
        .map(|(i, t)| (t.time, t.sym as u32, t.id, i as u32))
        .collect();
    if !keys.is_sorted() {
        keys.sort_unstable();
    }
    let mut st: [F64State; 3] = Default::default();
    for &(_, s, _, i) in &keys {
        let (Some(t), Some(st)) = (trades.get(i as usize), st.get_mut(s as usize)) else {
            continue;
        };
        st.vol += t.quote_qty;
        st.fees[t.fee_asset] += t.commission;
        if t.buy {
            st.lots.push_back((t.qty, t.price));
            continue;
        }
        let (mut rem, mut p) = (t.qty, 0.0);
        while rem > 0.0 {
            let Some(l) = st.lots.front_mut() else { break };
            let m = l.0.min(rem);
            p += (t.price - l.1) * m;
            l.0 -= m;
            rem -= m;
            if l.0 <= 0.0 {
                st.lots.pop_front();
            }
        }
        st.pnl += p;
        st.cum += p;
        st.peak = st.peak.max(st.cum);
        st.dd = st.dd.max(st.peak - st.cum);
    }
    st.iter()
        .map(|s| s.vol + s.pnl + s.dd + s.fees[0] + s.fees[1])
        .sum()
}

/// Trades per second of (exact decimal, f64 floor) over `runs` runs each.
pub fn rates(n: usize, runs: usize) -> Result<(Vec<f64>, Vec<f64>), AggBenchError> {
    let trades = history(n);
    let floats = to_f64(&trades);
    let info = symbol_info();
    let (mut exact, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let out = aggregate(black_box(&trades), &info, Window::default())
            .map_err(|e| AggBenchError(e.to_string()))?;
        exact.push(n as f64 / t.elapsed().as_secs_f64());
        black_box(out);
        let t = Instant::now();
        black_box(aggregate_f64(black_box(&floats)));
        floor.push(n as f64 / t.elapsed().as_secs_f64());
    }
    Ok((exact, floor))
}
