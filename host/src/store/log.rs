//! The transparency log's tables: `transparency_state` (one row),
//! `transparency_log` (leaves), `tree_heads`, and their archives.

use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// The state row as stored.
#[derive(Debug)]
pub struct StateRow {
    /// Leaves in the log.
    pub tree_size: i64,
    /// Right-edge subtree roots, concatenated.
    pub frontier: Vec<u8>,
    /// Newest signed head (COSE), None for the empty log.
    pub head: Option<Vec<u8>>,
    /// Newest checkpoint (signed note text, cosignatures so far).
    pub checkpoint: Option<String>,
    /// Whether `checkpoint` carries `witness_quorum` cosignatures.
    pub cosigned: bool,
    /// The quorum the enclave named with the newest checkpoint.
    pub witness_quorum: i32,
}

/// Locks and reads the state row (statement from the connection's cache).
pub async fn lock_state<C: deadpool_postgres::GenericClient>(
    tx: &C,
) -> Result<StateRow, tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "SELECT tree_size, frontier, head, checkpoint, cosigned, witness_quorum \
             FROM transparency_state WHERE id FOR UPDATE",
        )
        .await?;
    let row = tx.query_one(&stmt, &[]).await?;
    Ok(StateRow {
        tree_size: row.get(0),
        frontier: row.get(1),
        head: row.get(2),
        checkpoint: row.get(3),
        cosigned: row.get(4),
        witness_quorum: row.get(5),
    })
}

/// Stores the checkpoint of the current state with its cosignatures
/// (`cosigned`: the quorum is met). Call with the state row locked.
pub async fn record_cosigned<C: GenericClient + Sync>(
    tx: &C,
    tree_size: i64,
    checkpoint: &str,
    cosigned: bool,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "UPDATE tree_heads SET checkpoint = $2 WHERE tree_size = $1",
        &[&tree_size, &checkpoint],
    )
    .await?;
    tx.execute(
        "UPDATE transparency_state SET checkpoint = $2, cosigned = $3 \
         WHERE id AND tree_size = $1",
        &[&tree_size, &checkpoint, &cosigned],
    )
    .await?;
    Ok(())
}

