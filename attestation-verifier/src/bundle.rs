//! Result bundles: one self-contained JSON file per signed result, what
//! `GET /r/{id}` serves, `strongroom bundle` writes and the browser page
//! verifies (SPEC.md in this crate, "Result bundle").
//!
//! A bundle is a `request_aggregates` answer under other field names, plus
//! its id (hex SHA-256 of the COSE_Sign1 bytes) and room for the cosigned
//! checkpoint of log v2. Verification is [`crate::verify_result`] after two
//! checks of its own: the format tag, and the id against the COSE bytes;
//! then, for a version 2 payload, the owner's consent to publish (B3).
//!
//! Format v2 (credential v2) adds `publish_authorization`: the owner's
//! COSE_Sign1 `publish` action, when that (and not the sealed policy) is
//! what made the result public. v1 bundles stay readable; one cannot carry
//! the field.

use crate::owner::{Action, verify_action};
use crate::policy::Policy;
use crate::result::{
    AggregatesAnswer, LogEntry, MAX_ANSWER_JSON_LEN, ResultError, VerifiedResult, verify_result,
};
use crate::root::TrustRoot;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use strongroom_formats::aggregates::AggregatePayload;

/// The `format` value of the bundles written now (version 2).
pub const BUNDLE_FORMAT: &str = "strongroom/result-bundle/v2";
/// The `format` value of a version-1 bundle (still read).
pub const BUNDLE_FORMAT_V1: &str = "strongroom/result-bundle/v1";

/// Largest bundle JSON accepted: an answer plus the v2 proof texts.
pub const MAX_BUNDLE_JSON_LEN: usize = MAX_ANSWER_JSON_LEN + (64 << 10);

/// A result bundle (SPEC.md, "Result bundle").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultBundle {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// Hex SHA-256 of the `cose` bytes: the result's public id.
    pub id: String,
    /// The figures as JSON: an unauthenticated copy of the signed payload,
    /// checked equal to it.
    pub payload: serde_json::Value,
    /// Base64 COSE_Sign1 ES256 over the CBOR payload.
    pub cose: String,
    /// Base64 attestation document binding the signing key.
    pub attestation: String,
    /// Inclusion in a signed tree head (log v1).
    pub log: LogEntry,
    /// Log v2: a `c2sp.org/tlog-proof@v1` text for the COSE bytes. Not yet
    /// checked by [`verify_bundle`] (that needs a witness policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlog_proof: Option<String>,
    /// Log v2: the cosigned checkpoint (signed note text) the proof leads to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// Format v2: base64 owner COSE_Sign1 `publish` action of the result's
    /// credential (absent or null when the policy itself says `publish`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_authorization: Option<String>,
}

/// Hex SHA-256 of a result's COSE_Sign1 bytes (its id in `/r/{id}`).
pub fn result_id(cose: &[u8]) -> String {
    hex::encode(Sha256::digest(cose))
}

impl ResultBundle {
    /// The bundle of a `request_aggregates` answer.
    pub fn from_answer(answer: &AggregatesAnswer) -> Result<Self, ResultError> {
        let cose = STANDARD
            .decode(&answer.aggregates_signed)
            .map_err(|_| ResultError::Encoding("aggregates_signed"))?;
        Ok(ResultBundle {
            format: BUNDLE_FORMAT.to_owned(),
            id: result_id(&cose),
            payload: answer.aggregates.clone(),
            cose: answer.aggregates_signed.clone(),
            attestation: answer.attestation.clone(),
            // The v2 proof and checkpoint travel at the top of the bundle.
            log: LogEntry {
                checkpoint: None,
                tlog_proof: None,
                ..answer.log.clone()
            },
            tlog_proof: answer.log.tlog_proof.clone(),
            checkpoint: answer.log.checkpoint.clone(),
            publish_authorization: None,
        })
    }

