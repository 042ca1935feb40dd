#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use p256::ecdsa::SigningKey;
use serde_bytes::ByteBuf;
use strongroom_protocol::merkle::{root, verify_inclusion};
use strongroom_verifier::cose::sign_es256;

const NOW: &str = "2026-11-23T12:00:00Z";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).unwrap()
}

/// Runs `f` with log keys made from a bare signing key.
fn with_keys<R>(k: &SigningKey, f: impl FnOnce(&LogKeys<'_>) -> R) -> R {
    let verifying = VerifyingKey::from(k);
    let sign = |p: &[u8], kid: &str| sign_es256(p, kid, k);
    f(&LogKeys {
        verifying: &verifying,
        sign: &sign,
        key_id: "v1:test",
    })
}

fn leaf(k: &SigningKey, n: u32) -> Vec<u8> {
    sign_es256(&n.to_be_bytes(), "v1:test", k)
}

/// Host-side state: all leaves and the last head.
struct HostLog {
    leaves: Vec<Vec<u8>>,
    head: Option<Vec<u8>>,
}

impl HostLog {
    fn request(&self, leaf: Vec<u8>) -> AppendLogRequest {
        let hashes: Vec<Hash> = self.leaves.iter().map(|l| leaf_hash(l)).collect();
        let f = Frontier::from_leaf_hashes(&hashes);
        AppendLogRequest {
            leaf,
            tree_size: f.size(),
            frontier: f
                .hashes()
                .iter()
                .map(|h| ByteBuf::from(h.to_vec()))
                .collect(),
            head: self.head.clone(),
        }
    }

    fn append(&mut self, signer: &LogSigner, k: &SigningKey, leaf: Vec<u8>) -> LogAppended {
        let req = self.request(leaf.clone());
        let out = with_keys(k, |keys| signer.append(&req, keys, NOW)).unwrap();
        self.leaves.push(leaf);
        self.head = Some(out.tree_head.clone());
        out
    }
}

#[test]
fn appends_produce_heads_whose_roots_match_and_include_the_leaf() {
    let k = key(7);
    let signer = LogSigner::new();
    let mut log = HostLog {
        leaves: vec![],
        head: None,
    };
    for n in 0..9u32 {
        let out = log.append(&signer, &k, leaf(&k, n));
        assert_eq!(out.leaf_index, u64::from(n));
        assert_eq!(out.tree_size, u64::from(n) + 1);
        let payload =
            verify_es256(&out.tree_head, &VerifyingKey::from(&k), Some("v1:test")).unwrap();
        let head = TreeHead::from_cbor(&payload).unwrap();
        let hashes: Vec<Hash> = log.leaves.iter().map(|l| leaf_hash(l)).collect();
        assert_eq!(head.root, root(&hashes).to_vec());
        assert_eq!(head.time, NOW);
        let proof = strongroom_verifier::merkle::inclusion_proof(&hashes, u64::from(n)).unwrap();
        let r: Hash = head.root.as_slice().try_into().unwrap();
        verify_inclusion(&hashes[n as usize], u64::from(n), head.size, &proof, &r).unwrap();
    }
}

#[test]
fn refuses_foreign_leaves_heads_and_tampered_frontiers() {
    let (k, other) = (key(7), key(8));
    let signer = LogSigner::new();
    let mut log = HostLog {
        leaves: vec![],
        head: None,
    };
    // A leaf signed by someone else.
    assert_eq!(
        with_keys(&k, |keys| signer.append(
            &log.request(leaf(&other, 0)),
            keys,
            NOW
        ))
        .unwrap_err(),
        LogError::LeafNotOurs
    );
    log.append(&signer, &k, leaf(&k, 0));
    log.append(&signer, &k, leaf(&k, 1));
    // Tampered frontier.
    let mut req = log.request(leaf(&k, 2));
    req.frontier[0] = ByteBuf::from(vec![0u8; 32]);
    assert_eq!(
        with_keys(&k, |keys| signer.append(&req, keys, NOW)).unwrap_err(),
        LogError::HeadMismatch
    );
    // Wrong shape.
    let mut req = log.request(leaf(&k, 2));
    req.frontier.push(ByteBuf::from(vec![0u8; 32]));
    assert_eq!(
        with_keys(&k, |keys| signer.append(&req, keys, NOW)).unwrap_err(),
        LogError::BadFrontier
    );
    // Head signed by another key.
    let mut req = log.request(leaf(&k, 2));
    let payload = verify_es256(req.head.as_ref().unwrap(), &VerifyingKey::from(&k), None).unwrap();
    req.head = Some(sign_es256(&payload, "v1:test", &other));
    assert_eq!(
        with_keys(&k, |keys| signer.append(&req, keys, NOW)).unwrap_err(),
        LogError::HeadInvalid
    );
    // Head missing for a non-empty log.
    let mut req = log.request(leaf(&k, 2));
    req.head = None;
    assert_eq!(
        with_keys(&k, |keys| signer.append(&req, keys, NOW)).unwrap_err(),
        LogError::HeadMissing
    );
}

#[test]
fn refuses_rollback_and_fork() {
    let k = key(7);
    let signer = LogSigner::new();
    let mut log = HostLog {
        leaves: vec![],
        head: None,
    };
    log.append(&signer, &k, leaf(&k, 0));
    let old = HostLog {
        leaves: log.leaves.clone(),
        head: log.head.clone(),
    };
    log.append(&signer, &k, leaf(&k, 1));
    // The host replays the older state: refused.
    assert_eq!(
        with_keys(&k, |keys| signer.append(
            &old.request(leaf(&k, 9)),
            keys,
            NOW
        ))
        .unwrap_err(),
        LogError::Stale
    );
    // The empty log again: refused.
    let empty = HostLog {
        leaves: vec![],
        head: None,
    };
    assert_eq!(
        with_keys(&k, |keys| signer.append(
            &empty.request(leaf(&k, 9)),
            keys,
            NOW
        ))
        .unwrap_err(),
        LogError::Stale
    );
    // A fresh signer (restarted enclave with the same key) accepts the current state.
    let restarted = LogSigner::new();
    log.append(&restarted, &k, leaf(&k, 2));
    assert_eq!(log.leaves.len(), 3);
}

#[test]
fn the_same_append_may_be_retried_but_not_replaced() {
    let k = key(7);
    let signer = LogSigner::new();
    let mut log = HostLog {
        leaves: vec![],
        head: None,
    };
    log.append(&signer, &k, leaf(&k, 0));
    // The enclave signs leaf 1, but the host's commit fails: it retries the same leaf.
    let req = log.request(leaf(&k, 1));
    let first = with_keys(&k, |keys| signer.append(&req, keys, NOW)).unwrap();
    let again = with_keys(&k, |keys| signer.append(&req, keys, NOW)).unwrap();
    assert_eq!(
        (first.leaf_index, first.tree_size),
        (again.leaf_index, again.tree_size)
    );
    // A different leaf in that position would fork the log: refused.
    let other = log.request(leaf(&k, 2));
    assert_eq!(
        with_keys(&k, |keys| signer.append(&other, keys, NOW)).unwrap_err(),
        LogError::Stale
    );
}
