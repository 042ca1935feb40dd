//! `verify`: the whole of CHECKLIST.md, in order.

use crate::cache::VerifierCache;
use crate::chain::verify_chain;
use crate::document::{MAX_DOCUMENT_LEN, parse_payload};
use crate::envelope;
use crate::error::VerifyError;
use crate::policy::Policy;
use crate::root::TrustRoot;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// A document that passed every check. Fields are the payload's, plus what
/// the verifier learned on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedDocument {
    /// NSM module id.
    pub module_id: String,
    /// Document timestamp, milliseconds since the unix epoch.
    pub timestamp_ms: u64,
    /// PCR index -> value.
    pub pcrs: BTreeMap<u8, Vec<u8>>,
    /// The bound `public_key` (Strongroom: the enclave's HPKE key, 65-byte SEC1).
    pub public_key: Option<Vec<u8>>,
    /// The bound `user_data` (Strongroom: see [`crate::KeyBinding`]).
    pub user_data: Option<Vec<u8>>,
    /// The `nonce`.
    pub nonce: Option<Vec<u8>>,
    /// PCR0, PCR1 and PCR2 are all zero (only possible with `allow_debug`).
    pub debug: bool,
    /// Verified under a development root (simulator), not a production one.
    pub dev_root: bool,
    /// SHA-256 of the root certificate the chain ends in.
    pub root_fingerprint: [u8; 32],
    /// Leaf certificate notBefore (unix seconds).
    pub leaf_not_before: u64,
    /// Leaf certificate notAfter (unix seconds); the document is no longer
    /// verifiable after it.
    pub leaf_not_after: u64,
    /// Source of the policy PCR set that matched, if the policy had any.
    pub matched_pcr_set: Option<String>,
}

impl VerifiedDocument {
    /// PCR0 (the image measurement) as lowercase hex.
    pub fn pcr0_hex(&self) -> String {
        self.pcrs.get(&0).map(hex::encode).unwrap_or_default()
    }
}

/// Verifies an NSM attestation document (COSE_Sign1, ES384) against a pinned
/// root at time `now` and applies `policy`. Nothing is read from the
/// environment: the clock and the trust decisions are arguments.
pub fn verify(
    document: &[u8],
    root: &TrustRoot,
    now: SystemTime,
    policy: &Policy,
) -> Result<VerifiedDocument, VerifyError> {
    verify_inner(document, root, now, policy, None)
}

/// [`verify`] with a [`VerifierCache`] of certificate signatures already
/// verified: identical checks and results, except that a certificate
/// signature over the exact (issuer, certificate) bytes seen before is not
/// verified again. Validity times, extensions, the pinned root, the
/// document signature and the policy are checked on every call.
pub fn verify_cached(
    document: &[u8],
    root: &TrustRoot,
    now: SystemTime,
    policy: &Policy,
    cache: &VerifierCache,
) -> Result<VerifiedDocument, VerifyError> {
    verify_inner(document, root, now, policy, Some(cache))
}

fn verify_inner(
    document: &[u8],
    root: &TrustRoot,
    now: SystemTime,
    policy: &Policy,
    cache: Option<&VerifierCache>,
) -> Result<VerifiedDocument, VerifyError> {
    if document.len() > MAX_DOCUMENT_LEN {
        return Err(VerifyError::DocumentTooLarge {
            len: document.len(),
            max: MAX_DOCUMENT_LEN,
        });
    }
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| VerifyError::InvalidTime)?;
    let sign1 = envelope::parse(document)?;
    let payload = parse_payload(sign1.payload)?;
    let chain = verify_chain(root, &payload.cabundle, &payload.certificate, now, cache)?;
    sign1.verify(&chain.leaf_key)?;
    let matched_pcr_set = policy.check(&payload, now)?;
    Ok(VerifiedDocument {
        debug: payload.is_debug(),
        module_id: payload.module_id,
        timestamp_ms: payload.timestamp_ms,
        pcrs: payload.pcrs,
        public_key: payload.public_key,
        user_data: payload.user_data,
        nonce: payload.nonce,
        dev_root: root.is_dev(),
        root_fingerprint: root.fingerprint(),
        leaf_not_before: chain.leaf_not_before,
        leaf_not_after: chain.leaf_not_after,
        matched_pcr_set,
    })
}

/// Decodes a document's envelope and payload WITHOUT verifying anything
/// cryptographic: for tools that display a document or pick a verification
/// time. Never base a trust decision on the result.
pub fn inspect_unverified(document: &[u8]) -> Result<crate::document::Payload, VerifyError> {
    if document.len() > MAX_DOCUMENT_LEN {
        return Err(VerifyError::DocumentTooLarge {
            len: document.len(),
            max: MAX_DOCUMENT_LEN,
        });
    }
    parse_payload(envelope::parse(document)?.payload)
}
