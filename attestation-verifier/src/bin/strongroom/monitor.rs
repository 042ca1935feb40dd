//! `strongroom monitor --log URL --policy FILE [--state FILE] [--account HEX]
//! [--session HEX]`: follows a log from the checkpoint it saw last.
//!
//! Each run fetches `/checkpoint`, checks it under the tlog-policy (the
//! log's signature, the witness quorum), then:
//! - first run: checks that the served tiles lead to the checkpoint's root
//!   (the last leaf's inclusion proof, computed from tiles);
//! - later runs: a smaller size than last time is a rollback, the same size
//!   with another root a fork (both checkpoints are printed as evidence),
//!   a larger one must be consistent with the last (the RFC 9162 proof,
//!   computed from tiles, must join both signed roots);
//! - with `--account`/`--credential`/`--session`, lists the new entries of
//!   that account, credential (its results and its revocation) or v1
//!   session (entry bundles, each checked against its leaf hash), when the
//!   log publishes its entries; with `--account`, also follows the
//!   account's chain (payload v2 `previous`, see `chain.rs`) from where the
//!   last run left it and reports every result that skips part of it
//!   (`chain_gap`, exit 1, the state file not advanced);
//! - whenever the log publishes its entries, reads every new one: keeps the
//!   revocation entries (in the state file) and reports a result that names
//!   a credential after that credential's revocation entry
//!   (`revoked_then_used`, exit 1, the state not advanced: like a fork, it
//!   is reported on every run).
//!
//! The state file (JSON: origin, size, root, checkpoint) is written only
//! after everything checked out, atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;
use strongroom_formats::c2sp::checkpoint::SignedCheckpoint;
use strongroom_formats::c2sp::policy::{MAX_POLICY_LEN, TlogPolicy};
use strongroom_formats::c2sp::tiles::{self as c2sp, TILE_WIDTH};
use strongroom_formats::merkle::{self, Hash};
use strongroom_verifier::client::log::LogClient;

use crate::CliError;
use crate::chain::{self, Gap, Link};
use crate::common::read_input_limited;
use crate::logscan::{Leaf, RevocationWatch, Revoked, client_error, level0_tile, scan, tile_error};

/// Largest state file read (revocations seen included).
const MAX_STATE_LEN: u64 = 4 << 20;

/// Arguments of `monitor`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The log's host, e.g. `https://strongroom.example` (`http://` on loopback).
    #[arg(long, value_name = "URL")]
    pub log: String,
    /// tlog-policy file: the log's key, the witnesses and the quorum.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Where the last checkpoint seen is kept (created on the first run).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// List the new entries of this account (hex pseudonym).
    #[arg(long, value_name = "HEX")]
    pub account: Option<String>,
    /// List the new entries of this session (hex digest).
    #[arg(long, value_name = "HEX")]
    pub session: Option<String>,
    /// List the new entries of this credential (hex id): its results and
    /// its revocation.
    #[arg(long, value_name = "HEX")]
    pub credential: Option<String>,
    /// Allow http:// to a host other than loopback (the log is public and
    /// signed, but a plain connection can be cut or replayed).
    #[arg(long)]
    pub danger_allow_plain_http: bool,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

/// The state file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    origin: String,
    size: u64,
    root: String,
    checkpoint: String,
    /// Per followed account (`--account`), the leaf hash of its newest
    /// entry seen: where its chain continues. Absent in state files from
    /// before account chains.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    chains: BTreeMap<String, String>,
    /// Revocation entries seen so far: credential -> where.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    revoked: BTreeMap<String, Revoked>,
}

/// An entry that matched `--account`/`--session`.
#[derive(Debug, Serialize)]
struct Listed {
    index: u64,
    account: String,
    session: Option<String>,
    credential: Option<String>,
    label: String,
    /// Hex RFC 9162 leaf hash.
    leaf_hash: String,
    /// The signed `previous` (v2), or null.
    previous: Option<String>,
    /// Payload version.
    version: u32,
    computed_at: String,
}

