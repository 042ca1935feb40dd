//! `strongroom verify-checkpoint` and `strongroom verify-proof`: a C2SP
//! checkpoint, or a `tlog-proof@v1` for an entry, under a tlog-policy file
//! (logs, witnesses, quorum). Offline; nothing is fetched.

use crate::CliError;
use crate::common::read_input_limited;
use serde_json::json;
use std::path::{Path, PathBuf};
use strongroom_formats::c2sp::checkpoint::SignedCheckpoint;
use strongroom_formats::c2sp::cosignature::WitnessCosignature;
use strongroom_formats::c2sp::note::MAX_NOTE_LEN;
use strongroom_formats::c2sp::policy::{MAX_POLICY_LEN, TlogPolicy};
use strongroom_formats::c2sp::proof::{MAX_TLOG_PROOF_LEN, TlogProof};

/// Largest entry file read for `verify-proof` (a result's COSE_Sign1 is at most 1 MiB).
const MAX_ENTRY_LEN: u64 = 1 << 20;

/// Arguments of `verify-checkpoint`.
#[derive(clap::Args, Debug)]
pub struct CheckpointArgs {
    /// The signed checkpoint (note text; `-` reads stdin).
    #[arg(value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// tlog-policy file: `log`, `witness`, `group` and `quorum` lines.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `verify-proof`.
#[derive(clap::Args, Debug)]
pub struct ProofArgs {
    /// The `c2sp.org/tlog-proof@v1` text (`-` reads stdin).
    #[arg(value_name = "FILE")]
    pub proof: PathBuf,
    /// The logged entry's bytes (for a result: its COSE_Sign1).
    #[arg(long, value_name = "FILE")]
    pub entry: PathBuf,
    /// tlog-policy file.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

fn policy(path: &Path) -> Result<TlogPolicy, CliError> {
    let bytes = read_input_limited(path, MAX_POLICY_LEN as u64)?;
    TlogPolicy::parse(&bytes)
        .map_err(|e| CliError::usage("bad_policy", format!("{}: {e}", path.display())))
}

fn names(c: &[WitnessCosignature]) -> Vec<&str> {
    c.iter().map(|c| c.name.as_str()).collect()
}

/// Runs `verify-checkpoint`.
pub fn run_checkpoint(args: &CheckpointArgs) -> Result<(), CliError> {
    let policy = policy(&args.policy)?;
    let bytes = read_input_limited(&args.checkpoint, MAX_NOTE_LEN as u64)?;
    let signed =
        SignedCheckpoint::parse(&bytes).map_err(|e| CliError::refused("bad_checkpoint", e))?;
    let v = policy
        .verify_checkpoint(&signed)
        .map_err(|e| CliError::refused("checkpoint_refused", e))?;
    let root = hex::encode(v.root_hash);
    if args.json {
        let out = json!({"ok": true, "origin": v.origin, "size": v.size, "root": root,
            "witnesses": names(&v.cosignatures)});
        println!("{out}");
    } else {
        println!(
            "checkpoint OK: {} at size {}, root {root}",
            v.origin, v.size
        );
        println!("  cosigned by:  {}", names(&v.cosignatures).join(", "));
    }
    Ok(())
}

/// Runs `verify-proof`.
pub fn run_proof(args: &ProofArgs) -> Result<(), CliError> {
    let policy = policy(&args.policy)?;
    let bytes = read_input_limited(&args.proof, MAX_TLOG_PROOF_LEN as u64)?;
    let proof = TlogProof::parse(&bytes).map_err(|e| CliError::refused("bad_proof", e))?;
    let entry = read_input_limited(&args.entry, MAX_ENTRY_LEN)?;
    let v = policy
        .verify_proof(&proof, &entry)
        .map_err(|e| CliError::refused("proof_refused", e))?;
    let root = hex::encode(v.root_hash);
    if args.json {
        let out = json!({"ok": true, "index": v.index, "size": v.tree_size, "root": root,
            "witnesses": names(&v.cosignatures)});
        println!("{out}");
    } else {
        println!(
            "proof OK: entry {} of {}, root {root}",
            v.index, v.tree_size
        );
        println!("  cosigned by:  {}", names(&v.cosignatures).join(", "));
    }
    Ok(())
}

/// What `--tlog-policy` established about a result.
#[derive(Debug)]
pub struct Witnessed {
    /// Size of the cosigned checkpoint holding the result.
    pub tree_size: u64,
    /// The policy witnesses that cosigned it.
    pub witnesses: Vec<String>,
}

/// The answer's `log.tlog_proof` under the policy at `path`, for the
/// answer's signed result; its checkpoint must also be signed by the note
/// key the result's attestation binds (`user_data` `note`).
pub fn check_result_proof(
    answer: &strongroom_verifier::result::AggregatesAnswer,
    verified: &strongroom_verifier::result::VerifiedResult,
    path: &Path,
) -> Result<Witnessed, CliError> {
    use base64::Engine as _;
    let policy = policy(path)?;
    let text = answer.log.tlog_proof.as_deref().ok_or_else(|| {
        CliError::refused("no_tlog_proof", "the answer carries no log.tlog_proof")
    })?;
    let proof =
        TlogProof::parse(text.as_bytes()).map_err(|e| CliError::refused("bad_tlog_proof", e))?;
    let entry = base64::engine::general_purpose::STANDARD
        .decode(&answer.aggregates_signed)
        .map_err(|e| CliError::refused("answer_json", e))?;
    let v = policy
        .verify_proof(&proof, &entry)
        .map_err(|e| CliError::refused("tlog_proof_refused", e))?;
    let note = verified
        .binding
        .note_key
        .ok_or_else(|| CliError::refused("no_note_key", "the attestation binds no log note key"))?;
    let origin = proof.checkpoint().checkpoint().origin().to_owned();
    let attested = attested_log_key(&origin, &note)?;
    proof
        .checkpoint()
        .verify_log(&origin, &attested)
        .map_err(|_| {
            CliError::refused(
                "tlog_proof_refused",
                "the checkpoint is not signed by the log key the attestation binds",
            )
        })?;
    Ok(Witnessed {
        tree_size: v.tree_size,
        witnesses: v.cosignatures.into_iter().map(|c| c.name).collect(),
    })
}

/// The verifier key `origin+keyid+base64(0x01 || key)` of an attested note key.
fn attested_log_key(
    origin: &str,
    note: &[u8; 32],
) -> Result<strongroom_formats::c2sp::note::VerifierKey, CliError> {
    use base64::Engine as _;
    use strongroom_formats::c2sp::note::{KeyType, VerifierKey, key_id};
    let id = key_id(origin, KeyType::Ed25519.byte(), note);
    let mut raw = vec![KeyType::Ed25519.byte()];
    raw.extend_from_slice(note);
    let text = format!(
        "{origin}+{id:08x}+{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    VerifierKey::parse(&text).map_err(|e| CliError::refused("no_note_key", e))
}
