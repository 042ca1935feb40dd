//! The log as C2SP tlog-tiles (DESIGN.md "Log v2"; migration V10): what an
//! append adds to the tiles, proofs from tiles in O(log n) rows, the bytes of
//! a tile or entry bundle, and the start-up rebuild of tiles for a log that
//! has leaves but no (or out-of-step) tiles.
//!
//! Paths, the tiles a proof needs and the proof arithmetic are the formats
//! crate's (`c2sp::tiles`), shared with verifiers that fetch tiles; hashing
//! is its `merkle`. This module only moves tiles between PostgreSQL and them.

use std::collections::HashMap;

use strongroom_formats::c2sp::tiles::{
    self as c2sp, TILE_HEIGHT, TILE_WIDTH, Tile, TileError, TileKind, TileReader,
};
use strongroom_formats::merkle::{self, HASH_LEN, Hash};
use tokio_postgres::GenericClient;

use super::{TlogError, split_hashes, to_i64};
use crate::store;
use crate::store::tiles::TileAppends;

/// Tile hashes at one level: 256, as a `usize` for slicing.
const WIDTH: usize = TILE_WIDTH as usize;

/// Bytes of a full tile.
pub const FULL_TILE_LEN: usize = WIDTH * HASH_LEN;

/// Leaves read per statement by [`backfill`] (256 level-0 tiles).
const BACKFILL_BATCH: i64 = 256 * 256;

/// Longest entry an entry bundle can carry (big-endian uint16 length).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// The tile hashes that appending `leaf` to the tree of `size` leaves with
/// `frontier` (largest subtree first) adds: the leaf hash to its level-0
/// tile and, for every tile that this fills, the tile's root to the level
/// above. The roots come from the frontier (the filled tile's subtrees are
/// its smallest entries), so an append never reads a tile.
pub fn appends(size: u64, frontier: &[Hash], leaf: Hash) -> Result<TileAppends, TlogError> {
    let mut out = TileAppends::default();
    let mut smallest_first = frontier.iter().rev();
    let (mut index, mut hash, mut level) = (size, leaf, 0i16);
    loop {
        let used = index % TILE_WIDTH;
        out.levels.push(level);
        out.indexes.push(to_i64(index / TILE_WIDTH)?);
        out.used
            .push(i32::try_from(used).map_err(|_| TlogError::Corrupt)?);
        out.hashes.push(hash.to_vec());
        if used != TILE_WIDTH - 1 {
            return Ok(out);
        }
        // The tile is now full: fold in its 8 left siblings (heights 8L..8L+7).
        for _ in 0..TILE_HEIGHT {
            let left = smallest_first.next().ok_or(TlogError::Corrupt)?;
            hash = merkle::node_hash(left, &hash);
        }
        (index, level) = (index / TILE_WIDTH, level + 1);
    }
}

/// A proof and what it cost.
#[derive(Debug, Clone)]
pub struct Proof {
    /// The proof's hashes.
    pub hashes: Vec<Hash>,
    /// Tile rows read from PostgreSQL to make it (O(log n)).
    pub tiles_read: usize,
}

/// Tiles fetched in one statement, read back by [`c2sp`]'s proof code.
struct Fetched(HashMap<(i16, i64), Vec<u8>>);

impl TileReader for Fetched {
    type Error = TlogError;
    fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, TlogError> {
        let TileKind::Hashes(level) = tile.kind() else {
            return Err(TlogError::Corrupt);
        };
        let row = self
            .0
            .get(&(i16::from(level), to_i64(tile.index())?))
            .ok_or(TlogError::Corrupt)?;
        // A row only grows: its prefix is the tile at any older size.
        let len = usize::from(tile.width()) * HASH_LEN;
        row.get(..len).map(<[u8]>::to_vec).ok_or(TlogError::Corrupt)
    }
}

async fn fetch<C: GenericClient + Sync>(db: &C, tiles: &[Tile]) -> Result<Fetched, TlogError> {
    let (mut levels, mut indexes) = (Vec::new(), Vec::new());
    for t in tiles {
        let TileKind::Hashes(level) = t.kind() else {
            return Err(TlogError::Corrupt);
        };
        levels.push(i16::from(level));
        indexes.push(to_i64(t.index())?);
    }
    let rows = store::tiles::read_many(db, &levels, &indexes).await?;
    Ok(Fetched(
        rows.into_iter().map(|(l, i, h)| ((l, i), h)).collect(),
    ))
}

fn tile_error(e: TileError<TlogError>) -> TlogError {
    match e {
        TileError::Reader(e) => e,
        _ => TlogError::Corrupt,
    }
}

/// The level-0 tile holding leaf `index` in the tree of `size`.
fn leaf_tile(index: u64, size: u64) -> Result<Tile, TlogError> {
    c2sp::level0_tile(TileKind::Hashes(0), index / TILE_WIDTH, size).map_err(|_| TlogError::Corrupt)
}

