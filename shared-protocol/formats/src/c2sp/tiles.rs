//! tlog-tiles paths (`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`),
//! which tiles a proof needs for a tree size, and proofs computed from a
//! [`TileReader`] (the same code for the host serving tiles and for a
//! verifier fetching them). Paths are relative to the log's prefix.

use crate::merkle::{self, HASH_LEN, Hash, MerkleError};

/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// Tree levels spanned by one tile level (256 = 2^8).
pub const TILE_HEIGHT: u32 = 8;

const FULL: u16 = 256;

/// Highest tile level in a path.
pub const MAX_TILE_LEVEL: u8 = 63;

/// Longest tile path accepted, in bytes: the longest canonical one,
/// `tile/entries/x018/x446/x744/x073/x709/x551/615.p/255` (index 2^64 - 1).
pub const MAX_TILE_PATH_LEN: usize = 52;

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TileKind {
    /// Merkle tree hashes at tile level `L` (tree height `8 * L`).
    Hashes(u8),
    /// An entry bundle (the entries under level 0 tile `N`).
    Entries,
}

/// One tile (or entry bundle): kind, index `N`, width 1..=256 (256 = full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tile {
    kind: TileKind,
    index: u64,
    width: u16,
}

/// Why a path was refused or a proof could not be read from tiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError<E = std::convert::Infallible> {
    /// Not a canonical tile path.
    #[error("malformed tile path")]
    Path,
    /// A level above 63 or a width outside 1..=256.
    #[error("tile level or width out of range")]
    Range,
    /// The tile reader failed.
    #[error("tile reader failed")]
    Reader(E),
    /// The reader returned a tile of the wrong length.
    #[error("tile has the wrong length")]
    TileLength,
    /// Index and sizes do not make a proof.
    #[error(transparent)]
    Merkle(#[from] MerkleError),
}

/// Reads a tile's bytes (`width * 32` of them for hash tiles).
pub trait TileReader {
    /// The reader's own error.
    type Error;
    /// The bytes of `tile`.
    fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, Self::Error>;
}

impl Tile {
    /// A tile; level at most [`MAX_TILE_LEVEL`], width 1..=256.
    pub fn new(kind: TileKind, index: u64, width: u16) -> Result<Self, TileError> {
        let level_ok = matches!(kind, TileKind::Entries)
            || matches!(kind, TileKind::Hashes(l) if l <= MAX_TILE_LEVEL);
        if !level_ok || width == 0 || u64::from(width) > TILE_WIDTH {
            return Err(TileError::Range);
        }
        Ok(Self { kind, index, width })
    }

