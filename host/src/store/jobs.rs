//! `compute_jobs`: computations that outlast one minute of exchange weight
//! (migration V19). A job keeps the request as validated (no secret), its
//! progress as the enclave last reported it, and, once done, the answer.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

/// A job as `GET /enclave/jobs/{id}` shows it.
#[derive(Debug, Clone)]
pub struct Job {
    /// Job id.
    pub id: Uuid,
    /// The session it computes for.
    pub session: Uuid,
    /// The request body (JSON), as the client sent it and the host
    /// validated it.
    pub request: serde_json::Value,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// The account the enclave named, once known.
    pub account: Option<String>,
    /// Progress: symbols brought up to date.
    pub symbols_done: i32,
    /// Progress: symbols the computation covers.
    pub symbols_total: i32,
    /// Exchange request weight used so far.
    pub weight_used: i64,
    /// Attempts made.
    pub attempts: i32,
    /// When the runner asks the enclave again (running jobs).
    pub next_attempt_at: std::time::SystemTime,
    /// The 200 body of `request_aggregates` (done jobs).
    pub response: Option<serde_json::Value>,
    /// The error code (failed jobs).
    pub error_code: Option<String>,
    /// Created.
    pub created_at: std::time::SystemTime,
}

/// Progress as the enclave reported it in a `pending` answer.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The account pseudonym (hex).
    pub account: &'a str,
    /// Symbols brought up to date.
    pub symbols_done: u32,
    /// Symbols the computation covers.
    pub symbols_total: u32,
    /// Weight used so far.
    pub weight_used: u64,
    /// Seconds until the next attempt.
    pub retry_after_s: u32,
}

fn int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn secs(v: u32) -> f64 {
    f64::from(v.max(1))
}

/// Creates a running job for `session` (inside the tenant's transaction).
pub async fn create<C: GenericClient>(
    tx: &C,
    id: Uuid,
    tenant: Uuid,
    session: Uuid,
    request: &serde_json::Value,
    p: &Progress<'_>,
) -> Result<(), tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO compute_jobs (id, tenant_id, session_id, request, account, \
             symbols_done, symbols_total, weight_used, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &id,
            &tenant,
            &session,
            request,
            &p.account,
            &int(p.symbols_done),
            &int(p.symbols_total),
            &i64::try_from(p.weight_used).unwrap_or(i64::MAX),
            &secs(p.retry_after_s),
        ],
    )
    .await
    .map(|_| ())
}

/// Records another `pending` answer of a running job.
pub async fn progress<C: GenericClient>(
    tx: &C,
    id: Uuid,
    p: &Progress<'_>,
) -> Result<(), tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "UPDATE compute_jobs SET account = $2, symbols_done = $3, symbols_total = $4, \
             weight_used = $5, attempts = attempts + 1, \
             next_attempt_at = now() + make_interval(secs => $6), updated_at = now() \
             WHERE id = $1 AND state = 'running'",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &id,
            &p.account,
            &int(p.symbols_done),
            &int(p.symbols_total),
            &i64::try_from(p.weight_used).unwrap_or(i64::MAX),
            &secs(p.retry_after_s),
        ],
    )
    .await
    .map(|_| ())
}

/// A running job's attempt failed for a reason that may pass (the
/// exchange's budget spent before anything was fetched, the enclave busy or
/// away): try again in `retry_after_s`.
pub async fn postpone<C: GenericClient>(
    tx: &C,
    id: Uuid,
    retry_after_s: u32,
) -> Result<(), tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "UPDATE compute_jobs SET attempts = attempts + 1, updated_at = now(), \
             next_attempt_at = now() + make_interval(secs => $2) \
             WHERE id = $1 AND state = 'running'",
        )
        .await?;
    tx.execute(&stmt, &[&id, &secs(retry_after_s)])
        .await
        .map(|_| ())
}

/// Ends a running job: `done` with the answer, or `failed` with a code.
pub async fn finish<C: GenericClient>(
    tx: &C,
    id: Uuid,
    outcome: Result<&serde_json::Value, &str>,
) -> Result<(), tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "UPDATE compute_jobs SET state = $2, response = $3, error_code = $4, \
             symbols_done = CASE WHEN $2 = 'done' THEN symbols_total ELSE symbols_done END, \
             attempts = attempts + 1, updated_at = now() \
             WHERE id = $1 AND state = 'running'",
        )
        .await?;
    let (state, response, code) = match outcome {
        Ok(r) => ("done", Some(r), None),
        Err(c) => ("failed", None, Some(c)),
    };
    tx.execute(&stmt, &[&id, &state, &response, &code])
        .await
        .map(|_| ())
}

/// The tenant's job `id` (row-level security hides every other tenant's).
pub async fn load<C: GenericClient>(
    tx: &C,
    id: Uuid,
) -> Result<Option<Job>, tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "SELECT id, session_id, request, state, account, symbols_done, symbols_total, \
             weight_used, attempts, next_attempt_at, response, error_code, created_at \
             FROM compute_jobs WHERE id = $1",
        )
        .await?;
    Ok(tx.query_opt(&stmt, &[&id]).await?.map(|r| Job {
        id: r.get(0),
        session: r.get(1),
        request: r.get(2),
        state: r.get(3),
        account: r.get(4),
        symbols_done: r.get(5),
        symbols_total: r.get(6),
        weight_used: r.get(7),
        attempts: r.get(8),
        next_attempt_at: r.get(9),
        response: r.get(10),
        error_code: r.get(11),
        created_at: r.get(12),
    }))
}

/// Claims up to `limit` due jobs for `lease` seconds (any tenant's: the
/// runner has none; SECURITY DEFINER function of V19).
pub async fn claim<C: GenericClient>(
    db: &C,
    lease_seconds: i32,
    limit: i32,
) -> Result<Vec<(Uuid, Uuid)>, tokio_postgres::Error> {
    let rows = db
        .query(
            "SELECT job_id, tenant_id FROM strongroom_claim_jobs($1, $2)",
            &[&lease_seconds, &limit],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
