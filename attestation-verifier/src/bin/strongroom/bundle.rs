//! `strongroom bundle ANSWER --out FILE`: verifies a saved
//! `request_aggregates` answer (as `verify-result` does) and writes its result
//! bundle (SPEC.md, "Result bundle"), the file the browser page verifies.
//! A version 2 result whose policy is private needs its owner's consent in
//! the bundle: `--authorize` signs a `publish` of its credential with the
//! owner key (the host's `GET /r/{id}` bundles carry the one given to
//! `strongroom publish`).

use crate::CliError;
use crate::common::{PolicyArgs, read_input_limited};
use serde_json::json;
use std::path::PathBuf;
use strongroom_verifier::owner::Action;
use strongroom_verifier::result::MAX_ANSWER_JSON_LEN;
use strongroom_verifier::{ResultBundle, parse_answer, verify_result};

use crate::owner_key::{OwnerKeyArgs, sign_now};

/// Arguments of `bundle`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A saved `request_aggregates` answer (JSON; `-` reads stdin).
    #[arg(value_name = "ANSWER")]
    pub file: PathBuf,
    /// Where to write the bundle (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Sign the owner's consent to publish the result's credential into the bundle.
    #[arg(long)]
    pub authorize: bool,
    #[command(flatten)]
    pub owner: OwnerKeyArgs,
    /// Machine-readable output (one JSON object on stdout; not with `--out -`).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command: nothing is written unless the whole chain verifies.
pub fn run(args: &Args) -> Result<(), CliError> {
    let input = read_input_limited(&args.file, MAX_ANSWER_JSON_LEN as u64)?;
    let root = args.policy.root()?;
    let policy = args.policy.policy()?;
    let answer = parse_answer(&input).map_err(|e| CliError::refused(e.code(), e))?;
    let v = verify_result(&answer, &root, &policy).map_err(|e| CliError::refused(e.code(), e))?;
    let mut bundle =
        ResultBundle::from_answer(&answer).map_err(|e| CliError::refused(e.code(), e))?;
    if let (true, Some(credential)) = (args.authorize, &v.payload.credential) {
        let signed = sign_now(Action::Publish, credential, &args.owner.load()?)?;
        bundle.publish_authorization = Some(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            signed,
        ));
    }
    // Nothing is written that a verifier would refuse.
    bundle
        .check_publish_consent(&v.payload)
        .map_err(|e| CliError::refused(e.code(), e))?;
    let text =
        serde_json::to_string_pretty(&bundle).map_err(|e| CliError::usage("bundle_encode", e))?;
    if args.out.as_os_str() == "-" {
        println!("{text}");
        return Ok(());
    }
    std::fs::write(&args.out, format!("{text}\n"))
        .map_err(|e| CliError::usage("write", format!("{}: {e}", args.out.display())))?;
    if args.json {
        println!("{}", json!({"ok": true, "id": bundle.id, "out": args.out}));
    } else {
        println!("bundle {} written to {}", bundle.id, args.out.display());
    }
    Ok(())
}
