//! The sealed-credential contract: one definition of every limit and rule
//! that the client (`strongroom seal`), the host (validation, storage,
//! rotation) and the enclave (intake) apply to a credential, so that all
//! three accept and refuse the same inputs (SPEC.md "Sealed credential").
//!
//! A sealed credential is HPKE base-mode output: the encapsulated key `enc`
//! (65-byte uncompressed SEC1 point), then the AEAD output `ciphertext ‖
//! tag`. [`SealedCredential`] is the one place that joins and splits those
//! parts; its stored form ([`SealedCredential::to_stored`]) is `enc ‖
//! ciphertext ‖ tag`, whose SHA-256 is the credential's identity.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// HPKE `info` of a version 1 credential.
pub const CREDENTIAL_INFO_V1: &[u8] = b"strongroom/credential/v1";
/// HPKE `info` of a version 2 credential (owner key and policy).
pub const CREDENTIAL_INFO_V2: &[u8] = b"strongroom/credential/v2";
/// HPKE `enc` for DHKEM(P-256): an uncompressed SEC1 point.
pub const ENC_LEN: usize = 65;
/// AES-256-GCM tag.
pub const TAG_LEN: usize = 16;
/// Longest HPKE ciphertext without the tag (= longest plaintext JSON). The
/// largest plaintext the field rules allow, with every escapable character
/// escaped, fits with room to spare ([`MAX_PLAINTEXT_JSON_V1`]).
pub const MAX_CIPHERTEXT_LEN: usize = 4096;
/// Longest `ciphertext ‖ tag`.
pub const MAX_AEAD_LEN: usize = MAX_CIPHERTEXT_LEN + TAG_LEN;
/// Longest stored form `enc ‖ ciphertext ‖ tag`.
pub const MAX_STORED_LEN: usize = ENC_LEN + MAX_AEAD_LEN;
/// Shortest stored form: a one-byte ciphertext.
pub const MIN_STORED_LEN: usize = ENC_LEN + 1 + TAG_LEN;
/// Longest key id (the enclave makes them; `v<n>:` and a short hex id).
pub const MAX_KEY_ID_LEN: usize = 64;
/// Longest exchange name.
pub const MAX_EXCHANGE_LEN: usize = 32;
/// Longest label.
pub const MAX_LABEL_LEN: usize = 64;
/// Longest `api_key` / `api_secret`.
pub const MAX_SECRET_LEN: usize = 512;
/// Upper bound of a version 1 plaintext JSON under these rules: the fixed
/// keys and punctuation, the longest names, both secrets made only of
/// characters JSON escapes (`"` and `\`, two bytes each), a 20-digit
/// `not_after`.
pub const MAX_PLAINTEXT_JSON_V1: usize =
    80 + MAX_EXCHANGE_LEN + MAX_LABEL_LEN + 4 * MAX_SECRET_LEN + 20;

/// Upper bound of a version 2 plaintext: version 1's, plus `"owner"` (88
/// base64 characters) and the policy object with the longest values.
pub const MAX_PLAINTEXT_JSON_V2: usize = MAX_PLAINTEXT_JSON_V1 + 24 + 88 + 160;

const _: () = assert!(MAX_PLAINTEXT_JSON_V1 <= MAX_CIPHERTEXT_LEN);
const _: () = assert!(MAX_PLAINTEXT_JSON_V2 <= MAX_CIPHERTEXT_LEN);

/// A field of the contract, named as the HTTP API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// `key_id`.
    KeyId,
    /// `ephemeral_pub` (`enc`).
    Enc,
    /// `ciphertext` (without the tag).
    Ciphertext,
    /// `tag`.
    Tag,
    /// `metadata.exchange` / plaintext `exchange`.
    Exchange,
    /// `metadata.label` / plaintext `label`.
    Label,
    /// Plaintext `api_key`.
    ApiKey,
    /// Plaintext `api_secret`.
    ApiSecret,
}

impl Field {
    /// The field's name in the HTTP API.
    pub fn name(self) -> &'static str {
        match self {
            Field::KeyId => "key_id",
            Field::Enc => "ephemeral_pub",
            Field::Ciphertext => "ciphertext",
            Field::Tag => "tag",
            Field::Exchange => "exchange",
            Field::Label => "label",
            Field::ApiKey => "api_key",
            Field::ApiSecret => "api_secret",
        }
    }
}

/// A value outside the contract. Names the field, never its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// Empty, or longer than the field's maximum, or not its exact length.
    #[error("`{}` has a length outside the contract", .0.name())]
    Length(Field),
    /// A character the field does not allow, or `enc` is not an
    /// uncompressed point.
    #[error("`{}` contains characters or bytes the contract does not allow", .0.name())]
    Characters(Field),
}

impl ContractError {
    /// The field at fault.
    pub fn field(self) -> Field {
        match self {
            ContractError::Length(f) | ContractError::Characters(f) => f,
        }
    }
}

fn check(
    field: Field,
    value: &str,
    max: usize,
    allowed: impl Fn(u8) -> bool,
) -> Result<(), ContractError> {
    if value.is_empty() || value.len() > max {
        return Err(ContractError::Length(field));
    }
    if !value.bytes().all(allowed) {
        return Err(ContractError::Characters(field));
    }
    Ok(())
}

/// `[A-Za-z0-9_.-]`: exchange names and labels.
fn name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Key id: 1..=[`MAX_KEY_ID_LEN`] visible ASCII characters.
pub fn check_key_id(key_id: &str) -> Result<(), ContractError> {
    check(Field::KeyId, key_id, MAX_KEY_ID_LEN, |b| {
        b.is_ascii_graphic()
    })
}

