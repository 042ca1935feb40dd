//! `strongroom seal --quote quote.json ...`: verify the quote, seal a
//! credential to the attested key, print the submit_key body.

use crate::CliError;
use crate::common::{TrustArgs, read_input};
use crate::owner_key::{OwnerKeyArgs, PolicyChoice};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};
use strongroom_verifier::owner::owner_public_key;
use strongroom_verifier::{
    CredentialMetadata, CredentialPlaintext, SealRecipient, seal_credential, verify_quote_json,
};
use zeroize::Zeroizing;

/// Environment variable holding the exchange API key (never an argument).
pub const EXCHANGE_API_KEY_ENV: &str = "EXCHANGE_API_KEY";
/// Environment variable holding the exchange API secret.
pub const EXCHANGE_API_SECRET_ENV: &str = "EXCHANGE_API_SECRET";

/// Default maximum quote age for sealing: seal only to a recent attestation.
const DEFAULT_SEAL_MAX_AGE_SECS: u64 = 3600;

/// Arguments of `seal`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The /attestation/quote JSON answer (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub quote: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Exchange name.
    #[arg(long, default_value = "binance")]
    pub exchange: String,
    /// Account label.
    #[arg(long, default_value = "main")]
    pub label: String,
    /// Credential lifetime in seconds (sets not_after and metadata.ttl).
    #[arg(long, default_value_t = 86_400)]
    pub ttl: u64,
    #[command(flatten)]
    pub terms: PolicyChoice,
    #[command(flatten)]
    pub owner: OwnerKeyArgs,
    /// Environment variable holding the API key (never pass secrets as arguments).
    #[arg(long, default_value = EXCHANGE_API_KEY_ENV)]
    pub api_key_env: String,
    /// Environment variable holding the API secret.
    #[arg(long, default_value = EXCHANGE_API_SECRET_ENV)]
    pub api_secret_env: String,
    /// Also print a JSON error object on failure (the body is JSON either way).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), CliError> {
    let json = read_input(&args.quote)?;
    let root = args.trust.root()?;
    let policy = args.trust.policy(Some(DEFAULT_SEAL_MAX_AGE_SECS))?;
    let now = args.trust.now()?;
    let quote = verify_quote_json(&json, &root, now, &policy)
        .map_err(|e| CliError::refused(e.code(), e))?;
    // Expiry counts from the real clock, not from --at.
    let credential = credential(args, SystemTime::now())?;
    let metadata = CredentialMetadata {
        exchange: args.exchange.clone(),
        label: args.label.clone(),
        ttl: args.ttl,
    };
    let body = seal_credential(
        &SealRecipient::from_verified_quote(&quote),
        &credential,
        &metadata,
    )
    .map_err(|e| CliError::refused("seal", e))?;
    let out = serde_json::to_string(&body).map_err(|e| CliError::refused("seal", e))?;
    println!("{out}");
    eprintln!("strongroom: credential {}", credential_id_of(&body)?);
    Ok(())
}

/// The credential id of a sealed body: hex SHA-256(enc ‖ ciphertext ‖ tag),
/// what the enclave signs into every result.
pub fn credential_id_of(body: &strongroom_verifier::SubmitKeyBody) -> Result<String, CliError> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut h = sha2::Sha256::new();
    for part in [&body.ephemeral_pub, &body.ciphertext, &body.tag] {
        h.update(
            b64.decode(part)
                .map_err(|_| CliError::refused("seal", "sealed body is not base64"))?,
        );
    }
    Ok(hex::encode(h.finalize()))
}

fn credential(args: &Args, now: SystemTime) -> Result<CredentialPlaintext, CliError> {
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut c = credential_from_env(
        &args.exchange,
        &args.label,
        now_secs.saturating_add(args.ttl),
        (&args.api_key_env, &args.api_secret_env),
    )?;
    c.policy = Some(args.terms.policy()?);
    c.owner = Some(owner_public_key(&args.owner.load_or_create()?));
    Ok(c)
}

/// The credential with key and secret read from the named environment
/// variables. The values are never printed, not even in errors.
pub fn credential_from_env(
    exchange: &str,
    label: &str,
    not_after: u64,
    (key_env, secret_env): (&str, &str),
) -> Result<CredentialPlaintext, CliError> {
    let secret = |name: &str| {
        std::env::var(name).map(Zeroizing::new).map_err(|_| {
            CliError::usage(
                "missing_secret",
                format!("environment variable {name} is not set"),
            )
        })
    };
    Ok(CredentialPlaintext {
        exchange: exchange.to_owned(),
        api_key: secret(key_env)?,
        api_secret: secret(secret_env)?,
        label: label.to_owned(),
        not_after,
        owner: None,
        policy: None,
    })
}