    /// Parses a bundle, bounded by [`MAX_BUNDLE_JSON_LEN`].
    pub fn parse(json: &[u8]) -> Result<Self, ResultError> {
        if json.len() > MAX_BUNDLE_JSON_LEN {
            return Err(ResultError::TooLarge);
        }
        serde_json::from_slice(json).map_err(|e| ResultError::Json(e.to_string()))
    }

    /// The answer this bundle carries, for [`crate::verify_result`].
    pub fn to_answer(&self) -> AggregatesAnswer {
        AggregatesAnswer {
            aggregates: self.payload.clone(),
            aggregates_signed: self.cose.clone(),
            attestation: self.attestation.clone(),
            log: LogEntry {
                checkpoint: self.checkpoint.clone(),
                tlog_proof: self.tlog_proof.clone(),
                ..self.log.clone()
            },
        }
    }

    /// The format tag is v1 (without v2 fields) or v2, and `id` is SHA-256
    /// of the COSE bytes.
    pub fn check_envelope(&self) -> Result<(), ResultError> {
        let known = self.format == BUNDLE_FORMAT
            || (self.format == BUNDLE_FORMAT_V1 && self.publish_authorization.is_none());
        if !known {
            return Err(ResultError::BundleFormat);
        }
        let cose = STANDARD
            .decode(&self.cose)
            .map_err(|_| ResultError::Encoding("cose"))?;
        if !self.id.eq_ignore_ascii_case(&result_id(&cose)) {
            return Err(ResultError::BundleId);
        }
        Ok(())
    }

    /// B3: the owner's consent to publish a (verified) version 2 payload:
    /// its sealed policy says `publish`, or `publish_authorization` is an
    /// owner `publish` action that verifies, names the payload's
    /// `credential`, and is signed by the key whose SHA-256 is the payload's
    /// `owner`. Its time is not checked: consent is given once, and the
    /// results it covers may be read years later. Version 1 payloads
    /// predate consent and pass.
    pub fn check_publish_consent(&self, payload: &AggregatePayload) -> Result<(), ResultError> {
        if payload.version < 2 || payload.policy.is_some_and(|p| p.publish) {
            return Ok(());
        }
        let b64 = self
            .publish_authorization
            .as_deref()
            .ok_or(ResultError::PublishConsent(
                "private policy and no owner publish action",
            ))?;
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| ResultError::Encoding("publish_authorization"))?;
        let v = verify_action(&bytes, None)
            .map_err(|_| ResultError::PublishConsent("the owner publish action does not verify"))?;
        if v.action.action != Action::Publish
            || Some(v.action.credential.as_str()) != payload.credential.as_deref()
        {
            return Err(ResultError::PublishConsent(
                "the owner action is not a publish of this result's credential",
            ));
        }
        if Some(v.owner_id().as_str()) != payload.owner.as_deref() {
            return Err(ResultError::PublishConsent(
                "the publish action is signed by another key than the result's owner",
            ));
        }
        Ok(())
    }
}