/// Exchange name: 1..=[`MAX_EXCHANGE_LEN`] of `[A-Za-z0-9_.-]`.
pub fn check_exchange(exchange: &str) -> Result<(), ContractError> {
    check(Field::Exchange, exchange, MAX_EXCHANGE_LEN, name_char)
}

/// Label: 1..=[`MAX_LABEL_LEN`] of `[A-Za-z0-9_.-]`.
pub fn check_label(label: &str) -> Result<(), ContractError> {
    check(Field::Label, label, MAX_LABEL_LEN, name_char)
}

/// `api_key` / `api_secret`: 1..=[`MAX_SECRET_LEN`] printable ASCII
/// characters (space to `~`). The error names the field only.
pub fn check_secret(field: Field, secret: &str) -> Result<(), ContractError> {
    check(field, secret, MAX_SECRET_LEN, |b| {
        (0x20..=0x7e).contains(&b)
    })
}

/// An HPKE-sealed credential exactly as the client produced it, with its
/// shape checked: key id per [`check_key_id`], `enc` an uncompressed
/// 65-byte point, `ciphertext ‖ tag` of 1..=[`MAX_CIPHERTEXT_LEN`] bytes
/// plus the tag. On the RPC it is the CBOR map `{"key_id": text, "enc":
/// bstr, "ciphertext": bstr (ciphertext ‖ tag)}` (SPEC.md).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCredential {
    key_id: String,
    enc: Vec<u8>,
    aead: Vec<u8>,
}

impl core::fmt::Debug for SealedCredential {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealedCredential")
            .field("key_id", &self.key_id)
            .field("len", &(self.enc.len() + self.aead.len()))
            .finish()
    }
}

impl SealedCredential {
    /// Joins the three parts the HTTP API carries separately.
    pub fn from_parts(
        key_id: &str,
        enc: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<Self, ContractError> {
        if tag.len() != TAG_LEN {
            return Err(ContractError::Length(Field::Tag));
        }
        if ciphertext.is_empty() || ciphertext.len() > MAX_CIPHERTEXT_LEN {
            return Err(ContractError::Length(Field::Ciphertext));
        }
        let mut aead = Vec::with_capacity(ciphertext.len() + TAG_LEN);
        aead.extend_from_slice(ciphertext);
        aead.extend_from_slice(tag);
        Self::from_aead(key_id, enc.to_vec(), aead)
    }

    /// From `enc` and the AEAD output `ciphertext ‖ tag` (the RPC form).
    pub fn from_aead(key_id: &str, enc: Vec<u8>, aead: Vec<u8>) -> Result<Self, ContractError> {
        check_key_id(key_id)?;
        if enc.len() != ENC_LEN {
            return Err(ContractError::Length(Field::Enc));
        }
        if enc[0] != 0x04 {
            return Err(ContractError::Characters(Field::Enc));
        }
        if !(TAG_LEN + 1..=MAX_AEAD_LEN).contains(&aead.len()) {
            return Err(ContractError::Length(Field::Ciphertext));
        }
        Ok(SealedCredential {
            key_id: key_id.to_owned(),
            enc,
            aead,
        })
    }

    /// From the stored form `enc ‖ ciphertext ‖ tag` (the database's
    /// `sealed` column) and its key id.
    pub fn from_stored(key_id: &str, stored: &[u8]) -> Result<Self, ContractError> {
        if !(MIN_STORED_LEN..=MAX_STORED_LEN).contains(&stored.len()) {
            return Err(ContractError::Length(Field::Ciphertext));
        }
        let (enc, aead) = stored.split_at(ENC_LEN);
        Self::from_aead(key_id, enc.to_vec(), aead.to_vec())
    }

    /// The stored form `enc ‖ ciphertext ‖ tag`.
    pub fn to_stored(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.enc.len() + self.aead.len());
        out.extend_from_slice(&self.enc);
        out.extend_from_slice(&self.aead);
        out
    }

    /// SHA-256 of the stored form: the credential's identity (DESIGN.md
    /// "Credential v2", `credential`).
    pub fn id(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(&self.enc);
        h.update(&self.aead);
        h.finalize().into()
    }

    /// Key id of the HPKE key it was sealed to.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// HPKE `enc`, 65 bytes.
    pub fn enc(&self) -> &[u8] {
        &self.enc
    }

    /// The AEAD output `ciphertext ‖ tag`.
    pub fn aead(&self) -> &[u8] {
        &self.aead
    }

    /// The ciphertext without the tag.
    pub fn ciphertext(&self) -> &[u8] {
        &self.aead[..self.aead.len() - TAG_LEN]
    }

    /// The 16-byte tag.
    pub fn tag(&self) -> &[u8] {
        &self.aead[self.aead.len() - TAG_LEN..]
    }
}

/// The RPC form (SPEC.md): field names and encodings of protocol v2.
#[derive(Serialize)]
struct WireOut<'a> {
    key_id: &'a str,
    #[serde(with = "serde_bytes")]
    enc: &'a [u8],
    #[serde(with = "serde_bytes")]
    ciphertext: &'a [u8],
}

/// [`WireOut`], decoded.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireIn {
    key_id: String,
    #[serde(with = "serde_bytes")]
    enc: Vec<u8>,
    #[serde(with = "serde_bytes")]
    ciphertext: Vec<u8>,
}

impl Serialize for SealedCredential {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireOut {
            key_id: &self.key_id,
            enc: &self.enc,
            ciphertext: &self.aead,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SealedCredential {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = WireIn::deserialize(deserializer)?;
        SealedCredential::from_aead(&w.key_id, w.enc, w.ciphertext)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "credential_tests.rs"]
mod tests;