/// Leaf `index`'s hash and inclusion proof in the tree of `size` leaves
/// (`index < size <= ` the log's size), from the tiles that hold them.
pub async fn inclusion_proof<C: GenericClient + Sync>(
    db: &C,
    index: u64,
    size: u64,
) -> Result<(Hash, Proof), TlogError> {
    let mut needed = c2sp::tiles_for_inclusion(index, size).map_err(|_| TlogError::Corrupt)?;
    let own = leaf_tile(index, size)?;
    if !needed.contains(&own) {
        needed.push(own);
    }
    let tiles = fetch(db, &needed).await?;
    let hashes = c2sp::inclusion_proof(&tiles, index, size).map_err(tile_error)?;
    let bytes = tiles.read_tile(&own)?;
    let at = usize::try_from(index % TILE_WIDTH).map_err(|_| TlogError::Corrupt)? * HASH_LEN;
    let leaf = bytes
        .get(at..at + HASH_LEN)
        .and_then(|h| Hash::try_from(h).ok())
        .ok_or(TlogError::Corrupt)?;
    let tiles_read = tiles.0.len();
    Ok((leaf, Proof { hashes, tiles_read }))
}

/// The consistency proof from `old` to `new` leaves (`0 < old <= new <=` the
/// log's size), from tiles.
pub async fn consistency_proof<C: GenericClient + Sync>(
    db: &C,
    old: u64,
    new: u64,
) -> Result<Proof, TlogError> {
    let needed = c2sp::tiles_for_consistency(old, new).map_err(|_| TlogError::Corrupt)?;
    let tiles = fetch(db, &needed).await?;
    let hashes = c2sp::consistency_proof(&tiles, old, new).map_err(tile_error)?;
    let tiles_read = tiles.0.len();
    Ok(Proof { hashes, tiles_read })
}

/// The root of the tree of `size` leaves (`1 ..=` the log's size) from
/// O(log n) tile rows: the last leaf's hash folded with its inclusion proof.
/// For a `/checkpoint` server: the root it signs for `size` must be this.
pub async fn root_at<C: GenericClient + Sync>(db: &C, size: u64) -> Result<Hash, TlogError> {
    let last = size.checked_sub(1).ok_or(TlogError::Corrupt)?;
    let (leaf, proof) = inclusion_proof(db, last, size).await?;
    merkle::root_from_inclusion(&leaf, last, size, &proof.hashes).map_err(|_| TlogError::Corrupt)
}

/// The bytes of a hash tile as served at `tile/<L>/<N>[.p/<W>]`; None when
/// the log does not (yet) have that many hashes there. One row read. This is
/// the call a `/checkpoint` server pairs with a size: every tile a verifier
/// needs for a tree of that size is served here, full or partial.
pub async fn tile_bytes<C: GenericClient + Sync>(
    db: &C,
    tile: &Tile,
) -> Result<Option<Vec<u8>>, TlogError> {
    let TileKind::Hashes(level) = tile.kind() else {
        return Ok(None);
    };
    let row = store::tiles::read_one(db, i16::from(level), to_i64(tile.index())?).await?;
    let len = usize::from(tile.width()) * HASH_LEN;
    Ok(row.and_then(|mut r| {
        (r.len() >= len).then(|| {
            r.truncate(len);
            r
        })
    }))
}

/// Why an entry bundle cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleGap {
    /// The log does not (yet) have that many leaves there.
    Beyond,
    /// A leaf's data was erased with its tenant (only its hash stays).
    Erased,
}

/// The entry bundle of `tile` (`tile/entries/<N>[.p/<W>]`): each leaf's bytes
/// as a big-endian uint16 length and the bytes, checked against the leaf
/// hash the level-0 tile holds.
pub async fn entry_bundle<C: GenericClient + Sync>(
    db: &C,
    tile: &Tile,
) -> Result<Result<Vec<u8>, BundleGap>, TlogError> {
    let first = to_i64(
        tile.index()
            .checked_mul(TILE_WIDTH)
            .ok_or(TlogError::Corrupt)?,
    )?;
    let width = usize::from(tile.width());
    let rows = store::tiles::entries(db, first, i32::from(tile.width())).await?;
    if rows.len() < width {
        return Ok(Err(BundleGap::Beyond));
    }
    let mut out = Vec::new();
    for (_, hash, cose) in rows {
        let Some(entry) = cose else {
            return Ok(Err(BundleGap::Erased));
        };
        let len = u16::try_from(entry.len()).map_err(|_| TlogError::EntryTooLarge)?;
        if merkle::leaf_hash(&entry).as_slice() != hash.as_slice() {
            return Err(TlogError::Corrupt);
        }
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&entry);
    }
    Ok(Ok(out))
}

