//! Owner-signed actions (DESIGN.md "Credential v2"): what the trader's
//! client signs, with the owner key sealed in the credential, to ask for
//! something the policy does not allow by itself, to revoke the credential
//! or to publish its results. The COSE_Sign1 around it (ES256, the owner's
//! 65-byte SEC1 public key as the protected `kid`) is
//! `strongroom_verifier::owner`; this module is the signed CBOR map.
//!
//! `{"action": "aggregates" | "revoke" | "publish", "credential": hex,
//! "from"?: RFC 3339, "to"?: RFC 3339, "symbols"?: [text], "time": RFC 3339}`
//!
//! Decoding is bounded ([`MAX_ACTION_LEN`]), refuses unknown fields and
//! trailing bytes, and accepts only the encoding [`OwnerAction::to_cbor`]
//! writes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest encoded action accepted.
pub const MAX_ACTION_LEN: usize = 8 * 1024;
/// Most symbols an action may name.
pub const MAX_ACTION_SYMBOLS: usize = 200;
/// Longest symbol / time text accepted in an action.
pub const MAX_ACTION_TEXT: usize = 40;
/// How far (seconds) an action's `time` may lie from the checker's clock.
pub const MAX_ACTION_SKEW_S: i64 = 300;
/// Length of an owner public key (uncompressed SEC1 P-256).
pub const OWNER_KEY_LEN: usize = 65;

/// What the owner authorizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// One computation outside the policy, exactly as described.
    Aggregates,
    /// The credential is refused from now on, and the refusal is logged.
    Revoke,
    /// The credential's results may be read by anyone.
    Publish,
}

impl Action {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Aggregates => "aggregates",
            Action::Revoke => "revoke",
            Action::Publish => "publish",
        }
    }
}

/// The signed map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerAction {
    /// What is authorized.
    pub action: Action,
    /// Hex SHA-256 of the sealed credential (`credential` in results).
    pub credential: String,
    /// Window start of an `aggregates` action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Window end of an `aggregates` action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Symbols of an `aggregates` action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols: Option<Vec<String>>,
    /// When the owner signed, RFC 3339.
    pub time: String,
}

/// Bytes that are not an owner action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed owner action")]
pub struct ActionError;

impl OwnerAction {
    /// Deterministic CBOR (the COSE payload).
    pub fn to_cbor(&self) -> Result<Vec<u8>, ActionError> {
        serde_cbor::to_vec(self).map_err(|_| ActionError)
    }

    /// Strict decode: bounded, one encoding, shapes checked.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, ActionError> {
        if bytes.len() > MAX_ACTION_LEN {
            return Err(ActionError);
        }
        let a: OwnerAction = serde_cbor::from_slice(bytes).map_err(|_| ActionError)?;
        if !a.is_well_formed() || a.to_cbor()? != bytes {
            return Err(ActionError);
        }
        Ok(a)
    }

    fn is_well_formed(&self) -> bool {
        let text = |s: &str| {
            !s.is_empty() && s.len() <= MAX_ACTION_TEXT && s.bytes().all(|b| b.is_ascii_graphic())
        };
        let symbols_ok = self.symbols.as_ref().is_none_or(|s| {
            !s.is_empty() && s.len() <= MAX_ACTION_SYMBOLS && s.iter().all(|x| text(x))
        });
        is_credential_id(&self.credential)
            && text(&self.time)
            && self.from.as_deref().is_none_or(text)
            && self.to.as_deref().is_none_or(text)
            && symbols_ok
    }
}

/// Whether `s` is a credential id: 64 lowercase hex digits.
pub fn is_credential_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `owner` as results carry it: hex SHA-256 of the 65-byte public key.
pub fn owner_id(public_sec1: &[u8]) -> String {
    let digest: [u8; 32] = Sha256::digest(public_sec1).into();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A revocation entry of the log (DESIGN.md "Log v2", leaf data): the
/// enclave signs `{"type": "revocation", "credential", "time"}` after an
/// owner-signed revoke, and the log carries it beside the results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationEntry {
    /// Always `"revocation"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Hex SHA-256 of the revoked sealed credential.
    pub credential: String,
    /// When the enclave revoked it, RFC 3339.
    pub time: String,
}

