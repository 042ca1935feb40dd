//! Extending the transparency log. The host stores the log; only the enclave
//! signs tree heads, and it extends the log only from a state it can check:
//!
//! 1. the leaf is a COSE_Sign1 that this enclave's signing key made;
//! 2. the host's frontier hashes to the root of the head it sends, and that
//!    head carries this enclave's signature (so a restarted enclave whose ring
//!    was recovered accepts heads signed before the restart);
//! 3. the head is not older than the newest head this enclave has signed (no
//!    rollback), and a head of the same size has the same root (no fork); the
//!    one exception is re-appending the very leaf that produced the newest
//!    head to the state just before it, which yields the same (size, root):
//!    an idempotent retry for a host whose commit failed after we signed;
//! 4. with witnesses configured (a quorum k > 0, measured with the image),
//!    a non-empty log's state must come with the C2SP checkpoint of that very
//!    size and root, signed by this log's note key and cosigned by k of the
//!    configured witnesses; its `strongroom-ring` extension line must not
//!    name a ring version newer than the ring held here (a rolled-back ring);
//! 5. append, sign the new head (COSE, v1) and the new checkpoint (C2SP
//!    signed note, v2), remember it.
//!
//! Appends are serialized by the host (one transaction holding a row lock), so
//! several instances extend one linear log. What makes the log linear against
//! a hostile host is step 4 with the witnesses: a witness cosigns a checkpoint
//! only if it is consistent with the last one it cosigned, so of two heads of
//! one size (a fork, a restarted enclave handed an old state, two live
//! enclaves on one ring) at most one is ever cosigned, and the other can
//! neither be extended here nor verified by a client that asks for the quorum.

use std::sync::Mutex;

use p256::ecdsa::VerifyingKey;
use strongroom_formats::c2sp::checkpoint::{Checkpoint, SignedCheckpoint};
use strongroom_formats::c2sp::cosignature::WitnessPolicy;
use strongroom_formats::c2sp::note::NoteSigner;
use strongroom_protocol::merkle::{Frontier, Hash, leaf_hash};
use strongroom_protocol::messages::{AppendLogRequest, LogAppended};
use strongroom_protocol::tlog::{TREE_HASH_LEN, TreeHead};
use strongroom_verifier::cose::verify_es256;

/// Why an append was refused. All of them cross the wire as
/// `log_state_invalid`; the variant is for the enclave's own log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The leaf is not a result signed by this enclave.
    #[error("leaf is not signed by this enclave")]
    LeafNotOurs,
    /// Frontier hashes have the wrong count or length.
    #[error("frontier has the wrong shape")]
    BadFrontier,
    /// A non-empty log came without a head, or the empty log with one.
    #[error("tree head missing or unexpected")]
    HeadMissing,
    /// The head is not signed by this enclave or does not decode.
    #[error("tree head does not verify")]
    HeadInvalid,
    /// The frontier does not hash to the head's root, or sizes differ.
    #[error("frontier does not match the tree head")]
    HeadMismatch,
    /// Older than the newest head signed here, or a fork of it.
    #[error("tree head is stale or forked")]
    Stale,
    /// The log cannot grow further.
    #[error("log is full")]
    Full,
    /// Witnesses are configured and the state came without a checkpoint of
    /// its size and root signed by this log, or with fewer cosignatures than
    /// the quorum.
    #[error("log state is not cosigned by the witness quorum")]
    NotWitnessed,
    /// The cosigned checkpoint names a newer ring version than the one held:
    /// the host brought back an older sealed ring.
    #[error("key ring is older than the log's")]
    RingRolledBack,
    /// The leaf is a result of a credential in this ring's revoked set (an
    /// instance that computed it before it reloaded the ring).
    #[error("the result's credential was revoked by its owner")]
    CredentialRevoked,
}

/// Prefix of the checkpoint extension line naming the ring version.
pub const RING_LINE_PREFIX: &str = "strongroom-ring ";

/// The ring version a checkpoint's `strongroom-ring` line names, if any.
pub fn ring_version_of(cp: &Checkpoint) -> Option<u64> {
    cp.extensions()
        .iter()
        .find_map(|l| l.strip_prefix(RING_LINE_PREFIX))
        .and_then(|v| v.parse().ok())
}

/// The newest head this enclave signed: (size, root); and the witnesses
/// whose quorum a log state needs.
#[derive(Debug)]
pub(crate) struct LogSigner {
    newest: Mutex<Option<(u64, Hash)>>,
    witnesses: WitnessPolicy,
}

impl Default for LogSigner {
    fn default() -> Self {
        Self::new()
    }
}

/// The keys a log operation uses.
pub(crate) struct LogKeys<'a> {
    /// The result-signing key's public half: leaves and old heads must verify under it.
    pub verifying: &'a VerifyingKey,
    /// Signs a payload as COSE_Sign1 ES256 with the given key id.
    pub sign: &'a dyn Fn(&[u8], &str) -> Vec<u8>,
    /// Key id written into the head and its COSE header.
    pub key_id: &'a str,
    /// The log's note key (named by the origin): signs checkpoints.
    pub note: &'a NoteSigner,
    /// The held ring's version, written into every checkpoint.
    pub ring_version: u64,
}

impl LogSigner {
    /// A signer that has signed nothing yet, without witnesses.
    pub fn new() -> Self {
        Self::with_witnesses(WitnessPolicy::danger_no_witnesses())
    }

