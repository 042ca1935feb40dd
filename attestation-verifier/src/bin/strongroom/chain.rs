//! Account chains (payload v2 `previous`): each result of an account names
//! the leaf hash of the account's preceding result in the log. Walking an
//! account's entries in log order, a result whose `previous` is not the
//! preceding entry's leaf hash hides something from whoever follows the
//! chain backwards from the newest result: a *gap*. The host picks the
//! candidate the enclave signs, so a host that drops a result from an
//! account's chain is seen here; so is one result computed concurrently
//! with another of the same account (both name the same predecessor).

use serde::Serialize;
use strongroom_formats::merkle::Hash;

/// One v2 result of the account, in log order.
#[derive(Debug, Clone)]
pub struct Link {
    /// Its leaf index.
    pub index: u64,
    /// Its RFC 9162 leaf hash.
    pub leaf_hash: Hash,
    /// Its signed `previous` (hex), or `None` for null.
    pub previous: Option<String>,
}

/// A result whose `previous` does not name the account's preceding entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// Leaf index of the result.
    pub index: u64,
    /// What it names (hex), or null.
    pub names: Option<String>,
    /// The preceding entry of the account (hex), or null when none was seen.
    pub expected: Option<String>,
}

/// Walks `links` (one account's results, log order) from `head`, the leaf
/// hash of the account's last entry before them (`None`: none before, or
/// `unknown` when earlier entries were not read). Returns the new head and
/// the gaps. With `unknown`, the first link is not judged.
pub fn walk(head: Option<Hash>, unknown: bool, links: &[Link]) -> (Option<Hash>, Vec<Gap>) {
    let mut head = head;
    let mut judge = !unknown;
    let mut gaps = Vec::new();
    for link in links {
        let expected = head.map(hex::encode);
        if judge && link.previous != expected {
            gaps.push(Gap {
                index: link.index,
                names: link.previous.clone(),
                expected,
            });
        }
        judge = true;
        head = Some(link.leaf_hash);
    }
    (head, gaps)
}

/// `chain_gap` (exit 1) with the evidence on stderr when `gaps` is not empty.
pub fn refuse_gaps(gaps: &[Gap]) -> Result<(), crate::CliError> {
    if gaps.is_empty() {
        return Ok(());
    }
    for g in gaps {
        eprintln!(
            "strongroom: entry {} names {} as its predecessor; the account's preceding entry is {}",
            g.index,
            g.names.as_deref().unwrap_or("none"),
            g.expected.as_deref().unwrap_or("none"),
        );
    }
    Err(crate::CliError::refused(
        "chain_gap",
        format!(
            "{} result(s) of the account skip part of its chain (the evidence is above)",
            gaps.len()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u64, byte: u8, previous: Option<u8>) -> Link {
        Link {
            index,
            leaf_hash: [byte; 32],
            previous: previous.map(|b| hex::encode([b; 32])),
        }
    }

    #[test]
    fn an_unbroken_chain_has_no_gap() {
        let links = [link(0, 1, None), link(3, 2, Some(1)), link(9, 3, Some(2))];
        let (head, gaps) = walk(None, false, &links);
        assert_eq!(head, Some([3; 32]));
        assert!(gaps.is_empty());
        // Continued from a known head.
        let (_, gaps) = walk(Some([3; 32]), false, &[link(12, 4, Some(3))]);
        assert!(gaps.is_empty());
    }

    #[test]
    fn a_skipped_result_a_restart_and_a_branch_are_gaps() {
        // Entry 3 is skipped by entry 9 (names entry 0).
        let skipped = [link(0, 1, None), link(3, 2, Some(1)), link(9, 3, Some(1))];
        let (_, gaps) = walk(None, false, &skipped);
        assert_eq!(
            gaps,
            [Gap {
                index: 9,
                names: Some(hex::encode([1; 32])),
                expected: Some(hex::encode([2; 32])),
            }]
        );
        // A chain that starts over although the account has results.
        let (_, gaps) = walk(Some([7; 32]), false, &[link(5, 8, None)]);
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].names, None);
        // The first entry claims a predecessor although none exists.
        let (_, gaps) = walk(None, false, &[link(0, 1, Some(9))]);
        assert_eq!(gaps.len(), 1);
    }

    #[test]
    fn an_unknown_start_is_not_judged() {
        let (head, gaps) = walk(None, true, &[link(500, 1, Some(9)), link(501, 2, Some(1))]);
        assert!(gaps.is_empty());
        assert_eq!(head, Some([2; 32]));
        let (_, gaps) = walk(None, true, &[link(500, 1, Some(9)), link(501, 2, Some(8))]);
        assert_eq!(gaps.len(), 1);
    }
}