/// The `type` of a revocation entry.
pub const REVOCATION_TYPE: &str = "revocation";

impl RevocationEntry {
    /// A revocation of `credential` at `time`.
    pub fn new(credential: &str, time: &str) -> Self {
        RevocationEntry {
            kind: REVOCATION_TYPE.to_owned(),
            credential: credential.to_owned(),
            time: time.to_owned(),
        }
    }

    /// Deterministic CBOR (the COSE payload).
    pub fn to_cbor(&self) -> Result<Vec<u8>, ActionError> {
        serde_cbor::to_vec(self).map_err(|_| ActionError)
    }

    /// Strict decode: bounded, one encoding, `type` = `revocation`.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, ActionError> {
        if bytes.len() > MAX_ACTION_LEN {
            return Err(ActionError);
        }
        let e: RevocationEntry = serde_cbor::from_slice(bytes).map_err(|_| ActionError)?;
        let ok = e.kind == REVOCATION_TYPE
            && is_credential_id(&e.credential)
            && !e.time.is_empty()
            && e.time.len() <= MAX_ACTION_TEXT;
        if !ok || e.to_cbor()? != bytes {
            return Err(ActionError);
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> OwnerAction {
        OwnerAction {
            action: Action::Aggregates,
            credential: "ab".repeat(32),
            from: Some("2026-01-01T00:00:00Z".into()),
            to: None,
            symbols: Some(vec!["BTCUSDT".into()]),
            time: "2026-12-07T00:00:00Z".into(),
        }
    }

    #[test]
    fn round_trip_and_absent_fields_stay_absent() {
        let a = sample();
        let bytes = a.to_cbor().unwrap();
        assert_eq!(OwnerAction::from_cbor(&bytes).unwrap(), a);
        let v: serde_cbor::Value = serde_cbor::from_slice(&bytes).unwrap();
        let serde_cbor::Value::Map(m) = v else {
            panic!("map")
        };
        assert_eq!(m.len(), 5, "`to` is absent, not null");
    }

    #[test]
    fn strict_decoding() {
        let bytes = sample().to_cbor().unwrap();
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(OwnerAction::from_cbor(&trailing), Err(ActionError));
        let mut bad = sample();
        bad.credential = "AB".repeat(32);
        assert_eq!(
            OwnerAction::from_cbor(&bad.to_cbor().unwrap()),
            Err(ActionError)
        );
        bad = sample();
        bad.symbols = Some(vec![]);
        assert_eq!(
            OwnerAction::from_cbor(&bad.to_cbor().unwrap()),
            Err(ActionError)
        );
        assert_eq!(
            OwnerAction::from_cbor(&vec![0u8; MAX_ACTION_LEN + 1]),
            Err(ActionError)
        );
    }

    #[test]
    fn revocation_entries_are_strict() {
        let e = RevocationEntry::new(&"0a".repeat(32), "2026-12-07T00:00:00Z");
        let bytes = e.to_cbor().unwrap();
        assert_eq!(RevocationEntry::from_cbor(&bytes).unwrap(), e);
        let mut other = e.clone();
        other.kind = "result".into();
        assert!(RevocationEntry::from_cbor(&other.to_cbor().unwrap()).is_err());
        let mut trailing = bytes;
        trailing.push(0);
        assert!(RevocationEntry::from_cbor(&trailing).is_err());
        // An owner action is not a revocation entry, nor the reverse.
        let a = sample().to_cbor().unwrap();
        assert!(RevocationEntry::from_cbor(&a).is_err());
    }

    #[test]
    fn owner_id_is_sha256_hex() {
        assert_eq!(
            owner_id(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