/// The newest checkpoint if its quorum is met: `(size, note text)`.
pub async fn cosigned_checkpoint<C: GenericClient + Sync>(
    db: &C,
) -> Result<Option<(i64, String)>, tokio_postgres::Error> {
    let row = db
        .query_opt(
            "SELECT tree_size, checkpoint FROM transparency_state \
             WHERE id AND cosigned AND checkpoint IS NOT NULL",
            &[],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The checkpoint stored with the head of `size`.
pub async fn checkpoint_at<C: GenericClient + Sync>(
    db: &C,
    size: i64,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = db
        .query_opt(
            "SELECT checkpoint FROM tree_heads WHERE tree_size = $1",
            &[&size],
        )
        .await?;
    Ok(row.and_then(|r| r.get(0)))
}

/// The size each witness last cosigned, as last heard.
pub async fn witness_size<C: GenericClient + Sync>(
    db: &C,
    url: &str,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = db
        .query_opt(
            "SELECT tree_size FROM witness_sizes WHERE witness_url = $1",
            &[&url],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Remembers the size a witness cosigned.
pub async fn set_witness_size<C: GenericClient + Sync>(
    db: &C,
    url: &str,
    size: i64,
) -> Result<(), tokio_postgres::Error> {
    db.execute(
        "INSERT INTO witness_sizes (witness_url, tree_size) VALUES ($1, $2) \
         ON CONFLICT (witness_url) DO UPDATE SET tree_size = EXCLUDED.tree_size",
        &[&url, &size],
    )
    .await?;
    Ok(())
}

/// One append as stored.
#[derive(Debug)]
pub struct AppendRow<'a> {
    /// Index of the new leaf.
    pub leaf_index: i64,
    /// Its hash.
    pub leaf_hash: &'a [u8],
    /// The aggregate it logs, or
    pub aggregate: Option<Uuid>,
    /// the bytes of a leaf that is not a result (a revocation entry, V14).
    pub entry: Option<&'a [u8]>,
    /// New tree size.
    pub tree_size: i64,
    /// New root.
    pub root: &'a [u8],
    /// New signed head.
    pub head: &'a [u8],
    /// New frontier, concatenated.
    pub frontier: &'a [u8],
    /// New checkpoint (signed by the enclave only, so far).
    pub checkpoint: &'a str,
    /// Whether it needs no more cosignatures (quorum 0).
    pub cosigned: bool,
    /// The quorum the enclave named.
    pub witness_quorum: i32,
    /// The hashes the append adds to tiles (migration V10).
    pub tiles: &'a super::tiles::TileAppends,
}

/// Stores leaf, head, tiles and the new state, pipelined: sent together,
/// executed in order; any failure aborts the caller's transaction, which is
/// then never committed. Returns how many tiles took their hash
/// ([`super::tiles::APPEND`]).
pub async fn record_append<C: deadpool_postgres::GenericClient>(
    tx: &C,
    a: &AppendRow<'_>,
) -> Result<i64, tokio_postgres::Error> {
    let (insert_leaf, insert_head, update_state, append_tiles) = tokio::try_join!(
        tx.prepare_cached(
            "INSERT INTO transparency_log (leaf_index, leaf_hash, aggregate_id, entry) \
             VALUES ($1, $2, $3, $4)"
        ),
        tx.prepare_cached(
            "INSERT INTO tree_heads (tree_size, root_hash, cose, checkpoint) VALUES ($1, $2, $3, $4)"
        ),
        tx.prepare_cached(
            "UPDATE transparency_state SET tree_size = $1, frontier = $2, head = $3, \
             checkpoint = $4, cosigned = $5, witness_quorum = $6 WHERE id"
        ),
        tx.prepare_cached(super::tiles::APPEND),
    )?;
    let leaf_params: [&(dyn ToSql + Sync); 4] =
        [&a.leaf_index, &a.leaf_hash, &a.aggregate, &a.entry];
    let head_params: [&(dyn ToSql + Sync); 4] = [&a.tree_size, &a.root, &a.head, &a.checkpoint];
    let state_params: [&(dyn ToSql + Sync); 6] = [
        &a.tree_size,
        &a.frontier,
        &a.head,
        &a.checkpoint,
        &a.cosigned,
        &a.witness_quorum,
    ];
    let tile_params = a.tiles.params();
    let (_, _, _, tiles) = tokio::try_join!(
        tx.execute(&insert_leaf, &leaf_params),
        tx.execute(&insert_head, &head_params),
        tx.execute(&update_state, &state_params),
        tx.query_one(&append_tiles, &tile_params),
    )?;
    Ok(tiles.get(0))
}

/// `(tree_size, newest head)`.
pub async fn current_head<C: GenericClient + Sync>(
    db: &C,
) -> Result<(i64, Option<Vec<u8>>), tokio_postgres::Error> {
    let row = db
        .query_one(
            "SELECT tree_size, head FROM transparency_state WHERE id",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// The signed head of the tree of `size` leaves.
pub async fn head_at<C: GenericClient + Sync>(
    db: &C,
    size: i64,
) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    let row = db
        .query_opt("SELECT cose FROM tree_heads WHERE tree_size = $1", &[&size])
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Closes the live log (a lost ring: no enclave can sign an extension of it
/// again): its leaves and heads move to the archive tables under its epoch and
/// the live log starts empty at the next epoch (V5 migration). Returns
/// `(epoch, size)` of the closed log; `None` when it was empty.
pub async fn close<C: GenericClient + Sync>(
    tx: &C,
) -> Result<Option<(i32, i64)>, tokio_postgres::Error> {
    let row = tx
        .query_one(
            "SELECT log_epoch, tree_size FROM transparency_state WHERE id FOR UPDATE",
            &[],
        )
        .await?;
    let (epoch, size): (i32, i64) = (row.get(0), row.get(1));
    if size == 0 {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO transparency_log_archive (log_epoch, leaf_index, leaf_hash, aggregate_id, entry, created_at) \
         SELECT $1, leaf_index, leaf_hash, aggregate_id, entry, created_at FROM transparency_log",
        &[&epoch],
    )
    .await?;
    tx.execute(
        "INSERT INTO tree_heads_archive (log_epoch, tree_size, root_hash, cose, created_at, checkpoint) \
         SELECT $1, tree_size, root_hash, cose, created_at, checkpoint FROM tree_heads",
        &[&epoch],
    )
    .await?;
    tx.execute("DELETE FROM transparency_log", &[]).await?;
    // Tiles are derived from the leaves; the archive keeps the leaves.
    super::tiles::delete_all(tx).await?;
    tx.execute("DELETE FROM tree_heads", &[]).await?;
    tx.execute("DELETE FROM witness_sizes", &[]).await?;
    tx.execute(
        "UPDATE transparency_state SET tree_size = 0, frontier = '\\x', head = NULL, \
         checkpoint = NULL, cosigned = true, witness_quorum = 0, \
         log_epoch = log_epoch + 1 WHERE id",
        &[],
    )
    .await?;
    Ok(Some((epoch, size)))
}

/// Records that `credential`'s revocation entry is leaf `leaf_index` (V14;
/// the first one stays). Call in the transaction that appends it.
pub async fn record_revocation<C: GenericClient + Sync>(
    tx: &C,
    credential: &str,
    leaf_index: i64,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "INSERT INTO revoked_credentials (credential, leaf_index) VALUES ($1, $2) \
         ON CONFLICT (credential) DO NOTHING",
        &[&credential, &leaf_index],
    )
    .await
    .map(|_| ())
}

/// Whether the log holds a revocation entry of `credential`.
pub async fn is_revoked<C: GenericClient + Sync>(
    tx: &C,
    credential: &str,
) -> Result<bool, tokio_postgres::Error> {
    let row = tx
        .query_opt(
            "SELECT 1 FROM revoked_credentials WHERE credential = $1",
            &[&credential],
        )
        .await?;
    Ok(row.is_some())
}

/// Records which account the leaf `leaf_index` (a v2 result) is about
/// (migration V15), in the transaction that appended it.
pub async fn set_leaf_account<C: deadpool_postgres::GenericClient>(
    tx: &C,
    leaf_index: i64,
    account: &str,
) -> Result<(), tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached("UPDATE transparency_log SET account = $2 WHERE leaf_index = $1")
        .await?;
    tx.execute(&stmt, &[&leaf_index, &account])
        .await
        .map(|_| ())
}

/// Candidates for a new result's `previous` (migration V15): the newest
/// leaf, across every tenant's results in the live log, of the account the
/// session's credential already computed for, or, for a credential's first
/// computation, of each of the (at most `limit`) accounts among the
/// tenant's 1,000 newest results: `(account, leaf hash)`. Indexed both
/// ways (V14's `aggregates_credential`, V17's per-tenant time order), so a
/// request never scans a tenant's history. Inside the tenant's transaction.
pub async fn chain_heads<C: deadpool_postgres::GenericClient>(
    tx: &C,
    credential: Option<&str>,
    limit: i64,
) -> Result<Vec<(String, Vec<u8>)>, tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "WITH mine AS (SELECT a.account FROM aggregates a \
                           WHERE a.credential = $1 AND a.account IS NOT NULL \
                           ORDER BY a.created_at DESC LIMIT 1), \
                  recent AS (SELECT r.account FROM \
                               (SELECT a.account, a.created_at FROM aggregates a \
                                WHERE a.account IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mine) \
                                ORDER BY a.created_at DESC LIMIT 1000) r \
                             GROUP BY r.account ORDER BY max(r.created_at) DESC LIMIT $2) \
             SELECT DISTINCT ON (t.account) t.account, t.leaf_hash FROM transparency_log t \
             WHERE t.account IN (SELECT account FROM mine UNION ALL SELECT account FROM recent) \
             ORDER BY t.account, t.leaf_index DESC",
        )
        .await?;
    let rows = tx.query(&stmt, &[&credential, &limit]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
