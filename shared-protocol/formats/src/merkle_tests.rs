#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

#[derive(serde::Deserialize)]
struct Vectors {
    leaves_hex: Vec<String>,
    empty_root: String,
    roots: Vec<String>,
    inclusion: Vec<InclusionCase>,
    consistency: Vec<ConsistencyCase>,
}

#[derive(serde::Deserialize)]
struct InclusionCase {
    index: u64,
    size: u64,
    proof: Vec<String>,
}

#[derive(serde::Deserialize)]
struct ConsistencyCase {
    old_size: u64,
    new_size: u64,
    proof: Vec<String>,
}

fn vectors() -> Vectors {
    let text = include_str!("../testdata/merkle/rfc6962.json");
    serde_json::from_str(text).unwrap()
}

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn hs(v: &[String]) -> Vec<Hash> {
    v.iter().map(|s| h(s)).collect()
}

fn leaf_hashes(v: &Vectors) -> Vec<Hash> {
    v.leaves_hex
        .iter()
        .map(|l| leaf_hash(&hex::decode(l).unwrap()))
        .collect()
}

fn synthetic(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
        .collect()
}

#[test]
fn roots_match_reference_vectors() {
    let v = vectors();
    assert_eq!(root(&[]), h(&v.empty_root));
    let leaves = leaf_hashes(&v);
    for (i, want) in v.roots.iter().enumerate() {
        assert_eq!(root(&leaves[..=i]), h(want), "size {}", i + 1);
        assert_eq!(subtree(&leaves[..=i]), h(want), "recursive, size {}", i + 1);
    }
}

#[test]
fn inclusion_proofs_match_and_verify() {
    let v = vectors();
    let leaves = leaf_hashes(&v);
    for c in &v.inclusion {
        let want = hs(&c.proof);
        let tree = &leaves[..c.size as usize];
        assert_eq!(
            inclusion_proof(tree, c.index).unwrap(),
            want,
            "{}/{}",
            c.index,
            c.size
        );
        let r = h(&v.roots[c.size as usize - 1]);
        let leaf = &leaves[c.index as usize];
        verify_inclusion(leaf, c.index, c.size, &want, &r).unwrap();
        assert_mutations_fail(leaf, c.index, c.size, &want, &r);
    }
}

fn assert_mutations_fail(leaf: &Hash, index: u64, size: u64, proof: &[Hash], r: &Hash) {
    assert!(verify_inclusion(leaf, index + 1, size, proof, r).is_err());
    if index > 0 {
        assert!(verify_inclusion(leaf, index - 1, size, proof, r).is_err());
    }
    assert!(verify_inclusion(leaf, index, size * 2, proof, r).is_err());
    assert!(verify_inclusion(leaf, index, size / 2, proof, r).is_err());
    assert!(verify_inclusion(&leaf_hash(b"WrongLeaf"), index, size, proof, r).is_err());
    assert!(verify_inclusion(leaf, index, size, proof, &empty_root()).is_err());
    for i in 0..proof.len() {
        let mut bad = proof.to_vec();
        bad[i] = empty_root();
        assert!(verify_inclusion(leaf, index, size, &bad, r).is_err());
    }
    let mut longer = proof.to_vec();
    longer.push(*r);
    assert!(verify_inclusion(leaf, index, size, &longer, r).is_err());
    if !proof.is_empty() {
        assert!(verify_inclusion(leaf, index, size, &proof[..proof.len() - 1], r).is_err());
    }
    let mut front = vec![*r];
    front.extend_from_slice(proof);
    assert!(verify_inclusion(leaf, index, size, &front, r).is_err());
}

#[test]
fn consistency_proofs_match_and_verify() {
    let v = vectors();
    let leaves = leaf_hashes(&v);
    for c in &v.consistency {
        let want = hs(&c.proof);
        let tree = &leaves[..c.new_size as usize];
        assert_eq!(consistency_proof(tree, c.old_size).unwrap(), want);
        let r1 = h(&v.roots[c.old_size as usize - 1]);
        let r2 = h(&v.roots[c.new_size as usize - 1]);
        verify_consistency(c.old_size, c.new_size, &r1, &r2, &want).unwrap();
        if want.is_empty() {
            continue;
        }
        assert!(verify_consistency(c.old_size - 1, c.new_size, &r1, &r2, &want).is_err());
        assert!(verify_consistency(c.old_size + 1, c.new_size, &r1, &r2, &want).is_err());
        assert!(verify_consistency(c.old_size, c.new_size * 2, &r1, &r2, &want).is_err());
        assert!(verify_consistency(c.old_size, c.new_size, &r2, &r1, &want).is_err());
        assert!(verify_consistency(c.old_size, c.new_size, &r1, &r2, &[]).is_err());
        assert!(verify_consistency(c.old_size, c.new_size, &r1, &r2, &want[1..]).is_err());
        let mut longer = want.clone();
        longer.push(r1);
        assert!(verify_consistency(c.old_size, c.new_size, &r1, &r2, &longer).is_err());
        for i in 0..want.len() {
            let mut bad = want.clone();
            bad[i] = empty_root();
            assert!(verify_consistency(c.old_size, c.new_size, &r1, &r2, &bad).is_err());
        }
    }
}

