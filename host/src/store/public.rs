//! Published results (`GET /r/{id}`, `GET /r?account=`): read without a
//! tenant, through the `public_aggregates` row policy (migration V13), which
//! shows published rows only.

use tokio_postgres::GenericClient;

/// Most ids one `GET /r?account=` lists.
pub const MAX_LISTED: i64 = 1000;

/// A published result as stored, with its leaf in the live log.
#[derive(Debug)]
pub struct PublishedRow {
    /// The COSE_Sign1 bytes.
    pub cose: Vec<u8>,
    /// The attestation document.
    pub attestation: Option<Vec<u8>>,
    /// Its leaf index in the live log (`None`: not there, e.g. a closed epoch).
    pub leaf_index: Option<i64>,
    /// The owner's `publish` authorization of its credential, when that is
    /// what published it (migration V14).
    pub publish_authorization: Option<Vec<u8>>,
}

/// The published result whose COSE bytes hash to `id`.
pub async fn by_id<C: GenericClient + Sync>(
    db: &C,
    id: &[u8; 32],
) -> Result<Option<PublishedRow>, tokio_postgres::Error> {
    let row = db
        .query_opt(
            "SELECT a.cose, a.attestation, l.leaf_index, p.owner_authorization FROM aggregates a \
             LEFT JOIN transparency_log l ON l.aggregate_id = a.id \
             LEFT JOIN published_credentials p ON p.credential = a.credential AND p.owner = a.owner \
             WHERE a.result_id = $1 AND a.published LIMIT 1",
            &[&id.as_slice()],
        )
        .await?;
    Ok(row.map(|r| PublishedRow {
        cose: r.get(0),
        attestation: r.get(1),
        leaf_index: r.get(2),
        publish_authorization: r.get(3),
    }))
}

/// Stores an owner's checked `publish` authorization of `credential` and
/// publishes that credential's results whose payload names `owner`
/// (`strongroom_publish`, migration V14). Returns how many it published now;
/// later results are published when stored.
pub async fn publish<C: GenericClient + Sync>(
    db: &C,
    credential: &str,
    owner: &str,
    authorization: &[u8],
) -> Result<i64, tokio_postgres::Error> {
    let row = db
        .query_one(
            "SELECT strongroom_publish($1, $2, $3)",
            &[&credential, &owner, &authorization],
        )
        .await?;
    Ok(row.get(0))
}

/// What the stored results of `credential` (the tenant's own: row-level
/// security applies, call in the tenant's transaction) say about its owner:
/// `None` when there is no result yet, `Some(None)` when they name no owner
/// (sealed without an owner key), else the owner id (hex).
pub async fn owner_of_credential<C: GenericClient + Sync>(
    db: &C,
    credential: &str,
) -> Result<Option<Option<String>>, tokio_postgres::Error> {
    let row = db
        .query_opt(
            "SELECT owner FROM aggregates WHERE credential = $1 \
             ORDER BY owner IS NULL LIMIT 1",
            &[&credential],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Hex ids of an account's published results, oldest first, at most [`MAX_LISTED`].
pub async fn ids_of_account<C: GenericClient + Sync>(
    db: &C,
    account: &str,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = db
        .query(
            "SELECT encode(result_id, 'hex') FROM aggregates \
             WHERE published AND account = $1 ORDER BY created_at, id LIMIT $2",
            &[&account, &MAX_LISTED],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
