//! Client-side sealing: the exact `POST /enclave/submit_key` body of
//! DESIGN.md, HPKE base mode DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 /
//! AES-256-GCM to the attested enclave key.

use crate::binding::SEC1_P256_LEN;
use crate::quote::VerifiedQuote;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::DhP256HkdfSha256;
use hpke::rand_core::CryptoRng;
use hpke::{Deserializable as _, OpModeS, Serializable as _};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

use strongroom_formats::credential::{
    ContractError, Field, SealedCredential, check_exchange, check_key_id, check_label, check_secret,
};

/// HPKE `info` of version 1 credentials (no owner key, no policy).
pub const CREDENTIAL_INFO: &[u8] = strongroom_formats::credential::CREDENTIAL_INFO_V1;
/// HPKE `info` of version 2 credentials (DESIGN.md "Credential v2").
pub const CREDENTIAL_INFO_V2: &[u8] = strongroom_formats::credential::CREDENTIAL_INFO_V2;
/// The limits are the sealed-credential contract's (SPEC.md), the same the
/// host and the enclave apply: a credential this client seals is one they
/// accept.
pub use strongroom_formats::credential::{
    MAX_EXCHANGE_LEN, MAX_LABEL_LEN, MAX_SECRET_LEN, TAG_LEN,
};
pub use strongroom_formats::policy::{Policy, Symbols as SymbolRule, Windows as WindowRule};

/// The HPKE KEM, KDF and AEAD of the credential suite.
pub type Kem = DhP256HkdfSha256;
/// See [`Kem`].
pub type Kdf = HkdfSha256;
/// See [`Kem`].
pub type Aead = AesGcm256;

/// Why sealing failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SealError {
    /// Recipient key is not a 65-byte uncompressed P-256 point.
    #[error("recipient key is not a 65-byte P-256 public key")]
    RecipientKey,
    /// Key id outside the contract (1..=64 visible ASCII characters).
    #[error("key id must be 1..=64 visible ASCII characters")]
    KeyId,
    /// Plaintext and metadata name a different exchange or label.
    #[error("metadata `{0}` differs from the credential's")]
    MetadataMismatch(&'static str),
    /// A field is empty or over its named limit.
    #[error("`{0}` is empty or too long")]
    FieldLength(&'static str),
    /// A field has characters the contract does not allow (labels and
    /// exchange names: `[A-Za-z0-9_.-]`; secrets: printable ASCII).
    #[error("`{0}` contains characters that are not allowed")]
    FieldCharacters(&'static str),
    /// HPKE failed (opaque on purpose).
    #[error("HPKE seal failed")]
    Hpke,
}

/// The secret credential. No `Debug` derive, no `Serialize`; zeroized on drop.
pub struct CredentialPlaintext {
    /// Exchange name, e.g. "binance".
    pub exchange: String,
    /// API key.
    pub api_key: Zeroizing<String>,
    /// API secret.
    pub api_secret: Zeroizing<String>,
    /// Account label, e.g. "main".
    pub label: String,
    /// Unix seconds after which the enclave refuses the credential.
    pub not_after: u64,
    /// Version 2: the owner's public key (65-byte SEC1), whose signatures
    /// alone can revoke, publish, or ask for what the policy does not allow.
    pub owner: Option<Vec<u8>>,
    /// Version 2: the disclosure policy. `None` seals a version 1
    /// credential (the enclave then applies [`Policy::STRICTEST`]).
    pub policy: Option<Policy>,
}

impl core::fmt::Debug for CredentialPlaintext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CredentialPlaintext(..)")
    }
}

/// Borrowed view in DESIGN.md's field order; serialized only into a
/// zeroizing buffer.
#[derive(Serialize)]
struct PlaintextView<'a> {
    exchange: &'a str,
    api_key: &'a str,
    api_secret: &'a str,
    label: &'a str,
    not_after: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<Policy>,
}

