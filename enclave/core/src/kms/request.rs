//! KMS JSON requests (`x-amz-json-1.1`, `X-Amz-Target: TrentService.*`)
//! with a `Recipient` (the enclave's attestation document, RSAES_OAEP_SHA_256),
//! SigV4-signed; and strict, bounded parsing of the answers. I/O-free: the
//! caller sends `POST /` with [`KmsRequest::headers`] and [`KmsRequest::body`]
//! over the attested egress path and hands back status and body.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::sigv4::{self, AmzDate, Credentials, Scope, SignableRequest};

/// `X-Amz-Target` of GenerateDataKey.
pub(crate) const TARGET_GENERATE_DATA_KEY: &str = "TrentService.GenerateDataKey";
/// `X-Amz-Target` of Decrypt.
pub(crate) const TARGET_DECRYPT: &str = "TrentService.Decrypt";
/// KMS's JSON content type.
pub(crate) const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The only key encryption algorithm KMS offers for Nitro recipients.
pub(crate) const KEY_ENCRYPTION_ALGORITHM: &str = "RSAES_OAEP_SHA_256";
/// Largest KMS answer read (a Recipient answer is a few KiB).
pub const MAX_RESPONSE_LEN: usize = 64 * 1024;
/// Largest attestation document sent (the verifier's document limit).
pub const MAX_ATTESTATION_LEN: usize = 16 * 1024;
/// Largest `CiphertextBlob` (KMS: 6144 bytes).
pub const MAX_CIPHERTEXT_BLOB_LEN: usize = 6144;
/// Longest key id / ARN / alias (KMS: 2048).
pub const MAX_KEY_ID_LEN: usize = 2048;
/// Longest error type or message kept from an error answer.
const MAX_ERROR_TEXT: usize = 256;

/// Why a request could not be built or an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// An input or the answer exceeds its limit.
    #[error("KMS input or answer too large")]
    TooLarge,
    /// The answer is not the expected JSON (unknown/missing fields, bad
    /// base64, a `Plaintext` where only `CiphertextForRecipient` may be).
    #[error("malformed KMS answer")]
    Malformed,
    /// KMS refused: `kind` is its `__type` without the namespace
    /// (e.g. `AccessDeniedException`), `status` the HTTP status.
    #[error("KMS refused the request ({status} {kind})")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Error type, printable ASCII, at most 256 bytes.
        kind: String,
    },
}

impl KmsError {
    /// True for a refusal by key policy (wrong measurements, wrong role).
    pub fn is_access_denied(&self) -> bool {
        matches!(self, KmsError::Refused { kind, .. } if kind == "AccessDeniedException")
    }
}

/// Where KMS is: the TLS host name and the SigV4 region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsEndpoint {
    /// `Host` header, e.g. `kms.eu-central-1.amazonaws.com` (with `:port`
    /// only when not 443, as HTTP clients send it).
    pub host: String,
    /// e.g. `eu-central-1`.
    pub region: String,
}

/// A signed request, ready to send as `POST /`. `Debug` shows header names
/// only: the session token and signature are credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct KmsRequest {
    /// Headers to send, `authorization` last (every other one is signed).
    pub headers: Vec<(String, String)>,
    /// The JSON body, exactly as signed.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for KmsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("KmsRequest")
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Recipient<'a> {
    key_encryption_algorithm: &'a str,
    attestation_document: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateDataKeyBody<'a> {
    key_id: &'a str,
    key_spec: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    encryption_context: &'a BTreeMap<String, String>,
    recipient: Recipient<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptBody<'a> {
    ciphertext_blob: String,
    key_id: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    encryption_context: &'a BTreeMap<String, String>,
    recipient: Recipient<'a>,
}

fn recipient(attestation: &[u8]) -> Result<Recipient<'static>, KmsError> {
    if attestation.len() > MAX_ATTESTATION_LEN {
        return Err(KmsError::TooLarge);
    }
    Ok(Recipient {
        key_encryption_algorithm: KEY_ENCRYPTION_ALGORITHM,
        attestation_document: B64.encode(attestation),
    })
}

fn check_key_id(key_id: &str) -> Result<(), KmsError> {
    if key_id.is_empty() || key_id.len() > MAX_KEY_ID_LEN {
        return Err(KmsError::TooLarge);
    }
    Ok(())
}

/// Signing inputs shared by both operations.
#[derive(Debug)]
pub struct Signer<'a> {
    /// Where the request goes.
    pub endpoint: &'a KmsEndpoint,
    /// The host-supplied credentials.
    pub credentials: &'a Credentials,
    /// Signing time from the enclave's clock.
    pub date: &'a AmzDate,
}

