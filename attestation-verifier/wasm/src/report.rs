//! The verifications behind the JS API, as plain Rust returning JSON reports
//! (so native unit tests run the same code the browser does). Every report
//! has `ok`, and on failure `code` (the verifier's stable error code),
//! `reason` and the `step` that refused; steps after it are `not_checked`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use strongroom_formats::c2sp::checkpoint::SignedCheckpoint;
use strongroom_formats::c2sp::policy::TlogPolicy;
use strongroom_verifier::result::ResultError;
use strongroom_verifier::witnessed::check_tlog_proof;
use strongroom_verifier::{
    PcrSet, Policy, ResultBundle, TrustRoot, VerifyError, inspect_unverified, verify, verify_result,
};

/// The steps of a result's chain, in order, as the page shows them.
pub const RESULT_STEPS: [(&str, &str); 8] = [
    (
        "bundle",
        "Result bundle (format, id = SHA-256 of the COSE bytes)",
    ),
    ("root", "Trust root (AWS Nitro root, pinned)"),
    (
        "attestation",
        "Attestation document (certificate chain, ES384 signature)",
    ),
    ("pcrs", "Measurements (PCRs) against pcrs.json"),
    (
        "signing_key",
        "Enclave signing key (bound in the attestation, nonce = the result)",
    ),
    ("result", "Signed result (COSE_Sign1 ES256, payload, PCR0)"),
    (
        "log",
        "Transparency log (signed tree head, inclusion proof)",
    ),
    (
        "witnesses",
        "Witnessed log (tlog-proof: the attested log's checkpoint, cosigned under the tlog-policy)",
    ),
];

/// A refusal: which step, the stable code, the one-line reason.
#[derive(Debug)]
pub struct Refusal {
    step: &'static str,
    code: String,
    reason: String,
}

impl Refusal {
    fn new(step: &'static str, code: impl Into<String>, reason: impl ToString) -> Self {
        Refusal {
            step,
            code: code.into(),
            reason: reason.to_string(),
        }
    }
}

fn step_of_document(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::PcrsNotAllowed | VerifyError::DebugMode => "pcrs",
        VerifyError::RootMismatch => "root",
        _ => "attestation",
    }
}

fn step_of_result(e: &ResultError) -> &'static str {
    use ResultError::*;
    match e {
        TooLarge | Json(_) | BundleFormat | BundleId => "bundle",
        PublishConsent(_) => "result",
        Attestation(d) => step_of_document(d),
        NonceMismatch | Binding(_) => "signing_key",
        KeyIdMismatch(what) if what.contains("tree head") => "log",
        AggregateSignature(_)
        | Payload(_)
        | Pcr0Mismatch
        | AggregatesMismatch
        | KeyIdMismatch(_) => "result",
        _ => "log",
    }
}

fn result_refusal(e: ResultError) -> Refusal {
    Refusal::new(step_of_result(&e), e.code(), &e)
}

/// The policy: one pcrs.json, required (the page insists, as the CLI does).
fn pcr_policy(pcrs_json: &str) -> Result<Policy, Refusal> {
    let set = PcrSet::from_json("pcrs.json", pcrs_json.as_bytes())
        .map_err(|e| Refusal::new("pcrs", "pcrs_file", e))?;
    Ok(Policy::default().allow_pcrs(set))
}

/// The AWS root when the document's `cabundle[0]` is it; otherwise the dev
/// root when the caller supplied one; otherwise AWS (which then refuses).
fn choose_root(document: &[u8], dev_root_pem: Option<&str>) -> Result<TrustRoot, Refusal> {
    let aws = TrustRoot::aws_nitro_g1();
    let first = inspect_unverified(document)
        .ok()
        .and_then(|p| p.cabundle.first().cloned());
    match dev_root_pem {
        Some(pem) if first.as_deref() != Some(aws.der()) => TrustRoot::dev_from_pem(pem)
            .map_err(|e| Refusal::new("root", "dev_root", format!("dev root: {e}"))),
        _ => Ok(aws),
    }
}

fn time_of(ms: f64) -> Result<SystemTime, Refusal> {
    if !ms.is_finite() || !(0.0..=1e15).contains(&ms) {
        return Err(Refusal::new(
            "attestation",
            "invalid_time",
            "invalid verification time",
        ));
    }
    Ok(UNIX_EPOCH + Duration::from_millis(ms as u64))
}