    /// A signer whose log states need `witnesses`' quorum.
    pub fn with_witnesses(witnesses: WitnessPolicy) -> Self {
        Self {
            newest: Mutex::new(None),
            witnesses,
        }
    }

    /// How many witness cosignatures a log state needs.
    pub fn quorum(&self) -> usize {
        self.witnesses.threshold()
    }

    /// Checks the host's state and appends `req.leaf`; see the module docs.
    pub fn append(
        &self,
        req: &AppendLogRequest,
        keys: &LogKeys<'_>,
        now_rfc3339: &str,
    ) -> Result<LogAppended, LogError> {
        let ours = keys.verifying;
        verify_es256(&req.leaf, ours, None).map_err(|_| LogError::LeafNotOurs)?;
        let mut frontier = checked_frontier(req)?;
        let current_root = frontier.root();
        check_head(req, ours, &current_root)?;
        self.check_witnessed(req, keys, &current_root)?;
        frontier
            .append(leaf_hash(&req.leaf))
            .map_err(|_| LogError::Full)?;
        let (new_size, new_root) = (frontier.size(), frontier.root());
        let mut newest = self.newest.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((size, root)) = *newest {
            // Older than the newest signed head, or a different tree at its
            // size, is a rollback or fork. Re-appending the same leaf to the
            // same state (the host's commit failed after we signed) yields the
            // same (size, root) and is answered again: an idempotent retry.
            let fork_at_tip = req.tree_size == size && current_root != root;
            let rollback = new_size < size;
            let fork_next = new_size == size && new_root != root;
            if fork_at_tip || rollback || fork_next {
                return Err(LogError::Stale);
            }
        }
        let head = TreeHead {
            size: frontier.size(),
            root: frontier.root().to_vec(),
            time: now_rfc3339.to_owned(),
            key_id: keys.key_id.to_owned(),
        };
        let payload = head.to_cbor().map_err(|_| LogError::HeadInvalid)?;
        let signed = (keys.sign)(&payload, keys.key_id);
        let checkpoint = sign_checkpoint(keys, new_size, new_root)?;
        *newest = Some((new_size, new_root));
        Ok(LogAppended {
            leaf_index: req.tree_size,
            tree_size: frontier.size(),
            tree_head: signed,
            checkpoint,
            witness_quorum: u32::try_from(self.quorum()).unwrap_or(u32::MAX),
        })
    }

    /// Step 4 of the module docs. A checkpoint sent without witnesses
    /// configured is still checked (signature, size, root, ring version).
    fn check_witnessed(
        &self,
        req: &AppendLogRequest,
        keys: &LogKeys<'_>,
        root: &Hash,
    ) -> Result<(), LogError> {
        let needed = self.quorum() > 0 && req.tree_size > 0;
        let Some(text) = req.checkpoint.as_deref() else {
            return if needed {
                Err(LogError::NotWitnessed)
            } else {
                Ok(())
            };
        };
        let signed =
            SignedCheckpoint::parse(text.as_bytes()).map_err(|_| LogError::NotWitnessed)?;
        let vkey = keys.note.verifier_key();
        let cp = signed
            .verify_log(vkey.name(), &vkey)
            .map_err(|_| LogError::NotWitnessed)?;
        if cp.size() != req.tree_size || cp.root_hash() != root {
            return Err(LogError::NotWitnessed);
        }
        if ring_version_of(cp).is_some_and(|v| v > keys.ring_version) {
            return Err(LogError::RingRolledBack);
        }
        if needed {
            self.witnesses
                .check_quorum(signed.note())
                .map_err(|_| LogError::NotWitnessed)?;
        }
        Ok(())
    }
}

/// The C2SP checkpoint of (`size`, `root`) under the log's origin, with the
/// ring version line, signed by the note key: the signed note's text.
fn sign_checkpoint(keys: &LogKeys<'_>, size: u64, root: Hash) -> Result<String, LogError> {
    let origin = keys.note.verifier_key().name().to_owned();
    let ring = format!("{RING_LINE_PREFIX}{}", keys.ring_version);
    let cp = Checkpoint::new(&origin, size, root, vec![ring]).map_err(|_| LogError::HeadInvalid)?;
    let mut signed = SignedCheckpoint::new(cp).map_err(|_| LogError::HeadInvalid)?;
    keys.note
        .sign(signed.note_mut())
        .map_err(|_| LogError::HeadInvalid)?;
    Ok(signed.format())
}

fn checked_frontier(req: &AppendLogRequest) -> Result<Frontier, LogError> {
    let hashes = req
        .frontier
        .iter()
        .map(|h| <Hash>::try_from(h.as_slice()).map_err(|_| LogError::BadFrontier))
        .collect::<Result<Vec<Hash>, _>>()?;
    Frontier::from_parts(req.tree_size, hashes).map_err(|_| LogError::BadFrontier)
}

fn check_head(req: &AppendLogRequest, ours: &VerifyingKey, root: &Hash) -> Result<(), LogError> {
    match (&req.head, req.tree_size) {
        (None, 0) => Ok(()),
        (None, _) | (Some(_), 0) => Err(LogError::HeadMissing),
        (Some(head), size) => {
            let payload = verify_es256(head, ours, None).map_err(|_| LogError::HeadInvalid)?;
            let head = TreeHead::from_cbor(&payload).map_err(|_| LogError::HeadInvalid)?;
            if head.size != size || head.root.len() != TREE_HASH_LEN || head.root != root[..] {
                return Err(LogError::HeadMismatch);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
#[path = "tlog_tests.rs"]
mod tests;
