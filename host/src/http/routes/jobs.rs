//! Computation jobs (issue 18): a `request_aggregates` that needs more
//! exchange weight than one minute allows answers 202 with a job;
//! `GET /enclave/jobs/{id}` shows its progress and, once done, the same body
//! a 200 of `request_aggregates` carries. The job runner (`http::jobs`)
//! carries it on.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderValue, StatusCode, header};
use serde_json::json;
use strongroom_protocol::messages::ComputePending;
use uuid::Uuid;

use crate::http::error::{ApiError, Code};
use crate::http::{App, Resp, json};
use crate::store::{self, jobs::Job, jobs::Progress};

/// The progress of a `pending` answer, as stored.
pub(in crate::http) fn progress(p: &ComputePending) -> Progress<'_> {
    Progress {
        account: &p.account,
        symbols_done: p.symbols_done,
        symbols_total: p.symbols_total,
        weight_used: p.weight_used,
        // The enclave names the exchange's next minute; bound it anyway.
        retry_after_s: p.retry_after_s.clamp(1, 60),
    }
}

fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The job as JSON (`{"job": {...}, "result"?, "error"?}`).
fn job_json(job: &Job) -> serde_json::Value {
    let mut j = json!({
        "id": job.id.to_string(),
        "session_id": job.session.to_string(),
        "state": job.state,
        "progress": {
            "symbols_done": job.symbols_done,
            "symbols_total": job.symbols_total,
            "weight_used": job.weight_used,
        },
        "attempts": job.attempts,
        "created_at": rfc3339(job.created_at),
    });
    if job.state == "running" {
        j["next_attempt_at"] = json!(rfc3339(job.next_attempt_at));
    }
    let mut out = json!({ "job": j });
    if let Some(r) = &job.response {
        out["result"] = r.clone();
    }
    if let Some(code) = &job.error_code {
        let message = Code::ALL
            .iter()
            .find(|c| c.as_str() == code)
            .map_or("the computation failed", |c| c.message());
        out["error"] = json!({"code": code, "message": message});
    }
    out
}

/// Seconds from now to `t` (at least 1).
fn seconds_until(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::now())
        .map_or(1, |d| d.as_secs().max(1))
}

impl App {
    /// Turns a `pending` answer into job `id` (the id its first attempt
    /// named): stores it (its history is stored already) and answers 202
    /// with where to follow it.
    pub(in crate::http) async fn start_job(
        &self,
        tenant: Uuid,
        id: Uuid,
        session: Uuid,
        body: &[u8],
        pending: &ComputePending,
    ) -> Result<Resp, ApiError> {
        let request: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| ApiError::new(Code::InvalidJson))?;
        let mut client = self.pool.get().await?;
        let tx = store::tenant_tx(&mut client, tenant).await?;
        store::jobs::create(&tx, id, tenant, session, &request, &progress(pending)).await?;
        let job = store::jobs::load(&tx, id)
            .await?
            .ok_or_else(|| ApiError::new(Code::InternalError))?;
        tx.commit().await?;
        tracing::info!(job = %id, done = pending.symbols_done, total = pending.symbols_total, "computation continues as a job");
        let mut r = json(StatusCode::ACCEPTED, &job_json(&job));
        if let Ok(v) = HeaderValue::from_str(&format!("/enclave/jobs/{id}")) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(seconds_until(job.next_attempt_at)),
        );
        Ok(r)
    }

    /// `GET /enclave/jobs/{id}`: the tenant's job (another tenant's is not
    /// found).
    pub(in crate::http) async fn job(
        self: &Arc<Self>,
        path: &str,
        tenant: Uuid,
    ) -> Result<Resp, ApiError> {
        let id = path
            .strip_prefix("/enclave/jobs/")
            .and_then(|s| Uuid::try_parse(s).ok())
            .ok_or_else(|| ApiError::new(Code::JobNotFound))?;
        let mut client = self.pool.get().await?;
        let tx = store::tenant_tx(&mut client, tenant).await?;
        let job = store::jobs::load(&tx, id)
            .await?
            .ok_or_else(|| ApiError::new(Code::JobNotFound))?;
        tx.commit().await?;
        let mut r = json(StatusCode::OK, &job_json(&job));
        if job.state == "running" {
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(seconds_until(job.next_attempt_at)),
            );
        }
        Ok(r)
    }
}
