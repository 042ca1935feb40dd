//! The few RFC 9162 (section 2.1) functions the host needs: hashing, the
//! right-edge frontier the enclave checks, and proof *generation*. The host
//! never needs to verify a proof: clients do (with the verifier crate, which
//! the host must not link because it carries HPKE). `tests/merkle.rs`
//! compares every function with the verifier's implementation.

use sha2::{Digest, Sha256};

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

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

/// Largest power of two strictly below `n` (`n >= 2`).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH of a slice of leaf hashes (recursive definition of RFC 9162).
pub fn subtree_root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split(leaves.len());
            node_hash(&subtree_root(&leaves[..k]), &subtree_root(&leaves[k..]))
        }
    }
}

/// Roots of the maximal perfect subtrees of `leaves`, largest (leftmost) first:
/// one per set bit of the size. This is the state the enclave extends.
pub fn frontier(leaves: &[Hash]) -> Vec<Hash> {
    let mut out = Vec::new();
    let mut offset = 0;
    for bit in (0..usize::BITS).rev() {
        let width = 1usize << bit;
        if leaves.len() & width != 0 {
            out.push(subtree_root(&leaves[offset..offset + width]));
            offset += width;
        }
    }
    out
}

/// Root of the tree whose frontier is `hashes` (largest first).
pub fn frontier_root(hashes: &[Hash]) -> Hash {
    let mut it = hashes.iter().rev();
    match it.next() {
        None => empty_root(),
        Some(last) => it.fold(*last, |acc, h| node_hash(h, &acc)),
    }
}

/// Appends `leaf` to a frontier of a tree of `size` leaves (binary carry).
/// `None` when the frontier does not have one hash per set bit of `size`.
pub fn frontier_append(size: u64, hashes: &[Hash], leaf: Hash) -> Option<Vec<Hash>> {
    if hashes.len() != size.count_ones() as usize {
        return None;
    }
    let mut out = hashes.to_vec();
    let (mut carry, mut s) = (leaf, size);
    while s & 1 == 1 {
        carry = node_hash(&out.pop()?, &carry);
        s >>= 1;
    }
    out.push(carry);
    Some(out)
}

/// Audit path of leaf `index` (sibling hashes from the leaf upward), RFC 9162
/// 2.1.3.1. `None` when `index` is not below the tree size.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    let (mut m, mut rest) = (index, leaves);
    // Walk down from the root, collecting siblings, then reverse (leaf first).
    while rest.len() > 1 {
        let k = split(rest.len());
        if m < k {
            out.push(subtree_root(&rest[k..]));
            rest = &rest[..k];
        } else {
            out.push(subtree_root(&rest[..k]));
            rest = &rest[k..];
            m -= k;
        }
    }
    out.reverse();
    Some(out)
}

/// Consistency proof between the first `old` leaves and all of `leaves`,
/// RFC 9162 2.1.4.1 (empty when `old` is 0 or the full size). `None` when
/// `old` exceeds the tree size.
pub fn consistency_proof(leaves: &[Hash], old: usize) -> Option<Vec<Hash>> {
    if old > leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    if old > 0 && old < leaves.len() {
        subproof(old, leaves, true, &mut out);
    }
    Some(out)
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    if m == leaves.len() {
        if !complete {
            out.push(subtree_root(leaves));
        }
        return;
    }
    let k = split(leaves.len());
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(subtree_root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(subtree_root(&leaves[..k]));
    }
}
