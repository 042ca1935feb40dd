//! `strongroom quote`: fetch `/attestation/quote` with a nonce and verify it.

use crate::CliError;
use crate::common::{PolicyArgs, parse_bytes};
use crate::host::{HostArgs, client_error};
use crate::verify_attestation::{print_human_body, report};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::path::PathBuf;
use std::time::SystemTime;
use strongroom_verifier::client::{Client, MAX_QUOTE_NONCE_LEN};
use strongroom_verifier::{QuoteResponse, VerifiedQuote};

/// Length of the random challenge when none is given.
pub const FRESH_NONCE_LEN: usize = 32;

/// Arguments of `quote`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub host: HostArgs,
    /// Challenge to send and require (hex, at most 64 bytes) [default: 32 random bytes].
    #[arg(long, value_name = "HEX")]
    pub nonce_hex: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Also write the quote JSON here (input of `seal --quote`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), CliError> {
    let nonce = match &args.nonce_hex {
        Some(h) => parse_bytes(&format!("hex:{h}"), "--nonce-hex")?,
        None => fresh_nonce()?,
    };
    let client = args.host.client()?;
    let (quote, verified) = fetch_verified(&client, &args.policy, &nonce)?;
    if let Some(path) = &args.out {
        let bytes = serde_json::to_vec_pretty(&quote).map_err(|e| CliError::refused("io", e))?;
        std::fs::write(path, bytes)
            .map_err(|e| CliError::usage("io", format!("{}: {e}", path.display())))?;
    }
    let mut r = report(&verified.document, args.policy.pinned());
    r["key_id"] = verified.key_id().into();
    r["enclave_pubkey"] = STANDARD.encode(verified.hpke_public_key).into();
    if args.json {
        println!("{r}");
    } else {
        println!("quote OK (nonce matches the challenge sent)");
        println!("  key_id:      {}", verified.key_id());
        println!(
            "  hpke key:    {}",
            r["enclave_pubkey"].as_str().unwrap_or("")
        );
        print_human_body(&verified.document, &r);
    }
    Ok(())
}

/// 32 bytes from the OS.
pub fn fresh_nonce() -> Result<Vec<u8>, CliError> {
    let mut nonce = vec![0u8; FRESH_NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| CliError::refused("rng", e))?;
    Ok(nonce)
}

/// Fetches a quote for `nonce` and verifies it now, requiring that nonce.
pub fn fetch_verified(
    client: &Client,
    policy: &PolicyArgs,
    nonce: &[u8],
) -> Result<(QuoteResponse, VerifiedQuote), CliError> {
    if nonce.is_empty() || nonce.len() > MAX_QUOTE_NONCE_LEN {
        return Err(CliError::usage(
            "bad_nonce",
            "the nonce must be 1..=64 bytes",
        ));
    }
    let root = policy.root()?;
    let policy = policy.policy()?.with_nonce(nonce.to_vec());
    let quote = client.quote(Some(nonce)).map_err(client_error)?;
    let verified = quote
        .verify(&root, SystemTime::now(), &policy)
        .map_err(|e| CliError::refused(e.code(), e))?;
    Ok((quote, verified))
}