/// Runs `monitor`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let policy_bytes = read_input_limited(&args.policy, MAX_POLICY_LEN as u64)?;
    let policy = TlogPolicy::parse(&policy_bytes)
        .map_err(|e| CliError::usage("bad_policy", format!("{}: {e}", args.policy.display())))?;
    let log = LogClient::new(&args.log, args.danger_allow_plain_http)
        .map_err(|e| CliError::usage("bad_url", e))?;
    let text = log.checkpoint().map_err(client_error)?;
    let signed =
        SignedCheckpoint::parse(&text).map_err(|e| CliError::refused("bad_checkpoint", e))?;
    let v = policy
        .verify_checkpoint(&signed)
        .map_err(|e| CliError::refused("checkpoint_refused", e))?;
    let previous = match &args.state {
        Some(path) if path.exists() => Some(read_state(path)?),
        _ => None,
    };
    let from = match &previous {
        None => {
            tiles_lead_to(&log, v.size, &v.root_hash)?;
            0
        }
        Some(old) => {
            if old.origin != v.origin {
                return Err(CliError::usage(
                    "another_log",
                    format!(
                        "the state file is for {}, this log is {}",
                        old.origin, v.origin
                    ),
                ));
            }
            let old_root = hex_hash(&old.root)?;
            check_extends(&log, old, &old_root, &signed, v.size, &v.root_hash)?;
            old.size
        }
    };
    let mut watch = RevocationWatch {
        revoked: previous
            .as_ref()
            .map(|p| p.revoked.clone())
            .unwrap_or_default(),
        violations: Vec::new(),
    };
    let listed = entries(&log, from, v.size, args, &mut watch)?;
    revocations_respected(&watch)?;
    let mut chains = previous
        .as_ref()
        .map(|p| p.chains.clone())
        .unwrap_or_default();
    let gaps = match (&args.account, &listed) {
        (Some(account), Some(l)) => {
            let account = account.to_ascii_lowercase();
            let head = chains.get(&account).map(|h| hex_hash(h)).transpose()?;
            let (head, gaps) = follow_chain(l, &account, head, from > 0);
            if let Some(h) = head {
                chains.insert(account, hex::encode(h));
            }
            gaps
        }
        _ => Vec::new(),
    };
    chain::refuse_gaps(&gaps)?;
    if let Some(path) = &args.state {
        write_state(
            path,
            &State {
                origin: v.origin.clone(),
                size: v.size,
                root: hex::encode(v.root_hash),
                checkpoint: signed.format(),
                chains,
                revoked: watch.revoked.clone(),
            },
        )?;
    }
    let witnesses: Vec<&str> = v.cosignatures.iter().map(|c| c.name.as_str()).collect();
    let filtering = args.account.is_some() || args.session.is_some() || args.credential.is_some();
    if args.json {
        let out = json!({
            "ok": true,
            "origin": v.origin,
            "size": v.size,
            "root": hex::encode(v.root_hash),
            "previous_size": previous.as_ref().map(|p| p.size),
            "consistent": true,
            "witnesses": witnesses,
            "entries_public": listed.is_some(),
            "entries": if filtering { listed } else { None },
            "revocations": watch.revoked,
        });
        println!("{out}");
        return Ok(());
    }
    match &previous {
        None => println!(
            "log {} at size {}: tiles check out (first run)",
            v.origin, v.size
        ),
        Some(p) => println!(
            "log {} at size {} (was {}): consistent",
            v.origin, v.size, p.size
        ),
    }
    println!("  cosigned by:  {}", witnesses.join(", "));
    match (filtering, &listed) {
        (false, _) => {}
        (true, None) => println!("  entries:      not public on this log (PUBLIC_LOG_ENTRIES)"),
        (true, Some(l)) if l.is_empty() => println!("  entries:      none new for this filter"),
        (true, Some(l)) => {
            for e in l {
                println!(
                    "  entry {}:     {} {} computed {}",
                    e.index, e.label, e.account, e.computed_at
                );
            }
        }
    }
    if listed.is_some() {
        println!(
            "  revocations:  {} credential(s) revoked in this log, none used since",
            watch.revoked.len()
        );
    }
    Ok(())
}

/// The account's v2 results among `listed`, walked from `head` (see
/// [`chain::walk`]); `unknown`: earlier entries of the log were not read.
fn follow_chain(
    listed: &[Listed],
    account: &str,
    head: Option<Hash>,
    unknown: bool,
) -> (Option<Hash>, Vec<Gap>) {
    let links: Vec<Link> = listed
        .iter()
        .filter(|e| e.version >= 2 && e.account.eq_ignore_ascii_case(account))
        .filter_map(|e| {
            Some(Link {
                index: e.index,
                leaf_hash: hex_hash(&e.leaf_hash).ok()?,
                previous: e.previous.clone(),
            })
        })
        .collect();
    chain::walk(head, unknown && head.is_none(), &links)
}

/// The last leaf's inclusion proof, from the served tiles, leads to `root`.
fn tiles_lead_to(log: &LogClient, size: u64, root: &Hash) -> Result<(), CliError> {
    if size == 0 {
        return Ok(());
    }
    let last = size - 1;
    let leaf = leaf_hash_at(log, last, size)?;
    let proof = c2sp::inclusion_proof(log, last, size).map_err(|e| tile_error(&e))?;
    merkle::verify_inclusion(&leaf, last, size, &proof, root).map_err(|_| {
        CliError::refused(
            "tiles_mismatch",
            "the log's tiles do not lead to its signed checkpoint",
        )
    })
}

/// Leaf `index`'s hash from the level-0 tile of the tree of `size`.
fn leaf_hash_at(log: &LogClient, index: u64, size: u64) -> Result<Hash, CliError> {
    let tile = level0_tile(index / TILE_WIDTH, size)?;
    let bytes = log.tile(&tile).map_err(client_error)?;
    let at = usize::try_from(index % TILE_WIDTH).unwrap_or(usize::MAX) * 32;
    bytes
        .get(at..at + 32)
        .and_then(|h| Hash::try_from(h).ok())
        .ok_or_else(|| CliError::refused("tiles_unreadable", "short level-0 tile"))
}