/// Verifies a bundle: B1–B2 (CHECKLIST.md), R2–R10 as [`verify_result`],
/// then B3 ([`ResultBundle::check_publish_consent`]).
pub fn verify_bundle(
    bundle: &ResultBundle,
    root: &TrustRoot,
    policy: &Policy,
) -> Result<VerifiedResult, ResultError> {
    bundle.check_envelope()?;
    let v = verify_result(&bundle.to_answer(), root, policy)?;
    bundle.check_publish_consent(&v.payload)?;
    Ok(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn answer() -> AggregatesAnswer {
        AggregatesAnswer {
            aggregates: serde_json::json!({"version": 1}),
            aggregates_signed: STANDARD.encode(b"cose bytes"),
            attestation: STANDARD.encode(b"doc"),
            log: LogEntry {
                leaf_index: 0,
                tree_size: 1,
                tree_head: STANDARD.encode(b"head"),
                inclusion_proof: vec![],
                checkpoint: None,
                tlog_proof: None,
            },
        }
    }

    #[test]
    fn roundtrip_and_envelope_checks() {
        let b = ResultBundle::from_answer(&answer()).unwrap();
        assert_eq!(b.id, result_id(b"cose bytes"));
        let json = serde_json::to_vec(&b).unwrap();
        assert!(!String::from_utf8_lossy(&json).contains("tlog_proof"));
        let back = ResultBundle::parse(&json).unwrap();
        assert_eq!(back, b);
        assert_eq!(back.to_answer(), answer());
        back.check_envelope().unwrap();
        let mut wrong = b.clone();
        wrong.id = result_id(b"other");
        assert_eq!(wrong.check_envelope(), Err(ResultError::BundleId));
        let mut v1 = b.clone();
        v1.format = BUNDLE_FORMAT_V1.into();
        v1.check_envelope().unwrap();
        v1.publish_authorization = Some(String::new());
        assert_eq!(v1.check_envelope(), Err(ResultError::BundleFormat));
        let mut v3 = b;
        v3.format = "strongroom/result-bundle/v3".into();
        assert_eq!(v3.check_envelope(), Err(ResultError::BundleFormat));
        let unknown = br#"{"format":"x","id":"","payload":{},"cose":"","attestation":"","log":{"leaf_index":0,"tree_size":1,"tree_head":"","inclusion_proof":[]},"extra":1}"#;
        assert!(matches!(
            ResultBundle::parse(unknown),
            Err(ResultError::Json(_))
        ));
    }

    fn payload_v2(owner: Option<String>, publish: bool) -> AggregatePayload {
        use strongroom_formats::policy::Policy as Sealed;
        AggregatePayload {
            version: 2,
            exchange: "binance".into(),
            label: "main".into(),
            account: "00".repeat(32),
            session: None,
            credential: Some("ab".repeat(32)),
            owner,
            policy: Some(Sealed {
                publish,
                ..Sealed::DEFAULT
            }),
            permissions: None,
            selection: None,
            methodology: None,
            returns: None,
            previous: None,
            from: None,
            to: None,
            computed_at: "2026-12-07T00:00:00Z".into(),
            key_id: "v1:ab".into(),
            pcr0: "00".repeat(48),
            symbols: Default::default(),
            totals: Default::default(),
        }
    }

    #[test]
    fn publish_consent_is_the_policy_or_the_owners_signature() {
        use crate::owner::{OwnerAction, owner_id, owner_public_key, sign_action};
        let key = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let other = p256::ecdsa::SigningKey::from_slice(&[8; 32]).unwrap();
        let owner = owner_id(&owner_public_key(&key));
        let mut b = ResultBundle::from_answer(&answer()).unwrap();
        // v1 payloads predate consent; a v2 policy with publish is consent.
        let mut v1 = payload_v2(None, false);
        v1.version = 1;
        b.check_publish_consent(&v1).unwrap();
        b.check_publish_consent(&payload_v2(Some(owner.clone()), true))
            .unwrap();
        let private = payload_v2(Some(owner.clone()), false);
        assert!(matches!(
            b.check_publish_consent(&private),
            Err(ResultError::PublishConsent(_))
        ));
        let action = |kind, credential: String| OwnerAction {
            action: kind,
            credential,
            from: None,
            to: None,
            symbols: None,
            time: "2020-01-01T00:00:00Z".into(), // old: consent does not expire
        };
        let sign = |a: &OwnerAction, k| STANDARD.encode(sign_action(a, k).unwrap());
        b.publish_authorization = Some(sign(&action(Action::Publish, "ab".repeat(32)), &key));
        b.check_publish_consent(&private).unwrap();
        for bad in [
            sign(&action(Action::Publish, "ab".repeat(32)), &other),
            sign(&action(Action::Publish, "cd".repeat(32)), &key),
            sign(&action(Action::Revoke, "ab".repeat(32)), &key),
            STANDARD.encode(b"not cose"),
        ] {
            b.publish_authorization = Some(bad);
            assert!(b.check_publish_consent(&private).is_err());
        }
    }
}
