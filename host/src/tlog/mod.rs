//! Transparency-log storage (DESIGN.md "Transparency log"). The host stores
//! the log; only the enclave signs tree heads. An append runs in one
//! transaction that holds the single `transparency_state` row locked
//! (`SELECT ... FOR UPDATE`) while the enclave checks the state and signs the
//! next head, so host instances sharing a database extend one linear log.
//!
//! The host re-derives everything it stores from the leaf and the old state:
//! the enclave's answer must name the expected index and size and its head
//! must carry the root the host computed, or nothing is stored.

pub mod merkle;
pub mod tiles;

use strongroom_formats::cose::Sign1;
use strongroom_protocol::messages::{AppendLogRequest, LogAppended};
use strongroom_protocol::tlog::TreeHead;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::store;
use merkle::Hash;

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlogError {
    /// A statement failed.
    #[error("database query failed: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// Stored state does not have the expected shape (a bug or tampering).
    #[error("stored log state is inconsistent")]
    Corrupt,
    /// The enclave's answer does not extend the state the host sent.
    #[error("enclave answer does not match the expected log state")]
    Mismatch,
    /// A leaf is longer than an entry bundle can carry (65,535 bytes).
    #[error("a log entry is too large for an entry bundle")]
    EntryTooLarge,
}

/// The locked state an append starts from.
#[derive(Debug, Clone)]
pub struct LogState {
    /// Leaves in the log.
    pub size: u64,
    /// Right-edge subtree roots, largest first.
    pub frontier: Vec<Hash>,
    /// Newest signed head (None only for the empty log).
    pub head: Option<Vec<u8>>,
}

impl LogState {
    /// The `AppendLog` request that adds `leaf` to this state.
    pub fn append_request(&self, leaf: Vec<u8>) -> AppendLogRequest {
        AppendLogRequest {
            leaf,
            tree_size: self.size,
            frontier: self
                .frontier
                .iter()
                .map(|h| serde_bytes::ByteBuf::from(h.to_vec()))
                .collect(),
            head: self.head.clone(),
        }
    }
}

/// What an append stored.
#[derive(Debug, Clone)]
pub struct Appended {
    /// Index of the new leaf.
    pub leaf_index: u64,
    /// New tree size.
    pub tree_size: u64,
    /// The new signed head.
    pub tree_head: Vec<u8>,
    /// Audit path of the new leaf in the new tree.
    pub inclusion_proof: Vec<Hash>,
}

fn to_i64(v: u64) -> Result<i64, TlogError> {
    i64::try_from(v).map_err(|_| TlogError::Corrupt)
}

fn split_hashes(bytes: &[u8]) -> Result<Vec<Hash>, TlogError> {
    if !bytes.len().is_multiple_of(32) {
        return Err(TlogError::Corrupt);
    }
    bytes
        .chunks_exact(32)
        .map(|c| Hash::try_from(c).map_err(|_| TlogError::Corrupt))
        .collect()
}

/// Locks and reads the state row; hold the transaction until the append is stored.
/// Statements come from the pooled connection's statement cache.
pub async fn lock_state<C: deadpool_postgres::GenericClient>(
    tx: &C,
) -> Result<LogState, TlogError> {
    let (size, frontier, head) = store::log::lock_state(tx).await?;
    let size = u64::try_from(size).map_err(|_| TlogError::Corrupt)?;
    let frontier = split_hashes(&frontier)?;
    if frontier.len() != size.count_ones() as usize {
        return Err(TlogError::Corrupt);
    }
    Ok(LogState {
        size,
        frontier,
        head,
    })
}

/// Checks the enclave's answer against `state` + `leaf` and stores leaf, head
/// and the new state. Call inside the transaction that holds the lock.
pub async fn record_append<C: deadpool_postgres::GenericClient>(
    tx: &C,
    state: &LogState,
    leaf: &[u8],
    aggregate: Uuid,
    answer: LogAppended,
) -> Result<Appended, TlogError> {
    let leaf_hash = merkle::leaf_hash(leaf);
    let mut next = merkle::Frontier::from_parts(state.size, state.frontier.clone())
        .map_err(|_| TlogError::Corrupt)?;
    next.append(leaf_hash).map_err(|_| TlogError::Corrupt)?;
    let (frontier, root) = (next.hashes().to_vec(), next.root());
    let new_size = state.size.checked_add(1).ok_or(TlogError::Corrupt)?;
    let head = Sign1::payload_of(&answer.tree_head)
        .ok()
        .and_then(|p| TreeHead::from_cbor(&p).ok())
        .ok_or(TlogError::Mismatch)?;
    if answer.leaf_index != state.size
        || answer.tree_size != new_size
        || head.size != new_size
        || head.root != root
    {
        return Err(TlogError::Mismatch);
    }
    let frontier = frontier.concat();
    let tiles = tiles::appends(state.size, &state.frontier, leaf_hash)?;
    let row = store::log::AppendRow {
        leaf_index: to_i64(state.size)?,
        leaf_hash: &leaf_hash,
        aggregate,
        tree_size: to_i64(new_size)?,
        root: &root,
        head: &answer.tree_head,
        frontier: &frontier,
        tiles: &tiles,
    };
    let tiled = store::log::record_append(tx, &row).await?;
    // Every tile took its hash, or they are out of step with the log (a host
    // from before V10 appended): the transaction is dropped, nothing stored.
    if usize::try_from(tiled).ok() != Some(tiles.levels.len()) {
        tracing::warn!("log tiles out of step with the log; restart a host to rebuild them");
        return Err(TlogError::Corrupt);
    }
    // The new leaf's audit path is the old frontier, smallest subtree first.
    let inclusion_proof = state.frontier.iter().rev().copied().collect();
    Ok(Appended {
        leaf_index: state.size,
        tree_size: new_size,
        tree_head: answer.tree_head,
        inclusion_proof,
    })
}

/// The newest head: `(size, head)`, None for the empty log.
pub async fn current_head<C: GenericClient + Sync>(
    db: &C,
) -> Result<Option<(u64, Vec<u8>)>, TlogError> {
    let (size, head) = store::log::current_head(db).await?;
    let size = u64::try_from(size).map_err(|_| TlogError::Corrupt)?;
    Ok(head.map(|head| (size, head)))
}

/// The signed head of the tree of `size` leaves.
pub async fn head_at<C: GenericClient + Sync>(
    db: &C,
    size: u64,
) -> Result<Option<Vec<u8>>, TlogError> {
    Ok(store::log::head_at(db, to_i64(size)?).await?)
}
