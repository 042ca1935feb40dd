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
}

/// The published result whose COSE bytes hash to `id`.
pub async fn by_id<C: GenericClient + Sync>(
    db: &C,
    id: &[u8; 32],
) -> Result<Option<PublishedRow>, tokio_postgres::Error> {
    let row = db
        .query_opt(
            "SELECT a.cose, a.attestation, l.leaf_index FROM aggregates a \
             LEFT JOIN transparency_log l ON l.aggregate_id = a.id \
             WHERE a.result_id = $1 AND a.published LIMIT 1",
            &[&id.as_slice()],
        )
        .await?;
    Ok(row.map(|r| PublishedRow {
        cose: r.get(0),
        attestation: r.get(1),
        leaf_index: r.get(2),
    }))
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
