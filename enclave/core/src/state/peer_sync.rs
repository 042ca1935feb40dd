//! Peer sync wired into [`Enclave`] (the protocol itself is `crate::sync`):
//! the holder answers `SyncChallenge` and `SyncExport` (ready only), the
//! requester `SyncRequest` and `SyncImport` (booting only, else
//! `ring_present`). Documents verify under the enclave's trust root (AWS in
//! production, the simulator's dev root in dev) against the enclave's own
//! PCR0/1/2, at the enclave's clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strongroom_protocol::messages::{
    KeyRingInfo, SyncChallengeInfo, SyncExportRequest, SyncExported, SyncImportRequest,
    SyncRequestDocument, SyncRequestRequest,
};
use tracing::{info, warn};

use super::{Enclave, EnclaveError};
use crate::ring::KeyRing;
use crate::sync::SyncError;

impl Enclave {
    fn system_now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.clock.now_unix_ms())
    }

    /// `SyncChallenge` (holder): a single-use 32-byte challenge.
    pub(crate) fn sync_challenge(&self) -> Result<SyncChallengeInfo, EnclaveError> {
        self.with_key_ring(|_| ())?;
        let nonce = self
            .holder
            .issue_challenge(self.nsm.as_ref(), self.clock.now_unix_ms())
            .map_err(refused)?;
        Ok(SyncChallengeInfo {
            nonce: nonce.to_vec(),
        })
    }

    /// `SyncRequest` (requester): a document answering the holder's
    /// challenge and binding a fresh ephemeral key.
    pub(crate) fn sync_request(
        &self,
        req: &SyncRequestRequest,
    ) -> Result<SyncRequestDocument, EnclaveError> {
        self.ensure_booting()?;
        let document = self
            .requester
            .request(self.nsm.as_ref(), &req.challenge)
            .map_err(refused)?;
        Ok(SyncRequestDocument { document })
    }

    /// `SyncExport` (holder): the ring sealed to the requester's attested key.
    pub fn sync_export(&self, req: &SyncExportRequest) -> Result<SyncExported, EnclaveError> {
        let secrets = self.with_key_ring(KeyRing::export_secrets)??;
        let exported = self
            .holder
            .export(
                self.nsm.as_ref(),
                &self.root,
                &self.pcrs,
                &req.document,
                &secrets,
                self.system_now(),
            )
            .map_err(refused)?;
        info!("key ring exported to an attested peer");
        Ok(exported)
    }

    /// `SyncImport` (requester): checks the holder's answer, installs the ring.
    pub fn sync_import(&self, req: &SyncImportRequest) -> Result<KeyRingInfo, EnclaveError> {
        self.ensure_booting()?;
        let secrets = self
            .requester
            .import(&self.root, &self.pcrs, &req.exported, self.system_now())
            .map_err(refused)?;
        let ring = KeyRing::import_secrets(&secrets).map_err(|e| {
            warn!(reason = %e, "synced key ring does not decode");
            EnclaveError::SyncRefused
        })?;
        drop(secrets);
        self.install_new(ring)?;
        info!("key ring received from an attested peer");
        Ok(self.key_ring_status())
    }
}

/// Logs why (never secret: verification steps, sizes) and maps to the wire.
fn refused(e: SyncError) -> EnclaveError {
    warn!(reason = %e, "key sync refused");
    EnclaveError::Sync(e)
}