/// Every step's status: passed up to the one that `failed`, not checked
/// after it; `witnessed` false leaves the last step not checked (no
/// tlog-policy was given).
fn steps(failed: Option<&str>, witnessed: bool) -> Vec<Value> {
    let mut seen_failure = false;
    RESULT_STEPS
        .iter()
        .map(|(id, label)| {
            let status = match failed {
                _ if seen_failure => "not_checked",
                Some(f) if f == *id => {
                    seen_failure = true;
                    "failed"
                }
                None if *id == "witnesses" && !witnessed => "not_checked",
                _ => "passed",
            };
            json!({"id": id, "label": label, "status": status})
        })
        .collect()
}

/// `verifyResult`: the whole chain of a result bundle. `now_ms` is the
/// caller's clock (a document dated more than a minute after it is refused);
/// `at_ms`, when given, is the time the certificate chain must be valid at
/// instead of the document's own timestamp (CHECKLIST.md R2).
pub fn verify_result_report(
    bundle_json: &str,
    pcrs_json: &str,
    now_ms: f64,
    at_ms: Option<f64>,
    dev_root_pem: Option<&str>,
    tlog_policy: Option<&str>,
) -> Value {
    let mut root_kind = Value::Null;
    let inputs = ResultInputs {
        bundle_json,
        pcrs_json,
        now_ms,
        at_ms,
        dev_root_pem,
        tlog_policy,
    };
    match result_chain(&inputs, &mut root_kind) {
        Ok(mut ok) => {
            let witnessed = !ok["witnessed"].is_null();
            ok["steps"] = Value::Array(steps(None, witnessed));
            ok
        }
        Err(r) => json!({"ok": false, "root": root_kind, "step": r.step, "code": r.code,
            "reason": r.reason, "steps": steps(Some(r.step), false)}),
    }
}

/// What `verifyResult` was given.
struct ResultInputs<'a> {
    bundle_json: &'a str,
    pcrs_json: &'a str,
    now_ms: f64,
    at_ms: Option<f64>,
    dev_root_pem: Option<&'a str>,
    tlog_policy: Option<&'a str>,
}

fn result_chain(inputs: &ResultInputs<'_>, root_kind: &mut Value) -> Result<Value, Refusal> {
    let ResultInputs {
        bundle_json,
        pcrs_json,
        now_ms,
        at_ms,
        dev_root_pem,
        tlog_policy,
    } = *inputs;
    let bundle = ResultBundle::parse(bundle_json.as_bytes()).map_err(result_refusal)?;
    bundle.check_envelope().map_err(result_refusal)?;
    let document = STANDARD
        .decode(&bundle.attestation)
        .map_err(|_| result_refusal(ResultError::Encoding("attestation")))?;
    let root = choose_root(&document, dev_root_pem)?;
    *root_kind = json!(if root.is_dev() { "dev" } else { "aws" });
    let policy = pcr_policy(pcrs_json)?;
    let now = time_of(now_ms)?;
    if let Some(at) = at_ms {
        // The chain at the caller's chosen time (nonce left to R3).
        verify(&document, &root, time_of(at)?, &policy)
            .map_err(|e| Refusal::new(step_of_document(&e), e.code(), &e))?;
    }
    let v = verify_result(&bundle.to_answer(), &root, &policy).map_err(result_refusal)?;
    // Fail closed on a v2 result its owner did not consent to publish.
    bundle
        .check_publish_consent(&v.payload)
        .map_err(result_refusal)?;
    if time_of(v.document.timestamp_ms as f64)? > now + Duration::from_secs(60) {
        return Err(Refusal::new(
            "attestation",
            "from_the_future",
            "the attestation is dated after the verifier's clock",
        ));
    }
    // The witnessed log, when a tlog-policy is given (the deployment's, or
    // the user's): the bundle must carry a tlog-proof that verifies.
    let witnessed = match tlog_policy {
        None => Value::Null,
        Some(policy) => {
            let cose = STANDARD
                .decode(&bundle.cose)
                .map_err(|_| result_refusal(ResultError::Encoding("cose")))?;
            let w = check_tlog_proof(&v, &cose, bundle.tlog_proof.as_deref(), policy)
                .map_err(|e| Refusal::new("witnesses", e.code(), &e))?;
            json!({"origin": w.origin, "tree_size": w.tree_size, "witnesses": w.witnesses})
        }
    };
    Ok(json!({
        "ok": true,
        "id": bundle.id,
        "root": root_kind,
        "dev": root.is_dev(),
        "payload": serde_json::to_value(&v.payload).unwrap_or(Value::Null),
        "pcrs": v.document.pcrs.iter().map(|(i, p)| (format!("PCR{i}"), json!(hex::encode(p)))).collect::<serde_json::Map<_, _>>(),
        "attestation_time_ms": v.document.timestamp_ms,
        "leaf_not_after": v.document.leaf_not_after,
        "key_id": v.binding.kid,
        "signing_key": hex::encode(v.binding.signing_key_sec1),
        "leaf_index": v.leaf_index,
        "tree_size": v.tree_head.size,
        "tree_time": v.tree_head.time,
        "tlog_proof": match (&witnessed, bundle.tlog_proof.is_some()) {
            (Value::Null, true) => "present, not checked (no tlog-policy)",
            (Value::Null, false) => "absent",
            _ => "verified",
        },
        "witnessed": witnessed,
        "publish_consent": consent_kind(&bundle, &v.payload),
    }))
}

