//! RFC 9162 Merkle tree hashing, inclusion and consistency proofs, and a
//! compact frontier for appending to a log.
//!
//! Hashing follows RFC 9162 section 2.1.1 (identical to RFC 6962):
//! leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right), and
//! the empty tree hashes to SHA-256(""). Proof generation works on the leaf
//! *hashes* of the tree, so a caller never needs the leaf data itself.
//!
//! Verification never panics and never allocates in proportion to attacker
//! input beyond the proof it was handed; proofs longer than
//! [`MAX_PROOF_LEN`] hashes are refused before any hashing.

use sha2::{Digest, Sha256};

/// Length of every tree hash (SHA-256).
pub const HASH_LEN: usize = 32;

/// A tree hash (leaf hash, node hash or root).
pub type Hash = [u8; HASH_LEN];

/// Longest proof accepted: a tree of at most 2^64 leaves has height 64, and
/// an inclusion or consistency proof is never longer than that.
pub const MAX_PROOF_LEN: usize = 64;

/// Why a proof could not be generated or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old size of a consistency proof exceeds the new size.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeOrder {
        /// Size of the older tree.
        old: u64,
        /// Size of the newer tree.
        new: u64,
    },
    /// The proof has the wrong number of hashes for the sizes given.
    #[error("proof has the wrong length")]
    ProofLength,
    /// The proof is well formed but the recomputed root differs.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
    /// A frontier's hash count does not match its size.
    #[error("frontier of size {size} must hold {expected} hashes, got {got}")]
    FrontierShape {
        /// The frontier's tree size.
        size: u64,
        /// Hashes required (number of set bits of `size`).
        expected: usize,
        /// Hashes given.
        got: usize,
    },
    /// The tree is full (2^64 - 1 leaves).
    #[error("tree is full")]
    Full,
}

/// SHA-256 of the empty string: the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Leaf hash: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// Interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Largest power of two strictly below `n` (`n` >= 2).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// Merkle tree head (root) of the given leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        _ => Frontier::from_leaf_hashes(leaves).root(),
    }
}

/// Subtree hash of a non-empty slice (recursive definition of RFC 9162).
fn subtree(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split_point(leaves.len());
            node_hash(&subtree(&leaves[..k]), &subtree(&leaves[k..]))
        }
    }
}

fn to_u64(n: usize) -> u64 {
    // usize is at most 64 bits on every supported target.
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Audit path for leaf `index` in the tree made of `leaves` (RFC 9162
/// 2.1.3.1), sibling hashes from the leaf upward.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, MerkleError> {
    let size = to_u64(leaves.len());
    let idx = usize::try_from(index)
        .ok()
        .filter(|i| *i < leaves.len())
        .ok_or(MerkleError::IndexOutOfRange { index, size })?;
    let mut proof = Vec::new();
    path(idx, leaves, &mut proof);
    Ok(proof)
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split_point(leaves.len());
    if m < k {
        path(m, &leaves[..k], out);
        out.push(subtree(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(subtree(&leaves[..k]));
    }
}

/// Root implied by an inclusion proof of `leaf` at `index` in a tree of `size`.
pub fn root_from_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(MerkleError::ProofLength);
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(MerkleError::ProofLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(MerkleError::ProofLength);
    }
    Ok(r)
}

/// Verify that `leaf` sits at `index` of the tree of `size` with `root`
/// (RFC 9162 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    let got = root_from_inclusion(leaf, index, size, proof)?;
    if subtle_eq(&got, root) {
        Ok(())
    } else {
        Err(MerkleError::RootMismatch)
    }
}

fn subtle_eq(a: &Hash, b: &Hash) -> bool {
    // Roots are public; a plain comparison is fine, kept in one place.
    a == b
}

/// Consistency proof between the first `old_size` leaves and all of
/// `leaves` (RFC 9162 2.1.4.1). Empty when `old_size` is 0 or equals the
/// tree size.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<Vec<Hash>, MerkleError> {
    let new = to_u64(leaves.len());
    let m = usize::try_from(old_size)
        .ok()
        .filter(|m| *m <= leaves.len())
        .ok_or(MerkleError::SizeOrder { old: old_size, new })?;
    let mut proof = Vec::new();
    if m > 0 && m < leaves.len() {
        subproof(m, leaves, true, &mut proof);
    }
    Ok(proof)
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(subtree(leaves));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(subtree(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(subtree(&leaves[..k]));
    }
}

/// Verify that the tree of `old_size` with `old_root` is a prefix of the
/// tree of `new_size` with `new_root` (RFC 9162 2.1.4.2). An old size of 0
/// is consistent with anything, given an empty proof.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::SizeOrder {
            old: old_size,
            new: new_size,
        });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(MerkleError::ProofLength);
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(MerkleError::ProofLength);
        }
        if old_size == new_size && !subtle_eq(old_root, new_root) {
            return Err(MerkleError::RootMismatch);
        }
        return Ok(());
    }
    let (fr, sr) = consistency_roots(old_size, new_size, old_root, proof)?;
    if subtle_eq(&fr, old_root) && subtle_eq(&sr, new_root) {
        Ok(())
    } else {
        Err(MerkleError::RootMismatch)
    }
}

