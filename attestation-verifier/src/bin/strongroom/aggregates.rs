//! `strongroom aggregates --session ID [--credential C [--authorize]]`:
//! request signed aggregates, save the answer, verify the whole chain,
//! check that it answers this request (for a v2 result: this credential),
//! print the verified figures. `--authorize` signs an owner `aggregates`
//! action for exactly this request, for what the credential's policy does
//! not allow by itself (another window, a choice of symbols, sooner).

use crate::CliError;
use crate::answer_check::{self, Asked};
use crate::common::{PolicyArgs, parse_time};
use crate::host::{HostArgs, client_error};
use crate::owner_key::{OwnerKeyArgs, credential_arg, now_rfc3339, sign};
use base64::Engine as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use strongroom_verifier::client::{AggregatesRequest, JobProgress};
use strongroom_verifier::owner::{Action, OwnerAction};
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
    /// The credential id `submit` printed: a version 2 result must name it.
    #[arg(long, value_name = "HEX")]
    pub credential: Option<String>,
    /// Sign an owner `aggregates` action for exactly this request (needs
    /// --credential and the owner key the credential was sealed with).
    #[arg(long, requires = "credential")]
    pub authorize: bool,
    #[command(flatten)]
    pub owner: OwnerKeyArgs,
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
    let credential = args.credential.as_deref().map(credential_arg).transpose()?;
    let mut body = AggregatesRequest {
        session_id: args.session.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        symbols: (!args.symbols.is_empty()).then(|| args.symbols.clone()),
        owner_authorization: None,
    };
    if let (true, Some(c)) = (args.authorize, &credential) {
        // Sent and signed in the enclave's own spelling of the bounds
        // (UTC, a fraction only when non-zero), so a text comparison matches.
        body.from = body.from.as_deref().map(canonical).transpose()?;
        body.to = body.to.as_deref().map(canonical).transpose()?;
        body.owner_authorization = Some(authorize(&body, c, &args.owner)?);
    }
    let mut bar = ProgressBar::default();
    let raw = client
        .request_aggregates_follow(&body, |p| bar.show(p))
        .map_err(client_error);
    bar.finish();
    let raw = raw?;
    if let Some(path) = &args.out {
        std::fs::write(path, &raw)
            .map_err(|e| CliError::usage("io", format!("{}: {e}", path.display())))?;
    }
    let answer = parse_answer(&raw).map_err(|e| CliError::refused(e.code(), e))?;
    let verified =
        verify_result(&answer, &root, &policy).map_err(|e| CliError::refused(e.code(), e))?;
    let asked = Asked {
        session: &args.session,
        credential: credential.as_deref(),
        from: args.from.as_deref(),
        to: args.to.as_deref(),
        symbols: &args.symbols,
        max_age: Duration::from_secs(args.max_age),
    };
    answer_check::check(&verified.payload, &asked, SystemTime::now())?;
    if verified.payload.version >= 2 && credential.is_none() {
        eprintln!(
            "strongroom: note: not checked that the result names your credential; pass --credential"
        );
    }
    crate::verify_result::print(&verified, args.policy.pinned(), args.json);
    Ok(())
}

/// A job's progress on stderr: one line redrawn on a terminal, a line per
/// change otherwise (logs, tests).
#[derive(Default)]
struct ProgressBar {
    last: Option<JobProgress>,
}

impl ProgressBar {
    const WIDTH: u64 = 30;

    fn show(&mut self, p: &JobProgress) {
        if self.last.as_ref() == Some(p) {
            return;
        }
        self.last = Some(p.clone());
        eprint!("{}", Self::line(p, std::io::stderr().is_terminal()));
    }

    fn line(p: &JobProgress, terminal: bool) -> String {
        let filled = (p.symbols_done.min(p.symbols_total) * Self::WIDTH)
            .checked_div(p.symbols_total)
            .unwrap_or(0);
        let bar: String = (0..Self::WIDTH)
            .map(|i| if i < filled { '#' } else { '-' })
            .collect();
        let (start, end) = if terminal { ("\r", "") } else { ("", "\n") };
        format!(
            "{start}strongroom: computing as a job [{bar}] {}/{} symbols, exchange weight {}{end}",
            p.symbols_done, p.symbols_total, p.weight_used
        )
    }

    fn finish(&self) {
        if self.last.is_some() && std::io::stderr().is_terminal() {
            eprintln!();
        }
    }
}

fn canonical(t: &str) -> Result<String, CliError> {
    let ms = parse_time(t)?
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| CliError::usage("bad_time", "--from/--to before 1970"))?
        .as_millis();
    let ms = u64::try_from(ms).map_err(|_| CliError::usage("bad_time", "out of range"))?;
    Ok(crate::common::rfc3339_ms(ms))
}

/// The owner's signed `aggregates` action for exactly `body` (the enclave
/// compares the bounds as RFC 3339 of its request: they are sent and signed
/// as the same text).
fn authorize(
    body: &AggregatesRequest,
    credential: &str,
    owner: &OwnerKeyArgs,
) -> Result<String, CliError> {
    let key = owner.load()?;
    let action = OwnerAction {
        action: Action::Aggregates,
        credential: credential.to_owned(),
        from: body.from.clone(),
        to: body.to.clone(),
        symbols: body.symbols.clone(),
        time: now_rfc3339()?,
    };
    let signed = sign(&action, &key)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(signed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_bar_fills_with_the_symbols_done() {
        let p = |done, total| JobProgress {
            symbols_done: done,
            symbols_total: total,
            weight_used: 5_380,
        };
        let half = ProgressBar::line(&p(160, 320), false);
        assert!(
            half.contains(&format!("[{}{}]", "#".repeat(15), "-".repeat(15))),
            "{half}"
        );
        assert!(
            half.ends_with("160/320 symbols, exchange weight 5380\n"),
            "{half}"
        );
        assert!(ProgressBar::line(&p(0, 0), true).starts_with('\r'));
        assert!(ProgressBar::line(&p(9, 3), false).contains(&"#".repeat(30)));
    }
}
