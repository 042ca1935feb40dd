//! `strongroom aggregates` checks that the signed answer is the one it asked
//! for. A valid signature only says the enclave computed these figures once;
//! a hostile host could hand back another session's result, another window,
//! other symbols, or a stale answer it kept. Each of those is refused here.

use crate::CliError;
use crate::common::parse_time;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};
use strongroom_formats::aggregates::AggregatePayload;

/// Default freshness of `computed_at` for `aggregates` (seconds).
pub const DEFAULT_MAX_AGE_SECS: u64 = 300;
/// Clock skew tolerated for a `computed_at` ahead of the local clock.
pub const MAX_FUTURE_SKEW: Duration = Duration::from_secs(60);

/// What the command asked the host for.
#[derive(Debug)]
pub struct Asked<'a> {
    /// The session id sent.
    pub session: &'a str,
    /// The credential id expected in a version 2 payload (`--credential`).
    pub credential: Option<&'a str>,
    /// Window start sent (RFC 3339), if any.
    pub from: Option<&'a str>,
    /// Window end sent (RFC 3339), if any.
    pub to: Option<&'a str>,
    /// Symbols sent; empty: the enclave discovers them.
    pub symbols: &'a [String],
    /// Oldest acceptable `computed_at`, as an age.
    pub max_age: Duration,
}

/// Refuses (exit 1, code `answer_mismatch` or `answer_stale`) a payload that
/// is not the answer to `asked` at `now`.
pub fn check(p: &AggregatePayload, asked: &Asked<'_>, now: SystemTime) -> Result<(), CliError> {
    let mismatch = |what: &str| {
        CliError::refused(
            "answer_mismatch",
            format!("the signed result is not the one asked for: {what} differs"),
        )
    };
    // A v1 payload names the session by the hex SHA-256 of its id; a v2
    // payload names the sealed credential instead (the host chooses session
    // ids, so they say nothing).
    if p.version == 1 {
        let session = hex::encode(Sha256::digest(asked.session.as_bytes()));
        if p.session.as_deref() != Some(session.as_str()) {
            return Err(mismatch("session"));
        }
    } else if let Some(c) = asked.credential
        && !p
            .credential
            .as_deref()
            .is_some_and(|pc| pc.eq_ignore_ascii_case(c))
    {
        return Err(mismatch("credential (--credential)"));
    }
    if !same_instant(asked.from, p.from.as_deref()) {
        return Err(mismatch("window start (--from)"));
    }
    if !same_instant(asked.to, p.to.as_deref()) {
        return Err(mismatch("window end (--to)"));
    }
    if !asked.symbols.is_empty() {
        let want: BTreeSet<&str> = asked.symbols.iter().map(String::as_str).collect();
        if p.symbols.keys().any(|s| !want.contains(s.as_str())) {
            return Err(mismatch("symbols"));
        }
    }
    fresh(&p.computed_at, asked.max_age, now)
}

/// Both absent, or both present and the same instant.
fn same_instant(asked: Option<&str>, signed: Option<&str>) -> bool {
    match (asked, signed) {
        (None, None) => true,
        (Some(a), Some(s)) => matches!((parse_time(a), parse_time(s)), (Ok(a), Ok(s)) if a == s),
        _ => false,
    }
}

fn fresh(computed_at: &str, max_age: Duration, now: SystemTime) -> Result<(), CliError> {
    let at = parse_time(computed_at)
        .map_err(|_| CliError::refused("answer_mismatch", "computed_at is not an RFC 3339 time"))?;
    let too_old = now.checked_sub(max_age).is_some_and(|oldest| at < oldest);
    if too_old || at > now + MAX_FUTURE_SKEW {
        return Err(CliError::refused(
            "answer_stale",
            format!(
                "computed_at {computed_at} is not within {} s of now (--max-age)",
                max_age.as_secs()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "answer_check_tests.rs"]
mod tests;
