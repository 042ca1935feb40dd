//! The ring's secrets as strict CBOR (the plaintext that [`super::sealed`]
//! seals, and that peer sync sends to an attested peer).
//!
//! Encoding (CBOR map, exactly these keys, no others):
//!
//! | key | value |
//! |---|---|
//! | `ring_id` | bytes, 16 |
//! | `ring_version` | uint, >= 1 |
//! | `data_key` | bytes, 32 |
//! | `kms_blob` | bytes (1..=6144) or null |
//! | `hpke` | array of `[version uint, scalar bytes 32]`, versions strictly increasing, 1..=[`MAX_KEY_VERSIONS`] |
//! | `current` | uint: the current version (one of `hpke`) |
//! | `next_version` | uint, above every version in `hpke` |
//! | `signing` | bytes, 32: the result-signing scalar |
//! | `revoked` | optional (absent when empty; rings sealed before credential v2 have none): array of `[credential id bytes 32, not_after uint]`, ids strictly increasing, at most [`MAX_REVOKED`] |
//!
//! Every buffer that holds secrets is zeroizing; decoding is bounded
//! ([`MAX_RING_SECRETS_LEN`]) and refuses trailing bytes.

use std::fmt;

use serde::de::{Deserialize, Deserializer};
use serde::{Serialize, Serializer};
use serde_bytes::{ByteBuf, Bytes};
use zeroize::Zeroizing;

use super::keys::MAX_REVOKED;
use super::keys::{
    DATA_KEY_LEN, HpkeKeyPair, KeyRing, MAX_KEY_VERSIONS, P256_SECRET_LEN, RING_ID_LEN,
    ResultSigningKey, RingMeta,
};
use crate::kms::request::MAX_CIPHERTEXT_BLOB_LEN;
use crate::nsm::NsmError;

/// Largest secrets encoding (and so, plus the tag, the largest ciphertext):
/// 32 versions and a maximal KMS blob fit well inside.
pub const MAX_RING_SECRETS_LEN: usize = 64 * 1024;

/// Why a ring could not be sealed, opened or decoded. Opening failures are
/// one opaque variant: the host never learns why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// Does not decrypt, or decrypts to something that is not this ring.
    #[error("the sealed key ring does not open")]
    Open,
    /// The secrets encoding is malformed (shape, lengths, order, trailing bytes).
    #[error("malformed key-ring secrets")]
    Malformed,
    /// Over [`MAX_RING_SECRETS_LEN`].
    #[error("key-ring secrets too large")]
    TooLarge,
    /// No randomness for the nonce.
    #[error("randomness unavailable: {0}")]
    Random(#[from] NsmError),
}

/// Bytes that zeroize on drop, decoded from a CBOR byte string.
pub(super) struct SecretBytes(pub(super) Zeroizing<Vec<u8>>);

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `into_vec` moves the allocation: no unzeroized copy is left behind.
        ByteBuf::deserialize(d).map(|b| SecretBytes(Zeroizing::new(b.into_vec())))
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes { .. }")
    }
}

/// One HPKE version on the way out: `[version, scalar]`.
struct VersionOut<'a>(u32, &'a [u8]);

impl Serialize for VersionOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.0, Bytes::new(self.1)).serialize(s)
    }
}

#[derive(Serialize)]
struct SecretsOut<'a> {
    ring_id: &'a Bytes,
    ring_version: u64,
    data_key: &'a Bytes,
    kms_blob: Option<&'a Bytes>,
    hpke: Vec<VersionOut<'a>>,
    current: u32,
    next_version: u32,
    signing: &'a Bytes,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    revoked: Vec<(&'a Bytes, u64)>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsIn {
    ring_id: ByteBuf,
    ring_version: u64,
    data_key: SecretBytes,
    kms_blob: Option<ByteBuf>,
    hpke: Vec<(u32, SecretBytes)>,
    current: u32,
    next_version: u32,
    signing: SecretBytes,
    #[serde(default)]
    revoked: Option<Vec<(ByteBuf, u64)>>,
}

/// CBOR of the ring's secrets, in a zeroizing buffer allocated once at the
/// maximum size (so no reallocation leaves a copy behind).
pub(crate) fn encode_secrets(ring: &KeyRing) -> Result<Zeroizing<Vec<u8>>, RingError> {
    let signing = ring.signing().scalar();
    let out = SecretsOut {
        ring_id: Bytes::new(ring.ring_id()),
        ring_version: ring.ring_version(),
        data_key: Bytes::new(ring.data_key()),
        kms_blob: ring.kms_blob().map(Bytes::new),
        hpke: ring
            .pairs()
            .map(|p| VersionOut(p.version(), p.scalar()))
            .collect(),
        current: ring.current().version(),
        next_version: ring.next_version(),
        signing: Bytes::new(&signing[..]),
        revoked: ring
            .revoked()
            .iter()
            .map(|(id, until)| (Bytes::new(id), *until))
            .collect(),
    };
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_RING_SECRETS_LEN));
    serde_cbor::to_writer(&mut *buf, &out).map_err(|_| RingError::Malformed)?;
    if buf.len() > MAX_RING_SECRETS_LEN {
        return Err(RingError::TooLarge);
    }
    Ok(buf)
}

