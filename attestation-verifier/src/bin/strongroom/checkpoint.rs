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
pub use strongroom_verifier::witnessed::Witnessed;
use strongroom_verifier::witnessed::{WitnessedError, check_tlog_proof};

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

/// The answer's `log.tlog_proof` under the policy at `path`, for the
/// answer's signed result; its checkpoint must also be signed by the note
/// key the result's attestation binds (`user_data` `note`). See
/// `strongroom_verifier::witnessed`.
pub fn check_result_proof(
    answer: &strongroom_verifier::result::AggregatesAnswer,
    verified: &strongroom_verifier::result::VerifiedResult,
    path: &Path,
) -> Result<Witnessed, CliError> {
    use base64::Engine as _;
    let bytes = read_input_limited(path, MAX_POLICY_LEN as u64)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::usage("bad_policy", format!("{}: not UTF-8", path.display())))?;
    let entry = base64::engine::general_purpose::STANDARD
        .decode(&answer.aggregates_signed)
        .map_err(|e| CliError::refused("answer_json", e))?;
    check_tlog_proof(verified, &entry, answer.log.tlog_proof.as_deref(), &text).map_err(|e| match e
    {
        WitnessedError::BadPolicy(_) => CliError::usage("bad_policy", e),
        _ => CliError::refused(e.code(), e),
    })
}
