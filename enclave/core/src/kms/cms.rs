//! `CiphertextForRecipient`: the CMS EnvelopedData (RFC 5652) that KMS
//! returns instead of a plaintext when a request names a `Recipient`. One
//! KeyTransRecipientInfo, key transport RSAES-OAEP (SHA-256, MGF1-SHA-256,
//! empty label; RFC 3560/4055), content AES-256-CBC with PKCS#7 padding.
//!
//! KMS emits BER with indefinite lengths and the encrypted content split into
//! OCTET STRING chunks (see `tests/kms_data/aws_kms_ciphertext_for_recipient.ber`,
//! a real KMS answer); OpenSSL's `cms -encrypt` emits DER, or the same BER
//! shape with `-stream`. Both are read by [`Envelope::parse`], a strict walk
//! of exactly this structure (`kms::ber`): anything else is refused.

use std::fmt;

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use rsa::pkcs8::EncodePublicKey;
use rsa::{Oaep, PrivateKey};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::ber::{BerError, Reader};
use super::rng::NsmRng;
use crate::nsm::Nsm;

/// Largest `CiphertextForRecipient` accepted (KMS plaintexts are at most
/// 4096 bytes; the envelope adds ~500 bytes for RSA-2048).
pub const MAX_ENVELOPE_LEN: usize = 8 * 1024;
/// Largest decrypted content (the KMS limit for `Decrypt` plaintexts).
pub const MAX_PLAINTEXT_LEN: usize = 4096;
/// Size of the ephemeral recipient key, bits. KMS accepts RSA-2048 and up;
/// 2048 keeps key generation at boot short.
pub(crate) const RECIPIENT_RSA_BITS: usize = 2048;
/// AES-256 key length: the only content-encryption key accepted.
const CEK_LEN: usize = 32;
/// AES block (and CBC IV) length.
const BLOCK_LEN: usize = 16;

const OID_ENVELOPED_DATA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03,
];
const OID_DATA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
];
const OID_AES256_CBC: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a,
];

/// RSAES-OAEP with SHA-256 and MGF1-SHA-256, hash parameters as NULL (what
/// KMS emits) ...
const OAEP_SHA256_NULL: &[u8] = &[
    0x30, 0x3c, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07, 0x30, 0x2f, 0xa0,
    0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
];
/// ... or absent (what OpenSSL emits; RFC 4055 §2.1 requires accepting both).
const OAEP_SHA256_ABSENT: &[u8] = &[
    0x30, 0x38, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07, 0x30, 0x2b, 0xa0,
    0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0xa1, 0x1a,
    0x30, 0x18, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0b, 0x06,
    0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
];

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OCTET_STRING_CONSTRUCTED: u8 = 0x24;
const CONTEXT_0_CONSTRUCTED: u8 = 0xa0;
const CONTEXT_0_PRIMITIVE: u8 = 0x80;

/// Why an envelope was not opened. Crypto failures are one opaque variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// Input longer than [`MAX_ENVELOPE_LEN`].
    #[error("envelope too large")]
    TooLarge,
    /// Not exactly the expected EnvelopedData (structure, algorithms,
    /// versions, trailing bytes).
    #[error("malformed envelope")]
    Malformed,
    /// Key transport or content decryption failed (any reason).
    #[error("envelope could not be decrypted")]
    Decrypt,
    /// The recipient key could not be generated or loaded.
    #[error("recipient key unavailable")]
    Key,
}

impl From<BerError> for CmsError {
    fn from(_: BerError) -> Self {
        CmsError::Malformed
    }
}

/// The parts of a parsed envelope that decryption needs (all public data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// RSA-OAEP ciphertext of the content-encryption key.
    pub encrypted_key: Vec<u8>,
    /// AES-256-CBC IV.
    pub iv: [u8; BLOCK_LEN],
    /// AES-256-CBC ciphertext (chunks concatenated), a non-zero multiple of 16.
    pub encrypted_content: Vec<u8>,
}

