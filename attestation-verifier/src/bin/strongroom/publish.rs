//! `strongroom publish --session ID --credential C`: the owner signs a
//! `publish` of the credential; its results (and later ones) become
//! readable by anyone at `GET /r/{id}`, each bundle carrying this signed
//! consent so that a verifier checks it (a host cannot publish alone).

use crate::CliError;
use crate::host::{HostArgs, client_error};
use crate::owner_key::{OwnerKeyArgs, credential_arg, sign_now};
use strongroom_verifier::owner::{Action, owner_id, owner_public_key};

/// Arguments of `publish`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub host: HostArgs,
    /// Session id returned by `submit`.
    #[arg(long, value_name = "ID")]
    pub session: String,
    /// The credential id `submit` printed.
    #[arg(long, value_name = "HEX")]
    pub credential: String,
    #[command(flatten)]
    pub owner: OwnerKeyArgs,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), CliError> {
    let credential = credential_arg(&args.credential)?;
    let key = args.owner.load()?;
    let signed = sign_now(Action::Publish, &credential, &key)?;
    let answer = args
        .host
        .client()?
        .publish(&args.session, &signed)
        .map_err(client_error)?;
    let owner = owner_id(&owner_public_key(&key));
    if answer.credential != credential || answer.owner != owner {
        return Err(CliError::refused(
            "answer_mismatch",
            "the host published another credential or owner than the one signed for",
        ));
    }
    if args.json {
        let out = serde_json::json!({"ok": true, "credential": credential, "owner": owner,
            "published": true, "results": answer.results});
        println!("{out}");
    } else {
        println!("credential {credential} published by its owner {owner}");
        println!(
            "  {} result(s) public now, later ones when they are logged",
            answer.results
        );
    }
    Ok(())
}
