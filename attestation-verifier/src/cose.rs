//! COSE_Sign1 with ES256 (RFC 9052, ECDSA P-256 with SHA-256): the one
//! definition of Strongroom's signed results, used by the enclave to sign and
//! by clients to verify.
//!
//! Wire form produced by [`sign_es256`]:
//!
//! ```text
//! [ h'A2 01 26 04 <bstr kid>',   protected: {1: -7, 4: kid UTF-8 bytes}
//!   {},                          unprotected: empty
//!   <bstr payload>,              attached payload (a CBOR map for Strongroom)
//!   <bstr 64-byte r||s> ]        signature
//! ```
//!
//! Decisions (see also the tests over the cose-wg examples):
//! - **Untagged on output**, like the NSM's own attestation documents; the
//!   verifier accepts the untagged array and the array under CBOR tag 18
//!   (COSE_Sign1), and refuses any other tag.
//! - The algorithm must be ES256 **in the protected header**; an `alg` in the
//!   unprotected bucket is refused. Consequently cose-wg `sign-pass-01`
//!   (protected `h'A0'`, alg only unprotected) is refused on purpose: an
//!   unprotected algorithm can be swapped by whoever relays the bytes, and
//!   Strongroom never produces such a message.
//! - A `crit` header is refused: this profile defines no critical extensions.
//! - The signature is checked over the Sig_structure built from the protected
//!   bytes **as received** (never re-encoded); trailing bytes after the
//!   COSE_Sign1 and inputs over [`MAX_SIGN1_LEN`] are refused before parsing.
//! - Signature failures are one opaque variant ([`CoseError::BadSignature`]).

use crate::sig::{EcPublicKey, Encoding};
use coset::{Algorithm, AsCborValue, CoseSign1, cbor::value::Value, iana};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey, signature::Signer};

/// Largest COSE_Sign1 accepted by [`verify_es256`] (checked before parsing).
pub const MAX_SIGN1_LEN: usize = 1 << 20;
/// Length of a raw ES256 signature (r || s).
pub const ES256_SIG_LEN: usize = 64;
/// CBOR tag of COSE_Sign1 (RFC 9052 §2).
pub const COSE_SIGN1_TAG: u64 = 18;

/// Why a COSE_Sign1 was refused. Carries no detail about key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoseError {
    /// Input longer than [`MAX_SIGN1_LEN`].
    #[error("COSE_Sign1 is larger than {MAX_SIGN1_LEN} bytes")]
    TooLarge,
    /// Not CBOR, or not the four-element COSE_Sign1 structure.
    #[error("not a well-formed COSE_Sign1")]
    Malformed,
    /// Bytes follow the COSE_Sign1 item.
    #[error("trailing bytes after the COSE_Sign1")]
    TrailingData,
    /// Tagged with something other than 18.
    #[error("unexpected CBOR tag (only untagged or tag 18 is accepted)")]
    WrongTag,
    /// The protected header does not say ES256, or `alg` is unprotected.
    #[error("algorithm is not ES256 in the protected header")]
    UnsupportedAlgorithm,
    /// A `crit` header is present.
    #[error("critical header parameters are not supported")]
    CriticalHeader,
    /// The protected `kid` is absent or differs from the expected key id.
    #[error("key id does not match")]
    KeyIdMismatch,
    /// Payload is nil (detached): this profile always attaches it.
    #[error("detached payload is not supported")]
    DetachedPayload,
    /// The signature does not verify.
    #[error("signature verification failed")]
    BadSignature,
}

/// Signs `payload` as an untagged COSE_Sign1 with protected `{1: -7, 4: kid}`.
///
/// Encoded by hand (a few fixed CBOR heads) so that signing cannot fail and
/// the bytes are deterministic apart from the ECDSA signature itself.
pub fn sign_es256(payload: &[u8], kid: &str, key: &SigningKey) -> Vec<u8> {
    sign_es256_kid_bytes(payload, kid.as_bytes(), key)
}

