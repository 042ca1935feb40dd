//! CBOR encoding of messages. Decoding takes exactly one CBOR item: trailing bytes
//! are an error (serde_cbor's `from_slice` checks the end of input).

use serde::{Serialize, de::DeserializeOwned};

/// A message that is not valid CBOR for the expected type.
#[derive(Debug, thiserror::Error)]
#[error("malformed message")]
pub struct DecodeError(#[source] serde_cbor::Error);

/// Encoding failed (only possible for types that cannot be represented in CBOR,
/// which none of ours are).
#[derive(Debug, thiserror::Error)]
#[error("message could not be encoded")]
pub struct EncodeError(#[source] serde_cbor::Error);

/// Encodes a message to CBOR.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, EncodeError> {
    serde_cbor::to_vec(msg).map_err(EncodeError)
}

/// Decodes exactly one message; trailing bytes are refused.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    serde_cbor::from_slice(bytes).map_err(DecodeError)
}
