//! `strongroom submit`: fresh nonce -> quote -> verify (nonce included) ->
//! seal the exchange credential to the attested key -> `POST submit_key`.
//! The exchange key and secret come only from the environment and are
//! never printed.

use crate::CliError;
use crate::common::PolicyArgs;
use crate::host::{HostArgs, client_error};
use crate::owner_key::{OwnerKeyArgs, PolicyChoice};
use crate::quote::{fetch_verified, fresh_nonce};
use crate::seal::{
    EXCHANGE_API_KEY_ENV, EXCHANGE_API_SECRET_ENV, credential_from_env, credential_id_of,
};
use std::time::{SystemTime, UNIX_EPOCH};
use strongroom_verifier::owner::{owner_id, owner_public_key};
use strongroom_verifier::{CredentialMetadata, SealRecipient, seal_credential};

/// Arguments of `submit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub host: HostArgs,
    /// Exchange name.
    #[arg(long, default_value = "binance")]
    pub exchange: String,
    /// Account label.
    #[arg(long, default_value = "main")]
    pub label: String,
    /// Session lifetime in seconds (metadata.ttl).
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400)]
    pub ttl: u64,
    /// Sealed expiry, unix seconds [default: now + ttl]; the enclave enforces it.
    #[arg(long, value_name = "UNIX")]
    pub not_after: Option<u64>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub terms: PolicyChoice,
    #[command(flatten)]
    pub owner: OwnerKeyArgs,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<(), CliError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let not_after = args.not_after.unwrap_or(now.saturating_add(args.ttl));
    if not_after <= now {
        return Err(CliError::usage(
            "bad_not_after",
            "--not-after lies in the past",
        ));
    }
    // Read the secrets and the owner key first: fail before any network traffic.
    let mut credential = credential_from_env(
        &args.exchange,
        &args.label,
        not_after,
        (EXCHANGE_API_KEY_ENV, EXCHANGE_API_SECRET_ENV),
    )?;
    let terms = args.terms.policy()?;
    let owner = owner_public_key(&args.owner.load_or_create()?);
    credential.policy = Some(terms);
    credential.owner = Some(owner.clone());
    let client = args.host.client()?;
    let (_, quote) = fetch_verified(&client, &args.policy, &fresh_nonce()?)?;
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
    drop(credential);
    let credential_id = credential_id_of(&body)?;
    let answer = client.submit(&body).map_err(client_error)?;
    if args.json {
        let out = serde_json::json!({
            "ok": true,
            "session_id": answer.session_id,
            "credential": credential_id,
            "owner": owner_id(&owner),
            "policy": terms,
            "expires_at": answer.expires_at,
            "key_id": quote.key_id(),
            "pcr0": quote.document.pcr0_hex(),
            "dev_root": quote.document.dev_root,
        });
        println!("{out}");
    } else {
        println!("credential sealed to the attested enclave and accepted");
        println!("  session_id:  {}", answer.session_id);
        println!("  credential:  {credential_id}");
        println!("  owner:       {}", owner_id(&owner));
        println!("  policy:      {}", crate::owner_key::describe(&terms));
        println!("  expires_at:  {}", answer.expires_at);
        println!("  key_id:      {}", quote.key_id());
        println!("  PCR0:        {}", quote.document.pcr0_hex());
    }
    Ok(())
}