/// Steps 1-6 of RFC 9162 2.1.4.2 for 0 < old < new: the old and new roots
/// the proof implies.
fn consistency_roots(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    proof: &[Hash],
) -> Result<(Hash, Hash), MerkleError> {
    let (first, rest): (&Hash, &[Hash]) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        proof.split_first().ok_or(MerkleError::ProofLength)?
    };
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return Err(MerkleError::ProofLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(MerkleError::ProofLength);
    }
    Ok((fr, sr))
}

/// The right edge of a tree: the roots of its maximal perfect subtrees,
/// largest (leftmost) first, one per set bit of `size`. This is all a log
/// needs to append leaves and compute the new root, so the enclave can
/// extend the log from a few hundred bytes of state that it checks against
/// its last signed head.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuild a frontier from its parts, checking that `hashes` has one
    /// entry per set bit of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, MerkleError> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(MerkleError::FrontierShape {
                size,
                expected,
                got: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// Frontier of the tree made of `leaves`.
    pub fn from_leaf_hashes(leaves: &[Hash]) -> Self {
        let mut f = Self::new();
        let mut offset = 0usize;
        // Walk the perfect subtrees left to right (set bits, high to low).
        for bit in (0..usize::BITS).rev() {
            let width = 1usize << bit;
            if leaves.len() & width != 0 {
                f.hashes.push(subtree(&leaves[offset..offset + width]));
                offset += width;
            }
        }
        f.size = to_u64(leaves.len());
        f
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Subtree roots, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Append one leaf hash (use [`leaf_hash`] on the entry's bytes).
    pub fn append(&mut self, leaf: Hash) -> Result<(), MerkleError> {
        let new_size = self.size.checked_add(1).ok_or(MerkleError::Full)?;
        let mut carry = leaf;
        let mut s = self.size;
        // Each trailing 1-bit of the old size is a subtree of the same
        // width as `carry`: merge them, like binary addition.
        while s & 1 == 1 {
            let left = self.hashes.pop().ok_or(MerkleError::FrontierShape {
                size: self.size,
                expected: self.size.count_ones() as usize,
                got: self.hashes.len(),
            })?;
            carry = node_hash(&left, &carry);
            s >>= 1;
        }
        self.hashes.push(carry);
        self.size = new_size;
        Ok(())
    }

    /// Audit path of the leaf the next [`Frontier::append`] adds, in the
    /// tree after that append: the subtree roots of the current tree,
    /// smallest first. Lets the enclave return an inclusion proof for the
    /// entry it just logged without holding the whole tree.
    pub fn next_inclusion_proof(&self) -> Vec<Hash> {
        self.hashes.iter().rev().copied().collect()
    }

    /// Root of the tree this frontier describes.
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, h| node_hash(h, &acc)),
        }
    }
}

#[cfg(test)]
#[path = "merkle_tests.rs"]
mod tests;
