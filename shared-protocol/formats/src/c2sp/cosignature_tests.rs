#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::c2sp::checkpoint::SignedCheckpoint;
use crate::c2sp::note::NoteSigner;

const T: u64 = 1_700_000_000;

fn witness(i: u8) -> CosignatureSigner {
    CosignatureSigner::from_seed(&format!("witness{i}.example"), &[i; 32]).unwrap()
}

fn checkpoint() -> SignedCheckpoint {
    let cp = Checkpoint::new("example.com/log", 10, [3; 32], vec![]).unwrap();
    let mut signed = SignedCheckpoint::new(cp).unwrap();
    let log = NoteSigner::from_seed("example.com/log", &[99; 32]).unwrap();
    log.sign(signed.note_mut()).unwrap();
    signed
}

fn policy(n: u8, k: usize) -> WitnessPolicy {
    WitnessPolicy::new(
        (1..=n)
            .map(|i| witness(i).verifier_key().unwrap())
            .collect(),
        k,
    )
    .unwrap()
}

fn cosign(signed: &mut SignedCheckpoint, i: u8) {
    let sig = witness(i)
        .cosign(signed.checkpoint(), T + u64::from(i))
        .unwrap();
    signed.note_mut().add_signature(sig).unwrap();
}

#[test]
fn quorum_counts_distinct_valid_witnesses() {
    let mut signed = checkpoint();
    cosign(&mut signed, 1);
    cosign(&mut signed, 1); // twice: counts once
    cosign(&mut signed, 7); // not in the policy: ignored
    let p = policy(3, 2);
    let err = p.check_quorum(signed.note());
    assert_eq!(err, Err(CosignatureError::QuorumNotMet { got: 1, need: 2 }));
    cosign(&mut signed, 3);
    let parsed = SignedCheckpoint::parse(signed.format().as_bytes()).unwrap();
    let got = p.check_quorum(parsed.note()).unwrap();
    let names: Vec<_> = got.iter().map(|c| (c.name.as_str(), c.timestamp)).collect();
    assert_eq!(
        names,
        [("witness1.example", T + 1), ("witness3.example", T + 3)]
    );
}

#[test]
fn bad_cosignature_from_a_policy_witness_refuses() {
    let mut signed = checkpoint();
    cosign(&mut signed, 1);
    cosign(&mut signed, 2);
    let w = witness(3);
    // A cosignature over another checkpoint, put on this one.
    let other = Checkpoint::new("example.com/log", 11, [3; 32], vec![]).unwrap();
    signed
        .note_mut()
        .add_signature(w.cosign(&other, T).unwrap())
        .unwrap();
    let err = policy(3, 2).check_quorum(signed.note());
    assert_eq!(
        err,
        Err(CosignatureError::Note(NoteError::VerificationFailed))
    );
}

#[test]
fn cosignature_verifies_as_a_note_signature() {
    let mut signed = checkpoint();
    cosign(&mut signed, 1);
    let vkey = witness(1).verifier_key().unwrap();
    let parsed = VerifierKey::parse(&vkey.to_string()).unwrap();
    assert_eq!(parsed.kind(), KeyType::CosignatureV1);
    assert_eq!(signed.note().verify(&[parsed]).unwrap().len(), 1);
    // The log's Ed25519 key ID differs from a cosignature key ID for the
    // same name and key (type byte 0x01 vs 0x04).
    let pk = vkey.public_key().as_bytes();
    assert_ne!(key_id(vkey.name(), 0x01, pk), vkey.key_id());
}

#[test]
fn timestamps() {
    let cp = checkpoint();
    let w = witness(1);
    assert!(w.cosign(cp.checkpoint(), MAX_TIMESTAMP).is_ok());
    assert_eq!(
        w.cosign(cp.checkpoint(), MAX_TIMESTAMP + 1),
        Err(CosignatureError::Timestamp)
    );
    let mut raw = (MAX_TIMESTAMP + 1).to_be_bytes().to_vec();
    raw.extend([0; 64]);
    assert!(split_timestamped(&raw).is_none());
    assert!(split_timestamped(&raw[1..]).is_none());
}

#[test]
fn policy_rules() {
    let keys: Vec<_> = (1..=2)
        .map(|i| witness(i).verifier_key().unwrap())
        .collect();
    assert!(WitnessPolicy::new(keys.clone(), 0).is_err());
    assert!(WitnessPolicy::new(keys.clone(), 3).is_err());
    let dup = vec![keys[0].clone(), keys[0].clone()];
    assert_eq!(
        WitnessPolicy::new(dup, 1),
        Err(CosignatureError::InvalidPolicy)
    );
    let log = NoteSigner::from_seed("example.com/log", &[99; 32])
        .unwrap()
        .verifier_key();
    assert_eq!(
        WitnessPolicy::new(vec![log], 1),
        Err(CosignatureError::NotCosignatureKey)
    );
    let none = WitnessPolicy::danger_no_witnesses();
    assert!(none.check_quorum(checkpoint().note()).unwrap().is_empty());
    assert_eq!(format!("{:?}", witness(1)), "CosignatureSigner");
}
