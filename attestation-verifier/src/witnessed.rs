//! A result's place in the *witnessed* log (log v2): its
//! `c2sp.org/tlog-proof@v1` checked under a tlog-policy (the witnesses and
//! the quorum the verifier trusts), with the log's own key taken from the
//! result's attestation (`user_data` `note`), not from the policy: whoever
//! supplies the policy (the deployment's page, or the user) chooses the
//! witnesses, never which log the enclave writes to.
//!
//! Used by `strongroom verify-result --tlog-policy` and by the browser page.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use strongroom_formats::c2sp::note::{KeyType, VerifierKey, key_id};
use strongroom_formats::c2sp::policy::{MAX_POLICY_LEN, TlogPolicy};
use strongroom_formats::c2sp::proof::TlogProof;

use crate::result::VerifiedResult;

/// Why a result's tlog-proof was refused. Each has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessedError {
    /// The policy text does not parse (or is too large).
    #[error("the tlog-policy does not parse: {0}")]
    BadPolicy(String),
    /// The result carries no tlog-proof.
    #[error("the result carries no tlog-proof")]
    NoProof,
    /// The tlog-proof does not parse.
    #[error("the tlog-proof does not parse: {0}")]
    BadProof(String),
    /// The attestation binds no log key (a v1 enclave).
    #[error("the attestation binds no log note key")]
    NoNoteKey,
    /// The checkpoint is not signed by the attested log key.
    #[error("the checkpoint is not signed by the log key the attestation binds")]
    NotTheAttestedLog,
    /// The checkpoint, its cosignatures, the quorum or the inclusion failed.
    #[error("the tlog-proof does not verify under the policy: {0}")]
    Refused(String),
}

impl WitnessedError {
    /// Stable code for reports.
    pub fn code(&self) -> &'static str {
        match self {
            WitnessedError::BadPolicy(_) => "bad_tlog_policy",
            WitnessedError::NoProof => "no_tlog_proof",
            WitnessedError::BadProof(_) => "bad_tlog_proof",
            WitnessedError::NoNoteKey => "no_note_key",
            WitnessedError::NotTheAttestedLog => "not_the_attested_log",
            WitnessedError::Refused(_) => "tlog_proof_refused",
        }
    }
}

/// What a checked tlog-proof established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witnessed {
    /// The log's origin line.
    pub origin: String,
    /// Size of the cosigned checkpoint holding the result.
    pub tree_size: u64,
    /// The policy's names of the witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
}

/// The verifier key `origin+keyid+base64(0x01 ‖ key)` of an attested note key.
pub fn attested_log_key(origin: &str, note: &[u8; 32]) -> Option<VerifierKey> {
    let id = key_id(origin, KeyType::Ed25519.byte(), note);
    let mut raw = vec![KeyType::Ed25519.byte()];
    raw.extend_from_slice(note);
    VerifierKey::parse(&format!("{origin}+{id:08x}+{}", STANDARD.encode(raw))).ok()
}

/// Checks `tlog_proof` (the text a result carries) for the verified result
/// `v` under `policy_text` (a C2SP tlog-policy: `witness`, `group` and
/// `quorum` lines; a `log` line for the log is allowed and must then be the
/// attested key, else the attested key is added).
pub fn check_tlog_proof(
    v: &VerifiedResult,
    cose: &[u8],
    tlog_proof: Option<&str>,
    policy_text: &str,
) -> Result<Witnessed, WitnessedError> {
    if policy_text.len() > MAX_POLICY_LEN {
        return Err(WitnessedError::BadPolicy("too large".into()));
    }
    let text = tlog_proof.ok_or(WitnessedError::NoProof)?;
    let proof =
        TlogProof::parse(text.as_bytes()).map_err(|e| WitnessedError::BadProof(e.to_string()))?;
    let note = v.binding.note_key.ok_or(WitnessedError::NoNoteKey)?;
    let origin = proof.checkpoint().checkpoint().origin().to_owned();
    let attested = attested_log_key(&origin, &note).ok_or(WitnessedError::NoNoteKey)?;
    proof
        .checkpoint()
        .verify_log(&origin, &attested)
        .map_err(|_| WitnessedError::NotTheAttestedLog)?;
    let given = TlogPolicy::parse(policy_text.as_bytes())
        .map_err(|e| WitnessedError::BadPolicy(e.to_string()))?;
    let policy = if given.logs().iter().any(|l| l.key.name() == origin) {
        given
    } else {
        let full = format!("log {attested}\n{policy_text}");
        TlogPolicy::parse(full.as_bytes()).map_err(|e| WitnessedError::BadPolicy(e.to_string()))?
    };
    let checked = policy
        .verify_proof(&proof, cose)
        .map_err(|e| WitnessedError::Refused(e.to_string()))?;
    Ok(Witnessed {
        origin,
        tree_size: checked.tree_size,
        witnesses: checked.cosignatures.into_iter().map(|c| c.name).collect(),
    })
}
