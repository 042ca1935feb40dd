//! Attestation bound to the key ring: `public_key` = current HPKE public key,
//! `user_data` = CBOR `{"kid": key id, "note": the log's Ed25519 note key
//! (32 bytes), "sign": signing public key}`, `nonce` = the caller's challenge.

use serde::Serialize;
use serde_bytes::Bytes;

use crate::nsm::{Nsm, NsmError};
use crate::ring::KeyRing;

/// Largest client nonce accepted (the HTTP API's limit).
pub(crate) const MAX_NONCE_LEN: usize = strongroom_protocol::messages::MAX_NONCE_LEN;

/// Why attestation was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// The nonce is longer than `MAX_NONCE_LEN`.
    #[error("nonce longer than {MAX_NONCE_LEN} bytes")]
    NonceTooLong,
    /// The NSM failed.
    #[error("NSM: {0}")]
    Nsm(#[from] NsmError),
    /// `user_data` could not be encoded.
    #[error("user_data encoding failed")]
    Encoding,
}

/// An attestation document and the public values it binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// COSE_Sign1 bytes from the NSM.
    pub document: Vec<u8>,
    /// Current HPKE public key (65-byte SEC1).
    pub hpke_public_key: Vec<u8>,
    /// Result-signing public key (65-byte SEC1).
    pub signing_public_key: Vec<u8>,
    /// Current key id.
    pub key_id: String,
}

/// The `user_data` map. Fields in canonical order (RFC 8949 §4.2.1:
/// "kid" < "note" < "sign" both bytewise and length-first), so the encoding
/// is deterministic.
#[derive(Serialize)]
struct UserData<'a> {
    kid: &'a str,
    note: &'a Bytes,
    sign: &'a Bytes,
}

/// Encodes `{"kid": kid, "note": note_pub, "sign": sign_pub}` deterministically.
pub fn user_data(sign_pub: &[u8], kid: &str, note_pub: &[u8]) -> Result<Vec<u8>, AttestError> {
    serde_cbor::to_vec(&UserData {
        kid,
        note: Bytes::new(note_pub),
        sign: Bytes::new(sign_pub),
    })
    .map_err(|_| AttestError::Encoding)
}

/// Asks the NSM for a document binding the ring's current keys.
pub fn attest(
    nsm: &dyn Nsm,
    ring: &KeyRing,
    note_pub: &[u8],
    nonce: Option<&[u8]>,
) -> Result<Attestation, AttestError> {
    if nonce.is_some_and(|n| n.len() > MAX_NONCE_LEN) {
        return Err(AttestError::NonceTooLong);
    }
    let current = ring.current();
    let sign_pub = ring.signing().public_sec1();
    let user_data = user_data(sign_pub, current.key_id(), note_pub)?;
    let document = nsm.attest(Some(current.public_sec1()), Some(&user_data), nonce)?;
    Ok(Attestation {
        document,
        hpke_public_key: current.public_sec1().to_vec(),
        signing_public_key: sign_pub.to_vec(),
        key_id: current.key_id().to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn user_data_is_canonical_cbor() {
        let sign = [4u8; 65];
        let note = [9u8; 32];
        let bytes = user_data(&sign, "v1:00", &note).unwrap();
        let mut expected = vec![0xa3, 0x63];
        expected.extend_from_slice(b"kid");
        expected.push(0x65);
        expected.extend_from_slice(b"v1:00");
        expected.push(0x64);
        expected.extend_from_slice(b"note");
        expected.extend_from_slice(&[0x58, 32]);
        expected.extend_from_slice(&note);
        expected.push(0x64);
        expected.extend_from_slice(b"sign");
        expected.extend_from_slice(&[0x58, 65]);
        expected.extend_from_slice(&sign);
        assert_eq!(bytes, expected);
    }
}
