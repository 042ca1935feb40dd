//! `strongroom verify-result FILE`: the whole chain, offline.

use crate::CliError;
use crate::common::{PolicyArgs, read_input_limited};
use crate::report::{print_result, result_json};
use std::path::PathBuf;
use strongroom_verifier::bundle::MAX_BUNDLE_JSON_LEN;
use strongroom_verifier::{ResultBundle, VerifiedResult, parse_answer, verify_result};

/// Arguments of `verify-result`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A saved `request_aggregates` answer, or a result bundle (JSON; `-` reads stdin).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Log v2: a tlog-policy file (log key, witnesses, quorum). The answer's
    /// `log.tlog_proof` must then verify under it, its checkpoint signed by
    /// the note key the attestation binds: the result is in the log the
    /// witnesses saw, not in a fork shown only to you.
    #[arg(long, value_name = "FILE")]
    pub tlog_policy: Option<PathBuf>,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), CliError> {
    let json = read_input_limited(&args.file, MAX_BUNDLE_JSON_LEN as u64)?;
    let root = args.policy.root()?;
    let policy = args.policy.policy()?;
    // A bundle names its format; anything else is read as an answer.
    let bundle = ResultBundle::parse(&json).ok();
    let answer = match &bundle {
        Some(b) => b.check_envelope().map(|()| b.to_answer()),
        None => parse_answer(&json),
    }
    .map_err(|e| CliError::refused(e.code(), e))?;
    let verified =
        verify_result(&answer, &root, &policy).map_err(|e| CliError::refused(e.code(), e))?;
    // A bundle is what gets published: a v2 result in one needs its owner's
    // consent (B3), as the browser page requires.
    if let Some(b) = &bundle {
        b.check_publish_consent(&verified.payload)
            .map_err(|e| CliError::refused(e.code(), e))?;
    }
    let witnessed = match &args.tlog_policy {
        Some(path) => Some(crate::checkpoint::check_result_proof(
            &answer, &verified, path,
        )?),
        None => None,
    };
    if args.json {
        let mut out = crate::report::result_json(&verified, args.policy.pinned());
        out["witnessed"] = witnessed.as_ref().map_or(
            serde_json::Value::Null,
            |w| serde_json::json!({"tree_size": w.tree_size, "witnesses": w.witnesses}),
        );
        println!("{out}");
    } else {
        print(&verified, args.policy.pinned(), false);
        match &witnessed {
            Some(w) => println!(
                "  witnessed:    in the cosigned checkpoint of size {} ({})",
                w.tree_size,
                w.witnesses.join(", ")
            ),
            None => println!("  witnessed:    not checked (no --tlog-policy)"),
        }
    }
    Ok(())
}

/// Prints a verified result in the requested form.
pub fn print(v: &VerifiedResult, pinned: bool, json: bool) {
    if json {
        println!("{}", result_json(v, pinned));
    } else {
        print_result(v);
    }
}
