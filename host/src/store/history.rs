//! `trade_history`: the enclave's sealed history segments (migration V19).
//! Ciphertext only; the host files them under the account the enclave named
//! and hands them back to that account's next computation.

use deadpool_postgres::GenericClient;
use strongroom_protocol::messages::SealedHistory;
use uuid::Uuid;

/// Most bytes of segments handed to one computation: well inside the RPC's
/// 64 MiB frame with the rest of the request. Segments past it are left out
/// (oldest first are kept), and the enclave fetches what they held again.
pub const MAX_HISTORY_BYTES: i64 = 48 << 20;

/// The account a computation of this credential (hex id) or job is about,
/// as far as the host knows: the one its job's enclave answers named, the
/// one its newest result named, or the one the key check at submit named
/// (V18).
pub async fn account_of<C: GenericClient>(
    tx: &C,
    credential: Option<&str>,
    job: Option<Uuid>,
) -> Result<Option<String>, tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "SELECT account FROM ( \
               (SELECT j.account, 0 AS rank FROM compute_jobs j \
                WHERE j.id = $2 AND j.account IS NOT NULL) \
               UNION ALL \
               (SELECT a.account, 1 FROM aggregates a \
                WHERE a.credential = $1 AND a.account IS NOT NULL \
                ORDER BY a.created_at DESC LIMIT 1) \
               UNION ALL \
               (SELECT s.account, 2 FROM sessions s \
                WHERE s.credential = decode($1, 'hex') AND s.account IS NOT NULL \
                ORDER BY s.created_at DESC LIMIT 1)) k \
             ORDER BY rank LIMIT 1",
        )
        .await?;
    let row = tx.query_opt(&stmt, &[&credential, &job]).await?;
    Ok(row.map(|r| r.get(0)))
}

/// The tenant's segments of `account`, oldest first, up to
/// [`MAX_HISTORY_BYTES`].
pub async fn load<C: GenericClient>(
    tx: &C,
    account: &str,
) -> Result<Vec<SealedHistory>, tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "SELECT sealed FROM ( \
               SELECT sealed, id, sum(octet_length(sealed)) OVER (ORDER BY id) AS upto \
               FROM trade_history WHERE account = $1) s \
             WHERE upto <= $2 ORDER BY id",
        )
        .await?;
    let rows = tx.query(&stmt, &[&account, &MAX_HISTORY_BYTES]).await?;
    Ok(rows
        .iter()
        .map(|r| SealedHistory {
            account: account.to_owned(),
            sealed: r.get(0),
        })
        .collect())
}

/// Stores new segments (a segment already stored is skipped).
pub async fn store<C: GenericClient>(
    tx: &C,
    tenant: Uuid,
    segments: &[SealedHistory],
) -> Result<u64, tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO trade_history (tenant_id, account, sealed) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, account, digest) DO NOTHING",
        )
        .await?;
    let mut stored = 0;
    for s in segments {
        stored += tx.execute(&stmt, &[&tenant, &s.account, &s.sealed]).await?;
    }
    Ok(stored)
}

/// Purges every tenant's segments of accounts none of whose live sessions
/// remain (revoked, expired); how many segments went.
pub async fn purge<C: tokio_postgres::GenericClient + Sync>(
    db: &C,
) -> Result<i64, tokio_postgres::Error> {
    let row = db
        .query_one("SELECT strongroom_purge_history()", &[])
        .await?;
    Ok(row.get(0))
}
