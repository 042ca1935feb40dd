//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while assembling or describing an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An input is larger than the named limit allows.
    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Which input.
        what: String,
        /// Its size.
        size: u64,
        /// The limit it exceeds.
        limit: u64,
    },
    /// A path inside an archive is not a plain relative path.
    #[error("invalid archive path {0:?}")]
    InvalidArchivePath(String),
    /// The same archive path was added twice.
    #[error("duplicate archive path {0:?}")]
    DuplicatePath(String),
    /// A configuration directory holds something other than files and directories.
    #[error("{0}: only regular files and directories are allowed in the configuration")]
    UnsupportedFileType(PathBuf),
    /// A kernel command line, `cmd` or `env` line is unusable.
    #[error("invalid {what}: {reason}")]
    InvalidText {
        /// Which text.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// Signing needs both a certificate and a key.
    #[error("signing needs both --sign-cert and --sign-key")]
    IncompleteSigningInput,
    /// The image-format crate refused an input (its errors are strings).
    #[error("image format: {0}")]
    Format(String),
    /// An EIF file does not have the expected structure.
    #[error("malformed EIF: {0}")]
    MalformedEif(&'static str),
    /// The EIF's CRC32 does not match its contents.
    #[error("EIF checksum mismatch (file corrupted or edited)")]
    CrcMismatch,
    /// A measurement map lacks a register.
    #[error("measurement {0} missing")]
    MissingMeasurement(&'static str),
    /// JSON encoding or decoding failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl ImageError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
