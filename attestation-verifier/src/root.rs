//! The trust anchor: a root certificate pinned by its SHA-256 fingerprint.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::Decode as _;
use sha2::{Digest as _, Sha256};
use thiserror::Error;
use x509_cert::Certificate;

/// DER of the AWS Nitro Enclaves Root-G1 certificate (from AWS, unchanged).
const AWS_NITRO_ROOT_G1_DER: &[u8] = include_bytes!("roots/aws_nitro_root_g1.der");

/// SHA-256 of the embedded AWS Nitro Root-G1 DER, as AWS publishes it.
pub const AWS_NITRO_ROOT_G1_SHA256: [u8; 32] = [
    0x64, 0x1a, 0x03, 0x21, 0xa3, 0xe2, 0x44, 0xef, 0xe4, 0x56, 0x46, 0x31, 0x95, 0xd6, 0x06, 0x31,
    0x7e, 0xd7, 0xcd, 0xcc, 0x3c, 0x17, 0x56, 0xe0, 0x98, 0x93, 0xf3, 0xc6, 0x8f, 0x79, 0xbb, 0x5b,
];

/// Largest root certificate accepted from a file.
pub const MAX_ROOT_PEM_LEN: usize = 16 * 1024;

/// Why a trust root could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TrustRootError {
    /// Not exactly one PEM `CERTIFICATE` block, or bad base64.
    #[error("expected exactly one PEM CERTIFICATE block")]
    Pem,
    /// The bytes are not a DER X.509 certificate.
    #[error("root is not a valid DER X.509 certificate")]
    Der,
    /// The certificate's SHA-256 differs from the pin.
    #[error("root certificate fingerprint does not match the pin")]
    Fingerprint,
    /// Input larger than [`MAX_ROOT_PEM_LEN`].
    #[error("root certificate input too large")]
    TooLarge,
}

/// A pinned root certificate. `cabundle[0]` of a document must equal it byte
/// for byte; the document's copy is never trusted on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRoot {
    der: Vec<u8>,
    fingerprint: [u8; 32],
    dev: bool,
}

impl TrustRoot {
    /// The AWS Nitro Enclaves Root-G1, embedded and pinned by its published
    /// fingerprint (a unit test proves the embedded bytes match the pin).
    pub fn aws_nitro_g1() -> Self {
        TrustRoot {
            der: AWS_NITRO_ROOT_G1_DER.to_vec(),
            fingerprint: AWS_NITRO_ROOT_G1_SHA256,
            dev: false,
        }
    }

    /// A production root given as DER, accepted only if its SHA-256 equals `pin`.
    pub fn from_der_pinned(der: &[u8], pin: [u8; 32]) -> Result<Self, TrustRootError> {
        let root = Self::parse(der, false)?;
        if root.fingerprint != pin {
            return Err(TrustRootError::Fingerprint);
        }
        Ok(root)
    }

    /// A development root (the NSM simulator's), from PEM. Documents verified
    /// under it say so in [`crate::VerifiedDocument::dev_root`].
    pub fn dev_from_pem(pem: &str) -> Result<Self, TrustRootError> {
        Self::parse(&pem_to_der(pem)?, true)
    }

    /// A development root from DER; see [`TrustRoot::dev_from_pem`].
    pub fn dev_from_der(der: &[u8]) -> Result<Self, TrustRootError> {
        Self::parse(der, true)
    }

    fn parse(der: &[u8], dev: bool) -> Result<Self, TrustRootError> {
        if der.len() > MAX_ROOT_PEM_LEN {
            return Err(TrustRootError::TooLarge);
        }
        Certificate::from_der(der).map_err(|_| TrustRootError::Der)?;
        Ok(TrustRoot {
            der: der.to_vec(),
            fingerprint: Sha256::digest(der).into(),
            dev,
        })
    }

    /// The pinned DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the DER.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// True for roots built with `dev_from_*`.
    pub fn is_dev(&self) -> bool {
        self.dev
    }
}

/// Extracts the single `CERTIFICATE` block of a PEM text.
fn pem_to_der(pem: &str) -> Result<Vec<u8>, TrustRootError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    if pem.len() > MAX_ROOT_PEM_LEN {
        return Err(TrustRootError::TooLarge);
    }
    if pem.matches(BEGIN).count() != 1 {
        return Err(TrustRootError::Pem);
    }
    let (_, rest) = pem.split_once(BEGIN).ok_or(TrustRootError::Pem)?;
    let (body, tail) = rest.split_once(END).ok_or(TrustRootError::Pem)?;
    if !tail.trim().is_empty() {
        return Err(TrustRootError::Pem);
    }
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(b64).map_err(|_| TrustRootError::Pem)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn embedded_aws_root_matches_published_pin() {
        let digest: [u8; 32] = Sha256::digest(AWS_NITRO_ROOT_G1_DER).into();
        assert_eq!(digest, AWS_NITRO_ROOT_G1_SHA256);
        assert!(Certificate::from_der(AWS_NITRO_ROOT_G1_DER).is_ok());
        let root = TrustRoot::from_der_pinned(AWS_NITRO_ROOT_G1_DER, AWS_NITRO_ROOT_G1_SHA256);
        assert_eq!(root.unwrap(), TrustRoot::aws_nitro_g1());
        assert!(!TrustRoot::aws_nitro_g1().is_dev());
    }

    #[test]
    fn pem_roundtrip_marks_dev_and_rejects_garbage() {
        let b64 = STANDARD.encode(AWS_NITRO_ROOT_G1_DER);
        let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        let root = TrustRoot::dev_from_pem(&pem).unwrap();
        assert!(root.is_dev());
        assert_eq!(root.fingerprint(), AWS_NITRO_ROOT_G1_SHA256);
        assert_eq!(TrustRoot::dev_from_pem("nope"), Err(TrustRootError::Pem));
        assert_eq!(
            TrustRoot::dev_from_pem(&format!("{pem}{pem}")),
            Err(TrustRootError::Pem)
        );
        let wrong_pin = TrustRoot::from_der_pinned(AWS_NITRO_ROOT_G1_DER, [0; 32]);
        assert_eq!(wrong_pin, Err(TrustRootError::Fingerprint));
    }
}
