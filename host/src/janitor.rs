//! Ends expired sessions and deletes their ciphertext every interval.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use deadpool_postgres::Pool;

use crate::metrics::Metrics;
use crate::store::DbError;
use crate::store::{self, audit, audit::AuditEntry};

/// One pass: purges every expired session (through the SECURITY DEFINER function,
/// as `app_service` cannot see across tenants) and audits each. Returns the count.
pub async fn purge_once(pool: &Pool) -> Result<u64, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let rows = store::janitor::purge_expired(&*tx).await?;
    for &(session, tenant) in &rows {
        let e = AuditEntry {
            tenant: Some(tenant),
            action: "expire",
            session: Some(session),
            outcome: "purged",
            request_id: None,
            client: Some("janitor"),
            detail: None,
        };
        audit::write(&*tx, &e).await?;
    }
    // Sealed histories of accounts whose last live credential just ended.
    let purged = store::history::purge(&*tx).await?;
    if purged > 0 {
        tracing::info!(segments = purged, "history of ended accounts purged");
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// Runs [`purge_once`] every `interval` until `shutdown` completes.
pub async fn run(
    pool: Pool,
    metrics: Arc<Metrics>,
    (interval, rate_window): (Duration, Duration),
    shutdown: impl Future<Output = ()>,
) {
    crate::periodic::every(interval, shutdown, || async {
        if let Err(e) = crate::shared_limits::prune(&pool, rate_window).await {
            tracing::warn!(error = %e, "pruning past rate-limit windows failed");
        }
        match purge_once(&pool).await {
            Ok(0) => {}
            Ok(n) => {
                metrics.janitor_purged.fetch_add(n, Ordering::Relaxed);
                tracing::info!(purged = n, "janitor purged expired sessions");
            }
            Err(e) => {
                metrics.janitor_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "janitor pass failed");
            }
        }
    })
    .await;
}
