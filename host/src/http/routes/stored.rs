//! A stored session and its sealed credential, loaded for the enclave calls
//! that use it (`ComputeAggregates`, `RevokeCredential`).

use strongroom_protocol::messages::{
    CredentialMetadata, MAX_PREVIOUS, PreviousLeaf, SealedCredential,
};
use uuid::Uuid;

use super::session_state;
use crate::http::App;
use crate::http::error::{ApiError, Code};
use crate::store;

/// A stored session's credential, as the enclave calls need it.
#[derive(Debug)]
pub(in crate::http) struct StoredSession {
    /// The stored envelope (possibly re-sealed by the enclave).
    pub sealed: SealedCredential,
    /// Exchange, label and remaining lifetime.
    pub metadata: CredentialMetadata,
    /// The credential id stored at submission (None before migration V14).
    pub credential: Option<Vec<u8>>,
    /// Candidate heads of account chains (computations only).
    pub previous: Vec<PreviousLeaf>,
}

impl StoredSession {
    /// Hex credential id: the one stored at submission; for a session stored
    /// before V14, that of the stored bytes (right unless a rotation
    /// re-sealed them since).
    pub fn credential_id(&self) -> String {
        match &self.credential {
            Some(id) => hex::encode(id),
            None => hex::encode(self.sealed.id()),
        }
    }
}

impl App {
    /// Loads the session (active, the tenant's own through row-level security)
    /// and its sealed credential; with `chain`, the candidate heads of the
    /// account chains for a computation's `previous` (migration V15).
    pub(in crate::http) async fn load_session(
        &self,
        tenant: Uuid,
        session: Uuid,
        chain: bool,
    ) -> Result<StoredSession, ApiError> {
        let mut client = self.pool.get().await?;
        let tx = store::tenant_tx(&mut client, tenant).await?;
        session_state(&tx, session).await?;
        // A re-open in the enclave (after a restart) gets the remaining lifetime.
        let row = store::sessions::load(&tx, session)
            .await?
            .ok_or_else(|| ApiError::new(Code::SessionNotFound))?;
        let previous = match chain {
            true => store::log::chain_heads(
                &tx,
                row.credential.as_deref().map(hex::encode).as_deref(),
                MAX_PREVIOUS as i64,
            )
            .await?
            .into_iter()
            .map(|(account, leaf_hash)| PreviousLeaf { account, leaf_hash })
            .collect(),
            false => Vec::new(),
        };
        tx.commit().await?;
        let sealed = SealedCredential::from_stored(&row.key_id, &row.sealed).map_err(|e| {
            tracing::error!(error = %e, "stored credential outside the contract");
            ApiError::new(Code::InternalError)
        })?;
        Ok(StoredSession {
            sealed,
            metadata: CredentialMetadata {
                exchange: row.exchange,
                label: row.label,
                ttl_seconds: u64::try_from(row.ttl_seconds).unwrap_or(1),
            },
            credential: row.credential,
            previous,
        })
    }
}
