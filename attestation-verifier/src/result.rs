//! Signed results: the whole offline chain behind a `POST
//! /enclave/request_aggregates` answer (CHECKLIST.md, "Result
//! verification", R1–R11): root -> attestation -> PCR policy -> signing key
//! -> aggregate -> inclusion in a signed tree head.
//!
//! Pure: the answer, trust root and policy are arguments; no clock, no
//! network. The attestation is checked at its *own* timestamp (see
//! [`verify_result`]).

use crate::binding::{BindingError, KeyBinding};
use crate::cache::VerifierCache;
use crate::cose::{self, CoseError};
use crate::error::VerifyError;
use crate::merkle::{self, HASH_LEN, Hash, MAX_PROOF_LEN, MerkleError};
use crate::policy::Policy;
use crate::root::TrustRoot;
use crate::verify::{VerifiedDocument, inspect_unverified, verify, verify_cached};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::{Duration, UNIX_EPOCH};
use strongroom_formats::aggregates::AggregatePayload;
use strongroom_formats::returns;
use strongroom_formats::tlog::TreeHead;
use thiserror::Error;

/// Largest `request_aggregates` answer JSON accepted by [`parse_answer`]:
/// a 1 MiB signed payload in base64 plus the same figures as JSON.
pub const MAX_ANSWER_JSON_LEN: usize = 4 << 20;

/// The JSON answer of `POST /enclave/request_aggregates` (DESIGN.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatesAnswer {
    /// The figures as JSON: an unauthenticated copy of the signed payload.
    pub aggregates: serde_json::Value,
    /// Base64 COSE_Sign1 ES256 over the CBOR payload.
    pub aggregates_signed: String,
    /// Base64 attestation document binding the signing key; its `nonce` is
    /// SHA-256 of the `aggregates_signed` bytes.
    pub attestation: String,
    /// Where the signed aggregate sits in the transparency log.
    pub log: LogEntry,
}

/// The `log` object of an aggregates answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// Index of the leaf (0-based).
    pub leaf_index: u64,
    /// Size of the tree the proof and head describe.
    pub tree_size: u64,
    /// Base64 COSE_Sign1 ES256 over the CBOR [`TreeHead`].
    pub tree_head: String,
    /// RFC 9162 audit path, base64 32-byte hashes, leaf upward.
    pub inclusion_proof: Vec<String>,
    /// Log v2: the C2SP checkpoint of `tree_size` with witness
    /// cosignatures (signed note text). Checked by `verify-proof` and
    /// `verify-checkpoint` against a tlog-policy; absent from a v1 host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// Log v2: `c2sp.org/tlog-proof@v1` of the result in `checkpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlog_proof: Option<String>,
}