/// Builds the tiles of the whole log when they are out of step with it (a log
/// from before migration V10): under the state row's lock, reads the leaf
/// hashes in batches, checks that they make the stored frontier, and stores
/// every tile. Returns the number of leaves tiled, or None when the tiles
/// were already complete. Call inside a transaction; commit afterwards.
pub async fn backfill<C: GenericClient + Sync>(tx: &C) -> Result<Option<u64>, TlogError> {
    let (size, frontier) = store::tiles::lock_state(tx).await?;
    if store::tiles::covered(tx).await? == size {
        return Ok(None);
    }
    store::tiles::delete_all(tx).await?;
    let mut check = merkle::Frontier::new();
    let mut above: Vec<Hash> = Vec::new();
    let mut lo = 0i64;
    while lo < size {
        let hi = size.min(lo + BACKFILL_BATCH);
        let leaves = split_hashes(&store::tiles::leaf_hashes(tx, lo, hi).await?.concat())?;
        if i64::try_from(leaves.len()).ok() != Some(hi - lo) {
            return Err(TlogError::Corrupt);
        }
        for h in &leaves {
            check.append(*h).map_err(|_| TlogError::Corrupt)?;
        }
        above.extend(store_level(tx, 0, lo / 256, &leaves).await?);
        lo = hi;
    }
    if check.hashes().concat() != frontier {
        return Err(TlogError::Corrupt);
    }
    let mut level = 1;
    while !above.is_empty() {
        above = store_level(tx, level, 0, &above).await?;
        level += 1;
    }
    Ok(Some(u64::try_from(size).map_err(|_| TlogError::Corrupt)?))
}

/// Stores `hashes` (starting a tile boundary, tile `first`) as tiles of
/// `level`; returns the roots of the full ones, the next level's hashes.
async fn store_level<C: GenericClient + Sync>(
    tx: &C,
    level: i16,
    first: i64,
    hashes: &[Hash],
) -> Result<Vec<Hash>, TlogError> {
    let (mut levels, mut indexes, mut rows, mut roots) = (vec![], vec![], vec![], vec![]);
    for (i, chunk) in hashes.chunks(WIDTH).enumerate() {
        levels.push(level);
        indexes.push(first + to_i64(i as u64)?);
        rows.push(chunk.concat());
        if chunk.len() == WIDTH {
            roots.push(merkle::root(chunk));
        }
    }
    store::tiles::insert_many(tx, &levels, &indexes, &rows).await?;
    Ok(roots)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
            .collect()
    }

    /// Replays appends into in-memory tiles; they match tiles cut from the
    /// leaves by the definition (level L hash i = MTH of 256^L leaves).
    #[test]
    fn appends_build_the_tiles_of_the_definition() {
        let n = 256 * 256 + 300;
        let all = leaves(n);
        let mut tiles: HashMap<(i16, i64), Vec<u8>> = HashMap::new();
        let mut f = merkle::Frontier::new();
        for h in &all {
            let a = appends(f.size(), f.hashes(), *h).unwrap();
            for k in 0..a.levels.len() {
                let row = tiles.entry((a.levels[k], a.indexes[k])).or_default();
                assert_eq!(row.len(), a.used[k] as usize * HASH_LEN);
                row.extend_from_slice(&a.hashes[k]);
            }
            f.append(*h).unwrap();
        }
        for ((level, index), row) in &tiles {
            let span = 256usize.pow(u32::try_from(*level).unwrap());
            for (i, got) in row.chunks(HASH_LEN).enumerate() {
                let start = (*index as usize * WIDTH + i) * span;
                assert_eq!(got, merkle::root(&all[start..start + span]));
            }
        }
        assert_eq!(tiles[&(0, 257)].len(), 44 * HASH_LEN);
        assert_eq!(tiles[&(1, 0)].len(), FULL_TILE_LEN);
        assert_eq!(tiles[&(2, 0)].len(), HASH_LEN);
    }

    #[test]
    fn proofs_from_fetched_tiles_match_the_leaves() {
        let all = leaves(1000);
        let mut rows = HashMap::new();
        let mut f = merkle::Frontier::new();
        for h in &all {
            let a = appends(f.size(), f.hashes(), *h).unwrap();
            for k in 0..a.levels.len() {
                rows.entry((a.levels[k], a.indexes[k]))
                    .or_insert_with(Vec::new)
                    .extend_from_slice(&a.hashes[k]);
            }
            f.append(*h).unwrap();
        }
        let fetched = Fetched(rows);
        for (index, size) in [(0, 1), (5, 256), (255, 257), (999, 1000), (300, 700)] {
            let got = c2sp::inclusion_proof(&fetched, index, size).unwrap();
            let want = merkle::inclusion_proof(&all[..size as usize], index).unwrap();
            assert_eq!(got, want, "inclusion {index} in {size}");
        }
        for (old, new) in [(1, 1000), (256, 512), (300, 999), (700, 700)] {
            let got = c2sp::consistency_proof(&fetched, old, new).unwrap();
            let want = merkle::consistency_proof(&all[..new as usize], old).unwrap();
            assert_eq!(got, want, "consistency {old} -> {new}");
        }
    }
}
