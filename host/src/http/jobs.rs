//! The job runner (issue 18): carries on the computations that answered
//! `pending` (a `request_aggregates` that needs more exchange weight than
//! one minute allows). Every `JOB_CHECK_SECONDS` it claims the due jobs of
//! every tenant (leased in PostgreSQL, so several hosts never run one job
//! at once and a crashed host's lease simply runs out) and asks the enclave
//! again with the same job id and the account's stored history: nothing
//! fetched is fetched again. A done job keeps the 200 body of
//! `request_aggregates`; a job refused for good keeps the code.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::routes::jobs::progress;
use super::routes::request_aggregates::Attempt;
use super::validate::RequestAggregates;
use super::{App, Ctx};
use crate::http::error::{ApiError, Code};
use crate::store;

/// Most jobs one pass claims (the rest on the next pass).
const MAX_PER_PASS: i32 = 16;

/// How long a claimed job is not claimed again: longer than one attempt
/// can take (the aggregates deadline), so a crashed runner's job resumes
/// after it.
const LEASE_SECONDS: i32 = 600;

/// Codes after which a job tries again rather than fail: the exchange's
/// minute, or the enclave busy or away.
fn passing(code: Code) -> bool {
    matches!(
        code,
        Code::ExchangeBudget
            | Code::ExchangeRateLimited
            | Code::EnclaveUnavailable
            | Code::TooManyComputations
            | Code::DatabaseUnavailable
            | Code::RequestTimeout
    )
}

impl App {
    /// One pass: every due job gets one attempt; how many ended.
    pub async fn jobs_once(self: &Arc<Self>) -> Result<usize, store::DbError> {
        let claimed = {
            let client = self.pool.get().await?;
            store::jobs::claim(&client, LEASE_SECONDS, MAX_PER_PASS).await?
        };
        let mut ended = 0;
        for (job, tenant) in claimed {
            match self.run_job(job, tenant).await {
                Ok(true) => ended += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(job = %job, code = e.code.as_str(), "job attempt not recorded")
                }
            }
        }
        Ok(ended)
    }

    /// One attempt of `job`; whether it ended (done or failed).
    async fn run_job(self: &Arc<Self>, job: Uuid, tenant: Uuid) -> Result<bool, ApiError> {
        let row = {
            let mut client = self.pool.get().await?;
            let tx = store::tenant_tx(&mut client, tenant).await?;
            let row = store::jobs::load(&tx, job).await?;
            tx.commit().await?;
            match row {
                Some(r) if r.state == "running" => r,
                _ => return Ok(false),
            }
        };
        let ctx = Ctx {
            request_id: format!("job-{job}"),
            peer: std::net::IpAddr::from([127, 0, 0, 1]),
            client: "job-runner".to_owned(),
        };
        let attempt = match serde_json::from_value::<RequestAggregates>(row.request.clone()) {
            Ok(req) => match req.validate() {
                Ok(req) => self.attempt(tenant, &req, Some(job), &ctx).await,
                Err(e) => Err(e),
            },
            Err(_) => Err(ApiError::new(Code::InvalidJson)),
        };
        let mut client = self.pool.get().await?;
        let tx = store::tenant_tx(&mut client, tenant).await?;
        let ended = match &attempt {
            Ok(Attempt::Done(answer)) => {
                store::jobs::finish(&tx, job, Ok(answer)).await?;
                tracing::info!(job = %job, "job done");
                true
            }
            Ok(Attempt::Pending(p)) => {
                store::jobs::progress(&tx, job, &progress(p)).await?;
                tracing::info!(job = %job, done = p.symbols_done, total = p.symbols_total, "job continues");
                false
            }
            Err(e) if passing(e.code) => {
                let after = e.retry_after.map_or(5, |d| d.as_secs().clamp(1, 60));
                store::jobs::postpone(&tx, job, u32::try_from(after).unwrap_or(60)).await?;
                false
            }
            Err(e) => {
                store::jobs::finish(&tx, job, Err(e.code.as_str())).await?;
                tracing::info!(job = %job, code = e.code.as_str(), "job failed");
                true
            }
        };
        tx.commit().await?;
        Ok(ended)
    }
}

/// Runs [`App::jobs_once`] every `interval` until `shutdown`.
pub async fn run(app: Arc<App>, interval: Duration, shutdown: impl Future<Output = ()>) {
    crate::periodic::every(interval, shutdown, || async {
        match app.jobs_once().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(ended = n, "jobs ended"),
            Err(e) => tracing::warn!(error = %e, "job pass failed"),
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passing_refusals_are_retried() {
        assert!(passing(Code::ExchangeBudget));
        assert!(passing(Code::EnclaveUnavailable));
        assert!(!passing(Code::KeyNotReadOnly));
        assert!(!passing(Code::SessionRevoked));
        assert!(!passing(Code::ExchangeRejectedCredentials));
    }
}
