//! `aggregates`: the signed results.

use deadpool_postgres::Transaction;
use uuid::Uuid;

/// A signed result as stored.
#[derive(Debug)]
pub struct NewAggregate<'a> {
    /// Row id.
    pub id: Uuid,
    /// Owner.
    pub tenant: Uuid,
    /// The session it was computed for.
    pub session: Uuid,
    /// The COSE_Sign1 bytes.
    pub cose: &'a [u8],
    /// The attestation document binding the signing key.
    pub attestation: &'a [u8],
    /// The payload's account pseudonym (hex), for `GET /r?account=`.
    pub account: &'a str,
}

/// Stores a signed result and its attestation, unpublished (migration V13).
pub async fn insert(
    tx: &Transaction<'_>,
    a: &NewAggregate<'_>,
) -> Result<(), tokio_postgres::Error> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO aggregates (id, tenant_id, session_id, cose, attestation, account) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    tx.execute(
        &insert,
        &[
            &a.id,
            &a.tenant,
            &a.session,
            &a.cose,
            &a.attestation,
            &a.account,
        ],
    )
    .await
    .map(|_| ())
}
