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

const ORIGIN: &str = "strongroom.test/log/0011223344556677";

fn note_signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[5u8; 32]).unwrap()
}

/// Runs `f` with log keys made from a bare signing key (ring version 1).
fn with_keys<R>(k: &SigningKey, f: impl FnOnce(&LogKeys<'_>) -> R) -> R {
    with_ring_version(k, 1, f)
}

fn with_ring_version<R>(k: &SigningKey, ring_version: u64, f: impl FnOnce(&LogKeys<'_>) -> R) -> R {
    let verifying = VerifyingKey::from(k);
    let sign = |p: &[u8], kid: &str| sign_es256(p, kid, k);
    let note = note_signer();
    f(&LogKeys {
        verifying: &verifying,
        sign: &sign,
        key_id: "v1:test",
        note: &note,
        ring_version,
    })
}

fn leaf(k: &SigningKey, n: u32) -> Vec<u8> {
    sign_es256(&n.to_be_bytes(), "v1:test", k)
}

/// Host-side state: all leaves and the last head.
struct HostLog {
    leaves: Vec<Vec<u8>>,
    head: Option<Vec<u8>>,
    checkpoint: Option<String>,
}

impl HostLog {
    fn empty() -> Self {
        Self {
            leaves: vec![],
            head: None,
            checkpoint: None,
        }
    }

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
            checkpoint: self.checkpoint.clone(),
        }
    }

    fn append(&mut self, signer: &LogSigner, k: &SigningKey, leaf: Vec<u8>) -> LogAppended {
        let req = self.request(leaf.clone());
        let out = with_keys(k, |keys| signer.append(&req, keys, NOW)).unwrap();
        self.leaves.push(leaf);
        self.head = Some(out.tree_head.clone());
        self.checkpoint = Some(out.checkpoint.clone());
        out
    }
}

#[test]
fn appends_produce_heads_whose_roots_match_and_include_the_leaf() {
    let k = key(7);
    let signer = LogSigner::new();
    let mut log = HostLog::empty();
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
    let mut log = HostLog::empty();
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
    let mut log = HostLog::empty();
    log.append(&signer, &k, leaf(&k, 0));
    let old = HostLog {
        leaves: log.leaves.clone(),
        head: log.head.clone(),
        checkpoint: log.checkpoint.clone(),
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
    let empty = HostLog::empty();
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
    let mut log = HostLog::empty();
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

fn witness(n: u8) -> strongroom_formats::c2sp::cosignature::CosignatureSigner {
    let name = format!("witness.test/w{n}");
    strongroom_formats::c2sp::cosignature::CosignatureSigner::from_seed(&name, &[40 + n; 32])
        .unwrap()
}

fn cosign(checkpoint: &str, by: &[u8]) -> String {
    let mut signed = SignedCheckpoint::parse(checkpoint.as_bytes()).unwrap();
    for n in by {
        let w = witness(*n);
        let line = w.cosign(signed.checkpoint(), 1_700_000_000).unwrap();
        signed.note_mut().add_signature(line).unwrap();
    }
    signed.format()
}

fn quorum_of_two() -> LogSigner {
    let keys = vec![
        witness(1).verifier_key().unwrap(),
        witness(2).verifier_key().unwrap(),
        witness(3).verifier_key().unwrap(),
    ];
    LogSigner::with_witnesses(WitnessPolicy::new(keys, 2).unwrap())
}

#[test]
fn checkpoints_are_signed_notes_of_the_new_state_naming_the_ring_version() {
    let k = key(7);
    let signer = LogSigner::new();
    let mut log = HostLog::empty();
    for n in 0..3u32 {
        let out = log.append(&signer, &k, leaf(&k, n));
        assert_eq!(out.witness_quorum, 0);
        let signed = SignedCheckpoint::parse(out.checkpoint.as_bytes()).unwrap();
        let vkey = note_signer().verifier_key();
        let cp = signed.verify_log(ORIGIN, &vkey).unwrap();
        let hashes: Vec<Hash> = log.leaves.iter().map(|l| leaf_hash(l)).collect();
        assert_eq!(cp.size(), u64::from(n) + 1);
        assert_eq!(cp.root_hash(), &root(&hashes));
        assert_eq!(ring_version_of(cp), Some(1));
    }
}

#[test]
fn with_witnesses_a_state_needs_its_checkpoint_cosigned_by_the_quorum() {
    let k = key(7);
    let signer = quorum_of_two();
    let mut log = HostLog::empty();
    // The empty log needs nothing.
    let first = log.append(&signer, &k, leaf(&k, 0));
    assert_eq!(first.witness_quorum, 2);
    let append = |log: &HostLog, n: u32| {
        with_keys(&k, |keys| {
            signer.append(&log.request(leaf(&k, n)), keys, NOW)
        })
    };
    // Signed by the log only, one cosignature, two of them by one witness,
    // a witness outside the policy: refused.
    for by in [&[][..], &[1], &[2, 2], &[1, 4]] {
        log.checkpoint = Some(cosign(&first.checkpoint, by));
        assert_eq!(
            append(&log, 1).unwrap_err(),
            LogError::NotWitnessed,
            "{by:?}"
        );
    }
    log.checkpoint = None;
    assert_eq!(append(&log, 1).unwrap_err(), LogError::NotWitnessed);
    // A cosigned checkpoint of another state (size 1, another root): refused.
    let mut other = HostLog::empty();
    let other_first = other.append(&LogSigner::new(), &k, leaf(&k, 99));
    log.checkpoint = Some(cosign(&other_first.checkpoint, &[1, 2]));
    assert_eq!(append(&log, 1).unwrap_err(), LogError::NotWitnessed);
    // Two of the three: accepted.
    log.checkpoint = Some(cosign(&first.checkpoint, &[3, 1]));
    let second = append(&log, 1).unwrap();
    assert_eq!(second.tree_size, 2);
}

#[test]
fn a_cosigned_checkpoint_of_a_newer_ring_refuses_an_older_ring() {
    let k = key(7);
    let signer = quorum_of_two();
    let mut log = HostLog::empty();
    let req = log.request(leaf(&k, 0));
    let first = with_ring_version(&k, 5, |keys| signer.append(&req, keys, NOW)).unwrap();
    log.leaves.push(leaf(&k, 0));
    log.head = Some(first.tree_head.clone());
    log.checkpoint = Some(cosign(&first.checkpoint, &[1, 2]));
    let next = log.request(leaf(&k, 1));
    // The ring the host brought back (version 4) is older than the log's.
    let stale = LogSigner::with_witnesses(quorum_of_two().witnesses.clone());
    let refused = with_ring_version(&k, 4, |keys| stale.append(&next, keys, NOW));
    assert_eq!(refused.unwrap_err(), LogError::RingRolledBack);
    let ok = with_ring_version(&k, 6, |keys| stale.append(&next, keys, NOW)).unwrap();
    assert_eq!(ok.tree_size, 2);
}
