#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::c2sp::checkpoint::Checkpoint;
use crate::c2sp::cosignature::CosignatureSigner;
use crate::c2sp::note::NoteSigner;

const ORIGIN: &str = "example.com/log";

fn log() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[100; 32]).unwrap()
}

fn witness(name: &str) -> CosignatureSigner {
    let seed = name
        .bytes()
        .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    CosignatureSigner::from_seed(&format!("{name}.example"), &[seed; 32]).unwrap()
}

fn vkey(name: &str) -> String {
    witness(name).verifier_key().unwrap().to_string()
}

/// The spec's example, with real keys.
fn example() -> String {
    let mut p = format!("log {}\n\n", log().verifier_key());
    for w in ["X1", "X2", "X3"] {
        p.push_str(&format!("witness {w} {}\n", vkey(w)));
    }
    p.push_str("group X-witnesses 2 X1 X2 X3\n\n");
    for w in ["Y1", "Y2", "Y3"] {
        p.push_str(&format!(
            "  witness\t{w} {} https://{w}.example/\n",
            vkey(w)
        ));
    }
    p.push_str("group Y-witnesses any Y1 Y2 Y3\n# comment\n");
    p.push_str("group X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n");
    p
}

fn leaves() -> Vec<Hash> {
    (0..6u8).map(|i| merkle::leaf_hash(&[i])).collect()
}

fn cosigned_by(names: &[&str]) -> SignedCheckpoint {
    let cp = Checkpoint::new(ORIGIN, 6, merkle::root(&leaves()), vec![]).unwrap();
    let mut s = SignedCheckpoint::new(cp).unwrap();
    log().sign(s.note_mut()).unwrap();
    for n in names {
        let line = witness(n).cosign(s.checkpoint(), 1_700_000_000).unwrap();
        s.note_mut().add_signature(line).unwrap();
    }
    s
}

#[test]
fn the_spec_example_two_level_quorum() {
    let policy = TlogPolicy::parse(example().as_bytes()).unwrap();
    assert_eq!(policy.logs().len(), 1);
    assert_eq!(policy.witnesses().len(), 6);
    assert_eq!(
        policy.witnesses()[3].url.as_deref(),
        Some("https://Y1.example/")
    );
    let ok = policy
        .verify_checkpoint(&cosigned_by(&["X1", "X3", "Y2"]))
        .unwrap();
    assert_eq!((ok.size, ok.cosignatures.len()), (6, 3));
    assert_eq!(ok.cosignatures[0].name, "X1");
    for short in [
        &["X1", "Y1"][..],
        &["X1", "X2", "X3"],
        &["Y1", "Y2", "Y3", "X2"],
        &[],
    ] {
        assert!(
            matches!(
                policy.verify_checkpoint(&cosigned_by(short)),
                Err(PolicyVerifyError::QuorumNotMet(_))
            ),
            "{short:?}"
        );
    }
}

#[test]
fn quorum_none_needs_only_the_log_and_the_log_must_match() {
    let policy = format!("log {}\nquorum none\n", log().verifier_key());
    let policy = TlogPolicy::parse(policy.as_bytes()).unwrap();
    policy.verify_checkpoint(&cosigned_by(&[])).unwrap();
    let impostor = NoteSigner::from_seed(ORIGIN, &[9; 32]).unwrap();
    let other = format!("log {}\nquorum none\n", impostor.verifier_key());
    let other = TlogPolicy::parse(other.as_bytes()).unwrap();
    assert!(matches!(
        other.verify_checkpoint(&cosigned_by(&[])),
        Err(PolicyVerifyError::Checkpoint(_))
    ));
    let elsewhere = NoteSigner::from_seed("elsewhere.example/log", &[9; 32]).unwrap();
    let elsewhere = format!("log {}\nquorum none\n", elsewhere.verifier_key());
    let elsewhere = TlogPolicy::parse(elsewhere.as_bytes()).unwrap();
    assert_eq!(
        elsewhere.verify_checkpoint(&cosigned_by(&[])),
        Err(PolicyVerifyError::UnknownLog)
    );
}

#[test]
fn proofs_verify_under_the_policy() {
    let policy = TlogPolicy::parse(example().as_bytes()).unwrap();
    let inclusion = merkle::inclusion_proof(&leaves(), 4).unwrap();
    let proof = TlogProof::new(None, 4, inclusion, cosigned_by(&["X1", "X2", "Y3"])).unwrap();
    let v = policy.verify_proof(&proof, &[4]).unwrap();
    assert_eq!((v.index, v.tree_size), (4, 6));
    assert_eq!(
        policy.verify_proof(&proof, &[5]),
        Err(PolicyVerifyError::Inclusion)
    );
}

#[test]
fn refuses_what_the_spec_forbids() {
    let x1 = format!("witness X1 {}\n", vkey("X1"));
    let x2 = format!("witness X2 {}\n", vkey("X2"));
    let logk = log().verifier_key();
    let cases: Vec<(String, PolicyError)> = vec![
        (x1.clone(), PolicyError::Quorum),
        (format!("{x1}quorum X1\nquorum X1\n"), PolicyError::Quorum),
        ("quorum X1\n".into(), PolicyError::Name(1)),
        (
            format!("{x1}group G 1 X1 H\ngroup H 1 X1\nquorum G\n"),
            PolicyError::Name(2),
        ),
        (
            format!("{x1}group G 1 X1 X1\nquorum G\n"),
            PolicyError::Group(2),
        ),
        (
            format!("{x1}{x2}group G 0 X1 X2\nquorum G\n"),
            PolicyError::Group(3),
        ),
        (
            format!("{x1}{x2}group G 3 X1 X2\nquorum G\n"),
            PolicyError::Group(3),
        ),
        (
            format!("{x1}{x2}group G 01 X1 X2\nquorum G\n"),
            PolicyError::Group(3),
        ),
        (
            format!("{x1}group G any none\nquorum G\n"),
            PolicyError::Name(2),
        ),
        (
            format!("{x1}group G any\nquorum G\n"),
            PolicyError::Malformed(2),
        ),
        (
            format!("witness none {}\nquorum none\n", vkey("X1")),
            PolicyError::Name(1),
        ),
        (format!("{x1}{x1}quorum X1\n"), PolicyError::Name(2)),
        (
            format!("{x1}witness X9 {}\nquorum X1\n", vkey("X1")),
            PolicyError::DuplicateKey(2),
        ),
        (
            format!("log {logk}\nlog {logk}\nquorum none\n"),
            PolicyError::DuplicateKey(2),
        ),
        (
            format!("log {}\nquorum none\n", vkey("X1")),
            PolicyError::Key(1),
        ),
        (
            format!("witness X1 {logk}\nquorum none\n"),
            PolicyError::Key(1),
        ),
        ("logs x\nquorum none\n".into(), PolicyError::Malformed(1)),
        ("quorum none\r\n".into(), PolicyError::Charset),
        ("quorum none".into(), PolicyError::Charset),
    ];
    for (text, want) in cases {
        assert_eq!(TlogPolicy::parse(text.as_bytes()), Err(want), "{text:?}");
    }
    assert_eq!(
        TlogPolicy::parse(&[b'#'; MAX_POLICY_LEN + 1]),
        Err(PolicyError::TooLarge)
    );
    let mut many = String::new();
    for i in 0..=MAX_POLICY_ITEMS {
        many.push_str(&format!("witness W{i} {}\n", vkey(&format!("W{i}"))));
    }
    many.push_str("quorum none\n");
    assert_eq!(
        TlogPolicy::parse(many.as_bytes()),
        Err(PolicyError::TooLarge)
    );
}
