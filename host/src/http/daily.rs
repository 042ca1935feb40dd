//! Daily snapshots (issue 19): once a UTC day every active account gets one
//! signed result, computed and logged exactly as a tenant's
//! `request_aggregates` (no window, every symbol) through the account's
//! newest live session. Each continues the account's chain (`previous`), so
//! a day the host skipped shows as a day missing from the account's series
//! (`strongroom track`), never as a filled-in one.
//!
//! The trader's terms still hold: the enclave enforces the sealed policy,
//! and the scheduler asks only where it allows one computation a day
//! (`min_interval_seconds` ≤ 86,400, read from the account's newest signed
//! result).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strongroom_formats::aggregates::AggregatePayload;
use strongroom_formats::cose::Sign1;

use super::{App, Ctx};
use crate::store;

/// Most accounts one pass computes (the rest on the next pass).
const MAX_PER_PASS: i32 = 256;

/// The start of the current UTC day.
fn day_start(now: SystemTime) -> SystemTime {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs - secs % 86_400)
}

/// Whether the signed result's policy lets a computation happen every day.
fn allows_daily(cose: &[u8]) -> bool {
    Sign1::payload_of(cose)
        .ok()
        .and_then(|b| AggregatePayload::from_cbor(&b).ok())
        .and_then(|p| p.policy)
        .is_some_and(|p| p.min_interval_seconds <= 86_400)
}

impl App {
    /// One pass: a result for every account due today; how many were
    /// logged. A refusal (the policy's interval, the exchange, a revoked
    /// credential) is logged and the account tried on the next pass.
    pub async fn daily_snapshots_once(self: &Arc<Self>) -> Result<usize, store::DbError> {
        let candidates = {
            let client = self.pool.get().await?;
            store::snapshots::daily_candidates(
                &**client,
                day_start(SystemTime::now()),
                MAX_PER_PASS,
            )
            .await?
        };
        let mut logged = 0;
        for c in candidates {
            if !allows_daily(&c.cose) {
                continue;
            }
            let ctx = Ctx {
                request_id: format!("daily-{}", uuid::Uuid::new_v4()),
                peer: std::net::IpAddr::from([127, 0, 0, 1]),
                client: "scheduler".to_owned(),
            };
            let body = serde_json::json!({"session_id": c.session}).to_string();
            match self
                .request_aggregates(body.as_bytes(), c.tenant, &ctx)
                .await
            {
                Ok(r) if r.status() == hyper::StatusCode::ACCEPTED => {
                    tracing::info!("daily snapshot continues as a job");
                }
                Ok(_) => logged += 1,
                Err(e) => tracing::info!(code = e.code.as_str(), "daily snapshot not taken"),
            }
        }
        Ok(logged)
    }
}

/// Runs [`App::daily_snapshots_once`] every `interval` until `shutdown`.
pub async fn run(app: Arc<App>, interval: Duration, shutdown: impl Future<Output = ()>) {
    crate::periodic::every(interval, shutdown, || async {
        match app.daily_snapshots_once().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(logged = n, "daily snapshots logged"),
            Err(e) => tracing::warn!(error = %e, "daily snapshot pass failed"),
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_starts_at_midnight_utc() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_601_600 + 3_723);
        assert_eq!(
            day_start(t),
            UNIX_EPOCH + Duration::from_secs(1_796_601_600)
        );
    }
}
