//! The key ring at rest: its secrets ([`super::secrets`]) sealed with
//! AES-256-GCM under the ring's data key into a [`SealedKeyRing`] for the
//! host to store (DESIGN.md "Keys").
//!
//! Sealing: `nonce` = 12 bytes of NSM randomness; `aad` =
//! `b"strongroom-ring-v1" || ring_id || ring_version (u64 big-endian)`;
//! `ciphertext` = AES-256-GCM(data_key, nonce, aad, secrets) with the tag
//! appended. The clear fields of [`SealedKeyRing`] (key ids, current, signing
//! public key) are for operators only: opening trusts nothing but the
//! ciphertext, and checks that its inner `ring_id`, `ring_version` and
//! `kms_blob` agree with the clear ones.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use strongroom_protocol::messages::SealedKeyRing;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::keys::{DATA_KEY_LEN, KeyRing, RING_ID_LEN};
use super::secrets::{MAX_RING_SECRETS_LEN, RingError, decode_secrets, encode_secrets, fixed};
use crate::nsm::Nsm;

/// Domain separator at the start of the AES-GCM associated data.
pub(crate) const RING_AAD_PREFIX: &[u8] = b"strongroom-ring-v1";
/// AES-GCM nonce length.
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;

/// `b"strongroom-ring-v1" || ring_id || ring_version (u64 BE)`.
pub fn ring_aad(ring_id: &[u8], ring_version: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(RING_AAD_PREFIX.len() + ring_id.len() + 8);
    aad.extend_from_slice(RING_AAD_PREFIX);
    aad.extend_from_slice(ring_id);
    aad.extend_from_slice(&ring_version.to_be_bytes());
    aad
}

/// Seals `ring` under its own data key with a fresh NSM nonce.
pub fn seal(ring: &KeyRing, nsm: &dyn Nsm) -> Result<SealedKeyRing, RingError> {
    let nonce: [u8; NONCE_LEN] = fixed(&nsm.random(NONCE_LEN)?)?;
    seal_with_nonce(ring, nonce)
}

/// [`seal`] with a given nonce (the caller draws it from the NSM; never reuse one).
pub fn seal_with_nonce(ring: &KeyRing, nonce: [u8; NONCE_LEN]) -> Result<SealedKeyRing, RingError> {
    let mut buf = encode_secrets(ring)?;
    let cipher = Aes256Gcm::new_from_slice(ring.data_key()).map_err(|_| RingError::Open)?;
    let aad = ring_aad(ring.ring_id(), ring.ring_version());
    let tag = cipher
        .encrypt_inout_detached(&nonce.into(), &aad, buf.as_mut_slice().into())
        .map_err(|_| RingError::TooLarge)?;
    let mut ciphertext = Vec::with_capacity(buf.len() + TAG_LEN);
    ciphertext.extend_from_slice(&buf);
    ciphertext.extend_from_slice(&tag);
    Ok(SealedKeyRing {
        ring_id: ring.ring_id().to_vec(),
        ring_version: ring.ring_version(),
        kms_blob: ring.kms_blob().map(<[u8]>::to_vec),
        nonce: nonce.to_vec(),
        ciphertext,
        key_ids: ring.key_ids().to_vec(),
        current_key_id: ring.current().key_id().to_owned(),
        signing_public_key: ring.signing().public_sec1().to_vec(),
    })
}

/// Opens `sealed` with `data_key`: AES-GCM under the aad of the clear
/// `ring_id`/`ring_version`, then the secrets must name the same ring id,
/// version and data key (and KMS blob, when the clear one is given).
pub fn open(sealed: &SealedKeyRing, data_key: &[u8; DATA_KEY_LEN]) -> Result<KeyRing, RingError> {
    let nonce: [u8; NONCE_LEN] = sealed
        .nonce
        .as_slice()
        .try_into()
        .map_err(|_| RingError::Open)?;
    let len = sealed.ciphertext.len();
    if sealed.ring_id.len() != RING_ID_LEN
        || !(TAG_LEN..=MAX_RING_SECRETS_LEN + TAG_LEN).contains(&len)
    {
        return Err(RingError::Open);
    }
    let (ct, tag) = sealed.ciphertext.split_at(len - TAG_LEN);
    let tag: [u8; TAG_LEN] = fixed(tag)?;
    let cipher = Aes256Gcm::new_from_slice(data_key).map_err(|_| RingError::Open)?;
    let aad = ring_aad(&sealed.ring_id, sealed.ring_version);
    let mut buf = Zeroizing::new(ct.to_vec());
    cipher
        .decrypt_inout_detached(&nonce.into(), &aad, buf.as_mut_slice().into(), &tag.into())
        .map_err(|_| RingError::Open)?;
    let ring = decode_secrets(&buf).map_err(|_| RingError::Open)?;
    let same = ring.ring_id()[..] == sealed.ring_id[..]
        && ring.ring_version() == sealed.ring_version
        && bool::from(ring.data_key().ct_eq(data_key))
        && sealed
            .kms_blob
            .as_deref()
            .is_none_or(|b| ring.kms_blob() == Some(b));
    if !same {
        return Err(RingError::Open);
    }
    Ok(ring)
}
