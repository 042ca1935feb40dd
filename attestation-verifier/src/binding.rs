//! The Strongroom `user_data` binding: CBOR `{"sign": <65-byte SEC1 P-256
//! key>, "kid": <text>}`, naming the key that signs results and its key id;
//! since log v2 also `"note": <32-byte Ed25519 key>`, the log's checkpoint
//! (note) key. A binding without `note` is a v1 enclave's.

use crate::cbor::{self, Item};
use thiserror::Error;

/// Length of an uncompressed SEC1 P-256 point.
pub const SEC1_P256_LEN: usize = 65;
/// Longest key id accepted.
pub const MAX_KID_LEN: usize = 128;

/// Why `user_data` is not a valid key binding.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BindingError {
    /// The document has no `user_data`.
    #[error("document has no user_data")]
    Missing,
    /// Not well-formed CBOR.
    #[error("user_data is not well-formed CBOR")]
    Cbor,
    /// Not a map with exactly the keys `sign` and `kid` (and optionally `note`).
    #[error("user_data must be a map with exactly `sign`, `kid` and optionally `note`")]
    Shape,
    /// `note` is not 32 bytes.
    #[error("user_data `note` is not a 32-byte Ed25519 public key")]
    NoteKey,
    /// `sign` is not a 65-byte uncompressed SEC1 point on P-256.
    #[error("user_data `sign` is not an uncompressed P-256 public key")]
    SigningKey,
    /// `kid` is empty, too long or not text.
    #[error("user_data `kid` must be text of 1..={MAX_KID_LEN} bytes")]
    KeyId,
}

/// The enclave's result-signing key and key id, as bound in an attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBinding {
    /// ECDSA P-256 key that signs aggregates and tree heads.
    pub signing_key: p256::ecdsa::VerifyingKey,
    /// The 65 bytes as bound.
    pub signing_key_sec1: [u8; SEC1_P256_LEN],
    /// Key id (COSE `kid`).
    pub kid: String,
    /// The log's Ed25519 note key (log v2), if bound.
    pub note_key: Option<[u8; 32]>,
}

impl KeyBinding {
    /// Decodes `user_data` strictly: exactly the two keys, nothing after them.
    pub fn from_user_data(user_data: &[u8]) -> Result<Self, BindingError> {
        let Item::Map(entries) = cbor::decode(user_data).map_err(|_| BindingError::Cbor)? else {
            return Err(BindingError::Shape);
        };
        let (mut sign, mut kid, mut note) = (None, None, None);
        for (k, v) in &entries {
            let slot_taken = match k.as_text() {
                Some("sign") => sign
                    .replace(v.as_bytes().ok_or(BindingError::SigningKey)?)
                    .is_some(),
                Some("kid") => kid
                    .replace(v.as_text().ok_or(BindingError::KeyId)?)
                    .is_some(),
                Some("note") => {
                    let bytes = v.as_bytes().ok_or(BindingError::NoteKey)?;
                    let key: [u8; 32] = bytes.try_into().map_err(|_| BindingError::NoteKey)?;
                    note.replace(key).is_some()
                }
                _ => return Err(BindingError::Shape),
            };
            if slot_taken {
                return Err(BindingError::Shape);
            }
        }
        let (Some(sign), Some(kid)) = (sign, kid) else {
            return Err(BindingError::Shape);
        };
        if kid.is_empty() || kid.len() > MAX_KID_LEN {
            return Err(BindingError::KeyId);
        }
        let sec1: [u8; SEC1_P256_LEN] = sign.try_into().map_err(|_| BindingError::SigningKey)?;
        if sec1[0] != 0x04 {
            return Err(BindingError::SigningKey);
        }
        let signing_key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
            .map_err(|_| BindingError::SigningKey)?;
        Ok(KeyBinding {
            signing_key,
            signing_key_sec1: sec1,
            kid: kid.to_owned(),
            note_key: note,
        })
    }

    /// Decodes the binding of a verified document.
    pub fn from_document(doc: &crate::VerifiedDocument) -> Result<Self, BindingError> {
        Self::from_user_data(doc.user_data.as_deref().ok_or(BindingError::Missing)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn encode(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        // Hand-rolled CBOR so the test does not depend on an encoder's choices.
        let mut out = vec![0xa0 | entries.len() as u8];
        for (k, v) in entries {
            out.push(0x60 | k.len() as u8);
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(v);
        }
        out
    }

    fn sign_item() -> Vec<u8> {
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let point = key.verifying_key().to_sec1_point(false);
        let mut v = vec![0x58, 65];
        v.extend_from_slice(point.as_bytes());
        v
    }

    #[test]
    fn decodes_valid_binding() {
        let ud = encode(&[("sign", sign_item()), ("kid", b"\x62v1".to_vec())]);
        let b = KeyBinding::from_user_data(&ud).unwrap();
        assert_eq!(b.kid, "v1");
        assert_eq!(b.signing_key_sec1[0], 4);
        assert_eq!(b.note_key, None);
    }

    #[test]
    fn decodes_the_log_note_key_and_refuses_a_bad_one() {
        let mut note = vec![0x58, 32];
        note.extend_from_slice(&[9u8; 32]);
        let ud = encode(&[
            ("kid", b"\x62v1".to_vec()),
            ("note", note.clone()),
            ("sign", sign_item()),
        ]);
        let b = KeyBinding::from_user_data(&ud).unwrap();
        assert_eq!(b.note_key, Some([9u8; 32]));
        let mut short = note.clone();
        short[1] = 31;
        short.pop();
        let bad = encode(&[
            ("kid", b"\x62v1".to_vec()),
            ("note", short),
            ("sign", sign_item()),
        ]);
        assert_eq!(KeyBinding::from_user_data(&bad), Err(BindingError::NoteKey));
        let twice = encode(&[
            ("kid", b"\x62v1".to_vec()),
            ("note", note.clone()),
            ("note", note),
            ("sign", sign_item()),
        ]);
        assert!(KeyBinding::from_user_data(&twice).is_err());
    }

    #[test]
    fn refuses_extra_missing_and_bad_fields() {
        let extra = encode(&[
            ("sign", sign_item()),
            ("kid", b"\x62v1".to_vec()),
            ("x", vec![0]),
        ]);
        assert_eq!(KeyBinding::from_user_data(&extra), Err(BindingError::Shape));
        let missing = encode(&[("sign", sign_item())]);
        assert_eq!(
            KeyBinding::from_user_data(&missing),
            Err(BindingError::Shape)
        );
        let empty_kid = encode(&[("sign", sign_item()), ("kid", vec![0x60])]);
        assert_eq!(
            KeyBinding::from_user_data(&empty_kid),
            Err(BindingError::KeyId)
        );
        let mut short = sign_item();
        short[1] = 64;
        short.pop();
        let short = encode(&[("sign", short), ("kid", b"\x62v1".to_vec())]);
        assert_eq!(
            KeyBinding::from_user_data(&short),
            Err(BindingError::SigningKey)
        );
        let mut off_curve = sign_item();
        off_curve[40] ^= 1;
        let off_curve = encode(&[("sign", off_curve), ("kid", b"\x62v1".to_vec())]);
        assert_eq!(
            KeyBinding::from_user_data(&off_curve),
            Err(BindingError::SigningKey)
        );
        let mut trailing = encode(&[("sign", sign_item()), ("kid", b"\x62v1".to_vec())]);
        trailing.push(0);
        assert_eq!(
            KeyBinding::from_user_data(&trailing),
            Err(BindingError::Cbor)
        );
    }
}
