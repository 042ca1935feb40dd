//! Prometheus metrics in the text exposition format, without a metrics framework:
//! a handful of counters and one latency histogram keyed by bounded labels.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::egress::EgressStats;

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Pool usage, read at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolGauges {
    /// Configured maximum.
    pub max_size: usize,
    /// Open connections.
    pub size: usize,
    /// Idle connections.
    pub available: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

/// All host metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    enclave_errors: Mutex<BTreeMap<&'static str, u64>>,
    /// Expired sessions whose ciphertext the janitor purged.
    pub janitor_purged: AtomicU64,
    /// Janitor runs that failed.
    pub janitor_failures: AtomicU64,
    /// Sessions revoked.
    pub revoked: AtomicU64,
    /// Readiness probes (one enclave health call and one database ping each).
    pub readyz_probes: AtomicU64,
    /// Credentials accepted and stored.
    pub accepted: AtomicU64,
    /// Tile rows read to answer inclusion and consistency proofs.
    pub tiles_read: AtomicU64,
    /// Tiles and entry bundles served at `/tile/...`.
    pub tiles_served: AtomicU64,
    /// Witness rounds for a new checkpoint (`add-checkpoint` to every
    /// witness, in parallel), and the time they took in microseconds.
    pub witness_rounds: AtomicU64,
    /// See `witness_rounds`.
    pub witness_micros: AtomicU64,
    /// Egress proxy counters (zero when the proxy is off).
    pub egress: Arc<EgressStats>,
}

impl Metrics {
    /// Records one answered request.
    pub fn observe(&self, route: &'static str, status: u16, elapsed: Duration) {
        let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *r.entry((route, status)).or_default() += 1;
        drop(r);
        let mut l = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let h = l.entry(route).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Counts the tile rows one proof read.
    pub fn add_tiles_read(&self, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        self.tiles_read.fetch_add(n, Ordering::Relaxed);
    }

    /// Records one witness round.
    pub fn witnessed(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.witness_rounds.fetch_add(1, Ordering::Relaxed);
        self.witness_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Records one failed enclave call, by kind (`unavailable`, `timeout`, an error code…).
    pub fn enclave_error(&self, kind: &'static str) {
        let mut e = self
            .enclave_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *e.entry(kind).or_default() += 1;
    }

    /// Renders everything in the Prometheus text format.
    pub fn render(&self, pool: PoolGauges) -> String {
        let mut out = String::new();
        self.render_requests(&mut out);
        out.push_str("# TYPE strongroom_enclave_rpc_errors_total counter\n");
        for (kind, n) in self
            .enclave_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "strongroom_enclave_rpc_errors_total{{kind=\"{kind}\"}} {n}"
            );
        }
        for (name, v) in [
            ("strongroom_janitor_purged_total", &self.janitor_purged),
            ("strongroom_janitor_failures_total", &self.janitor_failures),
            ("strongroom_sessions_revoked_total", &self.revoked),
            ("strongroom_readyz_probes_total", &self.readyz_probes),
            ("strongroom_credentials_accepted_total", &self.accepted),
            ("strongroom_tlog_tiles_read_total", &self.tiles_read),
            ("strongroom_tlog_tiles_served_total", &self.tiles_served),
            ("strongroom_witness_rounds_total", &self.witness_rounds),
            (
                "strongroom_witness_microseconds_total",
                &self.witness_micros,
            ),
        ] {
            let _ = writeln!(
                out,
                "# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        out.push_str("# TYPE strongroom_egress_connections_total counter\n");
        for (outcome, v) in [
            ("connected", &self.egress.connected),
            ("refused", &self.egress.refused),
            ("unreachable", &self.egress.unreachable),
        ] {
            let _ = writeln!(
                out,
                "strongroom_egress_connections_total{{outcome=\"{outcome}\"}} {}",
                v.load(Ordering::Relaxed)
            );
        }
        for (name, v) in [
            ("strongroom_db_pool_max", pool.max_size),
            ("strongroom_db_pool_size", pool.size),
            ("strongroom_db_pool_available", pool.available),
            ("strongroom_db_pool_waiting", pool.waiting),
        ] {
            let _ = writeln!(out, "# TYPE {name} gauge\n{name} {v}");
        }
        out
    }

    fn render_requests(&self, out: &mut String) {
        out.push_str("# TYPE strongroom_http_requests_total counter\n");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "strongroom_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# TYPE strongroom_http_request_duration_seconds histogram\n");
        let name = "strongroom_http_request_duration_seconds";
        for (route, h) in self
            .latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            for (b, c) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(out, "{name}_bucket{{route=\"{route}\",le=\"{b}\"}} {c}");
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {}", h.count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.observe("/healthz", 200, Duration::from_millis(3));
        m.observe("/healthz", 200, Duration::from_millis(300));
        m.enclave_error("unavailable");
        let text = m.render(PoolGauges::default());
        assert!(
            text.contains("strongroom_http_requests_total{route=\"/healthz\",status=\"200\"} 2")
        );
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.5\"} 2"));
        assert!(text.contains("strongroom_enclave_rpc_errors_total{kind=\"unavailable\"} 1"));
        m.egress.refused.fetch_add(2, Ordering::Relaxed);
        let text = m.render(PoolGauges::default());
        assert!(text.contains("strongroom_egress_connections_total{outcome=\"refused\"} 2"));
        assert!(text.contains("strongroom_egress_connections_total{outcome=\"connected\"} 0"));
    }
}
