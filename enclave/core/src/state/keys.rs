//! The key-ring operations of [`Enclave`]: a new ring without KMS, reload of
//! a newer version, rotation (add a version, re-seal stored credentials,
//! retire versions) and status. Blocking and I/O-free; the KMS boot paths
//! (async, `crate::kms::boot`) and peer sync end in [`Enclave::install_new`].

use strongroom_formats::owner::RevocationEntry;
use strongroom_protocol::messages::{
    CredentialMetadata, CredentialRevoked, KeyRingInfo, MAX_RESEAL_BATCH, ResealItem,
    ResealOutcome, ResealRequest, ResealResult, RetireRequest, RevokeCredentialRequest,
    SealedCredential, SealedKeyRing,
};
use subtle::ConstantTimeEq;
use tracing::{info, warn};

use strongroom_verifier::owner::{Action, verify_action};

use super::{Enclave, EnclaveError, poisoned};
use crate::compute::rfc3339_ms;
use crate::intake::{
    self, Envelope, HPKE_INFO_V2, IntakeError, MAX_KEY_ID_LEN, Metadata, resealed, valid_session_id,
};
use crate::ring::{self, NONCE_LEN};
use crate::ring::{KeyRing, MAX_KEY_VERSIONS, hpke_seal};

/// Most key ids one retire request may name.
pub(crate) const MAX_RETIRE_IDS: usize = MAX_KEY_VERSIONS;

impl Enclave {
    /// Installs a key ring: booting -> ready. [`EnclaveError::RingPresent`]
    /// if one is held already (two boots racing: the first one wins).
    pub(crate) fn install_new(&self, ring: KeyRing) -> Result<(), EnclaveError> {
        let mut slot = self.ring.write().map_err(poisoned)?;
        if slot.is_some() {
            return Err(EnclaveError::RingPresent);
        }
        info!(
            ring_id = %hex::encode(ring.ring_id()),
            ring_version = ring.ring_version(),
            key_ids = ?ring.key_ids(),
            kms = ring.kms_blob().is_some(),
            "key ring installed; phase ready"
        );
        *slot = Some(ring);
        Ok(())
    }

    /// [`EnclaveError::RingPresent`] unless booting.
    pub(crate) fn ensure_booting(&self) -> Result<(), EnclaveError> {
        match self.ring.read().map_err(poisoned)?.is_some() {
            true => Err(EnclaveError::RingPresent),
            false => Ok(()),
        }
    }

    /// Seals `ring` for storage and installs it (first boot). Sealing comes
    /// first: a ring that cannot be stored is never used.
    pub(crate) fn seal_and_install(&self, ring: KeyRing) -> Result<SealedKeyRing, EnclaveError> {
        self.ensure_booting()?;
        let sealed = ring::seal(&ring, self.nsm.as_ref())?;
        self.install_new(ring)?;
        Ok(sealed)
    }

    /// `NewKeyRing` without KMS: a fresh ring whose data key comes from NSM
    /// randomness and is stored nowhere (the ring then survives a restart
    /// only through a live peer).
    pub fn new_key_ring(&self) -> Result<SealedKeyRing, EnclaveError> {
        self.ensure_booting()?;
        let ring = KeyRing::generate(self.nsm.as_ref())?;
        self.seal_and_install(ring)
    }