impl Envelope {
    /// Parses `CiphertextForRecipient` bytes strictly (see the module docs).
    pub fn parse(bytes: &[u8]) -> Result<Self, CmsError> {
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(CmsError::TooLarge);
        }
        let mut top = Reader::new(bytes);
        let mut content_info = top.enter(SEQUENCE)?;
        content_info.exact(&[OID_ENVELOPED_DATA])?;
        let mut explicit = content_info.enter(CONTEXT_0_CONSTRUCTED)?;
        let mut ed = explicit.enter(SEQUENCE)?;
        let version = small_int(&mut ed)?;
        let mut set = ed.enter(SET)?;
        let (encrypted_key, ktri_version) = key_trans_recipient(&mut set)?;
        ed.close(set)?; // exactly one RecipientInfo: close refuses a second
        if version != ktri_version {
            return Err(CmsError::Malformed);
        }
        let (iv, encrypted_content) = encrypted_content_info(&mut ed)?;
        explicit.close(ed)?; // no unprotectedAttrs
        content_info.close(explicit)?;
        top.close(content_info)?;
        if !top.is_empty() {
            return Err(CmsError::Malformed);
        }
        Ok(Self {
            encrypted_key,
            iv,
            encrypted_content,
        })
    }
}

/// `INTEGER` 0 or 2: the only EnvelopedData/KTRI versions for this shape.
fn small_int(r: &mut Reader<'_>) -> Result<u8, CmsError> {
    match r.primitive(INTEGER)? {
        [v @ (0 | 2)] => Ok(*v),
        _ => Err(CmsError::Malformed),
    }
}

/// One KeyTransRecipientInfo; returns (encryptedKey, version). The
/// recipient identifier is checked for shape only: there is one recipient.
fn key_trans_recipient(set: &mut Reader<'_>) -> Result<(Vec<u8>, u8), CmsError> {
    let mut ktri = set.enter(SEQUENCE)?;
    let version = small_int(&mut ktri)?;
    match version {
        // issuerAndSerialNumber
        0 => {
            let rid = ktri.enter(SEQUENCE)?;
            skip(&mut ktri, rid, MAX_RID_DEPTH)?;
        }
        // [0] subjectKeyIdentifier
        _ => {
            ktri.primitive(CONTEXT_0_PRIMITIVE)?;
        }
    }
    ktri.exact(&[OAEP_SHA256_NULL, OAEP_SHA256_ABSENT])?;
    let key = ktri.primitive(OCTET_STRING)?.to_vec();
    set.close(ktri)?;
    Ok((key, version))
}

/// Nesting allowed inside issuerAndSerialNumber (Name: SEQUENCE > SET >
/// SEQUENCE > value).
const MAX_RID_DEPTH: u8 = 4;

/// Skips a constructed element without interpreting it, at most `depth`
/// levels deep: walking the issuer Name is pointless with one recipient.
fn skip<'a>(parent: &mut Reader<'a>, mut child: Reader<'a>, depth: u8) -> Result<(), CmsError> {
    while !child.at_end() {
        let tag = child.peek_tag().ok_or(CmsError::Malformed)?;
        if tag & super::ber::CONSTRUCTED != 0 {
            let inner = child.enter(tag)?;
            let depth = depth.checked_sub(1).ok_or(CmsError::Malformed)?;
            skip(&mut child, inner, depth)?;
        } else {
            child.primitive(tag)?;
        }
    }
    parent.close(child)?;
    Ok(())
}

