//! The two boot paths that need KMS (async: the KMS call goes through the
//! [`KmsTransport`] port; the RSA key generation, CMS opening and ring
//! sealing run on [`Ports::blocking`]):
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

use strongroom_protocol::messages::{KeyRingInfo, KmsAccess, SealedKeyRing, UnsealKeyRingRequest};
use tracing::{info, warn};
use zeroize::Zeroizing;

use super::client::{self, KmsClientError, KmsTransport};
use super::cms::{CmsError, RecipientKey};
use crate::handle::Ports;
use crate::ring::{self, DATA_KEY_LEN, KeyRing, RING_ID_LEN, RingMeta};
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

fn transport<T: KmsTransport>(kms: Option<&T>) -> Result<&T, EnclaveError> {
    kms.ok_or_else(|| {
        warn!("KMS requested but this enclave has no egress for it");
        EnclaveError::KmsFailed
    })
}

/// `NewKeyRing{kms: Some(access)}`.
pub(crate) async fn new_key_ring<P: Ports>(
    ports: &P,
    access: KmsAccess,
) -> Result<SealedKeyRing, EnclaveError> {
    let enclave = ports.enclave();
    enclave.ensure_booting()?;
    let kms = transport(ports.kms())?;
    let (ring_id, rcpt) = ports
        .blocking(|e| {
            let ring_id = RingMeta::random_ring_id(e.nsm())?;
            Ok::<_, EnclaveError>((ring_id, recipient(e)?))
        })
        .await??;
    let now = enclave.clock().now_unix_s();
    let out = client::generate_data_key(kms, &access, &ring_id, &rcpt.document, now)
        .await
        .map_err(kms_failed)?;
    drop(access);
    ports
        .blocking(move |e| {
            let key = data_key(e, &rcpt.key, &out.ciphertext_for_recipient)?;
            let meta = RingMeta::with_id(e.nsm(), ring_id, Some(key), Some(out.ciphertext_blob))?;
            let ring = KeyRing::generate_with(e.nsm(), meta)?;
            info!(kms_key = %out.key_id, "new key ring; data key from KMS");
            e.seal_and_install(ring)
        })
        .await?
}

/// `UnsealKeyRing{sealed, kms}`.
pub(crate) async fn unseal_key_ring<P: Ports>(
    ports: &P,
    req: UnsealKeyRingRequest,
) -> Result<KeyRingInfo, EnclaveError> {
    let enclave = ports.enclave();
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
    let kms = transport(ports.kms())?;
    let rcpt = ports.blocking(recipient).await??;
    let now = enclave.clock().now_unix_s();
    let out = client::decrypt(kms, &access, &sealed.ring_id, &blob, &rcpt.document, now)
        .await
        .map_err(kms_failed)?;
    drop(access);
    ports
        .blocking(move |e| {
            let key = data_key(e, &rcpt.key, &out.ciphertext_for_recipient)?;
            let ring = ring::open(&sealed, &key)?;
            e.install_new(ring)?;
            Ok(e.key_ring_status())
        })
        .await?
}