/// Why a signed result was refused. One variant per check (CHECKLIST.md R*).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResultError {
    /// R1. Answer JSON larger than [`MAX_ANSWER_JSON_LEN`].
    #[error("answer JSON larger than {MAX_ANSWER_JSON_LEN} bytes")]
    TooLarge,
    /// R1. Not the answer JSON object.
    #[error("answer JSON invalid: {0}")]
    Json(String),
    /// R1. A field is not standard base64 (or a proof hash is not 32 bytes).
    #[error("`{0}` is not valid base64 of the expected length")]
    Encoding(&'static str),
    /// R2. The attestation document was refused at its own timestamp.
    #[error("attestation refused: {0}")]
    Attestation(VerifyError),
    /// R3. The document's nonce is not SHA-256 of `aggregates_signed`.
    #[error(
        "attestation nonce is not SHA-256 of aggregates_signed (attestation of another result)"
    )]
    NonceMismatch,
    /// R4. `user_data` binds no valid signing key.
    #[error("key binding refused: {0}")]
    Binding(BindingError),
    /// R5/R8/R10. A key id differs from the attested one.
    #[error("{0} key id differs from the attested key id")]
    KeyIdMismatch(&'static str),
    /// R5. `aggregates_signed` does not verify under the attested key.
    #[error("aggregates_signed refused: {0}")]
    AggregateSignature(CoseError),
    /// R6. The signed payload is not a valid aggregate payload.
    #[error("signed payload refused: {0}")]
    Payload(String),
    /// R6. The payload's `pcr0` is not the attested PCR0.
    #[error("payload pcr0 differs from the attested PCR0")]
    Pcr0Mismatch,
    /// R6b. The signed `returns` figures do not follow from the signed
    /// daily series (`strongroom_formats::returns::recheck`).
    #[error("signed returns refused: {0}")]
    Returns(String),
    /// R7. `aggregates` JSON differs from the signed payload.
    #[error("`aggregates` JSON differs from the signed payload")]
    AggregatesMismatch,
    /// R8. The tree head does not verify under the attested key.
    #[error("tree head refused: {0}")]
    TreeHeadSignature(CoseError),
    /// R8. The tree head payload is malformed.
    #[error("tree head payload is malformed")]
    TreeHead,
    /// R9. `log.tree_size` differs from the signed head's size.
    #[error("log tree_size {log} differs from the signed head's size {head}")]
    TreeSizeMismatch { log: u64, head: u64 },
    /// R9. `leaf_index` is not below `tree_size`.
    #[error("leaf index {index} is not below tree size {size}")]
    LeafIndexOutOfRange { index: u64, size: u64 },
    /// R10. The inclusion proof does not lead to the signed root.
    #[error("inclusion proof refused: {0}")]
    Inclusion(MerkleError),
    /// R11. Two signed heads are not consistent.
    #[error("consistency proof refused: {0}")]
    Consistency(MerkleError),
    /// B1. A result bundle's `format` is not `strongroom/result-bundle/v1`
    /// or `/v2` (or a v1 bundle carries a v2 field).
    #[error("not a strongroom/result-bundle/v1 or v2")]
    BundleFormat,
    /// B2. A result bundle's `id` is not SHA-256 of its COSE bytes.
    #[error("bundle id is not SHA-256 of its COSE bytes")]
    BundleId,
    /// B3. A v2 result in a bundle without its owner's consent to publish:
    /// neither `policy.publish` nor a valid owner `publish` action for its
    /// credential by its owner.
    #[error("no publication consent: {0}")]
    PublishConsent(&'static str),
}

impl ResultError {
    /// A stable snake_case code (CLI `--json`, logs).
    pub fn code(&self) -> &'static str {
        use ResultError::*;
        match self {
            TooLarge => "answer_too_large",
            Json(_) => "answer_json",
            Encoding(_) => "answer_encoding",
            Attestation(e) => e.code(),
            NonceMismatch => "result_nonce_mismatch",
            Binding(_) => "key_binding",
            KeyIdMismatch(_) => "key_id_mismatch",
            AggregateSignature(_) => "aggregate_signature",
            Payload(_) => "aggregate_payload",
            Pcr0Mismatch => "pcr0_mismatch",
            Returns(_) => "returns_mismatch",
            AggregatesMismatch => "aggregates_mismatch",
            TreeHeadSignature(_) => "tree_head_signature",
            TreeHead => "tree_head_malformed",
            TreeSizeMismatch { .. } => "tree_size_mismatch",
            LeafIndexOutOfRange { .. } => "leaf_index_out_of_range",
            Inclusion(_) => "inclusion_proof",
            Consistency(_) => "consistency_proof",
            BundleFormat => "bundle_format",
            BundleId => "bundle_id_mismatch",
            PublishConsent(_) => "publish_consent",
        }
    }
}

/// A result that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedResult {
    /// The signed figures.
    pub payload: AggregatePayload,
    /// The attestation, verified at its own timestamp.
    pub document: VerifiedDocument,
    /// The attested signing key and key id.
    pub binding: KeyBinding,
    /// The signed tree head the result is included in.
    pub tree_head: TreeHead,
    /// Leaf index in that tree.
    pub leaf_index: u64,
    /// RFC 9162 leaf hash of the `aggregates_signed` bytes.
    pub leaf_hash: Hash,
}

/// Parses an answer JSON, bounded by [`MAX_ANSWER_JSON_LEN`].
pub fn parse_answer(json: &[u8]) -> Result<AggregatesAnswer, ResultError> {
    if json.len() > MAX_ANSWER_JSON_LEN {
        return Err(ResultError::TooLarge);
    }
    serde_json::from_slice(json).map_err(|e| ResultError::Json(e.to_string()))
}

