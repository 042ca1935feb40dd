//! The returns block at ten years: the enclave's series construction
//! (`strongroom_enclave_core::equity::build`: 50 assets valued each day,
//! flows) and `strongroom_formats::returns::compute` over 3,650 daily
//! entries, the way a chain of daily snapshots would feed it. Deterministic
//! inputs; the time of build + compute per run.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use rust_decimal::Decimal;
use strongroom_enclave_core::equity::{DailyInputs, build};
use strongroom_enclave_core::exchange::wallet::{Flow, Snapshot};
use strongroom_formats::returns::compute;

/// A failure of the returns measurement.
#[derive(Debug, thiserror::Error)]
#[error("returns bench: {0}")]
pub struct ReturnsBenchError(String);

/// 2016-01-01 as a day number.
const FIRST_DAY: i64 = 16_801;

/// `days` snapshots of `assets` assets (every eighth priced only through
/// BTC), daily closes on a deterministic walk, a deposit every 30 days and
/// a withdrawal every 45.
pub fn inputs(days: usize, assets: usize) -> DailyInputs {
    let names: Vec<String> = (0..assets).map(|i| format!("A{i:03}")).collect();
    let mut closes: BTreeMap<String, BTreeMap<i64, Decimal>> = BTreeMap::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (i, n) in names.iter().enumerate() {
        let sym = if i % 8 == 7 {
            format!("{n}BTC")
        } else {
            format!("{n}USDT")
        };
        let mut price: i64 = 1_000_000_000 + (next() % 1_000_000_000) as i64;
        let walk = (0..days as i64)
            .map(|d| {
                price += (next() % 40_000_001) as i64 - 20_000_000;
                price = price.max(1_000_000);
                (FIRST_DAY + d, Decimal::new(price, 8))
            })
            .collect();
        closes.insert(sym, walk);
    }
    let btc = (0..days as i64)
        .map(|d| (FIRST_DAY + d, Decimal::new(40_000 + d % 1_000, 0)))
        .collect();
    closes.insert("BTCUSDT".into(), btc);
    let snapshots = (0..days as i64)
        .map(|d| Snapshot {
            day: FIRST_DAY + d,
            balances: names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    (
                        n.clone(),
                        Decimal::new(100_000_000 + i as i64 * 1_234_567, 8),
                    )
                })
                .chain([("USDT".to_owned(), Decimal::new(1_000_000 + d, 2))])
                .collect(),
        })
        .collect();
    let flows = (0..days as i64)
        .filter_map(|d| match (d % 30, d % 45) {
            (0, _) => Some(Flow {
                day: FIRST_DAY + d,
                asset: "USDT".into(),
                amount: Decimal::new(100_000, 2),
            }),
            (_, 0) => Some(Flow {
                day: FIRST_DAY + d,
                asset: names[0].clone(),
                amount: Decimal::new(-5, 1),
            }),
            _ => None,
        })
        .collect();
    DailyInputs {
        valuation_asset: "USDT".into(),
        snapshots,
        flows,
        closes,
    }
}

/// Per run: milliseconds of the metrics alone (`compute` over the daily
/// series, what a computation costs once each day's equity is already
/// signed in the account's chain of daily snapshots) and of the whole
/// rebuild (valuing every asset on every day, then `compute`).
pub fn times_ms(
    days: usize,
    assets: usize,
    runs: usize,
) -> Result<(Vec<f64>, Vec<f64>), ReturnsBenchError> {
    let input = inputs(days, assets);
    let mut metrics = Vec::new();
    let mut rebuild = Vec::new();
    for _ in 0..runs.max(1) {
        let t0 = Instant::now();
        let equity = build(black_box(&input))
            .map_err(|e| ReturnsBenchError(e.to_string()))?
            .ok_or_else(|| ReturnsBenchError("no series".into()))?;
        if equity.series.len() != days || !equity.unvalued.is_empty() {
            return Err(ReturnsBenchError("unexpected series".into()));
        }
        let t1 = Instant::now();
        let block = compute("USDT", black_box(&equity.series), Decimal::ZERO)
            .map_err(|e| ReturnsBenchError(e.to_string()))?;
        black_box(block);
        let t2 = Instant::now();
        metrics.push((t2 - t1).as_secs_f64() * 1e3);
        rebuild.push((t2 - t0).as_secs_f64() * 1e3);
    }
    Ok((metrics, rebuild))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ten_years_of_fifty_assets_compute() {
        let (m, r) = times_ms(3_650, 50, 1).unwrap();
        assert_eq!((m.len(), r.len()), (1, 1));
        assert!(m[0] <= r[0]);
    }
}