    /// What the tile holds.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// The tile index `N`.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The width: 256 for a full tile, less for a partial one.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// The path, e.g. `tile/0/x001/x234/067.p/5` or `tile/entries/000`.
    pub fn path(&self) -> String {
        let mut out = match self.kind {
            TileKind::Hashes(l) => format!("tile/{l}/"),
            TileKind::Entries => "tile/entries/".to_owned(),
        };
        out.push_str(&format_index(self.index));
        if u64::from(self.width) < TILE_WIDTH {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// Parses a canonical path (the inverse of [`Self::path`]).
    pub fn parse_path(path: &str) -> Result<Self, TileError> {
        if path.len() > MAX_TILE_PATH_LEN {
            return Err(TileError::Path);
        }
        let rest = path.strip_prefix("tile/").ok_or(TileError::Path)?;
        let (level, rest) = rest.split_once('/').ok_or(TileError::Path)?;
        let kind = match level {
            "entries" => TileKind::Entries,
            l => TileKind::Hashes(parse_small(l).ok_or(TileError::Path)?),
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((n, w)) => (n, parse_small(w).filter(|w| *w > 0).ok_or(TileError::Path)?),
            None => (rest, 0),
        };
        let index = parse_index(index).ok_or(TileError::Path)?;
        // No `.p/` suffix: a full tile (`.p/0` was refused above).
        let width = if width == 0 { FULL } else { u16::from(width) };
        Self::new(kind, index, width)
    }
}

/// A decimal 0..=255 without leading zeroes.
fn parse_small(s: &str) -> Option<u8> {
    let canonical = (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !canonical || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// `N` as 3-digit groups, all but the last prefixed with `x`.
fn format_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// Inverse of `format_index`; refuses a leading `x000` group (two paths
/// for one index) and indexes above u64.
fn parse_index(s: &str) -> Option<u64> {
    let groups: Vec<&str> = s.split('/').collect();
    let (last, init) = groups.split_last()?;
    if init.len() > 6 || init.first() == Some(&"x000") {
        return None;
    }
    let mut n: u64 = 0;
    for g in init
        .iter()
        .map(|g| g.strip_prefix('x'))
        .chain([Some(*last)])
    {
        let g = g.filter(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))?;
        n = n.checked_mul(1000)?.checked_add(g.parse::<u64>().ok()?)?;
    }
    Some(n)
}

/// A complete subtree: `2^height` leaves starting at `index << height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node {
    height: u32,
    index: u64,
}

/// The tile holding the tile-level hashes under `node` in a tree of `size`.
fn tile_for(node: Node, size: u64) -> Tile {
    let level = node.height / TILE_HEIGHT;
    let shift = node.height - level * TILE_HEIGHT;
    let first = node.index << shift; // first hash at height 8*level
    let t = first / TILE_WIDTH;
    let available = (size >> (level * TILE_HEIGHT)) - t * TILE_WIDTH;
    // `node` is complete within `size`, so `available` >= 1; level <= 7.
    let width = available.min(TILE_WIDTH) as u16;
    Tile {
        kind: TileKind::Hashes(level as u8),
        index: t,
        width,
    }
}

/// Complete subtrees making up leaves `[lo, hi)`, largest first; `lo` is a
/// multiple of the largest power of two <= `hi - lo` (true of every range
/// in an RFC 9162 proof).
fn decompose(mut lo: u64, hi: u64, out: &mut Vec<Node>) {
    while lo < hi {
        let height = 63 - (hi - lo).leading_zeros();
        out.push(Node {
            height,
            index: lo >> height,
        });
        lo += 1 << height;
    }
}

/// Largest power of two strictly below `n` (`n` >= 2).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Leaf ranges whose hashes form the inclusion proof of `m` in `[lo, hi)`.
fn inclusion_ranges(m: u64, lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
    if hi - lo <= 1 {
        return;
    }
    let k = split_point(hi - lo);
    if m < k {
        inclusion_ranges(m, lo, lo + k, out);
        out.push((lo + k, hi));
    } else {
        inclusion_ranges(m - k, lo + k, hi, out);
        out.push((lo, lo + k));
    }
}

/// Leaf ranges whose hashes form the consistency proof from `m` leaves.
fn consistency_ranges(m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<(u64, u64)>) {
    if m == hi - lo {
        if !complete {
            out.push((lo, hi));
        }
        return;
    }
    let k = split_point(hi - lo);
    if m <= k {
        consistency_ranges(m, lo, lo + k, complete, out);
        out.push((lo + k, hi));
    } else {
        consistency_ranges(m - k, lo + k, hi, false, out);
        out.push((lo, lo + k));
    }
}

fn inclusion_plan(index: u64, size: u64) -> Result<Vec<(u64, u64)>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut ranges = Vec::new();
    inclusion_ranges(index, 0, size, &mut ranges);
    Ok(ranges)
}

fn consistency_plan(old: u64, new: u64) -> Result<Vec<(u64, u64)>, MerkleError> {
    if old > new {
        return Err(MerkleError::SizeOrder { old, new });
    }
    let mut ranges = Vec::new();
    if old > 0 && old < new {
        consistency_ranges(old, 0, new, true, &mut ranges);
    }
    Ok(ranges)
}

fn tiles_for(ranges: &[(u64, u64)], size: u64) -> Vec<Tile> {
    let mut nodes = Vec::new();
    for &(lo, hi) in ranges {
        decompose(lo, hi, &mut nodes);
    }
    let mut tiles: Vec<Tile> = nodes.into_iter().map(|n| tile_for(n, size)).collect();
    tiles.sort();
    tiles.dedup();
    tiles
}

/// Level-0 tile `n` (`Hashes(0)` or `Entries`) as wide as the tree of
/// `size` leaves makes it: full, or the partial right edge; an error when
/// the tree does not reach it.
pub fn level0_tile(kind: TileKind, n: u64, size: u64) -> Result<Tile, TileError> {
    let first = n.checked_mul(TILE_WIDTH).ok_or(TileError::Range)?;
    let width = size.saturating_sub(first).min(TILE_WIDTH);
    Tile::new(kind, n, u16::try_from(width).map_err(|_| TileError::Range)?)
}

/// The entries of an entry bundle (each a big-endian uint16 length and the
/// entry's bytes); `None` unless the bundle splits exactly into `count`
/// entries (nothing left over, nothing cut short).
pub fn split_entry_bundle(bundle: &[u8], count: usize) -> Option<Vec<&[u8]>> {
    let mut out = Vec::with_capacity(count.min(256));
    let mut rest = bundle;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len || out.len() == count {
            return None;
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        rest = tail;
    }
    (out.len() == count).then_some(out)
}

/// The hash tiles (for tree `size`) that hold every hash of the inclusion
/// proof of leaf `index`, sorted, each once.
pub fn tiles_for_inclusion(index: u64, size: u64) -> Result<Vec<Tile>, MerkleError> {
    Ok(tiles_for(&inclusion_plan(index, size)?, size))
}

/// The hash tiles (for tree `new`) that hold every hash of the consistency
/// proof from size `old` to size `new`, sorted, each once.
pub fn tiles_for_consistency(old: u64, new: u64) -> Result<Vec<Tile>, MerkleError> {
    Ok(tiles_for(&consistency_plan(old, new)?, new))
}

/// The inclusion proof of leaf `index` in the tree of `size`, from tiles.
pub fn inclusion_proof<R: TileReader>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TileError<R::Error>> {
    prove(reader, &inclusion_plan(index, size)?, size)
}

/// The consistency proof from `old` to `new` leaves, from tiles.
pub fn consistency_proof<R: TileReader>(
    reader: &R,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, TileError<R::Error>> {
    prove(reader, &consistency_plan(old, new)?, new)
}

fn prove<R: TileReader>(
    reader: &R,
    ranges: &[(u64, u64)],
    size: u64,
) -> Result<Vec<Hash>, TileError<R::Error>> {
    let mut proof = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let mut nodes = Vec::new();
        decompose(lo, hi, &mut nodes);
        let mut hashes = Vec::with_capacity(nodes.len());
        for node in nodes {
            hashes.push(node_hash(reader, node, size)?);
        }
        // MTH of [lo, hi) folds its complete subtrees from the right.
        let last = hashes
            .pop()
            .ok_or(TileError::Merkle(MerkleError::ProofLength))?;
        proof.push(
            hashes
                .iter()
                .rev()
                .fold(last, |acc, h| merkle::node_hash(h, &acc)),
        );
    }
    Ok(proof)
}

/// The hash of a complete subtree, from its tile.
fn node_hash<R: TileReader>(
    reader: &R,
    node: Node,
    size: u64,
) -> Result<Hash, TileError<R::Error>> {
    let tile = tile_for(node, size);
    let bytes = reader.read_tile(&tile).map_err(TileError::Reader)?;
    if bytes.len() != usize::from(tile.width) * HASH_LEN {
        return Err(TileError::TileLength);
    }
    let level_height = node.height - node.height / TILE_HEIGHT * TILE_HEIGHT;
    let first = (node.index << level_height) - tile.index * TILE_WIDTH;
    let (start, count) = (first as usize, 1usize << level_height);
    let span = bytes.get(start * HASH_LEN..(start + count) * HASH_LEN);
    let hashes: Vec<Hash> = span
        .ok_or(TileError::TileLength)?
        .chunks_exact(HASH_LEN)
        .filter_map(|c| <Hash>::try_from(c).ok())
        .collect();
    Ok(merkle::root(&hashes))
}

#[cfg(test)]
#[path = "tiles_tests.rs"]
mod tests;