#[test]
fn degenerate_consistency_cases() {
    let e = empty_root();
    let x = leaf_hash(b"x");
    verify_consistency(0, 0, &e, &e, &[]).unwrap();
    verify_consistency(0, 5, &e, &x, &[]).unwrap();
    assert_eq!(
        verify_consistency(1, 1, &e, &x, &[]),
        Err(MerkleError::RootMismatch)
    );
    assert!(verify_consistency(1, 1, &x, &x, &[x]).is_err());
    assert!(verify_consistency(0, 1, &e, &x, &[x]).is_err());
    assert!(matches!(
        verify_consistency(2, 1, &x, &x, &[]),
        Err(MerkleError::SizeOrder { .. })
    ));
    assert!(inclusion_proof(&[], 0).is_err());
    assert!(verify_inclusion(&x, 0, 0, &[], &x).is_err());
    assert!(verify_inclusion(&x, 2, 1, &[], &x).is_err());
    assert!(consistency_proof(&synthetic(3), 4).is_err());
    let too_long = vec![x; MAX_PROOF_LEN + 1];
    assert_eq!(
        verify_inclusion(&x, 0, u64::MAX, &too_long, &x),
        Err(MerkleError::ProofLength)
    );
}

#[test]
fn frontier_tracks_root_and_checks_shape() {
    let leaves = synthetic(300);
    let mut f = Frontier::new();
    assert_eq!(f.root(), empty_root());
    for (i, l) in leaves.iter().enumerate() {
        f.append(*l).unwrap();
        assert_eq!(f.size(), i as u64 + 1);
        assert_eq!(f.hashes().len(), (i + 1).count_ones() as usize);
        assert_eq!(f.root(), subtree(&leaves[..=i]));
        assert_eq!(f, Frontier::from_leaf_hashes(&leaves[..=i]));
    }
    let rebuilt = Frontier::from_parts(f.size(), f.hashes().to_vec()).unwrap();
    assert_eq!(rebuilt.root(), f.root());
    assert!(Frontier::from_parts(300, vec![]).is_err());
    assert!(Frontier::from_parts(3, vec![leaves[0]; 3]).is_err());
    let reference = vectors();
    let rl = leaf_hashes(&reference);
    assert_eq!(
        Frontier::from_leaf_hashes(&rl).root(),
        h(reference.roots.last().unwrap())
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_inclusion_proof_verifies(n in 1usize..80, seed in any::<u64>(), byte in 0usize..32) {
        let leaves = synthetic(n);
        let r = root(&leaves);
        let idx = (seed % n as u64) as usize;
        let proof = inclusion_proof(&leaves, idx as u64).unwrap();
        prop_assert!(verify_inclusion(&leaves[idx], idx as u64, n as u64, &proof, &r).is_ok());
        // Any altered hash fails: the leaf, the root, or one proof element.
        let mut leaf = leaves[idx];
        leaf[byte] ^= 1;
        prop_assert!(verify_inclusion(&leaf, idx as u64, n as u64, &proof, &r).is_err());
        let mut bad_root = r;
        bad_root[byte] ^= 0x80;
        prop_assert!(verify_inclusion(&leaves[idx], idx as u64, n as u64, &proof, &bad_root).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let k = (seed as usize / 7) % bad.len();
            bad[k][byte] ^= 1;
            prop_assert!(verify_inclusion(&leaves[idx], idx as u64, n as u64, &bad, &r).is_err());
        }
    }

    #[test]
    fn consistency_between_any_m_le_n(n in 1usize..80, seed in any::<u64>(), byte in 0usize..32) {
        let leaves = synthetic(n);
        let m = (seed % (n as u64 + 1)) as usize;
        let (r1, r2) = (root(&leaves[..m]), root(&leaves));
        let proof = consistency_proof(&leaves, m as u64).unwrap();
        prop_assert!(verify_consistency(m as u64, n as u64, &r1, &r2, &proof).is_ok());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let k = (seed as usize / 3) % bad.len();
            bad[k][byte] ^= 1;
            prop_assert!(verify_consistency(m as u64, n as u64, &r1, &r2, &bad).is_err());
            let mut r2b = r2;
            r2b[byte] ^= 1;
            prop_assert!(verify_consistency(m as u64, n as u64, &r1, &r2b, &proof).is_err());
            let mut r1b = r1;
            r1b[byte] ^= 1;
            prop_assert!(verify_consistency(m as u64, n as u64, &r1b, &r2, &proof).is_err());
        }
    }

    #[test]
    fn next_inclusion_proof_matches_full_tree(n in 0usize..70) {
        let leaves = synthetic(n + 1);
        let mut f = Frontier::from_leaf_hashes(&leaves[..n]);
        let proof = f.next_inclusion_proof();
        f.append(leaves[n]).unwrap();
        prop_assert_eq!(&proof, &inclusion_proof(&leaves, n as u64).unwrap());
        prop_assert!(verify_inclusion(&leaves[n], n as u64, n as u64 + 1, &proof, &f.root()).is_ok());
    }

    #[test]
    fn frontier_extends_consistently(m in 0usize..60, extra in 0usize..60) {
        let leaves = synthetic(m + extra);
        let mut f = Frontier::from_leaf_hashes(&leaves[..m]);
        for l in &leaves[m..] {
            f.append(*l).unwrap();
        }
        prop_assert_eq!(f.root(), root(&leaves));
    }
}
