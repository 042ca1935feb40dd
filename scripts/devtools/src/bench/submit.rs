//! End-to-end measurements against a running stack: `submit_key`
//! throughput (credentials sealed beforehand, so the client's own HPKE
//! work is not in the timed window) and `request_aggregates` latency.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

use strongroom_verifier::client::Client;
use strongroom_verifier::{
    PcrSet, Policy, SealRecipient, SubmitKeyBody, TrustRoot, parse_answer, verify_result,
};
use zeroize::Zeroizing;

use crate::loadgen::flow::{Credential, seal};
use crate::stack::Stack;

/// Most bodies sealed for one run: below the enclave's open-session cap
/// (`strongroom_enclave_core::intake::MAX_SESSIONS`, 10,000).
pub const MAX_SUBMITS: usize = 8_000;

/// A failure that voids the measurement.
#[derive(Debug, thiserror::Error)]
#[error("e2e bench: {0}")]
pub struct E2eError(pub String);

fn e2e(e: impl std::fmt::Display) -> E2eError {
    E2eError(e.to_string())
}

/// The stack's trust root and PCR policy.
pub fn trust(stack: &Stack) -> Result<(TrustRoot, Policy), E2eError> {
    let pem = std::fs::read_to_string(&stack.dev_root_pem).map_err(e2e)?;
    let root = TrustRoot::dev_from_pem(&pem).map_err(e2e)?;
    let mut policy = Policy::default();
    if let Some(p) = &stack.pcrs_json {
        policy = policy.allow_pcrs(PcrSet::from_file(p).map_err(e2e)?);
    }
    Ok((root, policy))
}

/// The credential every bench submission seals (the mock exchange never
/// sees it: submit_key alone does not call the exchange).
pub fn bench_credential() -> Credential {
    Credential {
        api_key: Zeroizing::new("bench-api-key".into()),
        api_secret: Zeroizing::new("bench-api-secret".into()),
        ttl: 3600,
        symbols: None,
    }
}

/// Fetches and verifies a quote (fresh nonce): whom to seal to.
pub fn attested_recipient(client: &Client, stack: &Stack) -> Result<SealRecipient, E2eError> {
    let (root, policy) = trust(stack)?;
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(e2e)?;
    let quote = client.quote(Some(&nonce)).map_err(e2e)?;
    let verified = quote
        .verify(&root, SystemTime::now(), &policy.with_nonce(nonce.to_vec()))
        .map_err(e2e)?;
    Ok(SealRecipient::from_verified_quote(&verified))
}

/// Result of one submit burst.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Burst {
    /// 201 answers per second of wall time.
    pub ok_per_s: f64,
    /// 201 answers.
    pub ok: usize,
    /// Errors by code.
    pub errors: BTreeMap<String, u64>,
}

/// Seals `count` credentials, then submits them with `concurrency` threads
/// as fast as the host answers.
pub fn submit_burst(
    client: &Client,
    recipient: &SealRecipient,
    cred: &Credential,
    count: usize,
    concurrency: usize,
) -> Result<Burst, E2eError> {
    let bodies = seal_bodies(recipient, cred, count)?;
    Ok(burst(client, &bodies, concurrency))
}

/// `count` (at most [`MAX_SUBMITS`]) freshly sealed submission bodies.
pub fn seal_bodies(
    recipient: &SealRecipient,
    cred: &Credential,
    count: usize,
) -> Result<Vec<SubmitKeyBody>, E2eError> {
    (0..count.min(MAX_SUBMITS))
        .map(|_| seal(recipient, cred).map_err(|e| E2eError(e.code)))
        .collect()
}

/// Submits `bodies` with `concurrency` threads as fast as the host answers,
/// then revokes every session it opened (untimed).
pub fn burst(client: &Client, bodies: &[SubmitKeyBody], concurrency: usize) -> Burst {
    let (burst, sessions) = timed_burst(client, bodies, concurrency);
    // Untimed: the enclave holds at most MAX_SESSIONS open sessions, so a
    // benchmark must not leave thousands behind.
    revoke_all(client, sessions, concurrency);
    burst
}

