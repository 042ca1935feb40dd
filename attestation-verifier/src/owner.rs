//! Owner-signed actions (DESIGN.md "Credential v2"): a COSE_Sign1 ES256 by
//! the trader's owner key over the CBOR map of
//! [`strongroom_formats::owner::OwnerAction`], with the owner's 65-byte
//! SEC1 public key as the protected `kid`, so that anyone can check it and
//! compare `SHA-256(kid)` with a result's `owner`.
//!
//! The client signs ([`sign_action`]); the enclave checks an action against
//! the owner key sealed in the credential ([`verify_action`] with
//! `expected_owner`); the host and the browser check a publish consent
//! against a result's `owner` hash ([`verify_action`] without it, then
//! [`owner_id`]).

use p256::ecdsa::{SigningKey, VerifyingKey};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use strongroom_formats::owner::{
    Action, MAX_ACTION_SKEW_S, OWNER_KEY_LEN, OwnerAction, owner_id,
};

use crate::cose::{CoseError, sign_es256_kid_bytes, unverified_kid, verify_es256_with_aad};

/// Largest owner authorization accepted (a COSE_Sign1 around a small map).
pub const MAX_AUTHORIZATION_LEN: usize = 16 * 1024;

/// Why an owner authorization was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OwnerError {
    /// Not a COSE_Sign1 ES256 with a 65-byte key as `kid`, or too large.
    #[error("malformed owner authorization")]
    Malformed,
    /// Signed by another key than the credential's owner.
    #[error("the owner authorization is signed by another key")]
    WrongOwner,
    /// The signature does not verify.
    #[error("the owner signature does not verify")]
    BadSignature,
    /// The signed map is not an owner action.
    #[error("the owner authorization's payload is not an owner action")]
    BadPayload,
    /// `time` is not RFC 3339 or lies more than 300 s from the checker's clock.
    #[error("the owner authorization's time is stale or invalid")]
    Stale,
    /// Another action or another credential than the one asked about.
    #[error("the owner authorization is for another action or credential")]
    Mismatch,
}

impl OwnerError {
    /// The wire code (HTTP 403 unless malformed).
    pub fn code(self) -> &'static str {
        match self {
            OwnerError::Malformed | OwnerError::BadPayload => "malformed_owner_authorization",
            OwnerError::WrongOwner | OwnerError::BadSignature => "owner_signature_invalid",
            OwnerError::Stale => "owner_authorization_stale",
            OwnerError::Mismatch => "owner_authorization_mismatch",
        }
    }
}

/// A checked authorization: the action and who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAction {
    /// The signed map.
    pub action: OwnerAction,
    /// The owner's public key (SEC1 uncompressed, 65 bytes).
    pub owner_key: Vec<u8>,
}

/// The owner's public key as sealed in a credential (65-byte SEC1).
pub fn owner_public_key(key: &SigningKey) -> Vec<u8> {
    key.verifying_key().to_sec1_point(false).as_bytes().to_vec()
}

/// Signs `action` with the owner key.
pub fn sign_action(action: &OwnerAction, key: &SigningKey) -> Result<Vec<u8>, OwnerError> {
    let payload = action.to_cbor().map_err(|_| OwnerError::BadPayload)?;
    Ok(sign_es256_kid_bytes(&payload, &owner_public_key(key), key))
}

/// Checks `bytes`: structure, the `kid` a valid P-256 key (equal to
/// `expected_owner` when given), the signature, and the payload. Not the
/// time nor what it authorizes: see [`VerifiedAction::check`].
pub fn verify_action(
    bytes: &[u8],
    expected_owner: Option<&[u8]>,
) -> Result<VerifiedAction, OwnerError> {
    if bytes.len() > MAX_AUTHORIZATION_LEN {
        return Err(OwnerError::Malformed);
    }
    let kid = unverified_kid(bytes).map_err(|_| OwnerError::Malformed)?;
    if kid.len() != OWNER_KEY_LEN {
        return Err(OwnerError::Malformed);
    }
    if expected_owner.is_some_and(|o| o != kid.as_slice()) {
        return Err(OwnerError::WrongOwner);
    }
    let key = VerifyingKey::from_sec1_bytes(&kid).map_err(|_| OwnerError::Malformed)?;
    let payload = verify_es256_with_aad(bytes, &[], &key, None).map_err(|e| match e {
        CoseError::BadSignature => OwnerError::BadSignature,
        _ => OwnerError::Malformed,
    })?;
    let action = OwnerAction::from_cbor(&payload).map_err(|_| OwnerError::BadPayload)?;
    Ok(VerifiedAction {
        action,
        owner_key: kid,
    })
}

