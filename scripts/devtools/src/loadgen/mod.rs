//! The load generator behind `strongroom-loadgen`: worker threads loop the
//! tenant flow against a running stack until a deadline or an iteration
//! budget, each step timed on its own, every error counted by code.

pub mod flow;
pub mod recorder;
pub mod tenants;

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use strongroom_verifier::client::Client;

pub use flow::{Credential, Trust};
pub use recorder::{Recorder, Report, Route};

/// Most worker threads allowed (each holds one HTTP connection).
pub const MAX_CONCURRENCY: usize = 512;
/// Longest run allowed, seconds (one hour).
pub const MAX_DURATION_SECS: u64 = 3600;
/// How long after the deadline in-flight calls may still finish; calls
/// still running then are abandoned and counted in the report.
pub const GRACE: Duration = Duration::from_secs(10);
/// Pause after a failed iteration, so a down host is not spun on.
pub const ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// What a run does.
pub struct Plan {
    /// One client per tenant; worker `i` uses tenant `i % len`.
    pub clients: Vec<Client>,
    /// Quote verification (None: `--no-verify`).
    pub trust: Option<Trust>,
    /// The sealed credential.
    pub credential: Credential,
    /// Worker threads.
    pub concurrency: usize,
    /// Wall-time budget.
    pub duration: Duration,
    /// Iteration budget (None: only the time).
    pub max_iterations: Option<u64>,
    /// Whether iterations call request_aggregates.
    pub with_aggregates: bool,
    /// Progress line interval on stderr (None: silent).
    pub progress: Option<Duration>,
}

/// Outcome of a run.
pub struct Outcome {
    /// What was measured.
    pub recorder: Arc<Recorder>,
    /// Wall time until the last worker finished (or the grace ran out).
    pub elapsed: Duration,
    /// Workers still inside a call when the grace ran out.
    pub abandoned: usize,
}

/// Runs the plan until its deadline (plus at most [`GRACE`] for calls in
/// flight) or its iteration budget.
pub fn run(plan: Plan) -> Outcome {
    let rec = Arc::new(Recorder::default());
    let started = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let plan = Arc::new(plan);
    let t0 = Instant::now();
    let deadline = t0 + plan.duration;
    let workers: Vec<_> = (0..plan.concurrency.max(1))
        .map(|i| {
            let (rec, started, stop, plan) =
                (rec.clone(), started.clone(), stop.clone(), plan.clone());
            thread::spawn(move || worker(i, &plan, &rec, &started, &stop, deadline))
        })
        .collect();
    progress_loop(&plan, &rec, &workers, deadline + GRACE, t0);
    stop.store(true, Ordering::Relaxed);
    let elapsed = t0.elapsed();
    let mut abandoned = 0;
    for w in workers {
        if w.is_finished() {
            let _ = w.join();
        } else {
            // Blocked in a call past the grace: left to the process exit.
            abandoned += 1;
        }
    }
    if plan.progress.is_some() {
        eprintln!();
    }
    Outcome {
        recorder: rec,
        elapsed,
        abandoned,
    }
}

fn worker(
    i: usize,
    plan: &Plan,
    rec: &Recorder,
    started: &AtomicU64,
    stop: &AtomicBool,
    deadline: Instant,
) {
    let Some(client) = plan.clients.get(i % plan.clients.len().max(1)) else {
        return;
    };
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let n = started.fetch_add(1, Ordering::Relaxed);
        if plan.max_iterations.is_some_and(|max| n >= max) {
            return;
        }
        let r = flow::iteration(
            client,
            plan.trust.as_ref(),
            &plan.credential,
            plan.with_aggregates,
            rec,
        );
        match r {
            Ok(()) => rec.iteration(),
            Err(e) => {
                rec.error(e.route, &e.code, e.status);
                thread::sleep(ERROR_BACKOFF);
            }
        }
    }
}

fn progress_loop(
    plan: &Plan,
    rec: &Recorder,
    workers: &[thread::JoinHandle<()>],
    give_up: Instant,
    t0: Instant,
) {
    let total = plan.duration.as_secs_f64();
    let mut next = t0;
    while workers.iter().any(|w| !w.is_finished()) && Instant::now() < give_up {
        thread::sleep(Duration::from_millis(100));
        let Some(every) = plan.progress else {
            continue;
        };
        if Instant::now() < next {
            continue;
        }
        next += every;
        let secs = t0.elapsed().as_secs_f64();
        let (requests, errors, iterations) = rec.counts();
        eprint!(
            "\r[{secs:5.1}/{total:.0} s] {requests} requests ({:.1}/s), {iterations} iterations ({:.1}/s), {errors} errors   ",
            requests as f64 / secs.max(1e-9),
            iterations as f64 / secs.max(1e-9),
        );
        let _ = std::io::stderr().flush();
    }
}
