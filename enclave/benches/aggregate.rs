//! Aggregation speed at 10^5 and 10^6 trades, against the same loop in f64
//! as a floor (what the exact decimal arithmetic costs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use strongroom_enclave_core::aggregate::{SymbolInfo, Trade, Window, aggregate};

const SYMBOLS: [(&str, &str, &str); 3] = [
    ("BTCUSDT", "BTC", "USDT"),
    ("ETHUSDT", "ETH", "USDT"),
    ("ETHBTC", "ETH", "BTC"),
];

/// Deterministic history with Binance-like 8-decimal prices and quantities.
fn history(n: usize) -> Vec<Trade> {
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

struct F64Trade {
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

fn to_f64(trades: &[Trade]) -> Vec<F64Trade> {
    use rust_decimal::prelude::ToPrimitive;
    trades
        .iter()
        .map(|t| F64Trade {
            sym: SYMBOLS.iter().position(|s| s.0 == t.symbol).unwrap(),
            id: t.id,
            time: t.time,
            price: t.price.to_f64().unwrap(),
            qty: t.qty.to_f64().unwrap(),
            quote_qty: t.quote_qty.to_f64().unwrap(),
            commission: t.commission.to_f64().unwrap(),
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

/// The same single ordered pass and FIFO loop in f64 (the floor).
fn aggregate_f64(trades: &[F64Trade]) -> f64 {
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
        let t = &trades[i as usize];
        let st = &mut st[s as usize];
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

fn bench(c: &mut Criterion) {
    let info: BTreeMap<String, SymbolInfo> = SYMBOLS
        .iter()
        .map(|(s, b, q)| {
            (
                s.to_string(),
                SymbolInfo {
                    base: b.to_string(),
                    quote: q.to_string(),
                },
            )
        })
        .collect();
    let mut g = c.benchmark_group("aggregate");
    g.sample_size(10);
    for n in [100_000usize, 1_000_000] {
        let trades = history(n);
        let floats = to_f64(&trades);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("decimal", n), &trades, |b, t| {
            b.iter(|| aggregate(black_box(t), &info, Window::default()).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("f64_floor", n), &floats, |b, t| {
            b.iter(|| aggregate_f64(black_box(t)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
