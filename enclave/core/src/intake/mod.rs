//! Credential intake: open the HPKE envelope, parse the plaintext exactly,
//! and check it against the forwarded metadata and the enclave's clock.
//! Plain functions over the key ring: no I/O.

pub mod credential;
pub mod resealed;
pub mod sessions;

use strongroom_protocol::ErrorCode;
use zeroize::Zeroizing;

use crate::ring::{HpkeKeyPair, KeyRing};

pub use self::credential::{
    Credential, CredentialVersion, MAX_API_FIELD_LEN, MAX_EXCHANGE_LEN, MAX_LABEL_LEN,
    account_pseudonym,
};
pub(crate) use self::sessions::{SessionCache, valid_session_id};

/// The sealed-credential contract (limits, rules, the one join/split) is
/// `strongroom_formats::credential`, shared with the client and the host.
pub use strongroom_formats::credential::{
    CREDENTIAL_INFO_V1 as HPKE_INFO, CREDENTIAL_INFO_V2 as HPKE_INFO_V2, ENC_LEN, MAX_AEAD_LEN,
    MAX_CIPHERTEXT_LEN, MAX_KEY_ID_LEN, SealedCredential, TAG_LEN,
};
/// Default for MAX_TTL_SECONDS (7 days).
pub const DEFAULT_MAX_TTL_SECONDS: u64 = 604_800;

/// Why a credential was refused. Each variant has its own wire code; none
/// says anything about the plaintext or why decryption failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// Sealed to a key id the ring does not hold.
    #[error("unknown key id")]
    UnknownKeyId,
    /// The envelope did not open (any reason: shape, KEM, tag). Opaque.
    #[error("the credential could not be opened")]
    OpenFailed,
    /// The plaintext is not exactly the credential JSON.
    #[error("malformed credential plaintext")]
    MalformedCredential,
    /// exchange/label differ from the forwarded metadata.
    #[error("exchange or label differ from the metadata")]
    MetadataMismatch,
    /// `not_after` has passed.
    #[error("credential expired")]
    CredentialExpired,
    /// `not_after` or the requested ttl lies beyond MAX_TTL_SECONDS.
    #[error("lifetime exceeds the maximum")]
    TtlTooLong,
    /// ttl of zero, or a session id that is not 1..=64 `[A-Za-z0-9-]`.
    #[error("invalid argument")]
    InvalidArgument,
    /// The credential's owner revoked it.
    #[error("credential revoked")]
    Revoked,
}

impl IntakeError {
    /// The one mapping to the wire.
    pub fn code(self) -> ErrorCode {
        match self {
            IntakeError::UnknownKeyId => ErrorCode::UnknownKeyId,
            IntakeError::OpenFailed => ErrorCode::OpenFailed,
            IntakeError::MalformedCredential => ErrorCode::MalformedCredential,
            IntakeError::MetadataMismatch => ErrorCode::MetadataMismatch,
            IntakeError::CredentialExpired => ErrorCode::CredentialExpired,
            IntakeError::TtlTooLong => ErrorCode::TtlTooLong,
            IntakeError::InvalidArgument => ErrorCode::InvalidArgument,
            IntakeError::Revoked => ErrorCode::CredentialRevoked,
        }
    }
}

/// The metadata the host forwards (untrusted; checked against the plaintext).
#[derive(Debug, Clone, Copy)]
pub struct Metadata<'a> {
    /// Exchange name.
    pub exchange: &'a str,
    /// Label.
    pub label: &'a str,
    /// Requested session lifetime, seconds.
    pub ttl_seconds: u64,
}

/// Intake limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntakePolicy {
    /// MAX_TTL_SECONDS: how far ahead `not_after` and the ttl may reach.
    pub max_ttl_seconds: u64,
}

impl Default for IntakePolicy {
    fn default() -> Self {
        Self {
            max_ttl_seconds: DEFAULT_MAX_TTL_SECONDS,
        }
    }
}