/// How the (checked) consent to publish was given.
fn consent_kind(
    bundle: &ResultBundle,
    payload: &strongroom_formats::aggregates::AggregatePayload,
) -> &'static str {
    if payload.version < 2 {
        "not needed (version 1 result)"
    } else if payload.policy.is_some_and(|p| p.publish) {
        "the sealed policy"
    } else if bundle.publish_authorization.is_some() {
        "the owner's signature"
    } else {
        "none"
    }
}

/// `verifyAttestation`: one NSM document at `now_ms` under pcrs.json,
/// optionally requiring a nonce (a fresh quote).
pub fn verify_attestation_report(
    document: &[u8],
    pcrs_json: &str,
    now_ms: f64,
    nonce: Option<Vec<u8>>,
    dev_root_pem: Option<&str>,
) -> Value {
    let run = || -> Result<Value, Refusal> {
        let root = choose_root(document, dev_root_pem)?;
        let mut policy = pcr_policy(pcrs_json)?;
        if let Some(n) = nonce {
            policy = policy.with_nonce(n);
        }
        let d = verify(document, &root, time_of(now_ms)?, &policy)
            .map_err(|e| Refusal::new(step_of_document(&e), e.code(), &e))?;
        Ok(json!({
            "ok": true, "root": if root.is_dev() { "dev" } else { "aws" }, "dev": root.is_dev(),
            "module_id": d.module_id, "timestamp_ms": d.timestamp_ms,
            "pcrs": d.pcrs.iter().map(|(i, p)| (format!("PCR{i}"), json!(hex::encode(p)))).collect::<serde_json::Map<_, _>>(),
            "public_key": d.public_key.map(hex::encode), "user_data": d.user_data.map(hex::encode),
            "nonce": d.nonce.map(hex::encode), "leaf_not_after": d.leaf_not_after,
        }))
    };
    run().unwrap_or_else(
        |r| json!({"ok": false, "step": r.step, "code": r.code, "reason": r.reason}),
    )
}

/// `verifyCheckpoint`: a C2SP signed note under a tlog-policy text (log
/// key, witnesses, quorum).
pub fn verify_checkpoint_report(checkpoint: &str, policy: &str) -> Value {
    let run = || -> Result<Value, Refusal> {
        let policy = TlogPolicy::parse(policy.as_bytes())
            .map_err(|e| Refusal::new("policy", "bad_policy", e))?;
        let signed = SignedCheckpoint::parse(checkpoint.as_bytes())
            .map_err(|e| Refusal::new("checkpoint", "bad_checkpoint", e))?;
        let v = policy
            .verify_checkpoint(&signed)
            .map_err(|e| Refusal::new("checkpoint", "checkpoint_refused", e))?;
        let witnesses: Vec<&str> = v.cosignatures.iter().map(|c| c.name.as_str()).collect();
        Ok(json!({"ok": true, "origin": v.origin, "size": v.size,
            "root": hex::encode(v.root_hash), "witnesses": witnesses}))
    };
    run().unwrap_or_else(
        |r| json!({"ok": false, "step": r.step, "code": r.code, "reason": r.reason}),
    )
}
