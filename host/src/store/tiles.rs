//! `transparency_tiles` (migration V10): the log's C2SP tiles, one row per
//! tile, full or partial; and the public read of entry bundles.

use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

/// Adds one hash to each named tile: a new row where `used` is 0, else an
/// append to a row that holds exactly `used` hashes. Returns how many tiles
/// took their hash (the caller checks: all of them, or the log is out of
/// step). Arrays are parallel: level, tile index, hashes already there, hash.
pub const APPEND: &str = "WITH t AS ( \
       SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::integer[], $4::bytea[]) \
       AS t(level, tile_index, used, hash)), \
     ins AS ( \
       INSERT INTO transparency_tiles (level, tile_index, hashes) \
       SELECT level, tile_index, hash FROM t WHERE used = 0 RETURNING 1), \
     upd AS ( \
       UPDATE transparency_tiles x SET hashes = x.hashes || t.hash FROM t \
       WHERE t.used > 0 AND x.level = t.level AND x.tile_index = t.tile_index \
         AND octet_length(x.hashes) = t.used * 32 RETURNING 1) \
     SELECT (SELECT count(*) FROM ins) + (SELECT count(*) FROM upd)";

/// The tile hashes one append adds, as the parallel arrays of [`APPEND`].
#[derive(Debug, Default)]
pub struct TileAppends {
    /// Tile levels.
    pub levels: Vec<i16>,
    /// Tile indexes.
    pub indexes: Vec<i64>,
    /// Hashes each tile holds before the append.
    pub used: Vec<i32>,
    /// The hash each tile gains.
    pub hashes: Vec<Vec<u8>>,
}

impl TileAppends {
    /// The statement's parameters.
    pub fn params(&self) -> [&(dyn ToSql + Sync); 4] {
        [&self.levels, &self.indexes, &self.used, &self.hashes]
    }
}

/// The stored rows of the named tiles: `(level, index, hashes)`, in no order;
/// a tile without a row is absent. One statement, one row per tile.
pub async fn read_many<C: GenericClient + Sync>(
    db: &C,
    levels: &[i16],
    indexes: &[i64],
) -> Result<Vec<(i16, i64, Vec<u8>)>, tokio_postgres::Error> {
    let rows = db
        .query(
            "SELECT level, tile_index, hashes FROM transparency_tiles \
             WHERE (level, tile_index) IN \
               (SELECT * FROM unnest($1::smallint[], $2::bigint[]))",
            &[&levels, &indexes],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// The stored hashes of one tile (as many as the log has so far), if any.
pub async fn read_one<C: GenericClient + Sync>(
    db: &C,
    level: i16,
    index: i64,
) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    let row = db
        .query_opt(
            "SELECT hashes FROM transparency_tiles WHERE level = $1 AND tile_index = $2",
            &[&level, &index],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Leaves `first .. first + count` (count at most 256): `(index, leaf hash,
/// leaf bytes or None when erased)`, in order, through the V10 function.
pub async fn entries<C: GenericClient + Sync>(
    db: &C,
    first: i64,
    count: i32,
) -> Result<Vec<(i64, Vec<u8>, Option<Vec<u8>>)>, tokio_postgres::Error> {
    let rows = db
        .query(
            "SELECT leaf_index, leaf_hash, cose FROM strongroom_log_entries($1, $2)",
            &[&first, &count],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Locks the state row (as an append does) and returns `(tree_size, frontier)`.
pub async fn lock_state<C: GenericClient + Sync>(
    tx: &C,
) -> Result<(i64, Vec<u8>), tokio_postgres::Error> {
    let row = tx
        .query_one(
            "SELECT tree_size, frontier FROM transparency_state WHERE id FOR UPDATE",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// Leaves the level-0 tiles cover: the last tile's start plus its hashes.
pub async fn covered<C: GenericClient + Sync>(db: &C) -> Result<i64, tokio_postgres::Error> {
    let row = db
        .query_opt(
            "SELECT tile_index * 256 + octet_length(hashes) / 32 FROM transparency_tiles \
             WHERE level = 0 ORDER BY tile_index DESC LIMIT 1",
            &[],
        )
        .await?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// Drops every tile (before a rebuild, or when the log is closed).
pub async fn delete_all<C: GenericClient + Sync>(tx: &C) -> Result<u64, tokio_postgres::Error> {
    tx.execute("DELETE FROM transparency_tiles", &[]).await
}

/// Leaf hashes with index in `lo..hi`, in order.
pub async fn leaf_hashes<C: GenericClient + Sync>(
    db: &C,
    lo: i64,
    hi: i64,
) -> Result<Vec<Vec<u8>>, tokio_postgres::Error> {
    let rows = db
        .query(
            "SELECT leaf_hash FROM transparency_log \
             WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index",
            &[&lo, &hi],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Stores whole tiles (a rebuild): parallel arrays of level, index, hashes.
pub async fn insert_many<C: GenericClient + Sync>(
    tx: &C,
    levels: &[i16],
    indexes: &[i64],
    hashes: &[Vec<u8>],
) -> Result<u64, tokio_postgres::Error> {
    tx.execute(
        "INSERT INTO transparency_tiles (level, tile_index, hashes) \
         SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
        &[&levels, &indexes, &hashes],
    )
    .await
}
