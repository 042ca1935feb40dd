//! The witness's decision, apart from storage and HTTP: tlog-witness
//! "add-checkpoint" rules in the order the spec gives them. Pure: the
//! recorded state comes in, a verdict goes out.

use strongroom_formats::c2sp::note::VerifierKey;
use strongroom_formats::c2sp::witness::AddCheckpoint;
use strongroom_formats::merkle::{self, Hash};

/// What the witness recorded for one origin: the latest checkpoint it
/// cosigned (size 0 and the empty root when it never cosigned one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Tree size of the latest cosigned checkpoint.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

impl Recorded {
    /// The state of an origin never cosigned.
    pub fn empty() -> Self {
        Self {
            size: 0,
            root: merkle::empty_root(),
        }
    }
}

/// Why a checkpoint is not cosigned, with the HTTP status the spec names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Malformed request (400).
    #[error("malformed add-checkpoint request")]
    Malformed,
    /// The origin is not one this witness follows (404).
    #[error("unknown log origin")]
    UnknownOrigin,
    /// No valid signature by a trusted key of the origin, or a trusted
    /// key's signature fails (403). One variant: nothing learned about why.
    #[error("checkpoint is not signed by the log")]
    BadSignature,
    /// The old size is larger than the checkpoint's (400).
    #[error("old size is larger than the checkpoint size")]
    OldSizeTooLarge,
    /// The old size is not the size last cosigned (409); carries that size.
    #[error("old size does not match the recorded size {recorded}")]
    Conflict {
        /// The size this witness last cosigned for the origin.
        recorded: u64,
    },
    /// The checkpoint is not consistent with the recorded one (422): a bad
    /// or unexpected proof, a different root at the same size, or a size-0
    /// checkpoint whose root is not the empty tree's.
    #[error("checkpoint is not consistent with the recorded one")]
    Inconsistent,
}

impl Refusal {
    /// The HTTP status of this refusal (tlog-witness, "add-checkpoint").
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed | Refusal::OldSizeTooLarge => 400,
            Refusal::BadSignature => 403,
            Refusal::UnknownOrigin => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::Inconsistent => 422,
        }
    }
}

/// The origin's trusted keys signed the checkpoint (404 / 403 otherwise).
/// Signatures by unknown keys are ignored, as the spec requires.
pub fn authenticate(req: &AddCheckpoint, keys: Option<&[VerifierKey]>) -> Result<(), Refusal> {
    let keys = keys
        .filter(|k| !k.is_empty())
        .ok_or(Refusal::UnknownOrigin)?;
    req.checkpoint
        .note()
        .verify(keys)
        .map(|_| ())
        .map_err(|_| Refusal::BadSignature)
}

/// The checkpoint extends `recorded` consistently (400 / 409 / 422 otherwise).
pub fn check_consistency(req: &AddCheckpoint, recorded: &Recorded) -> Result<(), Refusal> {
    let new = req.checkpoint.checkpoint();
    if req.old_size > new.size() {
        return Err(Refusal::OldSizeTooLarge);
    }
    if req.old_size != recorded.size {
        return Err(Refusal::Conflict {
            recorded: recorded.size,
        });
    }
    if new.size() == 0 && *new.root_hash() != merkle::empty_root() {
        return Err(Refusal::Inconsistent);
    }
    if req.old_size == 0 {
        return if req.proof.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Inconsistent)
        };
    }
    merkle::verify_consistency(
        req.old_size,
        new.size(),
        &recorded.root,
        new.root_hash(),
        &req.proof,
    )
    .map_err(|_| Refusal::Inconsistent)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
