//! What the fault scenarios share beyond the kit: a time bound, load records,
//! and the invariants every scenario checks. The stack, its processes, the
//! private PostgreSQL, the cutter and the HTTP client are the kit's
//! (`strongroom-testkit`), re-exported here under the names the tests use.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

pub use strongroom_testkit::http::{Reply, body_text, code_of, try_http};
pub use strongroom_testkit::pg::PrivatePg;
pub use strongroom_testkit::seal::submission;
pub use strongroom_testkit::stack::{
    DEMO_KEY, DEMO_SECRET, Db, Stack, StackOpts, assert_demo_figures,
};

/// Every fault test fails instead of hanging past this.
pub const TEST_BOUND: Duration = Duration::from_secs(150);

/// Runs a scenario under [`TEST_BOUND`].
pub async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_BOUND, test)
        .await
        .expect("fault test exceeded its time bound");
}

/// `planted-<what>-<32 hex>`: random, so a hit can only come from this run.
pub fn planted(what: &str) -> String {
    format!("planted-{what}-{}", uuid::Uuid::new_v4().simple())
}

/// 5xx codes the host may answer while a dependency is away: never a bare 500.
pub fn assert_clean_5xx(o: &Outcome, allowed: &[&str]) {
    if let Some(s) = o.status
        && s >= 500
    {
        assert!(
            s == 503 && allowed.contains(&o.code.as_str()),
            "{} answered {s} {:?} (allowed: 503 {allowed:?})",
            o.route,
            o.code
        );
    }
}

/// Every stored session has its credential (or none because it was revoked or
/// expired and purged); no credential without a session (foreign key anyway).
pub async fn assert_no_half_sessions(db: &Db) {
    let half = db
        .count(
            "SELECT count(*) FROM sessions s LEFT JOIN credentials c ON c.session_id = s.id \
             WHERE s.state = 'active' AND c.session_id IS NULL",
        )
        .await;
    assert_eq!(half, 0, "active sessions without their credential");
}

/// One request of a load run: when it started and ended (from the run's start) and how it ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub route: &'static str,
    pub start: Duration,
    pub took: Duration,
    pub status: Option<u16>,
    pub code: String,
    pub session: Option<String>,
    pub error: Option<String>,
}

impl Outcome {
    pub fn of(route: &'static str, t0: Instant, start: Instant, r: &Result<Reply, String>) -> Self {
        let (status, code, session, error) = match r {
            Ok(r) => (Some(r.status), code_of(r), session_of(r), None),
            Err(e) => (None, String::new(), None, Some(e.clone())),
        };
        Outcome {
            route,
            start: start - t0,
            took: start.elapsed(),
            status,
            code,
            session,
            error,
        }
    }
}

/// The session id of a 201.
fn session_of(r: &Reply) -> Option<String> {
    (r.status == 201)
        .then(|| r.json()["session_id"].as_str().map(str::to_owned))
        .flatten()
}

/// A summary like `{"submit 201": 120, "quote 503 enclave_unavailable": 40}`.
pub fn tally(outcomes: &[Outcome]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for o in outcomes {
        let k = match (o.status, &o.error) {
            (Some(s), _) => format!("{} {s} {}", o.route, o.code),
            (None, Some(e)) => format!("{} error {}", o.route, e.split(':').next().unwrap()),
            _ => unreachable!(),
        };
        *m.entry(k.trim().to_owned()).or_insert(0) += 1;
    }
    m
}
