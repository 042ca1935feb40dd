//! The machine a figure was measured on, from /proc (Linux).

use serde::Serialize;

/// Description printed with every report.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Online CPUs.
    pub nproc: usize,
    /// `model name` of the first CPU.
    pub model_name: String,
    /// MemTotal, MiB.
    pub memory_mib: u64,
    /// Kernel release.
    pub kernel: String,
    /// 1-minute load average when measured (other work on the machine).
    pub loadavg_1m: f64,
}

/// Reads the machine description; unknown fields stay empty or zero.
pub fn describe() -> Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model_name = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let memory_mib = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024);
    Machine {
        nproc: std::thread::available_parallelism().map_or(0, usize::from),
        model_name,
        memory_mib,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        loadavg_1m: read("/proc/loadavg")
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
    }
}

/// Resident set size of a process, KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// RSS samples of named processes: `(seconds since start, [KiB per pid])`.
pub type RssSamples = Vec<(f64, Vec<Option<u64>>)>;

/// Samples the RSS of `pids` every `interval` for `duration`, stopping
/// early when every process is gone.
pub fn sample_rss(
    pids: &[u32],
    interval: std::time::Duration,
    duration: std::time::Duration,
) -> RssSamples {
    let t0 = std::time::Instant::now();
    let mut out = Vec::new();
    while t0.elapsed() <= duration {
        let row: Vec<Option<u64>> = pids.iter().map(|p| rss_kib(*p)).collect();
        if row.iter().all(Option::is_none) {
            break;
        }
        out.push((t0.elapsed().as_secs_f64(), row));
        std::thread::sleep(interval);
    }
    out
}

/// (RSS at the end of the warm-up, last RSS, largest RSS), KiB, of column
/// `col`; `None` without a sample after the warm-up.
pub fn rss_growth(samples: &RssSamples, col: usize, warmup_s: f64) -> Option<(u64, u64, u64)> {
    let after: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= warmup_s)
        .filter_map(|(_, row)| row.get(col).copied().flatten())
        .collect();
    Some((*after.first()?, *after.last()?, *after.iter().max()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_after_warmup() {
        let s: RssSamples = vec![
            (0.0, vec![Some(10), None]),
            (5.0, vec![Some(100), Some(1)]),
            (10.0, vec![Some(130), Some(1)]),
            (15.0, vec![Some(120), Some(2)]),
        ];
        assert_eq!(rss_growth(&s, 0, 5.0), Some((100, 120, 130)));
        assert_eq!(rss_growth(&s, 1, 0.0), Some((1, 2, 2)));
        assert_eq!(rss_growth(&s, 0, 99.0), None);
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
