//! Thread-safe recording of per-route latencies and errors, and the JSON
//! report built from them. Bounded: at most [`MAX_SAMPLES_PER_ROUTE`]
//! latencies are kept per route (reservoir-free: later samples are counted
//! but not stored, which is stated in the report).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::stats::{Summary, summarize};

/// Latencies stored per route (a 10-minute soak at a few thousand
/// requests per second stays within this).
pub const MAX_SAMPLES_PER_ROUTE: usize = 4_000_000;

/// The timed steps of one iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// `GET /attestation/quote`.
    Quote,
    /// Client side: verify the quote and seal (no network).
    VerifySeal,
    /// `POST /enclave/submit_key`.
    Submit,
    /// `POST /enclave/request_aggregates`.
    Aggregates,
    /// `POST /enclave/revoke`.
    Revoke,
}

impl Route {
    /// All routes in flow order.
    pub const ALL: [Route; 5] = [
        Route::Quote,
        Route::VerifySeal,
        Route::Submit,
        Route::Aggregates,
        Route::Revoke,
    ];

    /// Snake-case name.
    pub fn name(self) -> &'static str {
        match self {
            Route::Quote => "quote",
            Route::VerifySeal => "verify_seal",
            Route::Submit => "submit",
            Route::Aggregates => "aggregates",
            Route::Revoke => "revoke",
        }
    }

    /// Whether the step is an HTTP request to the host.
    pub fn is_http(self) -> bool {
        self != Route::VerifySeal
    }
}

/// Error counts keyed by (route, code, HTTP status).
type ErrorCounts = BTreeMap<(Route, String, Option<u16>), u64>;

#[derive(Default)]
struct RouteLog {
    samples_ms: Vec<f64>,
    ok: u64,
}

/// Shared recorder.
#[derive(Default)]
pub struct Recorder {
    routes: Mutex<BTreeMap<Route, RouteLog>>,
    errors: Mutex<ErrorCounts>,
    requests: AtomicU64,
    error_count: AtomicU64,
    iterations: AtomicU64,
}

impl Recorder {
    /// Records one successful step.
    pub fn ok(&self, route: Route, took: Duration) {
        if route.is_http() {
            self.requests.fetch_add(1, Ordering::Relaxed);
        }
        let mut map = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let log = map.entry(route).or_default();
        log.ok += 1;
        if log.samples_ms.len() < MAX_SAMPLES_PER_ROUTE {
            log.samples_ms.push(took.as_secs_f64() * 1e3);
        }
    }

    /// Records one failed step by its error code (and HTTP status).
    pub fn error(&self, route: Route, code: &str, status: Option<u16>) {
        if route.is_http() {
            self.requests.fetch_add(1, Ordering::Relaxed);
        }
        self.error_count.fetch_add(1, Ordering::Relaxed);
        let mut map = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((route, code.to_owned(), status)).or_default() += 1;
    }

    /// Counts one completed iteration (all steps succeeded).
    pub fn iteration(&self) {
        self.iterations.fetch_add(1, Ordering::Relaxed);
    }

    /// (HTTP requests, errors, complete iterations) so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.error_count.load(Ordering::Relaxed),
            self.iterations.load(Ordering::Relaxed),
        )
    }

    /// Builds the report for a run that lasted `elapsed`.
    pub fn report(&self, config: serde_json::Value, elapsed: Duration) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let (requests, errors, iterations) = self.counts();
        let mut routes = BTreeMap::new();
        let mut map = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        for (route, log) in map.iter_mut() {
            routes.insert(
                route.name().to_owned(),
                RouteReport {
                    ok: log.ok,
                    ok_per_s: log.ok as f64 / secs,
                    latency: summarize(&mut log.samples_ms),
                },
            );
        }
        let errors_by_code = self
            .errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|((route, code, status), count)| ErrorCount {
                route: route.name().to_owned(),
                code: code.clone(),
                status: *status,
                count: *count,
            })
            .collect();
        Report {
            config,
            elapsed_s: secs,
            requests,
            requests_per_s: requests as f64 / secs,
            iterations,
            iterations_per_s: iterations as f64 / secs,
            errors,
            routes,
            errors_by_code,
            abandoned_in_flight: 0,
        }
    }
}

/// One route in the report.
#[derive(Debug, Clone, Serialize)]
pub struct RouteReport {
    /// Successful calls.
    pub ok: u64,
    /// Successful calls per second.
    pub ok_per_s: f64,
    /// Latency of successful calls (null when none).
    pub latency: Option<Summary>,
}

/// One error code of one route.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorCount {
    /// Route.
    pub route: String,
    /// The host's error code, or the client's (`transport`, ...).
    pub code: String,
    /// HTTP status when the host answered.
    pub status: Option<u16>,
    /// Occurrences.
    pub count: u64,
}

/// The JSON report of a load run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The run's parameters.
    pub config: serde_json::Value,
    /// Wall time of the run, seconds.
    pub elapsed_s: f64,
    /// HTTP requests sent (ok and failed).
    pub requests: u64,
    /// Requests per second.
    pub requests_per_s: f64,
    /// Iterations in which every step succeeded.
    pub iterations: u64,
    /// Complete iterations per second.
    pub iterations_per_s: f64,
    /// Failed steps.
    pub errors: u64,
    /// Per route.
    pub routes: BTreeMap<String, RouteReport>,
    /// Every error by route and code.
    pub errors_by_code: Vec<ErrorCount>,
    /// Calls still in flight when the grace after the deadline ran out.
    pub abandoned_in_flight: usize,
}

impl Report {
    /// A markdown summary for the terminal.
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "{} requests in {:.1} s: {:.1} req/s, {} complete iterations ({:.1}/s), {} errors\n\n",
            self.requests,
            self.elapsed_s,
            self.requests_per_s,
            self.iterations,
            self.iterations_per_s,
            self.errors
        );
        s.push_str("| route | ok | ok/s | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|\n");
        for route in Route::ALL {
            let Some(r) = self.routes.get(route.name()) else {
                continue;
            };
            let l = r.latency;
            let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
            s.push_str(&format!(
                "| {} | {} | {:.1} | {} | {} | {} | {} |\n",
                route.name(),
                r.ok,
                r.ok_per_s,
                f(l.map(|l| l.p50_ms)),
                f(l.map(|l| l.p90_ms)),
                f(l.map(|l| l.p99_ms)),
                f(l.map(|l| l.max_ms)),
            ));
        }
        if self.abandoned_in_flight > 0 {
            s.push_str(&format!(
                "\n{} calls were still in flight at the end of the grace period (not counted)\n",
                self.abandoned_in_flight
            ));
        }
        if !self.errors_by_code.is_empty() {
            s.push_str("\n| route | error code | status | count |\n|---|---|---|---|\n");
            for e in &self.errors_by_code {
                let status = e.status.map_or("-".to_owned(), |v| v.to_string());
                s.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    e.route, e.code, status, e.count
                ));
            }
        }
        s
    }
}