/// The new checkpoint extends the old one: not smaller, the same root at the
/// same size, and a consistency proof (from tiles) joining the two roots.
fn check_extends(
    log: &LogClient,
    old: &State,
    old_root: &Hash,
    signed: &SignedCheckpoint,
    size: u64,
    root: &Hash,
) -> Result<(), CliError> {
    let evidence = || {
        eprintln!(
            "strongroom: evidence, the checkpoint seen before:\n{}\nand the one served now:\n{}",
            old.checkpoint,
            signed.format()
        );
    };
    if size < old.size {
        evidence();
        return Err(CliError::refused(
            "log_rolled_back",
            format!("the log shrank from {} to {size} leaves", old.size),
        ));
    }
    if size == old.size {
        if root != old_root {
            evidence();
            return Err(CliError::refused(
                "log_forked",
                format!("two checkpoints of size {size} with different roots"),
            ));
        }
        return Ok(());
    }
    if old.size == 0 {
        return tiles_lead_to(log, size, root);
    }
    let proof = c2sp::consistency_proof(log, old.size, size).map_err(|e| tile_error(&e))?;
    if merkle::verify_consistency(old.size, size, old_root, root, &proof).is_err() {
        evidence();
        return Err(CliError::refused(
            "log_forked",
            format!(
                "the checkpoint of size {size} does not extend the one of size {}",
                old.size
            ),
        ));
    }
    Ok(())
}

/// A result naming a credential after that credential's revocation entry
/// is reported like a fork: evidence on stderr, exit 1, state kept.
fn revocations_respected(watch: &RevocationWatch) -> Result<(), CliError> {
    let Some(u) = watch.violations.first() else {
        return Ok(());
    };
    for u in &watch.violations {
        eprintln!(
            "strongroom: evidence: credential {} revoked at leaf {}, used by the result at leaf {}",
            u.credential, u.revoked_at, u.used_at
        );
    }
    Err(CliError::refused(
        "revoked_then_used",
        format!(
            "credential {} was used at leaf {} after its revocation at leaf {} ({} such use(s))",
            u.credential,
            u.used_at,
            u.revoked_at,
            watch.violations.len()
        ),
    ))
}

/// Reads the entries `from..size` (when the log publishes them): feeds
/// `watch`, and lists those whose payload names `--account`/`--credential`/
/// `--session` (and a `--credential`'s revocation entry).
/// `None`: the log does not publish its entries.
fn entries(
    log: &LogClient,
    from: u64,
    size: u64,
    args: &Args,
    watch: &mut RevocationWatch,
) -> Result<Option<Vec<Listed>>, CliError> {
    let (account, session) = (args.account.as_deref(), args.session.as_deref());
    let credential = args.credential.as_deref();
    let mut out = Vec::new();
    let public = scan(log, from, size, |index, bytes| {
        let leaf = Leaf::of(bytes);
        watch.see(index, &leaf);
        let p = match leaf {
            Leaf::Result(p) => p,
            Leaf::Revocation(e) => {
                if credential.is_some_and(|c| c.eq_ignore_ascii_case(&e.credential)) {
                    out.push(Listed {
                        leaf_hash: hex::encode(merkle::leaf_hash(bytes)),
                        previous: None,
                        version: 0,
                        index,
                        account: String::new(),
                        session: None,
                        credential: Some(e.credential),
                        label: "(revocation)".to_owned(),
                        computed_at: e.time,
                    });
                }
                return Ok(());
            }
            Leaf::Other => return Ok(()),
        };
        let hit = account.is_some_and(|a| a.eq_ignore_ascii_case(&p.account))
            || credential.is_some_and(|c| {
                p.credential
                    .as_deref()
                    .is_some_and(|x| c.eq_ignore_ascii_case(x))
            })
            || session.is_some_and(|s| {
                p.session
                    .as_deref()
                    .is_some_and(|x| s.eq_ignore_ascii_case(x))
            });
        if hit {
            out.push(Listed {
                leaf_hash: hex::encode(merkle::leaf_hash(bytes)),
                previous: p.previous,
                version: p.version,
                index,
                account: p.account,
                session: p.session,
                credential: p.credential,
                label: p.label,
                computed_at: p.computed_at,
            });
        }
        Ok(())
    })?;
    Ok(public.then_some(out))
}

fn hex_hash(s: &str) -> Result<Hash, CliError> {
    let bad = || CliError::usage("bad_state", "the state file's root is not 32 bytes of hex");
    let bytes = hex::decode(s).map_err(|_| bad())?;
    Hash::try_from(bytes.as_slice()).map_err(|_| bad())
}

fn read_state(path: &Path) -> Result<State, CliError> {
    let bytes = read_input_limited(path, MAX_STATE_LEN)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CliError::usage("bad_state", format!("{}: {e}", path.display())))
}

/// Writes `state` to a temporary file beside `path`, then renames it over.
fn write_state(path: &Path, state: &State) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::usage("io", format!("{}: {e}", path.display()));
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_vec_pretty(state).map_err(|e| CliError::usage("io", e))?;
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
