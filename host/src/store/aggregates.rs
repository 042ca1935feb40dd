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
    /// Payload v2: the credential id (hex) it names.
    pub credential: Option<&'a str>,
    /// Payload v2: the owner id (hex) it names.
    pub owner: Option<&'a str>,
    /// Payload v2: the sealed policy says `publish`.
    pub policy_publish: bool,
}

/// Stores a signed result and its attestation (migrations V13, V14):
/// published at once when its policy says so or when its credential's owner
/// has signed a `publish` (stored in `published_credentials`, same owner).
pub async fn insert(
    tx: &Transaction<'_>,
    a: &NewAggregate<'_>,
) -> Result<(), tokio_postgres::Error> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO aggregates (id, tenant_id, session_id, cose, attestation, account, \
             credential, owner, published) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             $9 OR EXISTS (SELECT 1 FROM published_credentials p \
                           WHERE p.credential = $7 AND p.owner = $8))",
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
            &a.credential,
            &a.owner,
            &a.policy_publish,
        ],
    )
    .await
    .map(|_| ())
}
