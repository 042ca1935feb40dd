//! `strongroom revoke --session ID`.

use crate::CliError;
use crate::host::{HostArgs, client_error};

/// Arguments of `revoke`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub host: HostArgs,
    /// Session id returned by `submit`.
    #[arg(long, value_name = "ID")]
    pub session: String,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), CliError> {
    args.host
        .client()?
        .revoke(&args.session)
        .map_err(client_error)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"ok": true, "session_id": args.session, "revoked": true})
        );
    } else {
        println!("session {} revoked", args.session);
    }
    Ok(())
}