/// [`sign_es256`] with a binary `kid` (the owner's public key, for owner
/// actions).
pub fn sign_es256_kid_bytes(payload: &[u8], kid: &[u8], key: &SigningKey) -> Vec<u8> {
    let protected = protected_header(kid);
    let tbs = sig_structure(&protected, &[], payload);
    let signature: Signature = key.sign(&tbs);
    let sig = signature.to_bytes();
    let mut out = Vec::with_capacity(protected.len() + payload.len() + sig.len() + 16);
    out.push(0x84); // array(4)
    push_bstr(&mut out, &protected);
    out.push(0xa0); // unprotected: empty map
    push_bstr(&mut out, payload);
    push_bstr(&mut out, &sig);
    out
}

/// Verifies an ES256 COSE_Sign1 (empty external AAD) and returns its payload.
///
/// With `expected_kid`, the protected `kid` must equal it byte for byte.
pub fn verify_es256(
    bytes: &[u8],
    key: &VerifyingKey,
    expected_kid: Option<&str>,
) -> Result<Vec<u8>, CoseError> {
    verify_es256_with_aad(bytes, &[], key, expected_kid)
}

/// [`verify_es256`] with caller-supplied external AAD (RFC 9052 §4.3).
pub fn verify_es256_with_aad(
    bytes: &[u8],
    external_aad: &[u8],
    key: &VerifyingKey,
    expected_kid: Option<&str>,
) -> Result<Vec<u8>, CoseError> {
    let sign1 = parse_sign1(bytes)?;
    check_headers(&sign1, expected_kid)?;
    if sign1.payload.is_none() {
        return Err(CoseError::DetachedPayload);
    }
    let key = EcPublicKey::from_p256(key);
    sign1.verify_signature(external_aad, |sig, tbs| {
        if sig.len() == ES256_SIG_LEN && key.verifies(Encoding::Fixed, tbs, sig) {
            Ok(())
        } else {
            Err(CoseError::BadSignature)
        }
    })?;
    sign1.payload.ok_or(CoseError::DetachedPayload)
}

/// Parses untagged or tag-18 COSE_Sign1, bounded and without trailing bytes.
fn parse_sign1(bytes: &[u8]) -> Result<CoseSign1, CoseError> {
    if bytes.len() > MAX_SIGN1_LEN {
        return Err(CoseError::TooLarge);
    }
    let mut rest = bytes;
    let value: Value = coset::cbor::de::from_reader(&mut rest).map_err(|_| CoseError::Malformed)?;
    if !rest.is_empty() {
        return Err(CoseError::TrailingData);
    }
    let value = match value {
        Value::Tag(COSE_SIGN1_TAG, inner) => *inner,
        Value::Tag(..) => return Err(CoseError::WrongTag),
        other => other,
    };
    CoseSign1::from_cbor_value(value).map_err(|_| CoseError::Malformed)
}

fn check_headers(sign1: &CoseSign1, expected_kid: Option<&str>) -> Result<(), CoseError> {
    let es256 = Algorithm::Assigned(iana::Algorithm::ES256);
    if sign1.protected.header.alg.as_ref() != Some(&es256) || sign1.unprotected.alg.is_some() {
        return Err(CoseError::UnsupportedAlgorithm);
    }
    if !sign1.protected.header.crit.is_empty() || !sign1.unprotected.crit.is_empty() {
        return Err(CoseError::CriticalHeader);
    }
    if let Some(kid) = expected_kid
        && sign1.protected.header.key_id != kid.as_bytes()
    {
        return Err(CoseError::KeyIdMismatch);
    }
    Ok(())
}

/// The protected `kid` of an ES256 COSE_Sign1, after the structural and
/// header checks of [`verify_es256`] but **before** any signature check:
/// for messages whose `kid` names the verifying key itself.
pub fn unverified_kid(bytes: &[u8]) -> Result<Vec<u8>, CoseError> {
    let sign1 = parse_sign1(bytes)?;
    check_headers(&sign1, None)?;
    Ok(sign1.protected.header.key_id)
}

/// Encoded protected header map `{1: -7, 4: h'kid'}`.
fn protected_header(kid: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(kid.len() + 8);
    out.extend_from_slice(&[0xa2, 0x01, 0x26, 0x04]);
    push_bstr(&mut out, kid);
    out
}

