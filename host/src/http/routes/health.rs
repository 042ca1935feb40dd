//! `GET /healthz` (liveness) and `GET /readyz` (PostgreSQL and the enclave).

use std::time::Duration;

use http::StatusCode;
use serde_json::json;
use strongroom_protocol::messages::Phase;

use crate::http::error::{ApiError, Code};
use crate::http::{App, Resp, json};
use crate::store;

/// Deadline of each readiness probe.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl App {
    /// `GET /healthz`: the process answers.
    pub(in crate::http) fn healthz() -> Resp {
        json(StatusCode::OK, &json!({"status": "ok"}))
    }

    pub(in crate::http) async fn readyz(&self) -> Resp {
        let db = async {
            let c = self.pool.get().await.ok()?;
            store::admin::ping(&c).await.ok()
        };
        let (db, enclave) = tokio::join!(
            tokio::time::timeout(READY_PROBE_TIMEOUT, db),
            tokio::time::timeout(READY_PROBE_TIMEOUT, self.enclave.health()),
        );
        if !matches!(db, Ok(Some(_))) {
            return ApiError::new(Code::DatabaseUnavailable).into_response();
        }
        match enclave {
            Ok(Ok(h)) if h.phase == Phase::Ready => json(
                StatusCode::OK,
                &json!({"status": "ready", "database": "ok", "enclave": "ok", "enclave_simulator": h.simulator}),
            ),
            Ok(Ok(_)) => ApiError::new(Code::EnclaveNotReady).into_response(),
            _ => ApiError::new(Code::EnclaveUnavailable).into_response(),
        }
    }
}
