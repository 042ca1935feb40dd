//! `strongroom verify-attestation DOC`.

use crate::CliError;
use crate::common::{TrustArgs, b64_opt, read_document, rfc3339_ms};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::path::PathBuf;
use strongroom_verifier::{KeyBinding, VerifiedDocument, verify};

/// Arguments of `verify-attestation`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The document: raw CBOR or base64 text; `-` reads stdin.
    #[arg(value_name = "DOC")]
    pub doc: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Require this public_key (hex or base64).
    #[arg(long, value_name = "HEX|B64")]
    pub public_key: Option<String>,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), CliError> {
    let doc = read_document(&args.doc)?;
    let root = args.trust.root()?;
    let mut policy = args.trust.policy(None)?;
    if let Some(pk) = &args.public_key {
        policy = policy.with_public_key(crate::common::parse_bytes(pk, "--public-key")?);
    }
    let now = args.trust.now()?;
    let v = verify(&doc, &root, now, &policy).map_err(|e| CliError::refused(e.code(), e))?;
    let report = report(&v, args.trust.base.pinned());
    if args.json {
        println!("{report}");
    } else {
        println!("attestation document OK");
        print_human_body(&v, &report);
    }
    Ok(())
}

/// The JSON report of a verified document (also used by `quote`).
pub fn report(v: &VerifiedDocument, pinned: bool) -> Value {
    let pcrs: serde_json::Map<String, Value> = v
        .pcrs
        .iter()
        .map(|(i, p)| (i.to_string(), Value::String(hex::encode(p))))
        .collect();
    let binding = v
        .user_data
        .as_deref()
        .and_then(|u| KeyBinding::from_user_data(u).ok());
    json!({
        "ok": true,
        "root_sha256": hex::encode(v.root_fingerprint),
        "dev_root": v.dev_root,
        "debug": v.debug,
        "module_id": v.module_id,
        "timestamp": rfc3339_ms(v.timestamp_ms),
        "timestamp_ms": v.timestamp_ms,
        "digest": "SHA384",
        "pcrs": pcrs,
        "pcrs_pinned": pinned,
        "pcrs_matched": v.matched_pcr_set,
        "insecure_no_pcrs": !pinned,
        "warnings": crate::common::pcr_warnings(pinned),
        "public_key": b64_opt(v.public_key.as_deref()),
        "user_data": b64_opt(v.user_data.as_deref()),
        "nonce": b64_opt(v.nonce.as_deref()),
        "key_binding": binding.map(|b| json!({"kid": b.kid, "sign": STANDARD.encode(b.signing_key_sec1)})),
        "leaf_not_before": rfc3339_ms(v.leaf_not_before.saturating_mul(1000)),
        "leaf_not_after": rfc3339_ms(v.leaf_not_after.saturating_mul(1000)),
    })
}

/// Human form of [`report`], after a first line printed by the caller.
pub fn print_human_body(v: &VerifiedDocument, r: &Value) {
    let root = if v.dev_root {
        "DEVELOPMENT root (simulator; not a real enclave)"
    } else {
        "pinned production root"
    };
    println!(
        "  root:        {root}, sha256 {}",
        hex::encode(v.root_fingerprint)
    );
    println!("  module_id:   {}", v.module_id);
    println!("  timestamp:   {}", rfc3339_ms(v.timestamp_ms));
    println!(
        "  debug mode:  {}",
        if v.debug { "YES (PCR0/1/2 zero)" } else { "no" }
    );
    for (i, p) in &v.pcrs {
        if *i <= 4 || *i == 8 || p.iter().any(|b| *b != 0) {
            println!("  PCR{i:<2}        {}", hex::encode(p));
        }
    }
    match &v.matched_pcr_set {
        Some(src) => println!("  measurements: match {src}"),
        None => {
            println!("  measurements: NOT CHECKED (--insecure-no-pcrs: any enclave image passes)")
        }
    }
    let show = |k: &str| r[k].as_str().map_or("none".to_owned(), str::to_owned);
    println!("  public_key:  {}", show("public_key"));
    println!("  user_data:   {}", show("user_data"));
    println!("  nonce:       {}", show("nonce"));
    if let Some(kid) = r["key_binding"]["kid"].as_str() {
        println!(
            "  binds key:   kid {kid}, signing key {}",
            r["key_binding"]["sign"].as_str().unwrap_or("")
        );
    }
    println!(
        "  leaf valid:  {} .. {}",
        show("leaf_not_before"),
        show("leaf_not_after")
    );
}
