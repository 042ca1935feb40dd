//! The COSE_Sign1 envelope of an NSM document (RFC 9052 §4.2), ES384 only.
//!
//! The Sig_structure is built from the protected-header and payload bytes
//! exactly as received; nothing is ever re-encoded.

use crate::cbor::{self, Item};
use crate::error::VerifyError;
use crate::sig::{Curve, EcPublicKey, Encoding};

/// CBOR tag of COSE_Sign1 (RFC 9052 §2).
const COSE_SIGN1_TAG: u64 = 18;
/// COSE header label `alg`.
const LABEL_ALG: u64 = 1;
/// COSE algorithm ES384 is -35, encoded as negative integer argument 34.
const ES384_NINT: u64 = 34;
/// Raw r||s length of an ES384 signature.
pub const ES384_SIGNATURE_LEN: usize = 96;

/// The parts of a COSE_Sign1 that the signature covers, borrowed from the input.
#[derive(Debug)]
pub struct Sign1<'a> {
    /// Serialized protected header, as received.
    pub protected: &'a [u8],
    /// Payload, as received.
    pub payload: &'a [u8],
    /// Signature, r||s.
    pub signature: &'a [u8],
}

/// Parses the envelope and checks the headers (checks 2–7).
pub fn parse(doc: &[u8]) -> Result<Sign1<'_>, VerifyError> {
    let item = cbor::decode(doc).map_err(VerifyError::MalformedCbor)?;
    let parts = match item {
        Item::Tag(COSE_SIGN1_TAG, inner) => match *inner {
            Item::Array(parts) => parts,
            _ => return Err(VerifyError::NotCoseSign1),
        },
        Item::Array(parts) => parts,
        _ => return Err(VerifyError::NotCoseSign1),
    };
    let [protected, unprotected, payload, signature] =
        <[Item<'_>; 4]>::try_from(parts).map_err(|_| VerifyError::NotCoseSign1)?;
    let protected = protected.as_bytes().ok_or(VerifyError::ProtectedHeader)?;
    check_protected(protected)?;
    check_unprotected(&unprotected)?;
    let payload = payload.as_bytes().ok_or(VerifyError::MissingPayload)?;
    let signature = signature
        .as_bytes()
        .ok_or(VerifyError::SignatureLength(0))?;
    if signature.len() != ES384_SIGNATURE_LEN {
        return Err(VerifyError::SignatureLength(signature.len()));
    }
    Ok(Sign1 {
        protected,
        payload,
        signature,
    })
}

/// The protected header must be exactly `{1: -35}` (NSM output; anything
/// else, e.g. `crit`, would be a header this verifier does not understand).
fn check_protected(protected: &[u8]) -> Result<(), VerifyError> {
    match cbor::decode(protected) {
        Ok(Item::Map(entries)) => match entries.as_slice() {
            [(Item::Uint(LABEL_ALG), Item::Nint(ES384_NINT))] => Ok(()),
            _ => Err(VerifyError::ProtectedHeader),
        },
        _ => Err(VerifyError::ProtectedHeader),
    }
}

/// The unprotected header is unauthenticated: it may not carry `alg`.
fn check_unprotected(unprotected: &Item<'_>) -> Result<(), VerifyError> {
    match unprotected {
        Item::Map(entries) if !entries.iter().any(|(k, _)| *k == Item::Uint(LABEL_ALG)) => Ok(()),
        _ => Err(VerifyError::UnprotectedHeader),
    }
}

impl Sign1<'_> {
    /// `Sig_structure = ["Signature1", protected, external_aad = h'', payload]`
    /// (RFC 9052 §4.4), with the protected and payload bytes as received.
    pub fn to_be_signed(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.protected.len() + self.payload.len() + 32);
        out.push(0x84);
        out.push(0x6a);
        out.extend_from_slice(b"Signature1");
        bstr_header(&mut out, self.protected.len());
        out.extend_from_slice(self.protected);
        out.push(0x40);
        bstr_header(&mut out, self.payload.len());
        out.extend_from_slice(self.payload);
        out
    }

    /// Check 21: the signature verifies under the leaf's P-384 key.
    /// (ES384 = ECDSA P-384 with SHA-384, `r || s`.)
    pub fn verify(&self, key: &EcPublicKey) -> Result<(), VerifyError> {
        if key.curve() == Curve::P384
            && key.verifies(Encoding::Fixed, &self.to_be_signed(), self.signature)
        {
            Ok(())
        } else {
            Err(VerifyError::DocumentSignature)
        }
    }
}

/// Shortest-form CBOR byte-string header (major type 2).
fn bstr_header(out: &mut Vec<u8>, len: usize) {
    let len = len as u64;
    match len {
        0..=23 => out.push(0x40 | len as u8),
        24..=0xff => out.extend_from_slice(&[0x58, len as u8]),
        0x100..=0xffff => {
            out.push(0x59);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0x5a);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        _ => {
            out.push(0x5b);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sig_structure_matches_rfc9052_layout() {
        let s = Sign1 {
            protected: &[0xa1, 0x01, 0x38, 0x22],
            payload: &[0xaa; 300],
            signature: &[],
        };
        let tbs = s.to_be_signed();
        let mut expected = vec![0x84, 0x6a];
        expected.extend_from_slice(b"Signature1");
        expected.extend_from_slice(&[0x44, 0xa1, 0x01, 0x38, 0x22, 0x40, 0x59, 0x01, 0x2c]);
        expected.extend_from_slice(&[0xaa; 300]);
        assert_eq!(tbs, expected);
    }

    #[test]
    fn protected_header_must_be_es384_only() {
        assert!(check_protected(&[0xa1, 0x01, 0x38, 0x22]).is_ok());
        // ES256
        assert!(check_protected(&[0xa1, 0x01, 0x26]).is_err());
        // extra crit label
        assert!(check_protected(&[0xa2, 0x01, 0x38, 0x22, 0x02, 0x80]).is_err());
        // empty
        assert!(check_protected(&[]).is_err());
    }
}
