//! `ComputeAggregates`: the request that needs the exchange. The steps, and
//! where each runs:
//!
//! 1. checks and the session's credential (cache, or the forwarded envelope
//!    re-opened) — [`Ports::blocking`] (HPKE);
//! 2. the trade history through the [`Exchange`] port (the binary: network
//!    through the egress proxy, TLS inside the enclave);
//! 3. clock cross-check, aggregation, COSE signature, and the attestation
//!    document with `nonce = SHA-256(signed bytes)` — [`Ports::blocking`]
//!    (CPU, NSM ioctl), all under one read of the key ring so the result's
//!    `kid`, the signing key and the attested `user_data` always agree.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use strongroom_protocol::messages::{
    AggregatesResult, ComputeAggregatesRequest, ComputePending, MAX_JOB_ID_LEN, MAX_PREVIOUS,
    PreviousLeaf, SealedHistory,
};

use crate::aggregate::Window;
use crate::compute::{
    PayloadContext, account_pseudonym_v2, check_clock, check_window, sign_history,
};
use crate::exchange::{Exchange, Fetched, History, Interrupted, Resume};
use crate::handle::Ports;
use crate::history::{self, HistoryKey, Segment, Stored};
use crate::intake::Credential;
use crate::jobs::{self, Job};
use crate::state::{Enclave, EnclaveError};
use crate::terms::{self, Ask, Claim, Grant, Slot, Usage};

/// What a `ComputeAggregates` answers when it does not fail.
#[derive(Debug)]
pub(crate) enum Computed {
    /// The signed result.
    Signed(AggregatesResult),
    /// Interrupted by the exchange's weight budget: the progress.
    Pending(ComputePending),
}

/// The terms of one attempt: the request's, and the job it continues.
struct Terms {
    grant: Grant,
    ask: [u8; 32],
    job: Option<String>,
    remembered: Option<Job>,
    started_ms: u64,
}

/// Serves one `ComputeAggregates` request end to end (phase already checked
/// by [`crate::handle::handle`]).
pub(crate) async fn compute_aggregates<P: Ports>(
    ports: &P,
    req: ComputeAggregatesRequest,
) -> Result<Computed, EnclaveError> {
    let window = Window {
        from_ms: req.from_ms,
        to_ms: req.to_ms,
    };
    check_window(window)?;
    let exchange = ports.exchange().ok_or(EnclaveError::NoEgress)?;
    // Held until the answer is signed, or until this future is dropped.
    let _slot = ports
        .enclave()
        .slots()
        .try_acquire(req.tenant.as_deref())
        .ok_or(EnclaveError::ComputeBusy)?;
    let ComputeAggregatesRequest {
        tenant,
        session_id,
        sealed,
        metadata,
        symbols,
        owner_authorization,
        previous,
        history,
        job,
        ..
    } = req;
    check_request(&previous, job.as_deref())?;
    let credential = ports
        .blocking(move |e| e.session_credential(&session_id, tenant.as_deref(), &sealed, &metadata))
        .await??;
    if credential.exchange() != exchange.name() {
        return Err(EnclaveError::UnsupportedExchange);
    }
    let ask = Ask {
        from_ms: window.from_ms,
        to_ms: window.to_ms,
        symbols: symbols.as_deref(),
    };
    let terms = grant(
        ports.enclave(),
        &credential,
        ask,
        owner_authorization.as_deref(),
        job,
    )?;
    let guards = Guards::take(ports.enclave().usage(), &credential, &terms)?;
    let stored = ports.blocking(move |e| open_stored(e, &history)).await??;
    let done = terms
        .remembered
        .as_ref()
        .map(|j| j.done.clone())
        .unwrap_or_default();
    let resume = Resume {
        stored: &stored,
        done: &done,
    };
    let fetched = exchange
        .fetch(&credential, symbols.as_deref(), resume)
        .await
        .map_err(|e| {
            tracing::info!(reason = %e, "exchange fetch failed");
            EnclaveError::Compute(e.into())
        })?;
    let history = match fetched {
        Fetched::Complete(history) => history,
        // `guards` drop: a pending answer spends neither interval nor claim.
        Fetched::Pending(p) => return pending(ports, &credential, &stored, terms, p).await,
    };
    log_others(&stored, exchange.name(), history.account_id.as_deref());
    let asked = (symbols.is_some(), window, previous);
    let id = credential.id().to_owned();
    let answer = signed(ports, credential, history, asked, terms.started_ms).await?;
    guards.done(terms.started_ms);
    if let Some(job) = &terms.job {
        ports.enclave().jobs().forget(&id, job);
    }
    Ok(Computed::Signed(answer))
}

