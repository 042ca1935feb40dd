//! `c2sp.org/tlog-witness` `add-checkpoint` messages: the request body a log
//! sends a witness (old size line, consistency proof lines, blank line,
//! signed checkpoint) and the witness's answers (cosignature lines; the
//! `text/x.tlog.size` body of a 409). Parsing is bounded and exact: one
//! encoding per message, nothing after the checkpoint note.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::checkpoint::{CheckpointError, SignedCheckpoint, parse_decimal, parse_hash};
use super::note::{MAX_NOTE_LEN, NoteError, NoteSignature};
use crate::merkle::Hash;

/// The spec's limit on consistency proof lines.
pub const MAX_CONSISTENCY_LINES: usize = 63;

/// Largest `add-checkpoint` body: the old size line, 63 proof lines of 45
/// bytes, the blank line and the checkpoint note.
pub const MAX_ADD_CHECKPOINT_LEN: usize = 4 + 21 + MAX_CONSISTENCY_LINES * 45 + 1 + MAX_NOTE_LEN;

/// Largest witness answer read: a handful of cosignature lines.
pub const MAX_COSIGNATURE_ANSWER_LEN: usize = 8 * 1024;

/// The media type of a 409 answer's body.
pub const TLOG_SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// Why an `add-checkpoint` body or answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessMessageError {
    /// Longer than the message's limit.
    #[error("message is too long")]
    TooLong,
    /// Bad old size line, proof line, missing blank line, or not UTF-8.
    #[error("malformed add-checkpoint message")]
    Malformed,
    /// More than [`MAX_CONSISTENCY_LINES`] proof lines.
    #[error("more than {MAX_CONSISTENCY_LINES} consistency proof lines")]
    TooManyProofLines,
    /// The checkpoint note is not a valid signed checkpoint.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A cosignature line is malformed.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// An `add-checkpoint` request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the log believes the witness last cosigned.
    pub old_size: u64,
    /// The RFC 6962 consistency proof from `old_size` to the checkpoint.
    pub proof: Vec<Hash>,
    /// The signed checkpoint.
    pub checkpoint: SignedCheckpoint,
}

impl AddCheckpoint {
    /// Parses a request body.
    pub fn parse(body: &[u8]) -> Result<Self, WitnessMessageError> {
        if body.len() > MAX_ADD_CHECKPOINT_LEN {
            return Err(WitnessMessageError::TooLong);
        }
        let text = std::str::from_utf8(body).map_err(|_| WitnessMessageError::Malformed)?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or(WitnessMessageError::Malformed)?;
        let mut lines = head.split('\n');
        let old_size = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(parse_decimal)
            .ok_or(WitnessMessageError::Malformed)?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_CONSISTENCY_LINES {
                return Err(WitnessMessageError::TooManyProofLines);
            }
            proof.push(parse_hash(line).map_err(|_| WitnessMessageError::Malformed)?);
        }
        let checkpoint = SignedCheckpoint::parse(note.as_bytes())?;
        Ok(Self {
            old_size,
            proof,
            checkpoint,
        })
    }

    /// The request body (the one encoding [`AddCheckpoint::parse`] accepts).
    pub fn format(&self) -> String {
        let mut out = format!("old {}\n", self.old_size);
        for h in &self.proof {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint.format());
        out
    }
}

/// Formats a 200 answer: the cosignature lines.
pub fn format_cosignatures(lines: &[NoteSignature]) -> String {
    lines.iter().map(NoteSignature::line).collect()
}

/// Parses a 200 answer: one or more signature lines, each ending in a newline.
pub fn parse_cosignatures(body: &[u8]) -> Result<Vec<NoteSignature>, WitnessMessageError> {
    if body.len() > MAX_COSIGNATURE_ANSWER_LEN {
        return Err(WitnessMessageError::TooLong);
    }
    let text = std::str::from_utf8(body).map_err(|_| WitnessMessageError::Malformed)?;
    let text = text
        .strip_suffix('\n')
        .ok_or(WitnessMessageError::Malformed)?;
    text.split('\n')
        .map(|l| NoteSignature::parse_line(l).map_err(Into::into))
        .collect()
}

/// Parses a 409 answer's body: the witness's recorded size and a newline.
pub fn parse_tlog_size(body: &[u8]) -> Result<u64, WitnessMessageError> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.strip_suffix('\n'))
        .filter(|s| s.len() <= 20)
        .and_then(parse_decimal)
        .ok_or(WitnessMessageError::Malformed)
}

#[cfg(test)]
#[path = "witness_tests.rs"]
mod tests;
