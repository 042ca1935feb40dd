//! `strongroom bundle ANSWER --out FILE` as a process: a valid answer gives a
//! bundle (SPEC.md §6) that parses, carries the right id and verifies; a
//! tampered answer writes nothing and exits 1 with its code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/cli.rs"]
mod cli_common;
mod common;

use cli_common::strongroom_exact;
use common::result_fixture::*;
use strongroom_verifier::{ResultBundle, result_id, verify_result};

#[test]
fn bundle_writes_a_verifiable_bundle_only_for_a_valid_answer() {
    let f = ResultFixture::default();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("dev-root.pem");
    std::fs::write(&root, f.pki.root_pem()).unwrap();
    let pcrs = dir.path().join("pcrs.json");
    std::fs::write(&pcrs, format!(r#"{{"PCR0":"{}"}}"#, "aa".repeat(48))).unwrap();
    let (root, pcrs) = (root.display().to_string(), pcrs.display().to_string());
    let answer = dir.path().join("answer.json");
    std::fs::write(&answer, serde_json::to_vec(&f.answer()).unwrap()).unwrap();
    let out = dir.path().join("bundle.json");
    let args = |input: &str, out: &str| {
        strongroom_exact(&[
            "bundle",
            input,
            "--out",
            out,
            "--trust-dev-root",
            &root,
            "--pcrs",
            &pcrs,
            "--json",
        ])
    };

    let run = args(answer.to_str().unwrap(), out.to_str().unwrap());
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let bundle = ResultBundle::parse(&std::fs::read(&out).unwrap()).unwrap();
    bundle.check_envelope().unwrap();
    let cose = b64d(&f.answer().aggregates_signed);
    assert_eq!(bundle.id, result_id(&cose));
    verify_result(&bundle.to_answer(), &f.root(), &f.policy()).unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(printed["id"], bundle.id.as_str());
    // `verify-result` takes the bundle too, and refuses one whose id lies.
    let verify = |file: &str| {
        strongroom_exact(&[
            "verify-result",
            file,
            "--trust-dev-root",
            &root,
            "--pcrs",
            &pcrs,
            "--json",
        ])
    };
    assert_eq!(verify(out.to_str().unwrap()).status.code(), Some(0));
    let mut lying = bundle.clone();
    lying.id = "00".repeat(32);
    let lie = dir.path().join("lying.json");
    std::fs::write(&lie, serde_json::to_vec(&lying).unwrap()).unwrap();
    let run_lie = verify(lie.to_str().unwrap());
    assert_eq!(run_lie.status.code(), Some(1));
    let printed: serde_json::Value = serde_json::from_slice(&run_lie.stdout).unwrap();
    assert_eq!(printed["error"]["code"], "bundle_id_mismatch");

    // Tampered: nothing written, exit 1, the verifier's code.
    let mut bad = f.answer();
    bad.log.leaf_index += 1;
    std::fs::write(&answer, serde_json::to_vec(&bad).unwrap()).unwrap();
    let other = dir.path().join("other.json");
    let run = args(answer.to_str().unwrap(), other.to_str().unwrap());
    assert_eq!(run.status.code(), Some(1));
    assert!(!other.exists(), "no bundle for a refused answer");
    let printed: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(printed["ok"], false);

    // Measurements are insisted on, as by every verifying command.
    let run = strongroom_exact(&["bundle", "-", "--out", "x.json", "--trust-dev-root", &root]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("--pcrs"));
}
