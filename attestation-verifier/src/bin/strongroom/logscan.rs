//! Reading a log's entries through its tiles, for `monitor` and `history`.
//!
//! Every entry bundle's leaves are checked against the level-0 tile's
//! hashes; a caller that relies on one entry (`history`) also checks that
//! leaf's inclusion proof, computed from the tiles, against the checkpoint
//! root it verified. A leaf is a result (COSE_Sign1 over an aggregate
//! payload) or a revocation entry (COSE_Sign1 over `{"type": "revocation",
//! "credential", "time"}`, DESIGN.md "Log v2").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strongroom_formats::aggregates::AggregatePayload;
use strongroom_formats::c2sp::tiles::{self as c2sp, TILE_WIDTH, Tile, TileKind};
use strongroom_formats::cose::Sign1;
use strongroom_formats::merkle::{self, Hash};
use strongroom_formats::owner::RevocationEntry;
use strongroom_verifier::ClientError;
use strongroom_verifier::client::log::{LogClient, split_bundle};

use crate::CliError;

/// What a leaf is.
#[derive(Debug)]
pub enum Leaf {
    /// A signed result.
    Result(Box<AggregatePayload>),
    /// A revocation entry.
    Revocation(RevocationEntry),
    /// Neither (another format, or bytes the client cannot read).
    Other,
}

impl Leaf {
    /// Reads a leaf's COSE payload (the signature is the enclave's; the
    /// leaf's place in the log is what the caller checks).
    pub fn of(leaf: &[u8]) -> Leaf {
        let Ok(payload) = Sign1::payload_of(leaf) else {
            return Leaf::Other;
        };
        if let Ok(p) = AggregatePayload::from_cbor(&payload) {
            return Leaf::Result(Box::new(p));
        }
        match RevocationEntry::from_cbor(&payload) {
            Ok(e) => Leaf::Revocation(e),
            Err(_) => Leaf::Other,
        }
    }

    /// The credential a v2 result or a revocation names.
    pub fn credential(&self) -> Option<&str> {
        match self {
            Leaf::Result(p) => p.credential.as_deref(),
            Leaf::Revocation(e) => Some(&e.credential),
            Leaf::Other => None,
        }
    }
}

/// A tile read failure.
pub fn tile_error<E: std::fmt::Display>(e: &E) -> CliError {
    CliError::refused("tiles_unreadable", e)
}

/// The log could not be reached or answered an error.
pub fn client_error(e: ClientError) -> CliError {
    CliError::refused("log_unreachable", e)
}

/// Tile `n` of `kind` as wide as the tree of `size` makes it.
pub fn tile_of(kind: TileKind, n: u64, size: u64) -> Result<Tile, CliError> {
    c2sp::level0_tile(kind, n, size).map_err(|e| CliError::refused("tiles_unreadable", e))
}

/// Level-0 hash tile `n` of the tree of `size`.
pub fn level0_tile(n: u64, size: u64) -> Result<Tile, CliError> {
    tile_of(TileKind::Hashes(0), n, size)
}

/// Calls `f(index, leaf)` for the leaves `from..size`, each checked against
/// its hash in the level-0 tile. `Ok(false)`: the log does not publish its
/// entries.
pub fn scan(
    log: &LogClient,
    from: u64,
    size: u64,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), CliError>,
) -> Result<bool, CliError> {
    let mut n = from / TILE_WIDTH;
    while n * TILE_WIDTH < size {
        let bundle_tile = tile_of(TileKind::Entries, n, size)?;
        let bundle = match log.tile(&bundle_tile) {
            Ok(b) => b,
            Err(ClientError::Api { status: 404, .. }) => return Ok(false),
            Err(e) => return Err(client_error(e)),
        };
        let hashes = log.tile(&level0_tile(n, size)?).map_err(client_error)?;
        let count = usize::from(bundle_tile.width());
        let leaves = split_bundle(&bundle, count)
            .ok_or_else(|| CliError::refused("tiles_unreadable", "malformed entry bundle"))?;
        for (i, leaf) in leaves.into_iter().enumerate() {
            let index = n * TILE_WIDTH + i as u64;
            let want = hashes.get(i * 32..i * 32 + 32);
            if want != Some(&merkle::leaf_hash(leaf)[..]) {
                return Err(CliError::refused(
                    "tiles_mismatch",
                    format!("entry {index} does not hash to its leaf"),
                ));
            }
            if index >= from {
                f(index, leaf)?;
            }
        }
        n += 1;
    }
    Ok(true)
}

