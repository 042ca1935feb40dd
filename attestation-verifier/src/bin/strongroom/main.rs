//! `strongroom`: the Strongroom client. One module per command; each
//! returns `Result<(), CliError>` and `main` turns that into one line on
//! stderr and the exit status.

mod aggregates;
mod answer_check;
mod bundle;
mod chain;
mod checkpoint;
mod common;
mod history;
mod host;
mod logscan;
mod monitor;
mod owner_key;
mod publish;
mod quote;
mod report;
mod revoke;
mod seal;
mod submit;
mod track;
mod verify_attestation;
mod verify_result;

use clap::{Parser, Subcommand};
use std::borrow::Cow;
use std::process::ExitCode;

/// Exit status when a verification or sealing check refuses.
const EXIT_REFUSED: u8 = 1;
/// Exit status for bad arguments or unreadable input (clap uses 2 too).
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "strongroom",
    version,
    about = "Strongroom client: verify enclave attestation and signed results, seal credentials, talk to a host"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify an AWS Nitro attestation document (raw CBOR or base64 file, `-` for stdin).
    VerifyAttestation(verify_attestation::Args),
    /// Verify a /attestation/quote answer and print the submit_key body sealing a credential to it.
    Seal(seal::Args),
    /// Fetch a quote from the host (fresh nonce) and verify it.
    Quote(quote::Args),
    /// Seal exchange credentials (from EXCHANGE_API_KEY / EXCHANGE_API_SECRET) to a verified quote and submit them.
    Submit(submit::Args),
    /// Request signed aggregates for a session and verify the whole chain.
    Aggregates(aggregates::Args),
    /// Revoke a credential, signed by the owner key: the enclave refuses it from then on and the log records it (--unlogged: the host only purges the session).
    Revoke(revoke::Args),
    /// Publish a credential's results (readable by anyone at /r/{id}), signed by the owner key.
    Publish(publish::Args),
    /// List every logged use of a credential, and its revocation, from the verified log.
    History(history::Args),
    /// An account's track record from the verified log: its results, the days their daily series cover (and miss), and any result that skips part of its chain.
    Track(track::Args),
    /// Verify a saved request_aggregates answer offline: root -> attestation -> PCRs -> key -> aggregate -> log.
    VerifyResult(verify_result::Args),
    /// Verify a saved request_aggregates answer and write its result bundle (for the browser page and `GET /r/{id}`).
    Bundle(bundle::Args),
    /// Verify a C2SP checkpoint under a tlog-policy file (log signature, witness quorum).
    VerifyCheckpoint(checkpoint::CheckpointArgs),
    /// Verify a c2sp.org/tlog-proof@v1 for an entry under a tlog-policy file.
    VerifyProof(checkpoint::ProofArgs),
    /// Follow a log: its checkpoint under a tlog-policy, consistency with the last run, forks, new entries.
    Monitor(monitor::Args),
}

/// A failure: exit status, stable code, one-line message.
#[derive(Debug)]
pub struct CliError {
    exit: u8,
    code: Cow<'static, str>,
    message: String,
}

impl CliError {
    /// A check refused (exit 1).
    pub fn refused(code: impl Into<Cow<'static, str>>, message: impl std::fmt::Display) -> Self {
        CliError {
            exit: EXIT_REFUSED,
            code: code.into(),
            message: message.to_string(),
        }
    }
    /// The machine-readable code.
    #[cfg(test)]
    pub fn code(&self) -> &str {
        &self.code
    }
    /// Bad input or arguments (exit 2).
    pub fn usage(code: impl Into<Cow<'static, str>>, message: impl std::fmt::Display) -> Self {
        CliError {
            exit: EXIT_USAGE,
            code: code.into(),
            message: message.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (json, result) = match &cli.command {
        Command::VerifyAttestation(args) => (args.json, verify_attestation::run(args)),
        Command::Seal(args) => (args.json, seal::run(args)),
        Command::Quote(args) => (args.json, quote::run(args)),
        Command::Submit(args) => (args.json, submit::run(args)),
        Command::Aggregates(args) => (args.json, aggregates::run(args)),
        Command::Revoke(args) => (args.json, revoke::run(args)),
        Command::Publish(args) => (args.json, publish::run(args)),
        Command::History(args) => (args.json, history::run(args)),
        Command::Track(args) => (args.json, track::run(args)),
        Command::VerifyResult(args) => (args.json, verify_result::run(args)),
        Command::Bundle(args) => (args.json, bundle::run(args)),
        Command::VerifyCheckpoint(args) => (args.json, checkpoint::run_checkpoint(args)),
        Command::VerifyProof(args) => (args.json, checkpoint::run_proof(args)),
        Command::Monitor(args) => (args.json, monitor::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the message contains.
            let message = e.message.replace(['\n', '\r'], " ");
            if json {
                let body =
                    serde_json::json!({"ok": false, "error": {"code": e.code, "message": message}});
                println!("{body}");
            }
            eprintln!("strongroom: {message}");
            ExitCode::from(e.exit)
        }
    }
}
