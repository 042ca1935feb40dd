//! Pure statistics for the load generator and the benchmarks: nearest-rank
//! percentiles, latency summaries, and the median-with-spread of repeated
//! runs that every figure of `scripts/bench` reports.

use serde::Serialize;

/// Nearest-rank percentile (`q` in 0..=100) of an ascending slice; `None`
/// when empty. Nearest rank never interpolates, so the value is one that
/// was actually measured.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&q) {
        return None;
    }
    // The epsilon keeps binary rounding (0.999 * 1000 = 999.0000000000001)
    // from moving the rank up by one.
    let rank = (q * sorted.len() as f64 / 100.0 - 1e-9).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Latency summary of one route, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Samples.
    pub count: usize,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Fastest.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// Summarizes latencies (ms); sorts `samples` in place. `None` when empty.
pub fn summarize(samples: &mut [f64]) -> Option<Summary> {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    Some(Summary {
        count: n,
        mean_ms: samples.iter().sum::<f64>() / n.max(1) as f64,
        min_ms: *samples.first()?,
        p50_ms: percentile(samples, 50.0)?,
        p90_ms: percentile(samples, 90.0)?,
        p99_ms: percentile(samples, 99.0)?,
        max_ms: *samples.last()?,
    })
}

/// The median of repeated runs with their full range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
    /// Runs.
    pub runs: usize,
}

/// Median and range of `values`; `None` when empty or any is NaN.
pub fn spread(values: &[f64]) -> Option<Spread> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        *v.get(n / 2)?
    } else {
        (v.get(n / 2 - 1)? + v.get(n / 2)?) / 2.0
    };
    Some(Spread {
        median,
        min: *v.first()?,
        max: *v.last()?,
        runs: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&v, 101.0), None);
    }

    #[test]
    fn median_even_and_odd() {
        let s = spread(&[3.0, 1.0, 2.0]).unwrap_or_else(|| panic!("spread"));
        assert_eq!((s.median, s.min, s.max, s.runs), (2.0, 1.0, 3.0, 3));
        let s = spread(&[4.0, 1.0, 2.0, 3.0]).unwrap_or_else(|| panic!("spread"));
        assert_eq!(s.median, 2.5);
        assert!(spread(&[]).is_none());
        assert!(spread(&[f64::NAN]).is_none());
    }
}