/// Decodes and checks secrets encoded by [`encode_secrets`].
pub(crate) fn decode_secrets(bytes: &[u8]) -> Result<KeyRing, RingError> {
    if bytes.len() > MAX_RING_SECRETS_LEN {
        return Err(RingError::TooLarge);
    }
    let mut de = serde_cbor::Deserializer::from_slice(bytes);
    let s = SecretsIn::deserialize(&mut de).map_err(|_| RingError::Malformed)?;
    de.end().map_err(|_| RingError::Malformed)?;
    build(s)
}

pub(super) fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], RingError> {
    bytes.try_into().map_err(|_| RingError::Malformed)
}

fn build(s: SecretsIn) -> Result<KeyRing, RingError> {
    let ring_id: [u8; RING_ID_LEN] = fixed(&s.ring_id)?;
    let mut data_key = Zeroizing::new([0u8; DATA_KEY_LEN]);
    if s.data_key.0.len() != DATA_KEY_LEN || s.ring_version == 0 {
        return Err(RingError::Malformed);
    }
    data_key.copy_from_slice(&s.data_key.0);
    let kms_blob = s.kms_blob.map(ByteBuf::into_vec);
    if kms_blob
        .as_ref()
        .is_some_and(|b| b.is_empty() || b.len() > MAX_CIPHERTEXT_BLOB_LEN)
    {
        return Err(RingError::Malformed);
    }
    let pairs = hpke_pairs(&s.hpke)?;
    let last = pairs.last().map(HpkeKeyPair::version).unwrap_or(0);
    let current = pairs
        .iter()
        .find(|p| p.version() == s.current)
        .map(|p| p.key_id().to_owned())
        .ok_or(RingError::Malformed)?;
    if s.next_version <= last || s.signing.0.len() != P256_SECRET_LEN {
        return Err(RingError::Malformed);
    }
    let signing = ResultSigningKey::from_scalar(&s.signing.0).ok_or(RingError::Malformed)?;
    let revoked = revoked_set(s.revoked.as_deref())?;
    let meta = RingMeta {
        ring_id,
        ring_version: s.ring_version,
        data_key,
        kms_blob,
    };
    Ok(KeyRing::from_parts(
        meta,
        pairs,
        current,
        s.next_version,
        signing,
        revoked,
    ))
}

/// The revoked set: ids of 32 bytes, strictly increasing, non-empty when
/// present (an empty set is encoded by leaving the field out), bounded.
fn revoked_set(
    entries: Option<&[(ByteBuf, u64)]>,
) -> Result<std::collections::BTreeMap<[u8; 32], u64>, RingError> {
    let mut out = std::collections::BTreeMap::new();
    let Some(entries) = entries else {
        return Ok(out);
    };
    if entries.is_empty() || entries.len() > MAX_REVOKED {
        return Err(RingError::Malformed);
    }
    let mut last: Option<[u8; 32]> = None;
    for (id, until) in entries {
        let id: [u8; 32] = fixed(id)?;
        if last.is_some_and(|l| l >= id) {
            return Err(RingError::Malformed);
        }
        last = Some(id);
        out.insert(id, *until);
    }
    Ok(out)
}

fn hpke_pairs(versions: &[(u32, SecretBytes)]) -> Result<Vec<HpkeKeyPair>, RingError> {
    if versions.is_empty() || versions.len() > MAX_KEY_VERSIONS {
        return Err(RingError::Malformed);
    }
    let mut pairs: Vec<HpkeKeyPair> = Vec::with_capacity(versions.len());
    for (version, scalar) in versions {
        let increasing = pairs.last().is_none_or(|p| p.version() < *version);
        if *version == 0 || !increasing || scalar.0.len() != P256_SECRET_LEN {
            return Err(RingError::Malformed);
        }
        pairs.push(HpkeKeyPair::from_scalar(*version, &scalar.0).ok_or(RingError::Malformed)?);
    }
    Ok(pairs)
}

impl KeyRing {
    /// The ring's secrets as CBOR in a zeroizing buffer (format above).
    /// Leaves the enclave only sealed (at rest, or to an attested peer).
    pub fn export_secrets(&self) -> Result<Zeroizing<Vec<u8>>, RingError> {
        encode_secrets(self)
    }

    /// The ring encoded by [`KeyRing::export_secrets`]; strict (bounded, no
    /// trailing bytes, every field checked).
    pub fn import_secrets(bytes: &[u8]) -> Result<Self, RingError> {
        decode_secrets(bytes)
    }
}
