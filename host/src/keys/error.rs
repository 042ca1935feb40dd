//! Why a keys operation failed, and the advisory locks the keys take.

use strongroom_protocol::ErrorCode;

use super::imds;
use crate::enclave::EnclaveError;
use crate::store::DbError;

/// `pg_try_advisory_xact_lock` key held while booting an enclave (steps 1-3),
/// so N instances starting at once make one ring.
pub const BOOT_LOCK: i64 = 0x5354_524f_4e47_0002;
/// Advisory lock key held by whichever host drives a rotation step.
pub const ROTATION_LOCK: i64 = 0x5354_524f_4e47_0003;

/// Why a keys operation failed. Messages carry codes and names, never key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The enclave failed or refused.
    #[error(transparent)]
    Enclave(#[from] EnclaveError),
    /// A key-sync peer could not be reached or answered something unusable.
    #[error("peer: {0}")]
    Peer(String),
    /// A stored or answered ring is unusable.
    #[error("key ring: {0}")]
    BadRing(&'static str),
    /// No AWS credentials for the enclave's KMS calls (IMDS unreachable,
    /// no instance role, a malformed answer).
    #[error("AWS credentials: {0}")]
    Credentials(#[from] imds::CredentialsError),
}

impl From<tokio_postgres::Error> for KeysError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

impl From<deadpool_postgres::PoolError> for KeysError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Db(DbError::from(e))
    }
}

impl KeysError {
    /// A refusal that will not go away by retrying (as opposed to an
    /// unreachable enclave, a busy one, or a database hiccup).
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Enclave(EnclaveError::Refused(c)) => {
                !matches!(c, ErrorCode::NotReady | ErrorCode::Busy)
            }
            Self::Enclave(EnclaveError::Protocol) | Self::BadRing(_) => true,
            _ => false,
        }
    }
}