impl Signer<'_> {
    fn sign(&self, target: &str, body: Vec<u8>) -> KmsRequest {
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), CONTENT_TYPE.into()),
            ("host".into(), self.endpoint.host.clone()),
            ("x-amz-date".into(), self.date.date_time().into()),
            ("x-amz-target".into(), target.into()),
        ];
        if let Some(token) = self.credentials.session_token() {
            headers.push(("x-amz-security-token".into(), token.into()));
        }
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let req = SignableRequest {
            method: "POST",
            canonical_uri: "/",
            canonical_query: "",
            headers: &pairs,
            payload: &body,
        };
        let scope = Scope {
            region: &self.endpoint.region,
            service: "kms",
        };
        let auth = sigv4::authorization(&req, self.credentials, self.date, scope);
        headers.push(("authorization".into(), auth));
        KmsRequest { headers, body }
    }

    /// `GenerateDataKey` (AES_256) for `key_id`, answered to `attestation`'s
    /// public key.
    pub fn generate_data_key(
        &self,
        key_id: &str,
        context: &BTreeMap<String, String>,
        attestation: &[u8],
    ) -> Result<KmsRequest, KmsError> {
        check_key_id(key_id)?;
        let body = GenerateDataKeyBody {
            key_id,
            key_spec: "AES_256",
            encryption_context: context,
            recipient: recipient(attestation)?,
        };
        let json = serde_json::to_vec(&body).map_err(|_| KmsError::Malformed)?;
        Ok(self.sign(TARGET_GENERATE_DATA_KEY, json))
    }

    /// `Decrypt` of a stored `CiphertextBlob`, answered to `attestation`'s key.
    pub fn decrypt(
        &self,
        key_id: &str,
        context: &BTreeMap<String, String>,
        ciphertext_blob: &[u8],
        attestation: &[u8],
    ) -> Result<KmsRequest, KmsError> {
        check_key_id(key_id)?;
        if ciphertext_blob.is_empty() || ciphertext_blob.len() > MAX_CIPHERTEXT_BLOB_LEN {
            return Err(KmsError::TooLarge);
        }
        let body = DecryptBody {
            ciphertext_blob: B64.encode(ciphertext_blob),
            key_id,
            encryption_context: context,
            recipient: recipient(attestation)?,
        };
        let json = serde_json::to_vec(&body).map_err(|_| KmsError::Malformed)?;
        Ok(self.sign(TARGET_DECRYPT, json))
    }
}

/// A GenerateDataKey answer with a Recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateDataKeyOutput {
    /// The data key under the KMS key: store it (host, PostgreSQL).
    pub ciphertext_blob: Vec<u8>,
    /// The data key as CMS EnvelopedData to the enclave's recipient key.
    pub ciphertext_for_recipient: Vec<u8>,
    /// The KMS key's ARN.
    pub key_id: String,
}

/// A Decrypt answer with a Recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptOutput {
    /// The plaintext as CMS EnvelopedData to the enclave's recipient key.
    pub ciphertext_for_recipient: Vec<u8>,
    /// The KMS key's ARN.
    pub key_id: String,
}

/// Every field KMS may send in these answers; anything else is refused.
/// `Plaintext` must be absent, null or empty: with a Recipient, KMS never
/// returns the plaintext itself (AWS API reference, Decrypt/GenerateDataKey).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Answer {
    ciphertext_blob: Option<String>,
    ciphertext_for_recipient: Option<String>,
    key_id: Option<String>,
    plaintext: Option<String>,
    #[serde(rename = "EncryptionAlgorithm")]
    _encryption_algorithm: Option<String>,
    #[serde(rename = "KeyMaterialId")]
    _key_material_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(rename = "__type")]
    kind: String,
}

fn refusal(status: u16, body: &[u8]) -> KmsError {
    let kind = serde_json::from_slice::<ErrorAnswer>(body)
        .map(|e| e.kind)
        .unwrap_or_default();
    // `__type` may carry a namespace: `com.amazonaws.kms#AccessDeniedException`.
    let kind = kind.rsplit('#').next().unwrap_or_default();
    let clean = kind.len() <= MAX_ERROR_TEXT && kind.bytes().all(|b| b.is_ascii_alphanumeric());
    KmsError::Refused {
        status,
        kind: if clean && !kind.is_empty() {
            kind.to_owned()
        } else {
            "Unknown".to_owned()
        },
    }
}

fn parse_answer(status: u16, body: &[u8]) -> Result<Answer, KmsError> {
    if body.len() > MAX_RESPONSE_LEN {
        return Err(KmsError::TooLarge);
    }
    if status != 200 {
        return Err(refusal(status, body));
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|_| KmsError::Malformed)?;
    if answer.plaintext.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(KmsError::Malformed);
    }
    Ok(answer)
}

fn b64_field(v: Option<String>, max: usize) -> Result<Vec<u8>, KmsError> {
    let s = v.ok_or(KmsError::Malformed)?;
    if s.len() > max.div_ceil(3) * 4 {
        return Err(KmsError::TooLarge);
    }
    let bytes = B64.decode(s).map_err(|_| KmsError::Malformed)?;
    if bytes.is_empty() {
        return Err(KmsError::Malformed);
    }
    // The text bound above allows up to two bytes more than `max`.
    if bytes.len() > max {
        return Err(KmsError::TooLarge);
    }
    Ok(bytes)
}

fn key_id_field(v: Option<String>) -> Result<String, KmsError> {
    let id = v.ok_or(KmsError::Malformed)?;
    check_key_id(&id)?;
    Ok(id)
}

/// Parses a GenerateDataKey answer (HTTP `status`, `body`).
pub fn parse_generate_data_key(
    status: u16,
    body: &[u8],
) -> Result<GenerateDataKeyOutput, KmsError> {
    let a = parse_answer(status, body)?;
    Ok(GenerateDataKeyOutput {
        ciphertext_blob: b64_field(a.ciphertext_blob, MAX_CIPHERTEXT_BLOB_LEN)?,
        ciphertext_for_recipient: b64_field(
            a.ciphertext_for_recipient,
            super::cms::MAX_ENVELOPE_LEN,
        )?,
        key_id: key_id_field(a.key_id)?,
    })
}

/// Parses a Decrypt answer (HTTP `status`, `body`).
pub fn parse_decrypt(status: u16, body: &[u8]) -> Result<DecryptOutput, KmsError> {
    let a = parse_answer(status, body)?;
    if a.ciphertext_blob.is_some() {
        return Err(KmsError::Malformed);
    }
    Ok(DecryptOutput {
        ciphertext_for_recipient: b64_field(
            a.ciphertext_for_recipient,
            super::cms::MAX_ENVELOPE_LEN,
        )?,
        key_id: key_id_field(a.key_id)?,
    })
}
