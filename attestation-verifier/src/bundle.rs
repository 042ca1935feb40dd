//! Result bundles: one self-contained JSON file per signed result, what
//! `GET /r/{id}` serves, `strongroom bundle` writes and the browser page
//! verifies (SPEC.md in this crate, "Result bundle").
//!
//! A bundle is a `request_aggregates` answer under other field names, plus
//! its id (hex SHA-256 of the COSE_Sign1 bytes) and room for the cosigned
//! checkpoint of log v2. Verification is [`crate::verify_result`] after two
//! checks of its own: the format tag, and the id against the COSE bytes.

use crate::policy::Policy;
use crate::result::{
    AggregatesAnswer, LogEntry, MAX_ANSWER_JSON_LEN, ResultError, VerifiedResult, verify_result,
};
use crate::root::TrustRoot;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The `format` value of a version-1 bundle.
pub const BUNDLE_FORMAT: &str = "strongroom/result-bundle/v1";

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

    /// The format tag is v1 and `id` is SHA-256 of the COSE bytes.
    pub fn check_envelope(&self) -> Result<(), ResultError> {
        if self.format != BUNDLE_FORMAT {
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
}

/// Verifies a bundle: B1–B2 (CHECKLIST.md), then R2–R10 as [`verify_result`].
pub fn verify_bundle(
    bundle: &ResultBundle,
    root: &TrustRoot,
    policy: &Policy,
) -> Result<VerifiedResult, ResultError> {
    bundle.check_envelope()?;
    verify_result(&bundle.to_answer(), root, policy)
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
        let mut v2 = b;
        v2.format = "strongroom/result-bundle/v2".into();
        assert_eq!(v2.check_envelope(), Err(ResultError::BundleFormat));
        let unknown = br#"{"format":"x","id":"","payload":{},"cose":"","attestation":"","log":{"leaf_index":0,"tree_size":1,"tree_head":"","inclusion_proof":[]},"extra":1}"#;
        assert!(matches!(
            ResultBundle::parse(unknown),
            Err(ResultError::Json(_))
        ));
    }
}