/// Verifies a signed result offline: R2–R10 of CHECKLIST.md, in order.
///
/// The attestation is verified **at its own timestamp**, not at the
/// caller's clock: results are audited long after the NSM leaf certificate
/// (about three hours) expired. This is sound because the document's nonce
/// is SHA-256 of these exact signed bytes (R3), so it cannot be an old
/// document replayed for a new result, and the timestamp itself is covered
/// by the document signature. For the same reason `policy.expected_nonce`
/// is ignored (R3 replaces it) and `policy.max_age` is meaningless here.
pub fn verify_result(
    answer: &AggregatesAnswer,
    root: &TrustRoot,
    policy: &Policy,
) -> Result<VerifiedResult, ResultError> {
    verify_result_inner(answer, root, policy, None)
}

/// [`verify_result`] with a [`VerifierCache`] for the attestation's
/// certificate chain (an auditor checking many results of one enclave).
pub fn verify_result_cached(
    answer: &AggregatesAnswer,
    root: &TrustRoot,
    policy: &Policy,
    cache: &VerifierCache,
) -> Result<VerifiedResult, ResultError> {
    verify_result_inner(answer, root, policy, Some(cache))
}

fn verify_result_inner(
    answer: &AggregatesAnswer,
    root: &TrustRoot,
    policy: &Policy,
    cache: Option<&VerifierCache>,
) -> Result<VerifiedResult, ResultError> {
    let signed = b64(&answer.aggregates_signed, "aggregates_signed")?;
    let doc = b64(&answer.attestation, "attestation")?;
    let document = verify_attestation(&doc, root, policy, cache)?;
    let nonce: [u8; 32] = Sha256::digest(&signed).into();
    if document.nonce.as_deref() != Some(nonce.as_slice()) {
        return Err(ResultError::NonceMismatch);
    }
    let binding = KeyBinding::from_document(&document).map_err(ResultError::Binding)?;
    let payload = verify_payload(&signed, &binding, &document)?;
    let json = serde_json::to_value(&payload).map_err(|e| ResultError::Payload(e.to_string()))?;
    if json != answer.aggregates {
        return Err(ResultError::AggregatesMismatch);
    }
    let leaf_hash = merkle::leaf_hash(&signed);
    let tree_head = verify_log_entry(&answer.log, &leaf_hash, &binding)?;
    Ok(VerifiedResult {
        payload,
        document,
        binding,
        tree_head,
        leaf_index: answer.log.leaf_index,
        leaf_hash,
    })
}

/// R2: the document at its own (signed) timestamp, nonce left to R3.
fn verify_attestation(
    doc: &[u8],
    root: &TrustRoot,
    policy: &Policy,
    cache: Option<&VerifierCache>,
) -> Result<VerifiedDocument, ResultError> {
    let at = inspect_unverified(doc)
        .map_err(ResultError::Attestation)?
        .timestamp_ms;
    let mut policy = policy.clone();
    policy.expected_nonce = None;
    let at = UNIX_EPOCH + Duration::from_millis(at);
    match cache {
        Some(cache) => verify_cached(doc, root, at, &policy, cache),
        None => verify(doc, root, at, &policy),
    }
    .map_err(ResultError::Attestation)
}

/// R5–R6: COSE ES256 under the attested key and kid, typed payload, key id
/// and PCR0 as attested.
fn verify_payload(
    signed: &[u8],
    binding: &KeyBinding,
    document: &VerifiedDocument,
) -> Result<AggregatePayload, ResultError> {
    let bytes = cose::verify_es256(signed, &binding.signing_key, Some(&binding.kid))
        .map_err(|e| cose_error(e, "aggregates_signed", ResultError::AggregateSignature))?;
    let payload =
        AggregatePayload::from_cbor(&bytes).map_err(|e| ResultError::Payload(e.to_string()))?;
    if payload.key_id != binding.kid {
        return Err(ResultError::KeyIdMismatch("payload"));
    }
    if !payload.pcr0.eq_ignore_ascii_case(&document.pcr0_hex()) {
        return Err(ResultError::Pcr0Mismatch);
    }
    verify_returns(&payload)?;
    Ok(payload)
}

