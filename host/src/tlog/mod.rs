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

use strongroom_formats::c2sp::checkpoint::SignedCheckpoint;
use strongroom_formats::c2sp::proof::TlogProof;
use strongroom_formats::c2sp::witness::AddCheckpoint;
use strongroom_formats::cose::Sign1;
use strongroom_protocol::messages::{AppendLogRequest, LogAppended};
use strongroom_protocol::tlog::TreeHead;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::store;
use crate::witness::{WitnessError, Witnesses};
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
    /// The newest checkpoint lacks the enclave's witness quorum.
    #[error("checkpoint not cosigned by the witness quorum ({got} of {need})")]
    NotCosigned {
        /// Distinct witnesses that cosigned.
        got: usize,
        /// The quorum.
        need: usize,
    },
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
    /// Newest checkpoint with the cosignatures collected so far.
    pub checkpoint: Option<String>,
    /// Whether `checkpoint` has the quorum.
    pub cosigned: bool,
    /// The quorum the enclave named with it.
    pub witness_quorum: usize,
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
            checkpoint: self.checkpoint.clone(),
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

/// A cosigned checkpoint and the proof of one leaf in it.
#[derive(Debug, Clone)]
pub struct Witnessed {
    /// The checkpoint (signed note: the log's signature and the cosignatures).
    pub checkpoint: String,
    /// `c2sp.org/tlog-proof@v1` of the leaf in that checkpoint.
    pub tlog_proof: String,
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
    let row = store::log::lock_state(tx).await?;
    let size = u64::try_from(row.tree_size).map_err(|_| TlogError::Corrupt)?;
    let frontier = split_hashes(&row.frontier)?;
    if frontier.len() != size.count_ones() as usize {
        return Err(TlogError::Corrupt);
    }
    Ok(LogState {
        size,
        frontier,
        head: row.head,
        checkpoint: row.checkpoint,
        cosigned: row.cosigned,
        witness_quorum: usize::try_from(row.witness_quorum).map_err(|_| TlogError::Corrupt)?,
    })
}