impl CredentialPlaintext {
    /// The exact UTF-8 JSON that is sealed, in a zeroizing buffer sized so
    /// serialization never reallocates (which would leave a stray copy).
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let view = PlaintextView {
            exchange: &self.exchange,
            api_key: &self.api_key,
            api_secret: &self.api_secret,
            label: &self.label,
            not_after: self.not_after,
            owner: self.owner.as_ref().map(|o| STANDARD.encode(o)),
            policy: self.policy,
        };
        // Worst case JSON escaping is 6 bytes per input byte (\u00XX).
        let strings =
            self.exchange.len() + self.api_key.len() + self.api_secret.len() + self.label.len();
        let mut out = Zeroizing::new(Vec::with_capacity(strings * 6 + 512));
        // Writing plain structs of strings and a u64 into a Vec cannot fail.
        if serde_json::to_writer(&mut *out, &view).is_err() {
            out.clear();
        }
        out
    }

    fn check(&self, metadata: &CredentialMetadata) -> Result<(), SealError> {
        let contract = |e: ContractError| match e {
            ContractError::Length(f) => SealError::FieldLength(f.name()),
            _ => SealError::FieldCharacters(e.field().name()),
        };
        check_exchange(&self.exchange).map_err(contract)?;
        check_label(&self.label).map_err(contract)?;
        check_secret(Field::ApiKey, &self.api_key).map_err(contract)?;
        check_secret(Field::ApiSecret, &self.api_secret).map_err(contract)?;
        if metadata.exchange != self.exchange {
            return Err(SealError::MetadataMismatch("exchange"));
        }
        if metadata.label != self.label {
            return Err(SealError::MetadataMismatch("label"));
        }
        if self.owner.is_some() && self.policy.is_none() {
            return Err(SealError::FieldLength("policy"));
        }
        let bad_owner = self.owner.as_ref().is_some_and(|o| {
            o.len() != SEC1_P256_LEN || p256::PublicKey::from_sec1_bytes(o).is_err()
        });
        if bad_owner {
            return Err(SealError::FieldCharacters("owner"));
        }
        if self.policy.is_some_and(|p| !p.is_valid()) {
            return Err(SealError::FieldLength("min_interval_seconds"));
        }
        Ok(())
    }

    /// The HPKE `info` this credential is sealed under.
    pub fn info(&self) -> &'static [u8] {
        if self.policy.is_some() {
            CREDENTIAL_INFO_V2
        } else {
            CREDENTIAL_INFO
        }
    }
}

/// `metadata` of `submit_key`: what the host may see and forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialMetadata {
    /// Exchange name (must equal the sealed one).
    pub exchange: String,
    /// Label (must equal the sealed one).
    pub label: String,
    /// Requested session lifetime, seconds.
    pub ttl: u64,
}

/// The `POST /enclave/submit_key` request body (DESIGN.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitKeyBody {
    /// Key id of the HPKE key sealed to.
    pub key_id: String,
    /// Base64 `enc` (65-byte SEC1 point).
    pub ephemeral_pub: String,
    /// Base64 AEAD ciphertext without the tag.
    pub ciphertext: String,
    /// Base64 16-byte AEAD tag.
    pub tag: String,
    /// Cleartext metadata.
    pub metadata: CredentialMetadata,
}

/// Whom to seal to: an attested HPKE key and its key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealRecipient {
    key_id: String,
    public_key: [u8; SEC1_P256_LEN],
}

impl SealRecipient {
    /// The key a verified quote attests.
    pub fn from_verified_quote(quote: &VerifiedQuote) -> Self {
        SealRecipient {
            key_id: quote.key_id().to_owned(),
            public_key: quote.hpke_public_key,
        }
    }

    /// A key that nobody attested. Only for tests and tools that verified
    /// the key some other way.
    pub fn danger_unattested(key_id: &str, public_key: &[u8]) -> Result<Self, SealError> {
        check_key_id(key_id).map_err(|_| SealError::KeyId)?;
        let public_key: [u8; SEC1_P256_LEN] =
            public_key.try_into().map_err(|_| SealError::RecipientKey)?;
        if public_key[0] != 0x04 || p256::PublicKey::from_sec1_bytes(&public_key).is_err() {
            return Err(SealError::RecipientKey);
        }
        Ok(SealRecipient {
            key_id: key_id.to_owned(),
            public_key,
        })
    }

    /// Key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

/// Seals `credential` to `recipient` with fresh randomness from the OS.
pub fn seal_credential(
    recipient: &SealRecipient,
    credential: &CredentialPlaintext,
    metadata: &CredentialMetadata,
) -> Result<SubmitKeyBody, SealError> {
    let mut rng = hpke::rand_core::UnwrapErr(getrandom::SysRng);
    seal_credential_with_rng(recipient, credential, metadata, &mut rng)
}

/// [`seal_credential`] with caller-provided randomness (known-answer tests:
/// the RNG's first 32 bytes are the ephemeral key's `ikmE`).
pub fn seal_credential_with_rng(
    recipient: &SealRecipient,
    credential: &CredentialPlaintext,
    metadata: &CredentialMetadata,
    rng: &mut impl CryptoRng,
) -> Result<SubmitKeyBody, SealError> {
    credential.check(metadata)?;
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&recipient.public_key)
        .map_err(|_| SealError::RecipientKey)?;
    let (enc, mut ctx) =
        hpke::setup_sender_with_rng::<Aead, Kdf, Kem>(&OpModeS::Base, &pk, credential.info(), rng)
            .map_err(|_| SealError::Hpke)?;
    let plaintext = credential.to_json();
    let aead = ctx.seal(&plaintext, b"").map_err(|_| SealError::Hpke)?;
    let sealed = SealedCredential::from_aead(&recipient.key_id, enc.to_bytes().to_vec(), aead)
        .map_err(|e| match e.field() {
            Field::KeyId => SealError::KeyId,
            _ => SealError::FieldLength("credential"),
        })?;
    Ok(SubmitKeyBody {
        key_id: sealed.key_id().to_owned(),
        ephemeral_pub: STANDARD.encode(sealed.enc()),
        ciphertext: STANDARD.encode(sealed.ciphertext()),
        tag: STANDARD.encode(sealed.tag()),
        metadata: metadata.clone(),
    })
}