/// R6b: a `returns` block is taken for its signed daily series only: every
/// figure is recomputed from it (methodology `strongroom/metrics/v2`) and
/// must be exactly the signed one.
pub fn verify_returns(payload: &AggregatePayload) -> Result<(), ResultError> {
    match &payload.returns {
        Some(block) => returns::recheck(block).map_err(|e| ResultError::Returns(e.to_string())),
        None => Ok(()),
    }
}

/// R8–R10: signed head, sizes, inclusion of `leaf` under the signed root.
fn verify_log_entry(
    log: &LogEntry,
    leaf: &Hash,
    binding: &KeyBinding,
) -> Result<TreeHead, ResultError> {
    let head = verify_tree_head(&log.tree_head, binding)?;
    if head.size != log.tree_size {
        return Err(ResultError::TreeSizeMismatch {
            log: log.tree_size,
            head: head.size,
        });
    }
    if log.leaf_index >= log.tree_size {
        return Err(ResultError::LeafIndexOutOfRange {
            index: log.leaf_index,
            size: log.tree_size,
        });
    }
    let proof = decode_proof(&log.inclusion_proof, "inclusion_proof")?;
    merkle::verify_inclusion(leaf, log.leaf_index, head.size, &proof, &root_of(&head)?)
        .map_err(ResultError::Inclusion)?;
    Ok(head)
}

/// R8: a base64 COSE_Sign1 tree head signed by the attested key, whose
/// payload names the same key id.
pub fn verify_tree_head(head_b64: &str, binding: &KeyBinding) -> Result<TreeHead, ResultError> {
    let bytes = b64(head_b64, "tree_head")?;
    let payload = cose::verify_es256(&bytes, &binding.signing_key, Some(&binding.kid))
        .map_err(|e| cose_error(e, "tree head", ResultError::TreeHeadSignature))?;
    let head = TreeHead::from_cbor(&payload).map_err(|_| ResultError::TreeHead)?;
    if head.key_id != binding.kid {
        return Err(ResultError::KeyIdMismatch("tree head payload"));
    }
    Ok(head)
}

/// Two heads signed by `binding`'s key, old and new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistentHeads {
    /// The older head.
    pub old: TreeHead,
    /// The newer head, of which the older tree is a prefix.
    pub new: TreeHead,
}

/// R11: both heads verify under the attested key (R8) and the RFC 9162
/// consistency proof (base64 hashes) shows the old tree is a prefix of the
/// new one. The binding comes from a verified attestation (for example
/// [`VerifiedResult::binding`]).
pub fn verify_consistency_heads(
    old_head_b64: &str,
    new_head_b64: &str,
    proof: &[String],
    binding: &KeyBinding,
) -> Result<ConsistentHeads, ResultError> {
    let old = verify_tree_head(old_head_b64, binding)?;
    let new = verify_tree_head(new_head_b64, binding)?;
    let proof = decode_proof(proof, "consistency_proof")?;
    merkle::verify_consistency(old.size, new.size, &root_of(&old)?, &root_of(&new)?, &proof)
        .map_err(ResultError::Consistency)?;
    Ok(ConsistentHeads { old, new })
}

fn cose_error(
    e: CoseError,
    what: &'static str,
    other: fn(CoseError) -> ResultError,
) -> ResultError {
    match e {
        CoseError::KeyIdMismatch => ResultError::KeyIdMismatch(what),
        e => other(e),
    }
}

fn root_of(head: &TreeHead) -> Result<Hash, ResultError> {
    head.root
        .as_slice()
        .try_into()
        .map_err(|_| ResultError::TreeHead)
}

/// Base64 32-byte hashes, at most [`MAX_PROOF_LEN`] (checked before decoding).
fn decode_proof(proof: &[String], field: &'static str) -> Result<Vec<Hash>, ResultError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(ResultError::Encoding(field));
    }
    proof
        .iter()
        .map(|h| {
            b64(h, field)?
                .try_into()
                .map_err(|_: Vec<u8>| ResultError::Encoding(field))
        })
        .collect::<Result<Vec<[u8; HASH_LEN]>, _>>()
}

fn b64(s: &str, field: &'static str) -> Result<Vec<u8>, ResultError> {
    STANDARD.decode(s).map_err(|_| ResultError::Encoding(field))
}
