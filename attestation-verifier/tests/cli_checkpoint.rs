//! `strongroom verify-checkpoint` and `verify-proof` as processes: a
//! checkpoint cosigned by a quorum passes; one witness short, a foreign log,
//! a wrong entry or a malformed policy are refused with their codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use strongroom_formats::c2sp::checkpoint::{Checkpoint, SignedCheckpoint};
use strongroom_formats::c2sp::cosignature::CosignatureSigner;
use strongroom_formats::c2sp::note::NoteSigner;
use strongroom_formats::c2sp::proof::TlogProof;
use strongroom_formats::merkle::{self, Hash};

const ORIGIN: &str = "strongroom.test/log";

fn strongroom(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), json)
}

fn witnesses() -> Vec<CosignatureSigner> {
    (1..=3u8)
        .map(|i| CosignatureSigner::from_seed(&format!("w{i}.test"), &[i; 32]).unwrap())
        .collect()
}

fn leaves() -> Vec<Hash> {
    (0..7u8).map(|i| merkle::leaf_hash(&[i])).collect()
}

fn checkpoint(cosigners: &[usize]) -> SignedCheckpoint {
    let cp = Checkpoint::new(ORIGIN, 7, merkle::root(&leaves()), vec![]).unwrap();
    let mut s = SignedCheckpoint::new(cp).unwrap();
    NoteSigner::from_seed(ORIGIN, &[50; 32])
        .unwrap()
        .sign(s.note_mut())
        .unwrap();
    let w = witnesses();
    for i in cosigners {
        let line = w[*i].cosign(s.checkpoint(), 1_700_000_000).unwrap();
        s.note_mut().add_signature(line).unwrap();
    }
    s
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

fn policy(dir: &Path) -> String {
    let log = NoteSigner::from_seed(ORIGIN, &[50; 32])
        .unwrap()
        .verifier_key();
    let mut text = format!("log {log}\n");
    for (i, w) in witnesses().iter().enumerate() {
        text.push_str(&format!("witness W{i} {}\n", w.verifier_key().unwrap()));
    }
    text.push_str("group two-of-three 2 W0 W1 W2\nquorum two-of-three\n");
    write(dir, "policy.txt", text)
}

#[test]
fn checkpoints_under_a_witness_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path());
    let good = write(dir.path(), "good.txt", checkpoint(&[0, 2]).format());
    let (code, j) = strongroom(&["verify-checkpoint", &good, "--policy", &policy]);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["size"], 7);
    assert_eq!(j["witnesses"], serde_json::json!(["W0", "W2"]));
    let short = write(dir.path(), "short.txt", checkpoint(&[1]).format());
    let (code, j) = strongroom(&["verify-checkpoint", &short, "--policy", &policy]);
    assert_eq!(
        (code, j["error"]["code"].as_str()),
        (1, Some("checkpoint_refused"))
    );
    let bad_policy = write(dir.path(), "bad.txt", "quorum nobody\n");
    let (code, j) = strongroom(&["verify-checkpoint", &good, "--policy", &bad_policy]);
    assert_eq!((code, j["error"]["code"].as_str()), (2, Some("bad_policy")));
}

#[test]
fn proofs_under_a_witness_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path());
    let inclusion = merkle::inclusion_proof(&leaves(), 3).unwrap();
    let proof = TlogProof::new(None, 3, inclusion, checkpoint(&[0, 1, 2])).unwrap();
    let proof = write(dir.path(), "proof.txt", proof.format());
    let entry = write(dir.path(), "entry.bin", [3u8]);
    let args = ["verify-proof", &proof, "--policy", &policy, "--entry"];
    let (code, j) = strongroom(&[&args[..], &[&entry]].concat());
    assert_eq!(code, 0, "{j}");
    assert_eq!(
        (j["index"].as_u64(), j["size"].as_u64()),
        (Some(3), Some(7))
    );
    let other = write(dir.path(), "other.bin", [4u8]);
    let (code, j) = strongroom(&[&args[..], &[&other]].concat());
    assert_eq!(
        (code, j["error"]["code"].as_str()),
        (1, Some("proof_refused"))
    );
}
