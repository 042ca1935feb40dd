//! A structural COSE_Sign1 reader (RFC 9052 §4.2): the four parts of
//! `[protected bstr, unprotected map, payload bstr / nil, signature bstr]`,
//! untagged or under CBOR tag 18, **without** verifying anything.
//!
//! It is for parties that relay signed bytes and need to look inside them:
//! the host reads a result's payload to answer `aggregates` as JSON and a new
//! tree head's payload to check the root it computed itself. Verification
//! (ES256 over the Sig_structure, the protected `alg` and `kid`) is the
//! verifier's job (`strongroom_verifier::cose`); a reader that relays is
//! never a reason to trust the payload.
//!
//! Bounds: at most [`MAX_SIGN1_LEN`] bytes, checked before parsing; exactly
//! one CBOR item (trailing bytes refused); only tag 18 or no tag.

use serde_cbor::Value;

/// Largest COSE_Sign1 read (checked before parsing).
pub const MAX_SIGN1_LEN: usize = 1 << 20;
/// CBOR tag of COSE_Sign1 (RFC 9052 §2).
pub const COSE_SIGN1_TAG: u64 = 18;

/// Why bytes are not a structurally valid COSE_Sign1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Sign1Error {
    /// Longer than [`MAX_SIGN1_LEN`].
    #[error("COSE_Sign1 is larger than {MAX_SIGN1_LEN} bytes")]
    TooLarge,
    /// Tagged with something other than 18.
    #[error("unexpected CBOR tag (only untagged or tag 18 is accepted)")]
    WrongTag,
    /// Not one CBOR item, trailing bytes, or not the four-part structure.
    #[error("not a well-formed COSE_Sign1")]
    Malformed,
    /// The payload is nil (detached); Strongroom always attaches it.
    #[error("detached payload is not supported")]
    DetachedPayload,
}

/// The parts of a COSE_Sign1, as received (protected bytes never re-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sign1 {
    /// The protected header's serialized bytes (a bstr-wrapped CBOR map).
    pub protected: Vec<u8>,
    /// The attached payload.
    pub payload: Vec<u8>,
    /// The signature bytes (not checked here).
    pub signature: Vec<u8>,
}

impl Sign1 {
    /// Reads `bytes` as one COSE_Sign1 with an attached payload.
    pub fn parse(bytes: &[u8]) -> Result<Self, Sign1Error> {
        if bytes.len() > MAX_SIGN1_LEN {
            return Err(Sign1Error::TooLarge);
        }
        let body = strip_tag(bytes)?;
        // `from_slice` refuses trailing bytes after the one item.
        let value: Value = serde_cbor::from_slice(body).map_err(|_| Sign1Error::Malformed)?;
        let Value::Array(items) = value else {
            return Err(Sign1Error::Malformed);
        };
        let [protected, unprotected, payload, signature]: [Value; 4] =
            items.try_into().map_err(|_| Sign1Error::Malformed)?;
        match (protected, unprotected, payload, signature) {
            (Value::Bytes(protected), Value::Map(_), Value::Bytes(payload), Value::Bytes(sig)) => {
                Ok(Self {
                    protected,
                    payload,
                    signature: sig,
                })
            }
            (Value::Bytes(_), Value::Map(_), Value::Null, Value::Bytes(_)) => {
                Err(Sign1Error::DetachedPayload)
            }
            _ => Err(Sign1Error::Malformed),
        }
    }

    /// Only the attached payload of `bytes` (see [`Sign1::parse`]).
    pub fn payload_of(bytes: &[u8]) -> Result<Vec<u8>, Sign1Error> {
        Self::parse(bytes).map(|s| s.payload)
    }
}

/// The bytes after an optional tag 18. serde_cbor drops tags silently, so the
/// one allowed tag is checked here and any other tag (of any length) refused.
fn strip_tag(bytes: &[u8]) -> Result<&[u8], Sign1Error> {
    match bytes.first() {
        Some(&b) if b == 0xc0 | COSE_SIGN1_TAG as u8 => Ok(&bytes[1..]),
        Some(b) if b >> 5 == 6 => Err(Sign1Error::WrongTag),
        _ => Ok(bytes),
    }
}

#[cfg(test)]
#[path = "cose_tests.rs"]
mod tests;
