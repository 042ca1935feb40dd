//! `strongroom aggregates --session ID`: request signed aggregates, save
//! the answer, verify the whole chain, print the verified figures.

use crate::CliError;
use crate::answer_check::{self, Asked};
use crate::common::{PolicyArgs, parse_time};
use crate::host::{HostArgs, client_error};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use strongroom_verifier::{parse_answer, verify_result};

/// Arguments of `aggregates`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub host: HostArgs,
    /// Session id returned by `submit`.
    #[arg(long, value_name = "ID")]
    pub session: String,
    /// Window start (inclusive), RFC 3339.
    #[arg(long, value_name = "RFC3339")]
    pub from: Option<String>,
    /// Window end (exclusive), RFC 3339.
    #[arg(long, value_name = "RFC3339")]
    pub to: Option<String>,
    /// Restrict to this symbol (repeatable); default: the enclave discovers them.
    #[arg(long = "symbol", value_name = "SYMBOL")]
    pub symbols: Vec<String>,
    /// Write the answer bytes as received here (also when verification fails), for `verify-result`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Refuse an answer computed longer ago than this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = answer_check::DEFAULT_MAX_AGE_SECS)]
    pub max_age: u64,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), CliError> {
    for bound in [&args.from, &args.to].into_iter().flatten() {
        if bound.parse::<u64>().is_ok() {
            return Err(CliError::usage("bad_time", "--from/--to take RFC 3339"));
        }
        parse_time(bound)?;
    }
    let root = args.policy.root()?;
    let policy = args.policy.policy()?;
    let client = args.host.client()?;
    let symbols = (!args.symbols.is_empty()).then_some(args.symbols.as_slice());
    let raw = client
        .request_aggregates_raw(
            &args.session,
            args.from.as_deref(),
            args.to.as_deref(),
            symbols,
        )
        .map_err(client_error)?;
    if let Some(path) = &args.out {
        std::fs::write(path, &raw)
            .map_err(|e| CliError::usage("io", format!("{}: {e}", path.display())))?;
    }
    let answer = parse_answer(&raw).map_err(|e| CliError::refused(e.code(), e))?;
    let verified =
        verify_result(&answer, &root, &policy).map_err(|e| CliError::refused(e.code(), e))?;
    let asked = Asked {
        session: &args.session,
        from: args.from.as_deref(),
        to: args.to.as_deref(),
        symbols: &args.symbols,
        max_age: Duration::from_secs(args.max_age),
    };
    answer_check::check(&verified.payload, &asked, SystemTime::now())?;
    crate::verify_result::print(&verified, args.policy.pinned(), args.json);
    Ok(())
}
