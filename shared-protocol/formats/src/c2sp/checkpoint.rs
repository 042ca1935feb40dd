//! The body of a C2SP checkpoint (`c2sp.org/tlog-checkpoint`): origin line,
//! decimal tree size, base64 root hash, optional extension lines. The body
//! is the text of a signed note (see [`super::note`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::note::{KeyType, Note, NoteError, VerifierKey};
use crate::merkle::{HASH_LEN, Hash};

/// Longest checkpoint body, in bytes.
pub const MAX_CHECKPOINT_LEN: usize = 4096;

/// Longest origin line, in bytes (the ML-DSA-44 cosignature message stores
/// the origin with a one-byte length).
pub const MAX_ORIGIN_LEN: usize = 255;

/// Most extension lines accepted (the spec does not recommend any).
pub const MAX_EXTENSIONS: usize = 16;

/// Why a checkpoint body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The body is longer than [`MAX_CHECKPOINT_LEN`].
    #[error("checkpoint is longer than {MAX_CHECKPOINT_LEN} bytes")]
    TooLong,
    /// Fewer than three lines, an empty line, no final newline, a control
    /// character.
    #[error("malformed checkpoint")]
    Malformed,
    /// The origin is empty or longer than [`MAX_ORIGIN_LEN`].
    #[error("invalid origin line")]
    Origin,
    /// The size is not a decimal u64 without leading zeroes.
    #[error("invalid tree size line")]
    Size,
    /// The root hash is not the base64 of 32 bytes.
    #[error("invalid root hash line")]
    RootHash,
    /// More than [`MAX_EXTENSIONS`] extension lines.
    #[error("more than {MAX_EXTENSIONS} extension lines")]
    TooManyExtensions,
    /// The origin is not the one expected.
    #[error("unexpected checkpoint origin")]
    WrongOrigin,
    /// The signed note around the checkpoint was refused.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// A checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root_hash: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint; each line is checked as [`Self::parse`] would.
    pub fn new(
        origin: &str,
        size: u64,
        root_hash: Hash,
        extensions: Vec<String>,
    ) -> Result<Self, CheckpointError> {
        check_line(origin).map_err(|_| CheckpointError::Origin)?;
        if origin.len() > MAX_ORIGIN_LEN {
            return Err(CheckpointError::Origin);
        }
        if extensions.len() > MAX_EXTENSIONS {
            return Err(CheckpointError::TooManyExtensions);
        }
        for e in &extensions {
            check_line(e)?;
        }
        let cp = Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions,
        };
        if cp.format().len() > MAX_CHECKPOINT_LEN {
            return Err(CheckpointError::TooLong);
        }
        Ok(cp)
    }

    /// Parses a checkpoint body (a note's text, final newline included).
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        if text.len() > MAX_CHECKPOINT_LEN {
            return Err(CheckpointError::TooLong);
        }
        let body = text.strip_suffix('\n').ok_or(CheckpointError::Malformed)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::Malformed);
        };
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        Self::new(
            origin,
            parse_decimal(size).ok_or(CheckpointError::Size)?,
            parse_hash(root)?,
            extensions,
        )
    }

    /// The origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root_hash(&self) -> &Hash {
        &self.root_hash
    }

    /// The extension lines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The body: one line each, each ending in a newline.
    pub fn format(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root_hash)
        );
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        out
    }
}

/// A checkpoint with its signature lines (log signature, cosignatures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    note: Note,
    checkpoint: Checkpoint,
}

impl SignedCheckpoint {
    /// Parses a signed note whose text is a checkpoint. Nothing is verified.
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(Self { note, checkpoint })
    }

    /// An unsigned note over `checkpoint`, to sign and cosign.
    pub fn new(checkpoint: Checkpoint) -> Result<Self, CheckpointError> {
        let note = Note::new(&checkpoint.format())?;
        Ok(Self { note, checkpoint })
    }

    /// The signed note.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The signed note, to add signature lines.
    pub fn note_mut(&mut self) -> &mut Note {
        &mut self.note
    }

    /// The checkpoint body.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The whole signed note as text.
    pub fn format(&self) -> String {
        self.note.format()
    }

    /// Checks the origin is `origin` and that `log_key` (an Ed25519 note
    /// key, 0x01) signed the checkpoint; other signature lines are ignored.
    pub fn verify_log(
        &self,
        origin: &str,
        log_key: &VerifierKey,
    ) -> Result<&Checkpoint, CheckpointError> {
        if self.checkpoint.origin != origin {
            return Err(CheckpointError::WrongOrigin);
        }
        if log_key.kind() != KeyType::Ed25519 {
            return Err(NoteError::InvalidVerifierKey.into());
        }
        self.note.verify(std::slice::from_ref(log_key))?;
        Ok(&self.checkpoint)
    }
}

/// A checkpoint line: non-empty, no character below U+0020 (newline
/// included), as the signed-note rules say.
fn check_line(line: &str) -> Result<(), CheckpointError> {
    if line.is_empty() || line.chars().any(|c| c < ' ') {
        return Err(CheckpointError::Malformed);
    }
    Ok(())
}

/// ASCII decimal, no leading zeroes (except `0` itself), fits in a u64.
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return None;
    }
    s.parse().ok()
}

/// Standard base64 of exactly one hash (canonical padding and bits).
pub(crate) fn parse_hash(s: &str) -> Result<Hash, CheckpointError> {
    if s.len() != 44 {
        return Err(CheckpointError::RootHash);
    }
    let raw = B64.decode(s).map_err(|_| CheckpointError::RootHash)?;
    <[u8; HASH_LEN]>::try_from(raw.as_slice()).map_err(|_| CheckpointError::RootHash)
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