/// The timed part of [`burst`]: its figures and the sessions it opened,
/// which the caller must revoke.
pub fn timed_burst(
    client: &Client,
    bodies: &[SubmitKeyBody],
    concurrency: usize,
) -> (Burst, Vec<String>) {
    let count = bodies.len();
    let next = AtomicUsize::new(0);
    let ok = AtomicUsize::new(0);
    let errors = Mutex::new(BTreeMap::<String, u64>::new());
    let sessions = Mutex::new(Vec::with_capacity(count));
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1) {
            s.spawn(|| {
                while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                    match client.submit(body) {
                        Ok(a) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            sessions
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(a.session_id);
                        }
                        Err(e) => {
                            let mut m = errors.lock().unwrap_or_else(|p| p.into_inner());
                            *m.entry(e.code().to_owned()).or_default() += 1;
                        }
                    }
                }
            });
        }
    });
    let elapsed = t0.elapsed();
    let ok = ok.into_inner();
    let burst = Burst {
        ok_per_s: ok as f64 / elapsed.as_secs_f64(),
        ok,
        errors: errors.into_inner().unwrap_or_else(|p| p.into_inner()),
    };
    (
        burst,
        sessions.into_inner().unwrap_or_else(|p| p.into_inner()),
    )
}

/// Revokes every session (errors ignored: a leftover session expires).
pub fn revoke_all(client: &Client, sessions: Vec<String>, concurrency: usize) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1) {
            s.spawn(|| {
                while let Some(id) = sessions.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let _ = client.revoke(id);
                }
            });
        }
    });
}

/// Submits `cred` and times `requests` sequential `request_aggregates`
/// calls on that session (ms each). The first answer is verified in full
/// and its total trade count must equal `expect_trades` when given.
pub fn aggregates_latency(
    client: &Client,
    stack: &Stack,
    cred: &Credential,
    requests: usize,
    expect_trades: Option<u64>,
) -> Result<Vec<f64>, E2eError> {
    let recipient = attested_recipient(client, stack)?;
    let body = seal(&recipient, cred).map_err(|e| E2eError(e.code))?;
    let session = client.submit(&body).map_err(e2e)?.session_id;
    let mut out = Vec::with_capacity(requests);
    for i in 0..requests {
        let t = Instant::now();
        let raw = client
            .request_aggregates_raw(&session, None, None, cred.symbols.as_deref())
            .map_err(e2e)?;
        out.push(t.elapsed().as_secs_f64() * 1e3);
        if i == 0 {
            check_answer(&raw, stack, expect_trades)?;
        }
    }
    client.revoke(&session).map_err(e2e)?;
    Ok(out)
}

fn check_answer(raw: &[u8], stack: &Stack, expect: Option<u64>) -> Result<(), E2eError> {
    let (root, policy) = trust(stack)?;
    let answer = parse_answer(raw).map_err(e2e)?;
    verify_result(&answer, &root, &policy).map_err(e2e)?;
    let total: u64 = answer.aggregates["symbols"]
        .as_object()
        .map(|m| m.values().filter_map(|s| s["trade_count"].as_u64()).sum())
        .unwrap_or(0);
    match expect {
        Some(want) if want != total => Err(E2eError(format!(
            "answer counts {total} trades, the fixture has {want}"
        ))),
        _ => Ok(()),
    }
}

/// The generated fixture's credential (`strongroom-mock-exchange
/// --generate-fixture`), requesting its two symbols explicitly.
pub fn generated_credential() -> Credential {
    Credential {
        api_key: Zeroizing::new(crate::generate::GENERATED_API_KEY.to_owned()),
        api_secret: Zeroizing::new(crate::generate::GENERATED_API_SECRET.to_owned()),
        ttl: 3600,
        symbols: Some(vec!["BTCUSDT".into(), "ETHUSDT".into()]),
    }
}
