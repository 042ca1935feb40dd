//! `GET /attestation/quote` answers: verify the document and that every
//! convenience field the host repeats beside it says the same as the
//! attested document (the host is untrusted).

use crate::binding::{BindingError, KeyBinding, SEC1_P256_LEN};
use crate::error::VerifyError;
use crate::policy::Policy;
use crate::root::TrustRoot;
use crate::verify::{VerifiedDocument, verify};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::time::SystemTime;
use thiserror::Error;

/// Largest quote JSON accepted (a 16 KiB document in base64 plus keys).
pub const MAX_QUOTE_JSON_LEN: usize = 32 * 1024;

/// The host's `/attestation/quote` answer, as on the wire (DESIGN.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteResponse {
    /// Base64 attestation document.
    pub quote: String,
    /// Base64 HPKE public key (65-byte SEC1).
    pub enclave_pubkey: String,
    /// Base64 result-signing public key (65-byte SEC1).
    pub signing_pubkey: String,
    /// Key id.
    pub key_id: String,
    /// Hex PCR0.
    pub image_hash: String,
    /// Log v2: the log's note verifier key (`origin+keyid+base64`); its
    /// Ed25519 key must be the one the document binds as `note`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_vkey: Option<String>,
}

/// Why a quote is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QuoteError {
    /// Larger than [`MAX_QUOTE_JSON_LEN`].
    #[error("quote JSON larger than {MAX_QUOTE_JSON_LEN} bytes")]
    TooLarge,
    /// Not the quote JSON object.
    #[error("quote JSON invalid: {0}")]
    Json(String),
    /// A field is not standard base64.
    #[error("`{0}` is not standard base64")]
    Base64(&'static str),
    /// The attestation document was refused.
    #[error("attestation refused: {0}")]
    Verify(#[from] VerifyError),
    /// The document binds no valid key pair in `user_data`.
    #[error("key binding refused: {0}")]
    Binding(#[from] BindingError),
    /// The document's `public_key` is absent or not a P-256 SEC1 point.
    #[error("attested public_key is not a 65-byte P-256 HPKE key")]
    HpkeKey,
    /// A field beside the document disagrees with the document.
    #[error("`{0}` does not match the attested document")]
    Mismatch(&'static str),
}

impl QuoteError {
    /// A stable snake_case code for machine output.
    pub fn code(&self) -> &'static str {
        match self {
            QuoteError::TooLarge => "quote_too_large",
            QuoteError::Json(_) => "quote_json",
            QuoteError::Base64(_) => "quote_base64",
            QuoteError::Verify(e) => e.code(),
            QuoteError::Binding(_) => "key_binding",
            QuoteError::HpkeKey => "hpke_public_key",
            QuoteError::Mismatch(_) => "quote_mismatch",
        }
    }
}

/// A quote whose document verified and whose fields agree with it: what
/// sealing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedQuote {
    /// The verified attestation document.
    pub document: VerifiedDocument,
    /// Signing key and key id bound in `user_data`.
    pub binding: KeyBinding,
    /// The attested HPKE public key (65-byte SEC1).
    pub hpke_public_key: [u8; SEC1_P256_LEN],
}

impl VerifiedQuote {
    /// The key id to put in `submit_key` (the attested `kid`).
    pub fn key_id(&self) -> &str {
        &self.binding.kid
    }
}

/// Parses and verifies a quote JSON answer.
pub fn verify_quote_json(
    json: &[u8],
    root: &TrustRoot,
    now: SystemTime,
    policy: &Policy,
) -> Result<VerifiedQuote, QuoteError> {
    if json.len() > MAX_QUOTE_JSON_LEN {
        return Err(QuoteError::TooLarge);
    }
    let quote: QuoteResponse =
        serde_json::from_slice(json).map_err(|e| QuoteError::Json(e.to_string()))?;
    quote.verify(root, now, policy)
}

impl QuoteResponse {
    /// Verifies the document, then checks each side field against it.
    pub fn verify(
        &self,
        root: &TrustRoot,
        now: SystemTime,
        policy: &Policy,
    ) -> Result<VerifiedQuote, QuoteError> {
        let doc_bytes = b64(&self.quote, "quote")?;
        let document = verify(&doc_bytes, root, now, policy)?;
        let hpke_public_key = attested_hpke_key(&document)?;
        let binding = KeyBinding::from_document(&document)?;
        if b64(&self.enclave_pubkey, "enclave_pubkey")? != hpke_public_key {
            return Err(QuoteError::Mismatch("enclave_pubkey"));
        }
        if b64(&self.signing_pubkey, "signing_pubkey")? != binding.signing_key_sec1 {
            return Err(QuoteError::Mismatch("signing_pubkey"));
        }
        if self.key_id != binding.kid {
            return Err(QuoteError::Mismatch("key_id"));
        }
        if !self.image_hash.eq_ignore_ascii_case(&document.pcr0_hex()) {
            return Err(QuoteError::Mismatch("image_hash"));
        }
        if let Some(vkey) = &self.log_vkey {
            let key = strongroom_formats::c2sp::note::VerifierKey::parse(vkey)
                .map_err(|_| QuoteError::Mismatch("log_vkey"))?;
            let bound = binding.note_key.ok_or(QuoteError::Mismatch("log_vkey"))?;
            let ed25519 = key.kind() == strongroom_formats::c2sp::note::KeyType::Ed25519;
            if !ed25519 || key.public_key().as_bytes() != &bound {
                return Err(QuoteError::Mismatch("log_vkey"));
            }
        }
        Ok(VerifiedQuote {
            document,
            binding,
            hpke_public_key,
        })
    }
}

fn attested_hpke_key(doc: &VerifiedDocument) -> Result<[u8; SEC1_P256_LEN], QuoteError> {
    let key: [u8; SEC1_P256_LEN] = doc
        .public_key
        .as_deref()
        .and_then(|k| k.try_into().ok())
        .ok_or(QuoteError::HpkeKey)?;
    if key[0] != 0x04 || p256::PublicKey::from_sec1_bytes(&key).is_err() {
        return Err(QuoteError::HpkeKey);
    }
    Ok(key)
}

fn b64(s: &str, field: &'static str) -> Result<Vec<u8>, QuoteError> {
    STANDARD.decode(s).map_err(|_| QuoteError::Base64(field))
}