impl VerifiedAction {
    /// Checks that the action is `action` on `credential`, signed within
    /// [`MAX_ACTION_SKEW_S`] of `now_s` (unix seconds).
    pub fn check(&self, action: Action, credential: &str, now_s: i64) -> Result<(), OwnerError> {
        if self.action.action != action || self.action.credential != credential {
            return Err(OwnerError::Mismatch);
        }
        let t = parse_rfc3339_s(&self.action.time).ok_or(OwnerError::Stale)?;
        if (t - now_s).abs() > MAX_ACTION_SKEW_S {
            return Err(OwnerError::Stale);
        }
        Ok(())
    }

    /// `owner` as results carry it.
    pub fn owner_id(&self) -> String {
        owner_id(&self.owner_key)
    }
}

/// Unix seconds of an RFC 3339 time.
pub fn parse_rfc3339_s(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// Unix milliseconds of an RFC 3339 time (sub-millisecond digits refused).
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    let ns = t.unix_timestamp_nanos();
    if ns % 1_000_000 != 0 {
        return None;
    }
    i64::try_from(ns / 1_000_000).ok()
}

/// An RFC 3339 UTC text for unix seconds.
pub fn rfc3339_s(unix_s: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(unix_s)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_slice(&[b; 32]).unwrap()
    }

    fn action(kind: Action, credential: &str, time: &str) -> OwnerAction {
        OwnerAction {
            action: kind,
            credential: credential.into(),
            from: None,
            to: None,
            symbols: None,
            time: time.into(),
        }
    }

    const NOW: i64 = 1_796_601_600; // 2026-12-07T00:00:00Z

    #[test]
    fn signed_by_the_owner_verifies_and_checks() {
        let k = key(3);
        let c = "aa".repeat(32);
        let a = action(Action::Revoke, &c, "2026-12-07T00:00:00Z");
        let bytes = sign_action(&a, &k).unwrap();
        let v = verify_action(&bytes, Some(&owner_public_key(&k))).unwrap();
        assert_eq!(v.action, a);
        assert_eq!(v.owner_id(), owner_id(&owner_public_key(&k)));
        assert!(v.check(Action::Revoke, &c, NOW).is_ok());
        assert!(v.check(Action::Revoke, &c, NOW + 300).is_ok());
        assert_eq!(
            v.check(Action::Revoke, &c, NOW + 301),
            Err(OwnerError::Stale)
        );
        assert_eq!(v.check(Action::Publish, &c, NOW), Err(OwnerError::Mismatch));
        assert_eq!(
            v.check(Action::Revoke, &"bb".repeat(32), NOW),
            Err(OwnerError::Mismatch)
        );
    }

    #[test]
    fn another_key_or_a_tampered_message_is_refused() {
        let (k, other) = (key(3), key(4));
        let a = action(Action::Publish, &"aa".repeat(32), "2026-12-07T00:00:00Z");
        let bytes = sign_action(&a, &k).unwrap();
        assert_eq!(
            verify_action(&bytes, Some(&owner_public_key(&other))),
            Err(OwnerError::WrongOwner)
        );
        let mut tampered = bytes.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            verify_action(&tampered, None),
            Err(OwnerError::BadSignature)
        );
        let mut trailing = bytes;
        trailing.push(0);
        assert_eq!(verify_action(&trailing, None), Err(OwnerError::Malformed));
        // A result-style text kid is not an owner key.
        let text_kid = crate::cose::sign_es256(&a.to_cbor().unwrap(), "v1:ab", &k);
        assert_eq!(verify_action(&text_kid, None), Err(OwnerError::Malformed));
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_rfc3339_s("2026-12-07T00:00:00Z"), Some(NOW));
        assert_eq!(
            parse_rfc3339_ms("2026-12-07T00:00:00.5Z"),
            Some(NOW * 1000 + 500)
        );
        assert_eq!(parse_rfc3339_ms("2026-12-07T00:00:00.0005Z"), None);
        assert_eq!(rfc3339_s(NOW).as_deref(), Some("2026-12-07T00:00:00Z"));
        assert_eq!(parse_rfc3339_s("yesterday"), None);
    }
}
