//! `CiphertextForRecipient` as KMS writes it: CMS EnvelopedData, BER with
//! indefinite lengths on the outer containers and the encrypted content
//! split into OCTET STRING chunks; one KeyTransRecipientInfo (version 2,
//! subjectKeyIdentifier = SHA-256 of the recipient's SubjectPublicKeyInfo)
//! with RSAES-OAEP-SHA-256 (hash parameters NULL, as KMS sends them);
//! content AES-256-CBC with PKCS#7 padding. Built with RustCrypto; the
//! enclave's parser is tested separately against OpenSSL's output.

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, PublicKey};
use sha2::{Digest, Sha256};

/// Smallest recipient key accepted (KMS: RSA 2048 and up).
pub const MIN_RSA_BITS: usize = 2048;
/// Size of the encrypted-content chunks (BouncyCastle-style streaming).
const CHUNK: usize = 1024;

const OID_ENVELOPED_DATA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03,
];
const OID_DATA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
];
const OID_AES256_CBC: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a,
];
const OID_RSAES_OAEP: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07,
];
const OID_MGF1: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08,
];
const OID_SHA256: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
];
const NULL: &[u8] = &[0x05, 0x00];
const EOC: &[u8] = &[0x00, 0x00];

/// Why an envelope could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The attested public key is not an RSA SubjectPublicKeyInfo of at
    /// least [`MIN_RSA_BITS`].
    #[error("recipient public key is not RSA-2048 or larger")]
    BadRecipientKey,
    /// Randomness or encryption failed.
    #[error("encryption failed")]
    Crypto,
}

/// DER TLV with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend([0x81, len as u8]),
        0x100..=0xffff => out.extend([0x82, (len >> 8) as u8, len as u8]),
        _ => out.extend([0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// Indefinite-length constructed element.
fn indefinite(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![tag, 0x80];
    for p in parts {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(EOC);
    out
}

fn oaep_sha256_algorithm() -> Vec<u8> {
    let sha256 = tlv(0x30, &[OID_SHA256, NULL].concat());
    let mgf1 = tlv(0x30, &[OID_MGF1, &sha256].concat());
    let params = tlv(0x30, &[tlv(0xa0, &sha256), tlv(0xa1, &mgf1)].concat());
    tlv(0x30, &[OID_RSAES_OAEP, &params].concat())
}

fn random<const N: usize>() -> Result<[u8; N], EnvelopeError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| EnvelopeError::Crypto)?;
    Ok(b)
}

/// Encrypts `plaintext` to the RSA key in `spki_der` (the attestation
/// document's `public_key`), in KMS's wire shape.
pub fn seal_to_recipient(spki_der: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let key =
        PublicKey::from_public_key_der(spki_der).map_err(|_| EnvelopeError::BadRecipientKey)?;
    if key.size() * 8 < MIN_RSA_BITS {
        return Err(EnvelopeError::BadRecipientKey);
    }
    let cek: [u8; 32] = random()?;
    let iv: [u8; 16] = random()?;
    let mut rng = getrandom::SysRng;
    let encrypted_key = key
        .encrypt(&mut rng, Oaep::<Sha256>::new(), &cek)
        .map_err(|_| EnvelopeError::Crypto)?;
    let mut buf = vec![0u8; plaintext.len() + 16 - plaintext.len() % 16];
    buf[..plaintext.len()].copy_from_slice(plaintext);
    let ct = cbc::Encryptor::<aes::Aes256>::new(&cek.into(), &iv.into())
        .encrypt_padded::<Pkcs7>(&mut buf, plaintext.len())
        .map_err(|_| EnvelopeError::Crypto)?
        .to_vec();

    let ski = Sha256::digest(spki_der);
    let ktri = tlv(
        0x30,
        &[
            &[0x02, 0x01, 0x02][..],
            &tlv(0x80, &ski),
            &oaep_sha256_algorithm(),
            &tlv(0x04, &encrypted_key),
        ]
        .concat(),
    );
    let chunks: Vec<u8> = ct.chunks(CHUNK).flat_map(|c| tlv(0x04, c)).collect();
    let content_alg = tlv(0x30, &[OID_AES256_CBC, &tlv(0x04, &iv)].concat());
    let eci = indefinite(
        0x30,
        &[OID_DATA, &content_alg, &indefinite(0xa0, &[&chunks])],
    );
    let ed = indefinite(0x30, &[&[0x02, 0x01, 0x02], &tlv(0x31, &ktri), &eci]);
    Ok(indefinite(
        0x30,
        &[OID_ENVELOPED_DATA, &indefinite(0xa0, &[&ed])],
    ))
}
