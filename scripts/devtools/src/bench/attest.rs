//! Attestation verification of a real AWS document: `strongroom_verifier`'s
//! `verify` (cold) and `verify_cached` (warm intermediate cache) against the
//! peer verifier `attestation-doc-validation` on the same bytes in the same
//! process.
//!
//! The peer reads the wall clock and cannot be given a time, and real
//! documents' leaf certificates expired hours after they were made, so
//! `scripts/bench` runs this measurement under `faketime` set to the
//! document's own timestamp; our verifier is given that timestamp as an
//! argument. Without faketime the peer refuses (`CertExpired`), which is
//! reported instead of a rate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use strongroom_verifier::{
    Policy, TrustRoot, VerifierCache, inspect_unverified, verify, verify_cached,
};

/// A failure of our own verifier on the document (the figure is void).
#[derive(Debug, thiserror::Error)]
#[error("attest bench: {0}")]
pub struct AttestBenchError(String);

/// Rates per run, verifications per second.
#[derive(Debug, Clone, Serialize)]
pub struct AttestRates {
    /// `verify`, no cache.
    pub verify: Vec<f64>,
    /// `verify_cached`, warm cache.
    pub verify_cached: Vec<f64>,
    /// The peer (empty when it refused the document).
    pub peer: Vec<f64>,
    /// Why the peer could not be measured, if so.
    pub peer_error: Option<String>,
    /// The document's timestamp (ms since the epoch).
    pub doc_time_ms: u64,
}

/// The document's own timestamp.
pub fn doc_time(doc: &[u8]) -> Result<SystemTime, AttestBenchError> {
    let p = inspect_unverified(doc).map_err(|e| AttestBenchError(e.to_string()))?;
    Ok(UNIX_EPOCH + Duration::from_millis(p.timestamp_ms))
}

/// Measures the three verifiers `runs` times for `each` of wall time.
pub fn rates(doc: &[u8], each: Duration, runs: usize) -> Result<AttestRates, AttestBenchError> {
    let now = doc_time(doc)?;
    let ms = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let root = TrustRoot::aws_nitro_g1();
    let policy = Policy::default().with_allow_debug(true);
    let cache = VerifierCache::default();
    let ours = |e: strongroom_verifier::VerifyError| AttestBenchError(e.to_string());
    verify(doc, &root, now, &policy).map_err(ours)?;
    verify_cached(doc, &root, now, &policy, &cache).map_err(ours)?;
    let peer_error = attestation_doc_validation::validate_attestation_doc(doc)
        .err()
        .map(|e| format!("{e:?}"));
    let mut out = AttestRates {
        verify: Vec::new(),
        verify_cached: Vec::new(),
        peer: Vec::new(),
        peer_error,
        doc_time_ms: ms,
    };
    for _ in 0..runs {
        out.verify
            .push(super::rate(each, || verify(doc, &root, now, &policy).map(drop)).map_err(ours)?);
        out.verify_cached.push(
            super::rate(each, || {
                verify_cached(doc, &root, now, &policy, &cache).map(drop)
            })
            .map_err(ours)?,
        );
        if out.peer_error.is_none() {
            let r = super::rate(each, || {
                attestation_doc_validation::validate_attestation_doc(doc)
                    .map_err(|e| format!("{e:?}"))
            });
            match r {
                Ok(v) => out.peer.push(v),
                Err(e) => out.peer_error = Some(e),
            }
        }
    }
    Ok(out)
}
