//! `GET /healthz` (liveness) and `GET /readyz` (PostgreSQL and the enclave).
//!
//! `/readyz` answers from a state that one background task ([`run_probe`])
//! refreshes once a second ([`READY_PROBE_INTERVAL`]): a burst of probes
//! from a load balancer (or anyone: the route needs no authentication)
//! costs the enclave and PostgreSQL one health call a second, not one per
//! request. The price, documented: `/readyz` reflects a change (enclave
//! gone, key ring lost, database down, and back) within about a second plus
//! the probe's deadline, not instantly.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use http::StatusCode;
use serde_json::json;
use strongroom_protocol::messages::Phase;

use crate::http::error::{ApiError, Code};
use crate::http::{App, Resp, json};
use crate::store;

/// Deadline of each readiness probe.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the probe runs (at most once this often).
pub const READY_PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// What the last probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Readiness {
    /// No probe has finished yet (the first runs at start).
    #[default]
    Unknown,
    /// PostgreSQL did not answer.
    DatabaseDown,
    /// The enclave did not answer.
    EnclaveDown,
    /// The enclave answered but holds no key ring yet.
    EnclaveNotReady,
    /// Both ready.
    Ready {
        /// The enclave runs the NSM simulator.
        simulator: bool,
    },
}

/// The cached readiness, written by the probe task, read by `/readyz`.
#[derive(Debug, Default)]
pub struct ReadyState(RwLock<Readiness>);

impl ReadyState {
    fn get(&self) -> Readiness {
        *self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, r: Readiness) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = r;
    }
}

impl App {
    /// `GET /healthz`: the process answers.
    pub(in crate::http) fn healthz() -> Resp {
        json(StatusCode::OK, &json!({"status": "ok"}))
    }

    /// `GET /readyz`: the cached state, no call.
    pub(in crate::http) fn readyz(&self) -> Resp {
        match self.ready.get() {
            Readiness::Ready { simulator } => json(
                StatusCode::OK,
                &json!({"status": "ready", "database": "ok", "enclave": "ok", "enclave_simulator": simulator}),
            ),
            Readiness::DatabaseDown => ApiError::new(Code::DatabaseUnavailable).into_response(),
            Readiness::EnclaveNotReady => ApiError::new(Code::EnclaveNotReady).into_response(),
            Readiness::Unknown | Readiness::EnclaveDown => {
                ApiError::new(Code::EnclaveUnavailable).into_response()
            }
        }
    }

    /// One probe of PostgreSQL and the enclave, concurrently.
    async fn probe_ready(&self) -> Readiness {
        self.metrics.readyz_probes.fetch_add(1, Ordering::Relaxed);
        let db = async {
            let c = self.pool.get().await.ok()?;
            store::admin::ping(&c).await.ok()
        };
        let (db, enclave) = tokio::join!(
            tokio::time::timeout(READY_PROBE_TIMEOUT, db),
            tokio::time::timeout(READY_PROBE_TIMEOUT, self.enclave.health()),
        );
        if !matches!(db, Ok(Some(_))) {
            return Readiness::DatabaseDown;
        }
        match enclave {
            Ok(Ok(h)) if h.phase == Phase::Ready => Readiness::Ready {
                simulator: h.simulator,
            },
            Ok(Ok(_)) => Readiness::EnclaveNotReady,
            _ => Readiness::EnclaveDown,
        }
    }
}

/// Refreshes `app`'s readiness now and then every [`READY_PROBE_INTERVAL`]
/// (a slow probe delays the next one: never more than one at a time) until
/// `shutdown`.
pub async fn run_probe(app: Arc<App>, shutdown: impl Future<Output = ()>) {
    crate::periodic::every(READY_PROBE_INTERVAL, shutdown, || async {
        let r = app.probe_ready().await;
        app.ready.set(r);
    })
    .await;
}
