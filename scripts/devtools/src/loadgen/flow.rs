//! One iteration of the tenant flow, each step timed on its own:
//! quote -> verify and seal (client side) -> submit -> request_aggregates
//! -> revoke.

use std::time::{Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use strongroom_verifier::client::Client;
use strongroom_verifier::{
    ClientError, CredentialMetadata, CredentialPlaintext, PcrSet, Policy, QuoteResponse,
    SealRecipient, SubmitKeyBody, TrustRoot, seal_credential,
};
use zeroize::Zeroizing;

use super::recorder::{Recorder, Route};

/// How quotes are checked before sealing.
#[derive(Clone)]
pub struct Trust {
    /// The stack's dev root.
    pub root: TrustRoot,
    /// The running image's PCRs, when known.
    pub pcrs: Option<PcrSet>,
}

/// The exchange credential every iteration seals (dev fixture data).
#[derive(Clone)]
pub struct Credential {
    /// Exchange API key.
    pub api_key: Zeroizing<String>,
    /// Exchange API secret.
    pub api_secret: Zeroizing<String>,
    /// Session lifetime requested, seconds.
    pub ttl: u64,
    /// Symbols to request (None: the enclave discovers them).
    pub symbols: Option<Vec<String>>,
}

/// A failed step: its route, code and HTTP status.
pub struct StepError {
    /// Route.
    pub route: Route,
    /// Code.
    pub code: String,
    /// Status.
    pub status: Option<u16>,
}

impl StepError {
    fn client(route: Route, e: &ClientError) -> Self {
        StepError {
            route,
            code: e.code().to_owned(),
            status: e.status(),
        }
    }

    fn local(route: Route, code: &str) -> Self {
        StepError {
            route,
            code: code.to_owned(),
            status: None,
        }
    }
}

/// `GET /attestation/quote` with a fresh nonce, then verification (unless
/// `trust` is None) and sealing; returns the submit body.
pub fn quote_and_seal(
    client: &Client,
    trust: Option<&Trust>,
    cred: &Credential,
    rec: &Recorder,
) -> Result<SubmitKeyBody, StepError> {
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|_| StepError::local(Route::Quote, "rng"))?;
    let t = Instant::now();
    let quote = client
        .quote(Some(&nonce))
        .map_err(|e| StepError::client(Route::Quote, &e))?;
    rec.ok(Route::Quote, t.elapsed());
    let t = Instant::now();
    let recipient = recipient(&quote, trust, &nonce)?;
    let body = seal(&recipient, cred)?;
    rec.ok(Route::VerifySeal, t.elapsed());
    Ok(body)
}

fn recipient(
    quote: &QuoteResponse,
    trust: Option<&Trust>,
    nonce: &[u8],
) -> Result<SealRecipient, StepError> {
    let Some(trust) = trust else {
        let key = STANDARD
            .decode(&quote.enclave_pubkey)
            .map_err(|_| StepError::local(Route::VerifySeal, "quote_base64"))?;
        return SealRecipient::danger_unattested(&quote.key_id, &key)
            .map_err(|_| StepError::local(Route::VerifySeal, "recipient_key"));
    };
    let mut policy = Policy::default().with_nonce(nonce.to_vec());
    if let Some(p) = &trust.pcrs {
        policy = policy.allow_pcrs(p.clone());
    }
    let verified = quote
        .verify(&trust.root, SystemTime::now(), &policy)
        .map_err(|e| StepError::local(Route::VerifySeal, e.code()))?;
    Ok(SealRecipient::from_verified_quote(&verified))
}

/// Seals the credential to `recipient`.
pub fn seal(recipient: &SealRecipient, cred: &Credential) -> Result<SubmitKeyBody, StepError> {
    let not_after = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + cred.ttl;
    let plain = CredentialPlaintext {
        exchange: "binance".into(),
        api_key: cred.api_key.clone(),
        api_secret: cred.api_secret.clone(),
        label: "main".into(),
        not_after,
        owner: None,
        // A load generator asks again and again, with or without symbols:
        // the open policy (any window, a choice of symbols, no interval).
        policy: Some(strongroom_verifier::seal::Policy {
            windows: strongroom_verifier::seal::WindowRule::Any,
            symbols: strongroom_verifier::seal::SymbolRule::Choice,
            min_interval_seconds: 0,
            publish: false,
        }),
    };
    let meta = CredentialMetadata {
        exchange: "binance".into(),
        label: "main".into(),
        ttl: cred.ttl,
    };
    seal_credential(recipient, &plain, &meta)
        .map_err(|_| StepError::local(Route::VerifySeal, "seal"))
}

/// Times `POST /enclave/submit_key`; returns the session id.
pub fn submit(client: &Client, body: &SubmitKeyBody, rec: &Recorder) -> Result<String, StepError> {
    let t = Instant::now();
    let answer = client
        .submit(body)
        .map_err(|e| StepError::client(Route::Submit, &e))?;
    rec.ok(Route::Submit, t.elapsed());
    Ok(answer.session_id)
}

/// One whole iteration. The session is revoked even when aggregation
/// failed, so failed iterations do not pile up sessions.
pub fn iteration(
    client: &Client,
    trust: Option<&Trust>,
    cred: &Credential,
    with_aggregates: bool,
    rec: &Recorder,
) -> Result<(), StepError> {
    let body = quote_and_seal(client, trust, cred, rec)?;
    let session = submit(client, &body, rec)?;
    let aggregated = if with_aggregates {
        let t = Instant::now();
        let r = client.request_aggregates_raw(&session, None, None, cred.symbols.as_deref());
        match r {
            Ok(_) => {
                rec.ok(Route::Aggregates, t.elapsed());
                Ok(())
            }
            Err(e) => Err(StepError::client(Route::Aggregates, &e)),
        }
    } else {
        Ok(())
    };
    let t = Instant::now();
    let revoked = client
        .revoke(&session)
        .map_err(|e| StepError::client(Route::Revoke, &e));
    if revoked.is_ok() {
        rec.ok(Route::Revoke, t.elapsed());
    }
    aggregated.and(revoked)
}
