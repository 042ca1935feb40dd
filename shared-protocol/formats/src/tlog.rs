//! The signed tree head of the transparency log (DESIGN.md "Transparency log"):
//! the payload of a COSE_Sign1 ES256 signed by the enclave.
//!
//! `{"size": uint, "root": bstr 32, "time": RFC 3339 text, "key_id": text}`

use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, EncodeError, decode, encode};

/// Length of a tree hash.
pub const TREE_HASH_LEN: usize = 32;

/// Largest tree-head payload accepted.
pub const MAX_TREE_HEAD_LEN: usize = 1024;

/// A tree head as the enclave signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeHead {
    /// Number of leaves.
    pub size: u64,
    /// RFC 9162 root hash, 32 bytes.
    #[serde(with = "serde_bytes")]
    pub root: Vec<u8>,
    /// When the enclave signed it, RFC 3339 UTC.
    pub time: String,
    /// Key id of the signing key.
    pub key_id: String,
}

/// A tree-head payload that does not decode or has the wrong shape.
#[derive(Debug, thiserror::Error)]
#[error("malformed tree head")]
pub struct TreeHeadError;

impl TreeHead {
    /// CBOR payload bytes.
    pub fn to_cbor(&self) -> Result<Vec<u8>, EncodeError> {
        encode(self)
    }

    /// Decodes and checks the shape (root length, size limit).
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, TreeHeadError> {
        if bytes.len() > MAX_TREE_HEAD_LEN {
            return Err(TreeHeadError);
        }
        let head: TreeHead = decode(bytes).map_err(|_: DecodeError| TreeHeadError)?;
        if head.root.len() != TREE_HASH_LEN {
            return Err(TreeHeadError);
        }
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn golden_and_strict() {
        let head = TreeHead {
            size: 1,
            root: vec![0xAA; 32],
            time: "2026-11-23T00:00:00Z".into(),
            key_id: "v1:00".into(),
        };
        let bytes = head.to_cbor().unwrap();
        assert_eq!(
            hex::encode(&bytes),
            concat!(
                "a46473697a6501",
                "64726f6f745820",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "6474696d657432303236",
                "2d31312d32335430303a30303a30305a",
                "666b65795f69646576313a3030"
            )
        );
        assert_eq!(TreeHead::from_cbor(&bytes).unwrap(), head);
        let short = TreeHead {
            root: vec![0; 31],
            ..head.clone()
        };
        assert!(TreeHead::from_cbor(&short.to_cbor().unwrap()).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(TreeHead::from_cbor(&trailing).is_err());
    }
}
