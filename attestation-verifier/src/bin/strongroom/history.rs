//! `strongroom history --log URL --credential C [--tlog-policy FILE]`:
//! every logged use of a credential, and its revocation, read from the log.
//!
//! The log's checkpoint is checked under the tlog-policy (the log's key and
//! the witness quorum: the same view every other reader gets, so a log
//! cannot show the trader a shorter history than the public one); then
//! every entry bundle is read through the tiles, each leaf checked against
//! its hash, and every leaf that names the credential is proven in the
//! checkpoint's tree. Results logged after the credential's revocation entry
//! are reported (`revoked_then_used`, exit 1). Without `--tlog-policy` the
//! checkpoint is taken as served and the output says so.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;
use strongroom_formats::c2sp::checkpoint::SignedCheckpoint;
use strongroom_formats::c2sp::policy::{MAX_POLICY_LEN, TlogPolicy};
use strongroom_formats::merkle::Hash;
use strongroom_verifier::client::log::LogClient;

use crate::CliError;
use crate::common::read_input_limited;
use crate::logscan::{Leaf, RevocationWatch, client_error, prove, scan};
use crate::owner_key::credential_arg;

/// Arguments of `history`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The log's host, e.g. `https://strongroom.example` (`http://` on loopback).
    #[arg(long, value_name = "URL")]
    pub log: String,
    /// The credential id `submit` printed.
    #[arg(long, value_name = "HEX")]
    pub credential: String,
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

/// One logged use (a result) or the revocation.
#[derive(Debug, Serialize)]
struct Use {
    index: u64,
    kind: &'static str,
    time: String,
    from: Option<String>,
    to: Option<String>,
    symbols: Vec<String>,
    label: Option<String>,
}

/// The checkpoint as served: (size, root, verified under a policy).
fn checkpoint(log: &LogClient, args: &Args) -> Result<(u64, Hash, bool), CliError> {
    checked_checkpoint(log, args.tlog_policy.as_deref())
}

/// The log's checkpoint, verified under the tlog-policy at `policy` when
/// given: (size, root, verified).
pub fn checked_checkpoint(
    log: &LogClient,
    policy: Option<&std::path::Path>,
) -> Result<(u64, Hash, bool), CliError> {
    let text = log.checkpoint().map_err(client_error)?;
    let signed =
        SignedCheckpoint::parse(&text).map_err(|e| CliError::refused("bad_checkpoint", e))?;
    let Some(path) = policy else {
        let cp = signed.checkpoint();
        return Ok((cp.size(), *cp.root_hash(), false));
    };
    let bytes = read_input_limited(path, MAX_POLICY_LEN as u64)?;
    let policy = TlogPolicy::parse(&bytes)
        .map_err(|e| CliError::usage("bad_policy", format!("{}: {e}", path.display())))?;
    let v = policy
        .verify_checkpoint(&signed)
        .map_err(|e| CliError::refused("checkpoint_refused", e))?;
    Ok((v.size, v.root_hash, true))
}

/// Runs `history`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let credential = credential_arg(&args.credential)?;
    let log = LogClient::new(&args.log, args.danger_allow_plain_http)
        .map_err(|e| CliError::usage("bad_url", e))?;
    let (size, root, verified) = checkpoint(&log, args)?;
    let mut uses = Vec::new();
    let mut watch = RevocationWatch::default();
    let public = scan(&log, 0, size, |index, bytes| {
        let leaf = Leaf::of(bytes);
        watch.see(index, &leaf);
        if leaf.credential() != Some(credential.as_str()) {
            return Ok(());
        }
        prove(&log, bytes, index, size, &root)?;
        uses.push(use_of(index, leaf));
        Ok(())
    })?;
    if !public {
        return Err(CliError::refused(
            "entries_not_public",
            "this log does not publish its entries (PUBLIC_LOG_ENTRIES)",
        ));
    }
    let after: Vec<_> = watch
        .violations
        .iter()
        .filter(|v| v.credential == credential)
        .collect();
    // With --json the one object on stdout is the error's, when there is one.
    if !args.json || after.is_empty() {
        print(args, &credential, size, verified, &uses);
    }
    if let Some(v) = after.first() {
        return Err(CliError::refused(
            "revoked_then_used",
            format!(
                "the credential was used at leaf {} after its revocation at leaf {}",
                v.used_at, v.revoked_at
            ),
        ));
    }
    Ok(())
}

fn use_of(index: u64, leaf: Leaf) -> Use {
    match leaf {
        Leaf::Result(p) => Use {
            index,
            kind: "result",
            time: p.computed_at,
            from: p.from,
            to: p.to,
            symbols: p.symbols.keys().cloned().collect(),
            label: Some(p.label),
        },
        Leaf::Revocation(e) => Use {
            index,
            kind: "revocation",
            time: e.time,
            from: None,
            to: None,
            symbols: Vec::new(),
            label: None,
        },
        Leaf::Other => Use {
            index,
            kind: "other",
            time: String::new(),
            from: None,
            to: None,
            symbols: Vec::new(),
            label: None,
        },
    }
}

fn print(args: &Args, credential: &str, size: u64, verified: bool, uses: &[Use]) {
    if args.json {
        let out = json!({"ok": true, "credential": credential, "tree_size": size,
            "checkpoint_verified": verified, "entries": uses});
        println!("{out}");
        return;
    }
    println!(
        "credential {credential}: {} logged entr(y/ies) in {size} leaves",
        uses.len()
    );
    if !verified {
        println!("  checkpoint:   NOT verified (no --tlog-policy): taken as served");
    }
    for u in uses {
        match u.kind {
            "revocation" => println!("  leaf {}:  revoked at {}", u.index, u.time),
            _ => println!(
                "  leaf {}:  result computed {}, window {} .. {}, symbols {}",
                u.index,
                u.time,
                u.from.as_deref().unwrap_or("(beginning)"),
                u.to.as_deref().unwrap_or("(open)"),
                if u.symbols.is_empty() {
                    "none".to_owned()
                } else {
                    u.symbols.join(",")
                }
            ),
        }
    }
}