    fn nonce(&self) -> Result<[u8; NONCE_LEN], EnclaveError> {
        let bytes = self
            .nsm
            .random(NONCE_LEN)
            .map_err(|e| EnclaveError::Internal(e.to_string()))?;
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| EnclaveError::Internal("short random read".to_owned()))
    }

    /// `ReloadKeyRing`: a strictly newer version of the held ring (same
    /// ring id, same signing key), opened with the data key in memory.
    pub(crate) fn reload_key_ring(
        &self,
        sealed: &SealedKeyRing,
    ) -> Result<KeyRingInfo, EnclaveError> {
        {
            let mut slot = self.ring.write().map_err(poisoned)?;
            let held = slot.as_ref().ok_or(EnclaveError::NotReady)?;
            if sealed.ring_id.as_slice() != held.ring_id()
                || sealed.ring_version <= held.ring_version()
            {
                return Err(EnclaveError::RingInvalid);
            }
            let newer = ring::open(sealed, held.data_key())?;
            if !bool::from(newer.signing().ct_eq(held.signing())) {
                return Err(EnclaveError::RingInvalid);
            }
            info!(
                ring_version = newer.ring_version(),
                key_ids = ?newer.key_ids(),
                "key ring reloaded"
            );
            *slot = Some(newer);
        }
        Ok(self.key_ring_status())
    }

    /// `AddKeyVersion`: a new current HPKE version; answers the ring to store.
    pub(crate) fn add_key_version(&self) -> Result<SealedKeyRing, EnclaveError> {
        let nonce = self.nonce()?;
        let mut slot = self.ring.write().map_err(poisoned)?;
        let ring = slot.as_mut().ok_or(EnclaveError::NotReady)?;
        let id = ring.add_version(self.nsm.as_ref())?;
        info!(key_id = %id, ring_version = ring.ring_version(), "key version added");
        Ok(ring::seal_with_nonce(ring, nonce)?)
    }

    /// `RevokeCredential`: the owner's signed `revoke` checked against the
    /// owner key sealed in the credential (and its `time` against this
    /// enclave's clock); the credential joins the ring's revoked set (a new
    /// ring version, answered sealed for storage) and its cached sessions
    /// are dropped; the answer carries the revocation entry to log. Revoking
    /// an already revoked credential answers a fresh entry and no ring.
    pub(crate) fn revoke_credential(
        &self,
        req: &RevokeCredentialRequest,
    ) -> Result<CredentialRevoked, EnclaveError> {
        let now_ms = self.clock.now_unix_ms();
        let now_s = now_ms / 1000;
        let time = rfc3339_ms(i64::try_from(now_ms).unwrap_or(i64::MAX))
            .ok_or_else(|| EnclaveError::Internal("clock".to_owned()))?;
        let metadata = Metadata {
            exchange: &req.metadata.exchange,
            label: &req.metadata.label,
            ttl_seconds: req.metadata.ttl_seconds,
        };
        let nonce = self.nonce()?;
        let mut slot = self.ring.write().map_err(poisoned)?;
        let ring = slot.as_mut().ok_or(EnclaveError::NotReady)?;
        let (envelope, plain) = intake::open_even_revoked(ring, &req.sealed, &metadata)?;
        let credential =
            intake::Credential::from_plaintext(plain, 0, envelope.id.clone(), envelope.version);
        let owner = credential.owner_key().ok_or(EnclaveError::NoOwnerKey)?;
        let verified =
            verify_action(&req.authorization, Some(owner)).map_err(EnclaveError::Owner)?;
        verified
            .check(
                Action::Revoke,
                credential.id(),
                i64::try_from(now_s).unwrap_or(i64::MAX),
            )
            .map_err(EnclaveError::Owner)?;
        let changed = ring.revoke(credential.id(), credential.not_after(), now_s)?;
        info!(
            ring_version = ring.ring_version(),
            changed, "credential revoked by its owner"
        );
        let entry = revocation_entry(ring, credential.id(), &time)?;
        let sealed = if changed {
            Some(ring::seal_with_nonce(ring, nonce)?)
        } else {
            None
        };
        drop(slot);
        self.sessions
            .lock()
            .map_err(poisoned)?
            .forget_credential(credential.id());
        Ok(CredentialRevoked {
            credential: credential.id().to_owned(),
            entry,
            ring: sealed,
        })
    }

    /// `RetireKeyVersions`: drops versions (never the current one; unknown
    /// ids are ignored so a retry is harmless); answers the ring to store.
    pub(crate) fn retire_key_versions(
        &self,
        req: &RetireRequest,
    ) -> Result<SealedKeyRing, EnclaveError> {
        if req.key_ids.len() > MAX_RETIRE_IDS
            || req
                .key_ids
                .iter()
                .any(|id| id.is_empty() || id.len() > MAX_KEY_ID_LEN)
        {
            return Err(EnclaveError::InvalidArgument);
        }
        let nonce = self.nonce()?;
        let mut slot = self.ring.write().map_err(poisoned)?;
        let ring = slot.as_mut().ok_or(EnclaveError::NotReady)?;
        let dropped = ring.retire(&req.key_ids)?;
        info!(dropped, ring_version = ring.ring_version(), key_ids = ?ring.key_ids(), "key versions retired");
        Ok(ring::seal_with_nonce(ring, nonce)?)
    }

    /// `ResealCredentials`: each stored envelope opened exactly as at intake
    /// (same HPKE info and aad, the plaintext parsed and its exchange/label
    /// checked against the stored metadata) and the same plaintext sealed to
    /// the current key. Not checked: the ttl, and `not_after` — an expired
    /// credential is re-sealed too (it stays unusable: `OpenCredential`
    /// checks `not_after` inside the plaintext), so a rotation is never held
    /// up by credentials the host has not deleted yet. Per-item errors.
    pub(crate) fn reseal_credentials(
        &self,
        req: &ResealRequest,
    ) -> Result<ResealResult, EnclaveError> {
        if req.items.len() > MAX_RESEAL_BATCH {
            return Err(EnclaveError::InvalidArgument);
        }
        let items = self.with_key_ring(|ring| {
            req.items
                .iter()
                .map(|item| self.reseal_item(ring, item))
                .collect()
        })?;
        Ok(ResealResult { items })
    }

    fn reseal_item(&self, ring: &KeyRing, item: &ResealItem) -> ResealOutcome {
        let result = if valid_session_id(&item.session_id) {
            self.reseal_one(ring, &item.sealed, &item.metadata)
        } else {
            Err(IntakeError::InvalidArgument.into())
        };
        match result {
            Ok(sealed) => ResealOutcome {
                session_id: item.session_id.clone(),
                sealed: Some(sealed),
                error: None,
            },
            Err(err) => {
                if let EnclaveError::Internal(detail) = &err {
                    warn!(%detail, "re-seal failed");
                }
                ResealOutcome {
                    session_id: item.session_id.clone(),
                    sealed: None,
                    error: Some(err.to_rpc()),
                }
            }
        }
    }

    /// One credential re-sealed to the current key (see
    /// [`Enclave::reseal_credentials`]); one already under it comes back
    /// unchanged once it has been checked to open.
    pub(crate) fn reseal_one(
        &self,
        ring: &KeyRing,
        sealed: &SealedCredential,
        meta: &CredentialMetadata,
    ) -> Result<SealedCredential, EnclaveError> {
        let metadata = Metadata {
            exchange: &meta.exchange,
            label: &meta.label,
            ttl_seconds: meta.ttl_seconds,
        };
        let (envelope, plain) = intake::open_matching(ring, sealed, &metadata)?;
        drop(plain);
        if ring.current().key_id() == sealed.key_id() {
            return Ok(sealed.clone());
        }
        self.reseal_envelope(ring, &envelope)
    }

    /// A credential re-sealed to the ring's current key, keeping its
    /// identity (see `intake::resealed`).
    pub(crate) fn reseal_envelope(
        &self,
        ring: &KeyRing,
        envelope: &Envelope,
    ) -> Result<SealedCredential, EnclaveError> {
        let current = ring.current();
        let wrapped = resealed::wrap(ring, envelope);
        let (enc, aead) = hpke_seal(
            current.public_key(),
            HPKE_INFO_V2,
            &[],
            &wrapped,
            self.nsm.as_ref(),
        )?;
        SealedCredential::from_aead(current.key_id(), enc, aead).map_err(|_| {
            EnclaveError::Internal("re-sealed credential outside the contract".to_owned())
        })
    }

    /// Which key versions the ring holds, and which ring at which version.
    pub(crate) fn key_ring_status(&self) -> KeyRingInfo {
        let held = self
            .with_key_ring(|ring| {
                (
                    ring.current().key_id().to_owned(),
                    ring.key_ids().to_vec(),
                    ring.ring_id().to_vec(),
                    ring.ring_version(),
                )
            })
            .ok();
        match held {
            Some((current, key_ids, ring_id, version)) => KeyRingInfo {
                phase: self.phase(),
                current_key_id: Some(current),
                key_ids,
                ring_id: Some(ring_id),
                ring_version: Some(version),
            },
            None => KeyRingInfo {
                phase: self.phase(),
                current_key_id: None,
                key_ids: Vec::new(),
                ring_id: None,
                ring_version: None,
            },
        }
    }
}

/// The revocation entry for the log: COSE_Sign1 by the result-signing key
/// (under the current key id) over `{"type": "revocation", "credential", "time"}`.
fn revocation_entry(ring: &KeyRing, credential: &str, time: &str) -> Result<Vec<u8>, EnclaveError> {
    let payload = RevocationEntry::new(credential, time)
        .to_cbor()
        .map_err(|_| EnclaveError::Internal("revocation entry encoding".to_owned()))?;
    Ok(ring.sign_cose(&payload))
}