/// Checks the enclave's answer against `state` + `leaf` and stores leaf, head
/// and the new state. Call inside the transaction that holds the lock.
/// `aggregate` names the stored result the leaf is; `None` stores the leaf's
/// bytes in the log row itself (a revocation entry).
pub async fn record_append<C: deadpool_postgres::GenericClient>(
    tx: &C,
    state: &LogState,
    leaf: &[u8],
    aggregate: Option<Uuid>,
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
    let checkpoint =
        SignedCheckpoint::parse(answer.checkpoint.as_bytes()).map_err(|_| TlogError::Mismatch)?;
    if answer.leaf_index != state.size
        || answer.tree_size != new_size
        || head.size != new_size
        || head.root != root
        || checkpoint.checkpoint().size() != new_size
        || checkpoint.checkpoint().root_hash() != &root
    {
        return Err(TlogError::Mismatch);
    }
    let frontier = frontier.concat();
    let quorum = i32::try_from(answer.witness_quorum).map_err(|_| TlogError::Mismatch)?;
    let tiles = tiles::appends(state.size, &state.frontier, leaf_hash)?;
    let row = store::log::AppendRow {
        leaf_index: to_i64(state.size)?,
        leaf_hash: &leaf_hash,
        aggregate,
        entry: aggregate.is_none().then_some(leaf),
        tree_size: to_i64(new_size)?,
        root: &root,
        head: &answer.tree_head,
        frontier: &frontier,
        checkpoint: &answer.checkpoint,
        cosigned: quorum == 0,
        witness_quorum: quorum,
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

/// Brings the locked state's newest checkpoint to its witness quorum: each
/// witness gets `add-checkpoint` from the size it last cosigned (as last
/// heard; a 409 names the right one and is retried once), with the
/// consistency proof; the cosignature lines are added to the note, stored
/// and the state marked cosigned once `witness_quorum` distinct witnesses
/// cosigned. Call inside a transaction holding the state row; commit it even
/// when the quorum is not met (the cosignatures collected are kept).
pub async fn cosign<C: GenericClient + Sync>(
    tx: &C,
    witnesses: &Witnesses,
    state: &mut LogState,
) -> Result<(), TlogError> {
    let Some(text) = state.checkpoint.clone() else {
        return Ok(());
    };
    if state.cosigned {
        return Ok(());
    }
    let mut signed = SignedCheckpoint::parse(text.as_bytes()).map_err(|_| TlogError::Corrupt)?;
    let size = state.size;
    let mut pending = Vec::new();
    for url in witnesses.urls() {
        let old = store::log::witness_size(tx, url.as_str()).await?;
        let old = old.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
        pending.push((url.clone(), old));
    }
    let mut got: Vec<String> = Vec::new();
    for round in 0..2 {
        let mut tasks = tokio::task::JoinSet::new();
        for (url, old) in pending.drain(..) {
            let req = add_request(tx, &signed, old).await?;
            let w = witnesses.clone();
            tasks.spawn(async move {
                let answer = w.add_checkpoint(&url, &req).await;
                (url, answer)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((url, answer)) = joined else { continue };
            match answer {
                Ok(lines) => {
                    for line in lines {
                        let known = signed
                            .note()
                            .signatures()
                            .iter()
                            .any(|s| s.name() == line.name() && s.key_id() == line.key_id());
                        if !known {
                            got.push(line.name().to_owned());
                            signed
                                .note_mut()
                                .add_signature(line)
                                .map_err(|_| TlogError::Corrupt)?;
                        }
                    }
                    store::log::set_witness_size(tx, url.as_str(), to_i64(size)?).await?;
                }
                Err(WitnessError::Conflict(at)) if round == 0 && at <= size => {
                    pending.push((url, at));
                }
                Err(e) => {
                    tracing::warn!(witness = url.as_str(), error = %e, size, "no cosignature");
                }
            }
        }
        if pending.is_empty() {
            break;
        }
    }
    // Distinct cosigners on the note (the log's own line is not one).
    let log_name = signed.checkpoint().origin().to_owned();
    let mut names: Vec<&str> = signed
        .note()
        .signatures()
        .iter()
        .map(|s| s.name())
        .filter(|n| *n != log_name)
        .collect();
    names.sort_unstable();
    names.dedup();
    let have = names.len();
    let done = have >= state.witness_quorum;
    let text = signed.format();
    store::log::record_cosigned(tx, to_i64(size)?, &text, done).await?;
    state.checkpoint = Some(text);
    state.cosigned = done;
    if !done {
        return Err(TlogError::NotCosigned {
            got: have,
            need: state.witness_quorum,
        });
    }
    Ok(())
}

/// The `add-checkpoint` body for a witness at `old`: the consistency proof
/// from tiles (O(log n) rows).
async fn add_request<C: GenericClient + Sync>(
    db: &C,
    signed: &SignedCheckpoint,
    old: u64,
) -> Result<AddCheckpoint, TlogError> {
    let size = signed.checkpoint().size();
    let proof = if old == 0 || old >= size {
        Vec::new()
    } else {
        tiles::consistency_proof(db, old, size).await?.hashes
    };
    Ok(AddCheckpoint {
        old_size: old,
        proof,
        checkpoint: signed.clone(),
    })
}

/// The `c2sp.org/tlog-proof@v1` of leaf `index` in the cosigned checkpoint
/// `checkpoint` (whose size is `index + 1` or more).
pub async fn tlog_proof<C: GenericClient + Sync>(
    db: &C,
    index: u64,
    checkpoint: &str,
) -> Result<String, TlogError> {
    let signed = SignedCheckpoint::parse(checkpoint.as_bytes()).map_err(|_| TlogError::Corrupt)?;
    let size = signed.checkpoint().size();
    let (_, inclusion) = tiles::inclusion_proof(db, index, size).await?;
    let proof =
        TlogProof::new(None, index, inclusion.hashes, signed).map_err(|_| TlogError::Corrupt)?;
    Ok(proof.format())
}

/// The checkpoint stored with the head of `size` (cosignatures included).
pub async fn checkpoint_at<C: GenericClient + Sync>(
    db: &C,
    size: u64,
) -> Result<Option<String>, TlogError> {
    Ok(store::log::checkpoint_at(db, to_i64(size)?).await?)
}

/// The newest checkpoint with its quorum: `(size, note)`.
pub async fn cosigned_checkpoint<C: GenericClient + Sync>(
    db: &C,
) -> Result<Option<(u64, String)>, TlogError> {
    let row = store::log::cosigned_checkpoint(db).await?;
    row.map(|(size, text)| Ok((u64::try_from(size).map_err(|_| TlogError::Corrupt)?, text)))
        .transpose()
}
