//! `strongroom verify-result FILE`: the whole chain, offline.

use crate::CliError;
use crate::common::{PolicyArgs, read_input_limited};
use crate::report::{print_result, result_json};
use std::path::PathBuf;
use strongroom_verifier::bundle::MAX_BUNDLE_JSON_LEN;
use strongroom_verifier::{
    ResultBundle, VerifiedResult, parse_answer, verify_bundle, verify_result,
};

/// Arguments of `verify-result`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A saved `request_aggregates` answer, or a result bundle (JSON; `-` reads stdin).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub policy: PolicyArgs,
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
    let verified = match ResultBundle::parse(&json) {
        Ok(bundle) => verify_bundle(&bundle, &root, &policy),
        Err(_) => parse_answer(&json).and_then(|answer| verify_result(&answer, &root, &policy)),
    }
    .map_err(|e| CliError::refused(e.code(), e))?;
    print(&verified, args.policy.pinned(), args.json);
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