/// `Sig_structure = ["Signature1", protected, external_aad, payload]`.
fn sig_structure(protected: &[u8], external_aad: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + external_aad.len() + payload.len() + 32);
    out.push(0x84);
    out.push(0x6a); // text(10)
    out.extend_from_slice(b"Signature1");
    push_bstr(&mut out, protected);
    push_bstr(&mut out, external_aad);
    push_bstr(&mut out, payload);
    out
}

/// Appends a definite-length byte string with the shortest head.
fn push_bstr(out: &mut Vec<u8>, bytes: &[u8]) {
    const MAJOR_BSTR: u8 = 0x40;
    let len = bytes.len() as u64;
    match len {
        0..=23 => out.push(MAJOR_BSTR | len as u8),
        24..=0xff => out.extend_from_slice(&[MAJOR_BSTR | 24, len as u8]),
        0x100..=0xffff => {
            out.push(MAJOR_BSTR | 25);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(MAJOR_BSTR | 26);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        _ => {
            out.push(MAJOR_BSTR | 27);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out.extend_from_slice(bytes);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use coset::CborSerializable;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn round_trip_and_kid() {
        let k = key();
        let msg = sign_es256(b"\xa1\x61a\x01", "v1:abcd", &k);
        assert_eq!(msg[0], 0x84, "untagged array");
        let got = verify_es256(&msg, k.verifying_key(), Some("v1:abcd")).unwrap();
        assert_eq!(got, b"\xa1\x61a\x01");
        assert_eq!(
            verify_es256(&msg, k.verifying_key(), Some("v1:abce")),
            Err(CoseError::KeyIdMismatch)
        );
        let mut tagged = vec![0xd2];
        tagged.extend_from_slice(&msg);
        assert!(verify_es256(&tagged, k.verifying_key(), None).is_ok());
        let mut wrong_tag = vec![0xd8, 0x62];
        wrong_tag.extend_from_slice(&msg);
        assert_eq!(
            verify_es256(&wrong_tag, k.verifying_key(), None),
            Err(CoseError::WrongTag)
        );
    }

    #[test]
    fn our_sig_structure_matches_coset() {
        let k = key();
        let msg = sign_es256(b"payload", "kid", &k);
        let parsed = CoseSign1::from_slice(&msg).unwrap();
        assert_eq!(
            parsed.tbs_data(&[]),
            sig_structure(&protected_header(b"kid"), &[], b"payload")
        );
    }

    #[test]
    fn trailing_and_size_and_tamper() {
        let k = key();
        let mut msg = sign_es256(b"x", "kid", &k);
        let mut trailing = msg.clone();
        trailing.push(0x00);
        assert_eq!(
            verify_es256(&trailing, k.verifying_key(), None),
            Err(CoseError::TrailingData)
        );
        let big = vec![0u8; MAX_SIGN1_LEN + 1];
        assert_eq!(
            verify_es256(&big, k.verifying_key(), None),
            Err(CoseError::TooLarge)
        );
        let last = msg.len() - 1;
        msg[last] ^= 1;
        assert_eq!(
            verify_es256(&msg, k.verifying_key(), None),
            Err(CoseError::BadSignature)
        );
        let other = SigningKey::from_slice(&[8u8; 32]).unwrap();
        let msg = sign_es256(b"x", "kid", &k);
        assert_eq!(
            verify_es256(&msg, other.verifying_key(), None),
            Err(CoseError::BadSignature)
        );
    }

    #[test]
    fn bstr_heads_are_shortest() {
        for (len, head) in [
            (0usize, vec![0x40]),
            (23, vec![0x57]),
            (24, vec![0x58, 24]),
            (255, vec![0x58, 0xff]),
            (256, vec![0x59, 0x01, 0x00]),
            (65536, vec![0x5a, 0, 1, 0, 0]),
        ] {
            let mut out = Vec::new();
            push_bstr(&mut out, &vec![0u8; len]);
            assert_eq!(&out[..head.len()], &head[..], "len {len}");
            assert_eq!(out.len(), head.len() + len);
        }
    }
}
