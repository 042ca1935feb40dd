#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;
use crate::c2sp::checkpoint::Checkpoint;
use crate::c2sp::cosignature::CosignatureSigner;
use crate::c2sp::note::{NoteError, NoteSigner};

const ORIGIN: &str = "example.com/log";

fn entries(n: u8) -> Vec<Vec<u8>> {
    (0..n).map(|i| vec![i; 3]).collect()
}

/// A proof for entry `index` of a log of `n` entries, cosigned by witnesses 1 and 2.
fn proof(n: u8, index: u64, extra: Option<Vec<u8>>) -> (TlogProof, LogPolicy) {
    let leaves: Vec<Hash> = entries(n).iter().map(|e| merkle::leaf_hash(e)).collect();
    let cp = Checkpoint::new(ORIGIN, u64::from(n), merkle::root(&leaves), vec![]).unwrap();
    let log = NoteSigner::from_seed(ORIGIN, &[50; 32]).unwrap();
    let mut signed = SignedCheckpoint::new(cp).unwrap();
    log.sign(signed.note_mut()).unwrap();
    let mut witnesses = Vec::new();
    for i in 1..=2u8 {
        let w = CosignatureSigner::from_seed(&format!("w{i}.example"), &[i; 32]).unwrap();
        let sig = w.cosign(signed.checkpoint(), 1_700_000_000).unwrap();
        signed.note_mut().add_signature(sig).unwrap();
        witnesses.push(w.verifier_key().unwrap());
    }
    let inclusion = merkle::inclusion_proof(&leaves, index).unwrap();
    let policy = LogPolicy {
        origin: ORIGIN.to_owned(),
        log_key: log.verifier_key(),
        witnesses: WitnessPolicy::new(witnesses, 2).unwrap(),
    };
    (
        TlogProof::new(extra, index, inclusion, signed).unwrap(),
        policy,
    )
}

#[test]
fn verifies_and_refuses() {
    let (p, policy) = proof(7, 5, Some(b"ctx".to_vec()));
    let parsed = TlogProof::parse(p.format().as_bytes()).unwrap();
    assert_eq!(parsed, p);
    let v = parsed.verify(&[5; 3], &policy).unwrap();
    assert_eq!((v.index, v.tree_size, v.cosignatures.len()), (5, 7, 2));
    // Another entry.
    assert!(matches!(
        parsed.verify(&[4; 3], &policy),
        Err(ProofError::Inclusion(_))
    ));
    // Another origin.
    let mut other = policy.clone();
    other.origin = "example.com/other".to_owned();
    assert!(matches!(
        parsed.verify(&[5; 3], &other),
        Err(ProofError::Checkpoint(_))
    ));
    // A log key that did not sign.
    other = policy.clone();
    other.log_key = NoteSigner::from_seed(ORIGIN, &[51; 32])
        .unwrap()
        .verifier_key();
    let err = parsed.verify(&[5; 3], &other);
    assert_eq!(
        err,
        Err(ProofError::Checkpoint(NoteError::VerificationFailed.into()))
    );
    // A quorum of three when two cosigned.
    other = policy.clone();
    let mut ws = policy.witnesses.witnesses().to_vec();
    ws.push(
        CosignatureSigner::from_seed("w3.example", &[3; 32])
            .unwrap()
            .verifier_key()
            .unwrap(),
    );
    other.witnesses = WitnessPolicy::new(ws, 3).unwrap();
    assert!(matches!(
        parsed.verify(&[5; 3], &other),
        Err(ProofError::Cosignature(_))
    ));
}

#[test]
fn malformed_proofs_refused() {
    let (p, _) = proof(4, 1, None);
    let text = p.format();
    let cases = [
        text.replacen(PROOF_HEADER, "c2sp.org/tlog-proof@v2", 1),
        text.replacen("index 1", "index 01", 1),
        text.replacen("index 1", "index  1", 1),
        text.replacen("index 1\n", "index 1\n\n", 1), // empty hash line
        text.replacen("index 1\n", "extra AA\nindex 1\n", 1), // extra after index... bad b64
        text.replacen("index 1\n", "index 1\nextra AAAA\n", 1), // extra after index
        format!("{text}\n"),                          // trailing blank line
        format!("{text}x"),                           // trailing data
        text.replacen(&format!("{PROOF_HEADER}\n"), "", 1),
    ];
    for case in &cases {
        assert!(
            TlogProof::parse(case.as_bytes()).is_err(),
            "accepted {case:?}"
        );
    }
}

#[test]
fn limits() {
    let (p, _) = proof(4, 1, Some(vec![7; MAX_EXTRA_LEN]));
    assert_eq!(TlogProof::parse(p.format().as_bytes()).unwrap(), p);
    let over = TlogProof::new(
        Some(vec![7; MAX_EXTRA_LEN + 1]),
        1,
        vec![],
        p.checkpoint().clone(),
    );
    assert_eq!(over, Err(ProofError::TooLong));
    let text = p.format().replacen("extra ", "extra AAAA", 1);
    assert_eq!(TlogProof::parse(text.as_bytes()), Err(ProofError::TooLong));
    let long = TlogProof::new(
        None,
        1,
        vec![[0; 32]; MAX_PROOF_LEN + 1],
        p.checkpoint().clone(),
    );
    assert_eq!(long, Err(ProofError::TooLong));
    let hashes = format!("{}\n", B64.encode([0u8; 32])).repeat(MAX_PROOF_LEN + 1);
    let text = format!(
        "{PROOF_HEADER}\nindex 0\n{hashes}\n{}",
        p.checkpoint().format()
    );
    assert_eq!(TlogProof::parse(text.as_bytes()), Err(ProofError::TooLong));
    let huge = vec![b'a'; MAX_TLOG_PROOF_LEN + 1];
    assert_eq!(TlogProof::parse(&huge), Err(ProofError::TooLong));
}

proptest! {
    #[test]
    fn round_trip_and_verify(n in 1u8..40, i in any::<u64>(), extra in prop::option::of(prop::collection::vec(any::<u8>(), 0..64))) {
        let index = i % u64::from(n);
        let (p, policy) = proof(n, index, extra);
        let parsed = TlogProof::parse(p.format().as_bytes()).unwrap();
        prop_assert_eq!(&parsed, &p);
        prop_assert!(parsed.verify(&[index as u8; 3], &policy).is_ok());
    }
}
