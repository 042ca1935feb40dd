//! The browser verifier's reports, natively (the same Rust the .wasm runs):
//! a valid bundle passes every step; each refusal names its step and the
//! verifier's code, and the steps after it are not checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/common/devchain.rs"]
mod devchain;
#[path = "../../tests/common/result_fixture.rs"]
mod result_fixture;

use result_fixture::*;
use serde_json::Value;
use strongroom_verifier::ResultBundle;
use strongroom_verifier_wasm::report::{
    verify_attestation_report, verify_checkpoint_report, verify_result_report,
};

const NOW_MS: f64 = 4_000_000_000_000.0; // 2096: any clock after the fixture's documents

fn pcrs() -> String {
    format!(r#"{{"PCR0":"{}"}}"#, "aa".repeat(48))
}

fn bundle_json(f: &ResultFixture, edit: impl FnOnce(&mut ResultBundle)) -> String {
    let mut b = ResultBundle::from_answer(&f.answer()).unwrap();
    edit(&mut b);
    serde_json::to_string(&b).unwrap()
}

fn statuses(r: &Value) -> Vec<String> {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_valid_bundle_passes_every_step_under_its_dev_root() {
    let f = ResultFixture::default();
    let root = f.pki.root_pem();
    let r = verify_result_report(
        &bundle_json(&f, |_| {}),
        &pcrs(),
        NOW_MS,
        None,
        Some(&root),
        None,
    );
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["root"], "dev");
    let st = statuses(&r);
    assert!(st[..st.len() - 1].iter().all(|s| s == "passed"), "{st:?}");
    // No tlog-policy given: the witnessed log is not checked (and says so).
    assert_eq!(st.last().map(String::as_str), Some("not_checked"));
    assert_eq!(r["witnessed"], serde_json::Value::Null);
    assert_eq!(r["payload"], f.answer().aggregates);
    assert_eq!(r["tlog_proof"], "absent");
    // Given one, a bundle without a tlog-proof fails closed at that step.
    let policy = "quorum none\n";
    let r = verify_result_report(
        &bundle_json(&f, |_| {}),
        &pcrs(),
        NOW_MS,
        None,
        Some(&root),
        Some(policy),
    );
    assert_eq!(
        (r["ok"].clone(), r["step"].clone()),
        (false.into(), "witnesses".into())
    );
    assert_eq!(r["code"], "no_tlog_proof");
}

#[test]
#[allow(clippy::type_complexity)]
fn each_refusal_names_its_step_and_code() {
    let f = ResultFixture::default();
    let root = f.pki.root_pem();
    let cases: Vec<(String, String, Option<f64>, Option<&str>, &str, &str)> = vec![
        (
            "{".into(),
            pcrs(),
            None,
            Some(&root),
            "bundle",
            "answer_json",
        ),
        (
            bundle_json(&f, |b| b.id = "00".repeat(32)),
            pcrs(),
            None,
            Some(&root),
            "bundle",
            "bundle_id_mismatch",
        ),
        (
            bundle_json(&f, |_| {}),
            pcrs(),
            None,
            None,
            "root",
            "root_mismatch",
        ),
        (
            bundle_json(&f, |_| {}),
            format!(r#"{{"PCR0":"{}"}}"#, "bb".repeat(48)),
            None,
            Some(&root),
            "pcrs",
            "pcrs_not_allowed",
        ),
        (
            bundle_json(&f, |_| {}),
            "not json".into(),
            None,
            Some(&root),
            "pcrs",
            "pcrs_file",
        ),
        (
            bundle_json(&f, |b| b.payload["label"] = "other".into()),
            pcrs(),
            None,
            Some(&root),
            "result",
            "aggregates_mismatch",
        ),
        (
            bundle_json(&f, |b| b.log.leaf_index += 1),
            pcrs(),
            None,
            Some(&root),
            "log",
            "inclusion_proof",
        ),
        (
            bundle_json(&f, |_| {}),
            pcrs(),
            Some(NOW_MS),
            Some(&root),
            "attestation",
            "certificate_expired",
        ),
    ];
    for (bundle, pcrs, at, root, step, code) in cases {
        let r = verify_result_report(&bundle, &pcrs, NOW_MS, at, root, None);
        assert_eq!(
            (r["ok"].clone(), r["step"].as_str(), r["code"].as_str()),
            (false.into(), Some(step), Some(code)),
            "{r}"
        );
        let s = statuses(&r);
        let failed = s.iter().position(|x| x == "failed").unwrap();
        assert!(
            s[..failed].iter().all(|x| x == "passed")
                && s[failed + 1..].iter().all(|x| x == "not_checked"),
            "{s:?}"
        );
    }
    // A document dated after the verifier's clock.
    let r = verify_result_report(
        &bundle_json(&f, |_| {}),
        &pcrs(),
        0.0,
        None,
        Some(&root),
        None,
    );
    assert_eq!(r["code"], "from_the_future");
}

#[test]
fn a_real_nitro_document_verifies_under_the_pinned_aws_root_only_at_a_valid_time() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/nitro");
    let mut path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cbor"))
        .filter(|p| p.to_string_lossy().contains("_prod_"))
        .collect::<Vec<_>>();
    path.sort();
    let doc = std::fs::read(&path[0]).unwrap();
    let info = strongroom_verifier::inspect_unverified(&doc).unwrap();
    let pcr0 = hex_of(&info.pcrs[&0]);
    let pcrs = format!(r#"{{"PCR0":"{pcr0}"}}"#);
    let at = info.timestamp_ms as f64;
    let r = verify_attestation_report(&doc, &pcrs, at, None, None);
    assert_eq!(
        (r["ok"].clone(), r["root"].clone()),
        (true.into(), "aws".into()),
        "{r}"
    );
    // A dev root is never used for a document that chains to AWS.
    let f = ResultFixture::default();
    let r = verify_attestation_report(&doc, &pcrs, at, None, Some(&f.pki.root_pem()));
    assert_eq!(r["root"], "aws", "{r}");
    let r = verify_attestation_report(&doc, &pcrs, NOW_MS, None, None);
    assert_eq!(r["code"], "certificate_expired", "{r}");
}

/// A checkpoint of `ORIGIN` cosigned by `cosigners` of three witnesses, and
/// a two-of-three policy (as `strongroom verify-checkpoint` is tested).
fn checkpoint_and_policy(cosigners: &[usize]) -> (String, String) {
    use strongroom_formats::c2sp::checkpoint::{Checkpoint, SignedCheckpoint};
    use strongroom_formats::c2sp::cosignature::CosignatureSigner;
    use strongroom_formats::c2sp::note::NoteSigner;
    const ORIGIN: &str = "strongroom.test/log";
    let leaves: Vec<_> = (0..7u8)
        .map(|i| strongroom_formats::merkle::leaf_hash(&[i]))
        .collect();
    let cp = Checkpoint::new(ORIGIN, 7, strongroom_formats::merkle::root(&leaves), vec![]).unwrap();
    let mut signed = SignedCheckpoint::new(cp).unwrap();
    let log = NoteSigner::from_seed(ORIGIN, &[50; 32]).unwrap();
    log.sign(signed.note_mut()).unwrap();
    let witnesses: Vec<_> = (1..=3u8)
        .map(|i| CosignatureSigner::from_seed(&format!("w{i}.test"), &[i; 32]).unwrap())
        .collect();
    for i in cosigners {
        let line = witnesses[*i]
            .cosign(signed.checkpoint(), 1_700_000_000)
            .unwrap();
        signed.note_mut().add_signature(line).unwrap();
    }
    let mut policy = format!("log {}\n", log.verifier_key());
    for (i, w) in witnesses.iter().enumerate() {
        policy.push_str(&format!("witness W{i} {}\n", w.verifier_key().unwrap()));
    }
    policy.push_str("group two-of-three 2 W0 W1 W2\nquorum two-of-three\n");
    (signed.format(), policy)
}

#[test]
fn checkpoints_pass_with_a_quorum_only() {
    let (good, policy) = checkpoint_and_policy(&[0, 2]);
    let r = verify_checkpoint_report(&good, &policy);
    assert_eq!(
        (r["ok"].clone(), r["size"].clone()),
        (true.into(), 7.into()),
        "{r}"
    );
    assert_eq!(r["witnesses"], serde_json::json!(["W0", "W2"]));
    let (short, policy) = checkpoint_and_policy(&[1]);
    let r = verify_checkpoint_report(&short, &policy);
    assert_eq!(r["code"], "checkpoint_refused", "{r}");
}

#[test]
fn checkpoint_reports_refuse_bad_input() {
    let r = verify_checkpoint_report("not a note", "nonsense policy");
    assert_eq!(
        (r["ok"].clone(), r["step"].as_str()),
        (false.into(), Some("policy"))
    );
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