/// HPKE base-mode open of `ciphertext || tag` into a zeroizing buffer.
/// Every failure is the same `OpenFailed`.
pub fn hpke_open(
    pair: &HpkeKeyPair,
    enc: &[u8],
    info: &[u8],
    aad: &[u8],
    ciphertext_and_tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>, IntakeError> {
    if enc.len() != ENC_LEN
        || ciphertext_and_tag.len() < TAG_LEN
        || ciphertext_and_tag.len() > MAX_AEAD_LEN
    {
        return Err(IntakeError::OpenFailed);
    }
    crate::ring::hpke_open(pair, enc, info, aad, ciphertext_and_tag).ok_or(IntakeError::OpenFailed)
}

/// A credential opened and checked, with the plaintext it came from (kept
/// only as long as a re-seal to the current key needs it; zeroized on drop).
pub struct Opened {
    /// The checked credential.
    pub credential: Credential,
    /// The exact plaintext JSON the client sealed.
    pub plaintext: Zeroizing<Vec<u8>>,
}

/// An envelope opened, before its plaintext is parsed.
pub(crate) struct Envelope {
    /// The client's plaintext JSON.
    pub(crate) plaintext: Zeroizing<Vec<u8>>,
    /// Which version the client sealed.
    pub(crate) version: CredentialVersion,
    /// The credential id (of the client's sealed bytes, also after the
    /// enclave re-sealed them).
    pub(crate) id: String,
}

/// Opens `sealed` with the ring: a version 2 envelope (the client's, or one
/// the enclave re-sealed, see [`resealed`]), else a version 1 one.
pub(crate) fn open_envelope(
    ring: &KeyRing,
    sealed: &SealedCredential,
) -> Result<Envelope, IntakeError> {
    let pair = ring.get(sealed.key_id()).ok_or(IntakeError::UnknownKeyId)?;
    let id = || hex::encode(sealed.id());
    match hpke_open(pair, sealed.enc(), HPKE_INFO_V2, &[], sealed.aead()) {
        Ok(plaintext) => match resealed::unwrap(ring, &plaintext)? {
            Some(inner) => Ok(inner),
            None => Ok(Envelope {
                plaintext,
                version: CredentialVersion::V2,
                id: id(),
            }),
        },
        Err(_) => Ok(Envelope {
            plaintext: hpke_open(pair, sealed.enc(), HPKE_INFO, &[], sealed.aead())?,
            version: CredentialVersion::V1,
            id: id(),
        }),
    }
}

/// Opens `sealed` with the ring, parses the plaintext exactly and checks it
/// against the forwarded metadata and the ring's revoked set. No clock:
/// re-sealing uses this too.
pub(crate) fn open_matching(
    ring: &KeyRing,
    sealed: &SealedCredential,
    metadata: &Metadata<'_>,
) -> Result<(Envelope, credential::Plaintext), IntakeError> {
    let (envelope, plain) = open_even_revoked(ring, sealed, metadata)?;
    if ring.is_revoked(&envelope.id) {
        return Err(IntakeError::Revoked);
    }
    Ok((envelope, plain))
}

/// [`open_matching`] without the revoked check (a revoke of a revoked
/// credential still checks its owner's signature).
pub(crate) fn open_even_revoked(
    ring: &KeyRing,
    sealed: &SealedCredential,
    metadata: &Metadata<'_>,
) -> Result<(Envelope, credential::Plaintext), IntakeError> {
    let envelope = open_envelope(ring, sealed)?;
    let plain = credential::parse_plaintext(&envelope.plaintext, envelope.version)
        .ok_or(IntakeError::MalformedCredential)?;
    if plain.exchange != metadata.exchange || plain.label != metadata.label {
        return Err(IntakeError::MetadataMismatch);
    }
    Ok((envelope, plain))
}

/// Opens and checks a credential at time `now_s` (unix seconds): one HPKE
/// open (two for a version 1 envelope), whose plaintext the caller may
/// re-seal to the current key.
pub fn open_credential(
    ring: &KeyRing,
    sealed: &SealedCredential,
    metadata: &Metadata<'_>,
    now_s: u64,
    policy: &IntakePolicy,
) -> Result<Opened, IntakeError> {
    if metadata.ttl_seconds == 0 {
        return Err(IntakeError::InvalidArgument);
    }
    if metadata.ttl_seconds > policy.max_ttl_seconds {
        return Err(IntakeError::TtlTooLong);
    }
    let (envelope, plain) = open_matching(ring, sealed, metadata)?;
    if plain.not_after <= now_s {
        return Err(IntakeError::CredentialExpired);
    }
    if plain.not_after > now_s.saturating_add(policy.max_ttl_seconds) {
        return Err(IntakeError::TtlTooLong);
    }
    let expires_at = plain
        .not_after
        .min(now_s.saturating_add(metadata.ttl_seconds));
    Ok(Opened {
        credential: Credential::from_plaintext(plain, expires_at, envelope.id, envelope.version),
        plaintext: envelope.plaintext,
    })
}
