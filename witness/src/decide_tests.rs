#![allow(clippy::unwrap_used)]

use super::*;
use strongroom_formats::c2sp::checkpoint::{Checkpoint, SignedCheckpoint};
use strongroom_formats::c2sp::note::NoteSigner;

const ORIGIN: &str = "example.com/log";

fn leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
        .collect()
}

fn log() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap()
}

fn checkpoint(size: u64, root: Hash, signer: &NoteSigner) -> SignedCheckpoint {
    let cp = Checkpoint::new(ORIGIN, size, root, vec![]).unwrap();
    let mut s = SignedCheckpoint::new(cp).unwrap();
    signer.sign(s.note_mut()).unwrap();
    s
}

fn request(old: u64, new: u64) -> AddCheckpoint {
    let all = leaves(new);
    let proof = if old == 0 {
        vec![]
    } else {
        merkle::consistency_proof(&all, old).unwrap()
    };
    AddCheckpoint {
        old_size: old,
        proof,
        checkpoint: checkpoint(new, merkle::root(&all), &log()),
    }
}

fn recorded(size: u64) -> Recorded {
    Recorded {
        size,
        root: merkle::root(&leaves(size)),
    }
}

#[test]
fn a_consistent_extension_passes() {
    let keys = [log().verifier_key()];
    for (old, new) in [(0, 0), (0, 5), (5, 5), (5, 6), (5, 1000), (1, 2)] {
        let req = request(old, new);
        authenticate(&req, Some(&keys)).unwrap();
        check_consistency(&req, &recorded(old)).unwrap_or_else(|e| panic!("{old}->{new}: {e}"));
    }
}

#[test]
fn unknown_origin_and_bad_signatures_are_404_and_403() {
    let req = request(0, 3);
    assert_eq!(authenticate(&req, None).unwrap_err().status(), 404);
    assert_eq!(authenticate(&req, Some(&[])).unwrap_err().status(), 404);
    let other = NoteSigner::from_seed(ORIGIN, &[2; 32]).unwrap();
    let keys = [other.verifier_key()];
    assert_eq!(
        authenticate(&req, Some(&keys)).unwrap_err(),
        Refusal::BadSignature
    );
}

#[test]
fn a_fork_a_rollback_and_a_stale_old_size_are_refused() {
    // Fork: same size, another root.
    let mut fork = request(5, 5);
    fork.checkpoint = checkpoint(5, [9; 32], &log());
    assert_eq!(
        check_consistency(&fork, &recorded(5)),
        Err(Refusal::Inconsistent)
    );
    // Rollback: the witness has 8, the log claims it had 5.
    assert_eq!(
        check_consistency(&request(5, 6), &recorded(8)),
        Err(Refusal::Conflict { recorded: 8 })
    );
    // A history that does not extend the recorded one.
    let mut other = request(5, 9);
    let forked: Vec<Hash> = (0..9).map(|i| merkle::leaf_hash(&[i as u8, 1])).collect();
    other.checkpoint = checkpoint(9, merkle::root(&forked), &log());
    assert_eq!(
        check_consistency(&other, &recorded(5)),
        Err(Refusal::Inconsistent)
    );
    // old > new, a proof from 0, a non-empty root of size 0.
    let mut backwards = request(5, 6);
    backwards.old_size = 7;
    assert_eq!(
        check_consistency(&backwards, &recorded(7))
            .unwrap_err()
            .status(),
        400
    );
    let mut proof_from_zero = request(0, 4);
    proof_from_zero.proof = vec![[1; 32]];
    assert_eq!(
        check_consistency(&proof_from_zero, &recorded(0)),
        Err(Refusal::Inconsistent)
    );
    let mut zero = request(0, 0);
    zero.checkpoint = checkpoint(0, [3; 32], &log());
    assert_eq!(
        check_consistency(&zero, &recorded(0)),
        Err(Refusal::Inconsistent)
    );
}
