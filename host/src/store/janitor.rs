//! The janitor's purge.

use uuid::Uuid;

/// Purges every expired session through the SECURITY DEFINER function
/// (`app_service` cannot see across tenants); `(session, tenant)` of each.
pub async fn purge_expired<C: tokio_postgres::GenericClient + Sync>(
    tx: &C,
) -> Result<Vec<(Uuid, Uuid)>, tokio_postgres::Error> {
    let rows = tx
        .query(
            "SELECT session_id, tenant_id FROM strongroom_purge_expired()",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
