//! The host's RFC 9162 generation code against the verifier's (independent)
//! implementation: same hashes, roots, frontiers, and proofs that verify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use strongroom_host::tlog::merkle as host;
use strongroom_verifier::merkle as reference;

fn leaves(n: usize) -> Vec<[u8; 32]> {
    (0..n)
        .map(|i| host::leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

#[test]
fn hashes_match_the_verifier() {
    for data in [&b""[..], b"\x00", b"strongroom"] {
        assert_eq!(host::leaf_hash(data), reference::leaf_hash(data));
    }
    let (a, b) = (host::leaf_hash(b"a"), host::leaf_hash(b"b"));
    assert_eq!(host::node_hash(&a, &b), reference::node_hash(&a, &b));
    assert_ne!(host::node_hash(&a, &b), host::node_hash(&b, &a));
    assert_eq!(host::empty_root(), reference::empty_root());
}

#[test]
fn frontiers_roots_and_appends_match() {
    let all = leaves(70);
    let mut size = 0u64;
    let mut frontier: Vec<[u8; 32]> = Vec::new();
    for n in 0..=all.len() {
        let l = &all[..n];
        let want = reference::Frontier::from_leaf_hashes(l);
        assert_eq!(host::frontier(l), want.hashes(), "frontier of {n}");
        assert_eq!(frontier, want.hashes(), "appended frontier of {n}");
        assert_eq!(
            host::frontier_root(&frontier),
            reference::root(l),
            "root of {n}"
        );
        assert_eq!(host::subtree_root(l), reference::root(l));
        if n < all.len() {
            frontier = host::frontier_append(size, &frontier, all[n]).unwrap();
            size += 1;
        }
    }
    assert!(
        host::frontier_append(3, &frontier[..0], all[0]).is_none(),
        "wrong shape"
    );
}

#[test]
fn inclusion_proofs_verify_and_match() {
    let all = leaves(40);
    for n in 1..=all.len() {
        let l = &all[..n];
        let root = reference::root(l);
        for i in 0..n {
            let proof = host::inclusion_proof(l, i).unwrap();
            assert_eq!(proof, reference::inclusion_proof(l, i as u64).unwrap());
            reference::verify_inclusion(&l[i], i as u64, n as u64, &proof, &root).unwrap();
        }
        assert!(host::inclusion_proof(l, n).is_none());
        // The last leaf's path is the frontier before it was appended, smallest first.
        let mut before = host::frontier(&l[..n - 1]);
        before.reverse();
        assert_eq!(host::inclusion_proof(l, n - 1).unwrap(), before);
    }
}

#[test]
fn consistency_proofs_verify_and_match() {
    let all = leaves(40);
    for n in 1..=all.len() {
        let l = &all[..n];
        let new_root = reference::root(l);
        for m in 0..=n {
            let proof = host::consistency_proof(l, m).unwrap();
            assert_eq!(proof, reference::consistency_proof(l, m as u64).unwrap());
            let old_root = reference::root(&l[..m]);
            reference::verify_consistency(m as u64, n as u64, &old_root, &new_root, &proof)
                .unwrap();
        }
        assert!(host::consistency_proof(l, n + 1).is_none());
    }
}
