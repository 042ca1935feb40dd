//! `strongroom track --log URL --account HEX [--tlog-policy FILE]`: an
//! account's track record as the log holds it — every v2 result of the
//! account, in log order, each proven in the (verified) checkpoint's tree;
//! its chain (`previous`, see `chain.rs`) walked from the first result, and
//! the days its signed daily series cover.
//!
//! Reported: the results (time, window, credential), the days covered
//! (first and last day, how many), the days *missing* between them (never
//! filled in: a track record with a hole shows the hole), and every result
//! that skips part of the chain (`chain_gap`, exit 1: someone hid results).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;
use strongroom_formats::merkle;
use strongroom_verifier::client::log::LogClient;

use crate::CliError;
use crate::chain::{self, Gap, Link};
use crate::history::checked_checkpoint;
use crate::logscan::{Leaf, prove, scan};

/// Arguments of `track`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The log's host, e.g. `https://strongroom.example` (`http://` on loopback).
    #[arg(long, value_name = "URL")]
    pub log: String,
    /// The account pseudonym (hex) a result names.
    #[arg(long, value_name = "HEX")]
    pub account: String,
    /// tlog-policy file: the log's key, the witnesses and the quorum.
    #[arg(long, value_name = "FILE")]
    pub tlog_policy: Option<PathBuf>,
    /// Allow http:// to a host other than loopback.
    #[arg(long)]
    pub danger_allow_plain_http: bool,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

/// One result of the account.
#[derive(Debug, Serialize)]
struct Entry {
    index: u64,
    computed_at: String,
    from: Option<String>,
    to: Option<String>,
    credential: Option<String>,
    previous: Option<String>,
    /// First and last day of its daily series, if it has one.
    days: Option<(String, String)>,
}

/// Days since 1970-01-01 of `YYYY-MM-DD`, and back.
fn day_number(date: &str) -> Option<i64> {
    let d = time::Date::parse(
        date,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    Some(i64::from(d.to_julian_day()) - 2_440_588)
}

fn day_text(n: i64) -> String {
    time::Date::from_julian_day(i32::try_from(n + 2_440_588).unwrap_or(0))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// Runs `track`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let account = args.account.to_ascii_lowercase();
    if account.len() != 64 || !account.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CliError::usage(
            "bad_account",
            "--account is a 64-digit hex pseudonym",
        ));
    }
    let log = LogClient::new(&args.log, args.danger_allow_plain_http)
        .map_err(|e| CliError::usage("bad_url", e))?;
    let (size, root, verified) = checked_checkpoint(&log, args.tlog_policy.as_deref())?;
    let mut entries = Vec::new();
    let mut links = Vec::new();
    let mut days = BTreeSet::new();
    let public = scan(&log, 0, size, |index, bytes| {
        let Leaf::Result(p) = Leaf::of(bytes) else {
            return Ok(());
        };
        if p.version < 2 || p.account != account {
            return Ok(());
        }
        prove(&log, bytes, index, size, &root)?;
        let series: Vec<&str> = p
            .returns
            .iter()
            .flat_map(|r| r.daily.iter().map(|d| d.date.as_str()))
            .collect();
        days.extend(series.iter().filter_map(|d| day_number(d)));
        links.push(Link {
            index,
            leaf_hash: merkle::leaf_hash(bytes),
            previous: p.previous.clone(),
        });
        entries.push(Entry {
            index,
            computed_at: p.computed_at.clone(),
            from: p.from.clone(),
            to: p.to.clone(),
            credential: p.credential.clone(),
            previous: p.previous.clone(),
            days: match (series.first(), series.last()) {
                (Some(a), Some(b)) => Some(((*a).to_owned(), (*b).to_owned())),
                _ => None,
            },
        });
        Ok(())
    })?;
    if !public {
        return Err(CliError::refused(
            "entries_not_public",
            "this log does not publish its entries (PUBLIC_LOG_ENTRIES)",
        ));
    }
    let (_, gaps) = chain::walk(None, false, &links);
    let missing = missing_days(&days);
    if !args.json || gaps.is_empty() {
        print(
            args, &account, size, verified, &entries, &days, &missing, &gaps,
        );
    }
    chain::refuse_gaps(&gaps)
}

/// The days between the first and the last covered one that no series covers.
fn missing_days(days: &BTreeSet<i64>) -> Vec<String> {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Vec::new();
    };
    (*first..=*last)
        .filter(|d| !days.contains(d))
        .map(day_text)
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn print(
    args: &Args,
    account: &str,
    size: u64,
    verified: bool,
    entries: &[Entry],
    days: &BTreeSet<i64>,
    missing: &[String],
    gaps: &[Gap],
) {
    let covered = days
        .first()
        .zip(days.last())
        .map(|(a, b)| (day_text(*a), day_text(*b)));
    if args.json {
        let out = json!({"ok": gaps.is_empty(), "account": account, "tree_size": size,
            "checkpoint_verified": verified, "results": entries,
            "days": {"covered": days.len(), "first": covered.as_ref().map(|c| &c.0),
                     "last": covered.as_ref().map(|c| &c.1), "missing": missing},
            "chain_gaps": gaps});
        println!("{out}");
        return;
    }
    println!(
        "account {account}: {} result(s) in {size} leaves, chain {}",
        entries.len(),
        if gaps.is_empty() {
            "unbroken"
        } else {
            "BROKEN"
        }
    );
    if !verified {
        println!("  checkpoint:   NOT verified (no --tlog-policy): taken as served");
    }
    match &covered {
        Some((a, b)) => println!(
            "  days:         {} covered, {a} .. {b}, {} missing{}",
            days.len(),
            missing.len(),
            if missing.is_empty() {
                String::new()
            } else {
                format!(" ({})", missing.join(", "))
            }
        ),
        None => println!("  days:         no daily series"),
    }
    for e in entries {
        println!(
            "  leaf {}:  computed {}, window {} .. {}{}",
            e.index,
            e.computed_at,
            e.from.as_deref().unwrap_or("(beginning)"),
            e.to.as_deref().unwrap_or("(open)"),
            e.days
                .as_ref()
                .map(|(a, b)| format!(", days {a} .. {b}"))
                .unwrap_or_default()
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_holes_are_listed() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_text(day_number("2026-12-07").unwrap()), "2026-12-07");
        let days: BTreeSet<i64> = ["2026-01-01", "2026-01-02", "2026-01-05"]
            .iter()
            .filter_map(|d| day_number(d))
            .collect();
        assert_eq!(missing_days(&days), ["2026-01-03", "2026-01-04"]);
        assert!(missing_days(&BTreeSet::new()).is_empty());
    }
}
