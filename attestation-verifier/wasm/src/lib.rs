#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod report;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** One step of a result's chain of proof. */
export interface Step {
  id: "bundle" | "root" | "attestation" | "pcrs" | "signing_key" | "result" | "log" | "witnesses";
  label: string;
  status: "passed" | "failed" | "not_checked";
}
/** Fields of every report: `ok`, and on refusal the step, a stable code and a reason. */
export interface Refused {
  ok: false;
  step: string;
  code: string;
  reason: string;
}
export interface ResultVerified {
  ok: true;
  id: string;
  root: "aws" | "dev";
  dev: boolean;
  payload: Record<string, unknown>;
  pcrs: Record<string, string>;
  attestation_time_ms: number;
  leaf_not_after: number;
  key_id: string;
  signing_key: string;
  leaf_index: number;
  tree_size: number;
  tree_time: string;
  tlog_proof: string;
  publish_consent: string;
  /** The witnessed log, when a tlog-policy was given. */
  witnessed: { origin: string; tree_size: number; witnesses: string[] } | null;
  steps: Step[];
}
export type ResultReport = ResultVerified | (Refused & { root: "aws" | "dev" | null; steps: Step[] });
export interface AttestationVerified {
  ok: true;
  root: "aws" | "dev";
  dev: boolean;
  module_id: string;
  timestamp_ms: number;
  pcrs: Record<string, string>;
  public_key: string | null;
  user_data: string | null;
  nonce: string | null;
  leaf_not_after: number;
}
export type AttestationReport = AttestationVerified | Refused;
export interface CheckpointVerified {
  ok: true;
  origin: string;
  size: number;
  root: string;
  witnesses: string[];
}
export type CheckpointReport = CheckpointVerified | Refused;
"#;

fn to_js(v: &serde_json::Value) -> JsValue {
    // serde_json output is always valid JSON; a failure would be a bug, and
    // then the caller gets `undefined`, which no page reads as success.
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::UNDEFINED)
}

/// Verifies a result bundle (JSON text) under `pcrsJson` (the release's
/// pcrs.json text). `nowMs` is the caller's clock (`Date.now()`); `atMs`,
/// when given, is the time the certificate chain must be valid at (default:
/// the attestation's own timestamp); `devRootPem` is accepted only for
/// documents that do not chain to the AWS root, and the report then says
/// `root: "dev"`; `tlogPolicy`, when given, is a C2SP tlog-policy (the
/// witnesses and quorum to trust; the log's key comes from the
/// attestation) under which the bundle's tlog-proof must verify. Never
/// throws.
#[wasm_bindgen(js_name = verifyResult, unchecked_return_type = "ResultReport")]
pub fn verify_result(
    #[wasm_bindgen(js_name = bundleJson)] bundle_json: &str,
    #[wasm_bindgen(js_name = pcrsJson)] pcrs_json: &str,
    #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    #[wasm_bindgen(js_name = atMs)] at_ms: Option<f64>,
    #[wasm_bindgen(js_name = devRootPem)] dev_root_pem: Option<String>,
    #[wasm_bindgen(js_name = tlogPolicy)] tlog_policy: Option<String>,
) -> JsValue {
    to_js(&report::verify_result_report(
        bundle_json,
        pcrs_json,
        now_ms,
        at_ms,
        dev_root_pem.as_deref(),
        tlog_policy.as_deref(),
    ))
}

/// Verifies an NSM attestation document (raw CBOR bytes) at `nowMs` under
/// `pcrsJson`, requiring `nonce` when given. Never throws.
#[wasm_bindgen(js_name = verifyAttestation, unchecked_return_type = "AttestationReport")]
pub fn verify_attestation(
    document: &[u8],
    #[wasm_bindgen(js_name = pcrsJson)] pcrs_json: &str,
    #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    nonce: Option<Vec<u8>>,
    #[wasm_bindgen(js_name = devRootPem)] dev_root_pem: Option<String>,
) -> JsValue {
    to_js(&report::verify_attestation_report(
        document,
        pcrs_json,
        now_ms,
        nonce,
        dev_root_pem.as_deref(),
    ))
}

/// Verifies a C2SP checkpoint (signed note text) under a tlog-policy text
/// (log key, witnesses, quorum). Never throws.
#[wasm_bindgen(js_name = verifyCheckpoint, unchecked_return_type = "CheckpointReport")]
pub fn verify_checkpoint(checkpoint: &str, policy: &str) -> JsValue {
    to_js(&report::verify_checkpoint_report(checkpoint, policy))
}

/// Version of this verifier build (the workspace version).
#[wasm_bindgen(js_name = verifierVersion)]
pub fn verifier_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