/// The request's own bounds: `previous` candidates and the job id.
fn check_request(previous: &[PreviousLeaf], job: Option<&str>) -> Result<(), EnclaveError> {
    let job_ok = job.is_none_or(|j| !j.is_empty() && j.len() <= MAX_JOB_ID_LEN);
    if previous.len() > MAX_PREVIOUS || previous.iter().any(|p| p.leaf_hash.len() != 32) || !job_ok
    {
        return Err(EnclaveError::InvalidArgument);
    }
    Ok(())
}

/// The policy's interval or the owner's authorization, held while the
/// computation runs; dropped without [`Guards::done`] (a failure, a
/// pending answer) they are free again.
struct Guards<'a> {
    interval: Option<Slot<'a>>,
    claim: Option<Claim<'a>>,
}

impl<'a> Guards<'a> {
    fn take(
        usage: &'a Usage,
        credential: &Credential,
        terms: &Terms,
    ) -> Result<Self, EnclaveError> {
        Ok(match terms.grant {
            Grant::Policy => Guards {
                interval: Some(usage.begin(credential, terms.started_ms)?),
                claim: None,
            },
            Grant::Owner(digest) => Guards {
                interval: None,
                claim: Some(usage.claim(digest, terms.started_ms)?),
            },
        })
    }

    /// The result is signed: the interval counts from `started_ms`, the
    /// authorization is spent.
    fn done(self, started_ms: u64) {
        if let Some(slot) = self.interval {
            slot.done(started_ms);
        }
        if let Some(claim) = self.claim {
            claim.done();
        }
    }
}

/// Step 3 on the blocking pool: the clock check, payload, signature and
/// attestation, and the new segments sealed.
async fn signed<P: Ports>(
    ports: &P,
    credential: Arc<Credential>,
    history: History,
    (listed, window, previous): (bool, Window, Vec<PreviousLeaf>),
    started_ms: u64,
) -> Result<AggregatesResult, EnclaveError> {
    ports
        .blocking(move |e| {
            let ctx = Asked {
                listed,
                window,
                previous: &previous,
            };
            let mut answer = sign_aggregates(e, &credential, &history, &ctx, started_ms)?;
            let account = account_of(&credential, &history);
            answer.history = seal_segments(e, &account, &history.segments)?;
            Ok(answer)
        })
        .await?
}

/// The grant of this attempt: the one remembered for the job (same
/// credential, same terms, within its lifetime), or the terms checked now.
fn grant(
    enclave: &Enclave,
    credential: &Credential,
    ask: Ask<'_>,
    owner_authorization: Option<&[u8]>,
    job: Option<String>,
) -> Result<Terms, EnclaveError> {
    let started_ms = enclave.clock().now_unix_ms();
    let digest = jobs::ask_digest(&ask, owner_authorization);
    let remembered = job
        .as_deref()
        .and_then(|j| enclave.jobs().get(credential.id(), j, &digest, started_ms));
    // The trader's terms, whatever the host asked (owner signature checks
    // are a few hundred microseconds: no need for the blocking pool).
    let grant = match &remembered {
        Some(j) => j.grant,
        None => terms::check(credential, ask, owner_authorization, started_ms)?,
    };
    Ok(Terms {
        grant,
        ask: digest,
        job,
        remembered,
        started_ms,
    })
}

/// Opens the request's segments under the ring's history key.
fn open_stored(enclave: &Enclave, items: &[SealedHistory]) -> Result<Stored, EnclaveError> {
    let key = enclave.with_key_ring(HistoryKey::of)?;
    let (stored, refused) = Stored::open_all(&key, items);
    if refused > 0 {
        tracing::info!(refused, "stored history segments refused");
    }
    Ok(stored)
}

fn log_others(stored: &Stored, exchange: &str, account_id: Option<&str>) {
    let account = account_pseudonym_v2(exchange, account_id.unwrap_or_default());
    let others = stored.others(&account);
    if others > 0 {
        tracing::info!(others, "stored history segments of other accounts ignored");
    }
}

