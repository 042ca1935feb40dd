//! `aggregates`: the signed results.

use deadpool_postgres::Transaction;
use uuid::Uuid;

/// Stores a signed result and its attestation.
pub async fn insert(
    tx: &Transaction<'_>,
    id: Uuid,
    tenant: Uuid,
    session: Uuid,
    cose: &[u8],
    attestation: &[u8],
) -> Result<(), tokio_postgres::Error> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO aggregates (id, tenant_id, session_id, cose, attestation) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    tx.execute(&insert, &[&id, &tenant, &session, &cose, &attestation])
        .await
        .map(|_| ())
}
