//! `c2sp.org/tlog-proof@v1`: an offline-verifiable proof that an entry is
//! in a log, as a checkpoint seen by witnesses: header, optional `extra`
//! line, `index`, the inclusion proof (one base64 hash a line), a blank
//! line, then the signed checkpoint verbatim.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::checkpoint::{CheckpointError, SignedCheckpoint, parse_decimal, parse_hash};
use super::cosignature::{CosignatureError, WitnessCosignature, WitnessPolicy};
use super::note::{MAX_NOTE_LEN, VerifierKey};
use crate::merkle::{self, Hash, MAX_PROOF_LEN, MerkleError};

/// The first line of every proof.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Largest `extra` data, in bytes (decoded).
pub const MAX_EXTRA_LEN: usize = 4096;

/// Largest proof accepted, in bytes: the checkpoint note, the longest
/// inclusion proof, the extra line and the header/index lines.
pub const MAX_TLOG_PROOF_LEN: usize =
    MAX_NOTE_LEN + MAX_PROOF_LEN * 45 + MAX_EXTRA_LEN * 4 / 3 + 128;

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The proof is longer than [`MAX_TLOG_PROOF_LEN`].
    #[error("proof is longer than {MAX_TLOG_PROOF_LEN} bytes")]
    TooLong,
    /// Bad header, extra, index or hash line, or no blank line.
    #[error("malformed tlog proof")]
    Malformed,
    /// The checkpoint (or its note) was refused, or not signed by the log.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The witness quorum was not met.
    #[error(transparent)]
    Cosignature(#[from] CosignatureError),
    /// The inclusion proof does not lead to the checkpoint's root.
    #[error(transparent)]
    Inclusion(#[from] MerkleError),
}

/// What a verifier trusts: the log's origin and key, and its witnesses.
#[derive(Debug, Clone)]
pub struct LogPolicy {
    /// The checkpoint origin line expected.
    pub origin: String,
    /// The log's Ed25519 note key (type 0x01).
    pub log_key: VerifierKey,
    /// The witnesses and the quorum.
    pub witnesses: WitnessPolicy,
}

/// A parsed `tlog-proof@v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    inclusion: Vec<Hash>,
    checkpoint: SignedCheckpoint,
}

/// A proof that verified: the checkpoint's size and root, and the witnesses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The entry's index.
    pub index: u64,
    /// The tree size of the checkpoint.
    pub tree_size: u64,
    /// The root hash of the checkpoint.
    pub root_hash: Hash,
    /// The valid witness cosignatures (at least the policy threshold).
    pub cosignatures: Vec<WitnessCosignature>,
}

impl TlogProof {
    /// A proof; `inclusion` at most [`MAX_PROOF_LEN`] hashes, `extra` at
    /// most [`MAX_EXTRA_LEN`] bytes.
    pub fn new(
        extra: Option<Vec<u8>>,
        index: u64,
        inclusion: Vec<Hash>,
        checkpoint: SignedCheckpoint,
    ) -> Result<Self, ProofError> {
        let extra_ok = extra.as_ref().is_none_or(|e| e.len() <= MAX_EXTRA_LEN);
        if !extra_ok || inclusion.len() > MAX_PROOF_LEN {
            return Err(ProofError::TooLong);
        }
        Ok(Self {
            extra,
            index,
            inclusion,
            checkpoint,
        })
    }

    /// Parses a proof. Nothing is verified.
    pub fn parse(bytes: &[u8]) -> Result<Self, ProofError> {
        if bytes.len() > MAX_TLOG_PROOF_LEN {
            return Err(ProofError::TooLong);
        }
        let s = std::str::from_utf8(bytes).map_err(|_| ProofError::Malformed)?;
        let (head, checkpoint) = s.split_once("\n\n").ok_or(ProofError::Malformed)?;
        let mut lines = head.split('\n');
        if lines.next() != Some(PROOF_HEADER) {
            return Err(ProofError::Malformed);
        }
        let mut line = lines.next().ok_or(ProofError::Malformed)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(parse_extra(b64)?);
            line = lines.next().ok_or(ProofError::Malformed)?;
        }
        let index = line.strip_prefix("index ").and_then(parse_decimal);
        let index = index.ok_or(ProofError::Malformed)?;
        let mut inclusion = Vec::new();
        for line in lines {
            if inclusion.len() == MAX_PROOF_LEN {
                return Err(ProofError::TooLong);
            }
            inclusion.push(parse_hash(line).map_err(|_| ProofError::Malformed)?);
        }
        let checkpoint = SignedCheckpoint::parse(checkpoint.as_bytes())?;
        Self::new(extra, index, inclusion, checkpoint)
    }

    /// The proof as text.
    pub fn format(&self) -> String {
        let mut out = format!("{PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.inclusion {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint.format());
        out
    }

    /// The extra data (unauthenticated: never trust it implicitly).
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The entry's index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion proof, from the leaf's sibling up.
    pub fn inclusion(&self) -> &[Hash] {
        &self.inclusion
    }

    /// The signed checkpoint.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// Verifies the proof for `entry` (the logged bytes; leaf hash per RFC
    /// 9162): the spec's steps 2-4 with step 1 as [`merkle::leaf_hash`].
    pub fn verify(&self, entry: &[u8], policy: &LogPolicy) -> Result<VerifiedProof, ProofError> {
        self.verify_leaf_hash(&merkle::leaf_hash(entry), policy)
    }

    /// Verifies the proof for a leaf hash computed by the application:
    /// origin and log signature, witness quorum, inclusion in the root.
    pub fn verify_leaf_hash(
        &self,
        leaf: &Hash,
        policy: &LogPolicy,
    ) -> Result<VerifiedProof, ProofError> {
        let cp = self
            .checkpoint
            .verify_log(&policy.origin, &policy.log_key)?;
        let cosignatures = policy.witnesses.check_quorum(self.checkpoint.note())?;
        merkle::verify_inclusion(leaf, self.index, cp.size(), &self.inclusion, cp.root_hash())?;
        Ok(VerifiedProof {
            index: self.index,
            tree_size: cp.size(),
            root_hash: *cp.root_hash(),
            cosignatures,
        })
    }
}

fn parse_extra(b64: &str) -> Result<Vec<u8>, ProofError> {
    if b64.len() > MAX_EXTRA_LEN.div_ceil(3) * 4 {
        return Err(ProofError::TooLong);
    }
    B64.decode(b64).map_err(|_| ProofError::Malformed)
}

#[cfg(test)]
#[path = "proof_tests.rs"]
mod tests;