fn account_of(credential: &Credential, history: &History) -> String {
    account_pseudonym_v2(
        credential.exchange(),
        history.account_id.as_deref().unwrap_or_default(),
    )
}

/// Seals new segments of `account` under the ring's history key, each with
/// a fresh NSM nonce.
fn seal_segments(
    enclave: &Enclave,
    account: &str,
    segments: &[Segment],
) -> Result<Vec<SealedHistory>, EnclaveError> {
    let key = enclave.with_key_ring(HistoryKey::of)?;
    segments
        .iter()
        .map(|s| {
            let random = enclave
                .nsm()
                .random(history::NONCE_LEN)
                .map_err(|e| EnclaveError::Internal(e.to_string()))?;
            let nonce: [u8; history::NONCE_LEN] = random
                .as_slice()
                .try_into()
                .map_err(|_| EnclaveError::Internal("short randomness".to_owned()))?;
            let sealed = history::seal(&key, account, s, nonce)
                .ok_or_else(|| EnclaveError::Internal("segment too large".to_owned()))?;
            Ok(SealedHistory {
                account: account.to_owned(),
                sealed,
            })
        })
        .collect()
}

/// The answer to an attempt the weight budget interrupted: the segments
/// fetched so far, sealed, and the job remembered. The policy's interval
/// and the owner's authorization are not consumed (their guards drop).
async fn pending<P: Ports>(
    ports: &P,
    credential: &Credential,
    stored: &Stored,
    terms: Terms,
    p: Interrupted,
) -> Result<Computed, EnclaveError> {
    let account = account_pseudonym_v2(credential.exchange(), &p.account_id);
    log_others(stored, credential.exchange(), Some(&p.account_id));
    let Interrupted {
        segments,
        done,
        symbols_total,
        weight_used,
        retry_after_s,
        ..
    } = p;
    let symbols_done = u32::try_from(done.len()).unwrap_or(u32::MAX);
    let acc = account.clone();
    let sealed = ports
        .blocking(move |e| seal_segments(e, &acc, &segments))
        .await??;
    let (first_ms, before) = terms
        .remembered
        .as_ref()
        .map_or((terms.started_ms, 0), |j| (j.first_ms, j.weight_used));
    let weight_used = before.saturating_add(weight_used);
    if let Some(job) = &terms.job {
        let entry = Job {
            ask: terms.ask,
            grant: terms.grant,
            first_ms,
            done,
            weight_used,
        };
        ports
            .enclave()
            .jobs()
            .remember(credential.id(), job, entry, terms.started_ms);
    }
    tracing::info!(
        symbols_done,
        symbols_total,
        retry_after_s,
        "computation pending"
    );
    Ok(Computed::Pending(ComputePending {
        account,
        history: sealed,
        symbols_done,
        symbols_total,
        weight_used,
        retry_after_s,
    }))
}

/// What the request asked for, as far as the payload states it.
pub(crate) struct Asked<'a> {
    /// Symbols were named.
    pub(crate) listed: bool,
    /// The window.
    pub(crate) window: Window,
    /// The host's candidates for `previous`.
    pub(crate) previous: &'a [PreviousLeaf],
}

/// Step 3: checks the exchange clock, signs the payload and attests to it.
pub(crate) fn sign_aggregates(
    enclave: &Enclave,
    credential: &Credential,
    history: &History,
    asked: &Asked<'_>,
    started_ms: u64,
) -> Result<AggregatesResult, EnclaveError> {
    let now_ms = enclave.clock().now_unix_ms();
    check_clock(history.exchange_time_ms, started_ms, now_ms)?;
    enclave.with_key_ring(|ring| {
        let key_id = ring.current().key_id();
        let ctx = PayloadContext {
            listed: asked.listed,
            window: asked.window,
            previous: asked.previous,
            now_ms,
            key_id,
            pcr0: enclave.pcr0(),
        };
        let (_, signed) = sign_history(credential, history, &ctx, |cbor| {
            ring.signing().sign_cose(cbor, key_id)
        })?;
        let nonce = Sha256::digest(&signed);
        let (att, _) = enclave.attest_ring(ring, Some(nonce.as_slice()))?;
        Ok(AggregatesResult {
            signed,
            attestation: att.document,
            history: Vec::new(),
        })
    })?
}