/// Leaf `index` (bytes `leaf`) is in the tree of `size` with `root`: its
/// inclusion proof, computed from the tiles, leads to the checked root.
pub fn prove(
    log: &LogClient,
    leaf: &[u8],
    index: u64,
    size: u64,
    root: &Hash,
) -> Result<(), CliError> {
    let proof = c2sp::inclusion_proof(log, index, size).map_err(|e| tile_error(&e))?;
    merkle::verify_inclusion(&merkle::leaf_hash(leaf), index, size, &proof, root).map_err(|_| {
        CliError::refused(
            "tiles_mismatch",
            format!("entry {index} is not in the checkpoint's tree"),
        )
    })
}

/// A revocation seen in the log: where, and when the enclave signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoked {
    /// Leaf index of the revocation entry.
    pub index: u64,
    /// Its `time`.
    pub time: String,
}

/// A result naming a credential at a leaf after that credential's
/// revocation entry: the enclave (or a forged log) used a revoked credential.
#[derive(Debug, Clone, Serialize)]
pub struct UseAfterRevocation {
    /// The credential.
    pub credential: String,
    /// Leaf of the revocation entry.
    pub revoked_at: u64,
    /// Leaf of the later result.
    pub used_at: u64,
}

/// Tracks revocations across leaves (and runs) and the uses that follow one.
#[derive(Debug, Default)]
pub struct RevocationWatch {
    /// Credential -> its first revocation.
    pub revoked: BTreeMap<String, Revoked>,
    /// Uses after a revocation, in log order.
    pub violations: Vec<UseAfterRevocation>,
}

impl RevocationWatch {
    /// Takes leaf `index` into account.
    pub fn see(&mut self, index: u64, leaf: &Leaf) {
        match leaf {
            Leaf::Revocation(e) => {
                self.revoked
                    .entry(e.credential.clone())
                    .or_insert_with(|| Revoked {
                        index,
                        time: e.time.clone(),
                    });
            }
            Leaf::Result(p) => {
                if let Some(c) = &p.credential
                    && let Some(r) = self.revoked.get(c)
                    && r.index < index
                {
                    self.violations.push(UseAfterRevocation {
                        credential: c.clone(),
                        revoked_at: r.index,
                        used_at: index,
                    });
                }
            }
            Leaf::Other => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_use_after_a_revocation_is_reported_once_per_use() {
        let c = "ab".repeat(32);
        let mut w = RevocationWatch::default();
        let result = |credential: &str| {
            let mut p: AggregatePayload = serde_json::from_value(serde_json::json!({
                "version": 1, "exchange": "binance", "label": "main", "account": "acct",
                "session": "s", "from": null, "to": null, "computed_at": "2026-01-01T00:00:00Z",
                "key_id": "k", "pcr0": "aa", "symbols": {}, "totals": {}
            }))
            .unwrap();
            p.credential = Some(credential.to_owned());
            Leaf::Result(Box::new(p))
        };
        w.see(0, &result(&c));
        w.see(
            1,
            &Leaf::Revocation(RevocationEntry::new(&c, "2026-01-02T00:00:00Z")),
        );
        w.see(2, &result(&"cd".repeat(32)));
        assert!(w.violations.is_empty());
        w.see(3, &result(&c));
        assert_eq!(w.violations.len(), 1);
        assert_eq!(
            (w.violations[0].revoked_at, w.violations[0].used_at),
            (1, 3)
        );
    }
}
