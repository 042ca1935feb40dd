//! `strongroom revoke --session ID --credential C`: the owner signs a
//! `revoke` of the credential; the enclave checks it against the owner key
//! sealed in the credential, refuses the credential from then on (whatever
//! ciphertext a host hands it, after restarts, on every instance of its key
//! ring), and the log records a revocation entry that `history` and
//! `monitor` show. `--unlogged`: the version 1 revoke (the host purges the
//! session's ciphertext; nothing binds the enclave, nothing is logged).

use crate::CliError;
use crate::host::{HostArgs, client_error};
use crate::owner_key::{OwnerKeyArgs, credential_arg, sign_now};
use strongroom_verifier::owner::Action;

/// Arguments of `revoke`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub host: HostArgs,
    /// Session id returned by `submit`.
    #[arg(long, value_name = "ID")]
    pub session: String,
    /// The credential id `submit` printed (signed into the revoke).
    #[arg(long, value_name = "HEX", required_unless_present = "unlogged")]
    pub credential: Option<String>,
    /// Only ask the host to purge the session (version 1): not signed, not
    /// logged, and not binding on the enclave.
    #[arg(long, conflicts_with = "credential")]
    pub unlogged: bool,
    #[command(flatten)]
    pub owner: OwnerKeyArgs,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), CliError> {
    let client = args.host.client()?;
    let Some(credential) = &args.credential else {
        client.revoke(&args.session).map_err(client_error)?;
        if args.json {
            println!(
                "{}",
                serde_json::json!({"ok": true, "session_id": args.session, "revoked": true, "logged": false})
            );
        } else {
            println!(
                "session {} revoked (host purge only, not logged)",
                args.session
            );
        }
        return Ok(());
    };
    let credential = credential_arg(credential)?;
    let key = args.owner.load()?;
    let signed = sign_now(Action::Revoke, &credential, &key)?;
    let answer = client
        .revoke_with(&args.session, Some(&signed))
        .map_err(client_error)?;
    if answer.credential.as_deref() != Some(credential.as_str()) {
        return Err(CliError::refused(
            "answer_mismatch",
            "the host revoked another credential than the one signed for",
        ));
    }
    let leaf = answer.log.as_ref().and_then(|l| l["leaf_index"].as_u64());
    if args.json {
        let out = serde_json::json!({"ok": true, "session_id": args.session,
            "credential": credential, "revoked": true, "logged": true, "log": answer.log});
        println!("{out}");
    } else {
        println!("credential {credential} revoked by its owner");
        println!("  session:   {} (purged)", args.session);
        match leaf {
            Some(i) => println!("  logged:    revocation entry at leaf {i}"),
            None => println!("  logged:    yes"),
        }
    }
    Ok(())
}
