//! The two boot paths that need KMS (async: the KMS call is egress I/O; the
//! RSA key generation, CMS opening and ring sealing run on the blocking pool):
//!
//! - first boot, `NewKeyRing{kms}`: a ring id from the NSM; an ephemeral
//!   [`RecipientKey`] and an attestation document binding its SPKI;
//!   `GenerateDataKey` with encryption context `{"strongroom:ring_id": hex}`
//!   and that document as Recipient; the data key opened from
//!   `CiphertextForRecipient` here; a fresh ring sealed under it, its
//!   `CiphertextBlob` kept as `kms_blob` (inside the ring and in the clear).
//! - restart, `UnsealKeyRing{sealed, kms}`: `Decrypt` of `sealed.kms_blob`
//!   with the same context and a fresh Recipient; the ring opened with the
//!   data key (AES-GCM authenticates ring id and version).
//!
//! Every failure on the KMS side is `kms_failed` on the wire; the reason
//! (allowlist, transport, the AWS error type) is logged here, never the
//! credentials or KMS's message text.

use std::sync::Arc;

use strongroom_protocol::messages::{KeyRingInfo, KmsAccess, SealedKeyRing, UnsealKeyRingRequest};
use tracing::{info, warn};
use zeroize::Zeroizing;

use super::client::{KmsClient, KmsClientError};
use super::cms::{CmsError, RecipientKey};
use crate::keyring::{DATA_KEY_LEN, KeyRing, RING_ID_LEN, RingMeta};
use crate::ring;
use crate::state::{Enclave, EnclaveError};

/// An ephemeral recipient key and an attestation document binding it.
struct Recipient {
    key: RecipientKey,
    document: Vec<u8>,
}

fn recipient(enclave: &Enclave) -> Result<Recipient, EnclaveError> {
    let key = RecipientKey::generate(enclave.nsm()).map_err(cms_failed)?;
    let document = enclave
        .nsm()
        .attest(Some(key.public_key_der()), None, None)
        .map_err(|e| EnclaveError::Internal(e.to_string()))?;
    Ok(Recipient { key, document })
}

fn kms_failed(e: KmsClientError) -> EnclaveError {
    warn!(reason = %e, "KMS call failed");
    EnclaveError::KmsFailed
}

fn cms_failed(e: CmsError) -> EnclaveError {
    warn!(reason = %e, "KMS recipient envelope failed");
    EnclaveError::KmsFailed
}

/// Opens `CiphertextForRecipient` to exactly a 32-byte data key.
fn data_key(
    enclave: &Enclave,
    key: &RecipientKey,
    envelope: &[u8],
) -> Result<Zeroizing<[u8; DATA_KEY_LEN]>, EnclaveError> {
    let plain = key.decrypt(envelope, enclave.nsm()).map_err(cms_failed)?;
    if plain.len() != DATA_KEY_LEN {
        warn!(len = plain.len(), "KMS data key has the wrong length");
        return Err(EnclaveError::KmsFailed);
    }
    let mut out = Zeroizing::new([0u8; DATA_KEY_LEN]);
    out.copy_from_slice(&plain);
    Ok(out)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EnclaveError> + Send + 'static,
) -> Result<T, EnclaveError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| EnclaveError::Internal("blocking task failed".to_owned()))?
}

fn client(kms: Option<Arc<KmsClient>>) -> Result<Arc<KmsClient>, EnclaveError> {
    kms.ok_or_else(|| {
        warn!("KMS requested but this enclave has no egress for it");
        EnclaveError::KmsFailed
    })
}

/// `NewKeyRing{kms: Some(access)}`.
pub async fn new_key_ring(
    enclave: Arc<Enclave>,
    kms: Option<Arc<KmsClient>>,
    access: KmsAccess,
) -> Result<SealedKeyRing, EnclaveError> {
    enclave.ensure_booting()?;
    let kms = client(kms)?;
    let e = enclave.clone();
    let (ring_id, rcpt) = blocking(move || {
        let ring_id = RingMeta::random_ring_id(e.nsm())?;
        Ok((ring_id, recipient(&e)?))
    })
    .await?;
    let now = enclave.clock().now_unix_s();
    let out = kms
        .generate_data_key(&access, &ring_id, &rcpt.document, now)
        .await
        .map_err(kms_failed)?;
    drop(access);
    blocking(move || {
        let key = data_key(&enclave, &rcpt.key, &out.ciphertext_for_recipient)?;
        let meta = RingMeta::with_id(enclave.nsm(), ring_id, Some(key), Some(out.ciphertext_blob))?;
        let ring = KeyRing::generate_with(enclave.nsm(), meta)?;
        info!(kms_key = %out.key_id, "new key ring; data key from KMS");
        enclave.seal_and_install(ring)
    })
    .await
}

/// `UnsealKeyRing{sealed, kms}`.
pub async fn unseal_key_ring(
    enclave: Arc<Enclave>,
    kms: Option<Arc<KmsClient>>,
    req: UnsealKeyRingRequest,
) -> Result<KeyRingInfo, EnclaveError> {
    enclave.ensure_booting()?;
    let UnsealKeyRingRequest {
        sealed,
        kms: access,
    } = req;
    let Some(blob) = sealed.kms_blob.clone() else {
        return Err(EnclaveError::RingInvalid);
    };
    if sealed.ring_id.len() != RING_ID_LEN {
        return Err(EnclaveError::RingInvalid);
    }
    let kms = client(kms)?;
    let e = enclave.clone();
    let rcpt = blocking(move || recipient(&e)).await?;
    let now = enclave.clock().now_unix_s();
    let out = kms
        .decrypt(&access, &sealed.ring_id, &blob, &rcpt.document, now)
        .await
        .map_err(kms_failed)?;
    drop(access);
    blocking(move || {
        let key = data_key(&enclave, &rcpt.key, &out.ciphertext_for_recipient)?;
        let ring = ring::open(&sealed, &key)?;
        enclave.install_new(ring)?;
        Ok(enclave.key_ring_status())
    })
    .await
}