/// EncryptedContentInfo: `data`, AES-256-CBC with a 16-byte IV, content
/// primitive or chunked (constructed OCTET STRING of primitive chunks).
fn encrypted_content_info(ed: &mut Reader<'_>) -> Result<([u8; BLOCK_LEN], Vec<u8>), CmsError> {
    let mut eci = ed.enter(SEQUENCE)?;
    eci.exact(&[OID_DATA])?;
    let mut alg = eci.enter(SEQUENCE)?;
    alg.exact(&[OID_AES256_CBC])?;
    let iv: [u8; BLOCK_LEN] = alg
        .primitive(OCTET_STRING)?
        .try_into()
        .map_err(|_| CmsError::Malformed)?;
    eci.close(alg)?;
    let content = match eci.peek_tag() {
        Some(CONTEXT_0_PRIMITIVE) => eci.primitive(CONTEXT_0_PRIMITIVE)?.to_vec(),
        Some(CONTEXT_0_CONSTRUCTED) => {
            let mut chunks = eci.enter(CONTEXT_0_CONSTRUCTED)?;
            let mut out = Vec::new();
            while !chunks.at_end() {
                if chunks.peek_tag() == Some(OCTET_STRING_CONSTRUCTED) {
                    return Err(CmsError::Malformed); // no nested chunking
                }
                out.extend_from_slice(chunks.primitive(OCTET_STRING)?);
            }
            eci.close(chunks)?;
            out
        }
        _ => return Err(CmsError::Malformed),
    };
    ed.close(eci)?;
    if content.is_empty() || content.len() % BLOCK_LEN != 0 {
        return Err(CmsError::Malformed);
    }
    Ok((iv, content))
}

/// The enclave's ephemeral RSA key for one KMS `Recipient` exchange. Its
/// SubjectPublicKeyInfo goes into the attestation document's `public_key`;
/// KMS wraps the answer to it. Secret type: no `Clone`, no key bytes in
/// `Debug`; `rsa::PrivateKey` zeroizes on drop.
pub struct RecipientKey {
    key: PrivateKey,
    spki_der: Vec<u8>,
}

impl RecipientKey {
    /// Generates a fresh RSA-2048 key from NSM randomness.
    pub fn generate(nsm: &dyn Nsm) -> Result<Self, CmsError> {
        let key =
            PrivateKey::new(&mut NsmRng(nsm), RECIPIENT_RSA_BITS).map_err(|_| CmsError::Key)?;
        Self::from_key(key)
    }

    /// DANGER, tests only: a recipient key from PKCS#8 DER (a key generated
    /// outside the enclave). Not compiled into a release image.
    #[cfg(feature = "dev-simulator")]
    pub fn insecure_from_pkcs8_der(der: &[u8]) -> Result<Self, CmsError> {
        use rsa::pkcs8::DecodePrivateKey;
        let key = PrivateKey::from_pkcs8_der(der).map_err(|_| CmsError::Key)?;
        Self::from_key(key)
    }

    fn from_key(key: PrivateKey) -> Result<Self, CmsError> {
        let spki_der = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| CmsError::Key)?
            .into_vec();
        Ok(Self { key, spki_der })
    }

    /// SubjectPublicKeyInfo DER (the attestation document's `public_key`).
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Parses and decrypts a `CiphertextForRecipient`. RSA decryption is
    /// blinded with NSM randomness. Every crypto failure is
    /// [`CmsError::Decrypt`], whichever step failed.
    pub fn decrypt(&self, envelope: &[u8], nsm: &dyn Nsm) -> Result<Zeroizing<Vec<u8>>, CmsError> {
        let env = Envelope::parse(envelope)?;
        if env.encrypted_content.len() > MAX_PLAINTEXT_LEN + BLOCK_LEN {
            return Err(CmsError::TooLarge);
        }
        let cek = Zeroizing::new(
            self.key
                .decrypt_blinded(&mut NsmRng(nsm), Oaep::<Sha256>::new(), &env.encrypted_key)
                .map_err(|_| CmsError::Decrypt)?,
        );
        if cek.len() != CEK_LEN {
            return Err(CmsError::Decrypt);
        }
        let mut buf = Zeroizing::new(env.encrypted_content);
        let dec = cbc::Decryptor::<aes::Aes256>::new_from_slices(&cek, &env.iv)
            .map_err(|_| CmsError::Decrypt)?;
        let len = dec
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map_err(|_| CmsError::Decrypt)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

impl fmt::Debug for RecipientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecipientKey { .. }")
    }
}
