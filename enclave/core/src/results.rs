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

use sha2::{Digest, Sha256};
use strongroom_protocol::messages::{
    AggregatesResult, ComputeAggregatesRequest, MAX_PREVIOUS, PreviousLeaf,
};

use crate::aggregate::Window;
use crate::compute::{PayloadContext, check_clock, check_window, sign_history};
use crate::exchange::{Exchange, History};
use crate::handle::Ports;
use crate::intake::Credential;
use crate::state::{Enclave, EnclaveError};
use crate::terms::{self, Ask, Grant};

/// Serves one `ComputeAggregates` request end to end (phase already checked
/// by [`crate::handle::handle`]).
pub(crate) async fn compute_aggregates<P: Ports>(
    ports: &P,
    req: ComputeAggregatesRequest,
) -> Result<AggregatesResult, EnclaveError> {
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
        ..
    } = req;
    if previous.len() > MAX_PREVIOUS || previous.iter().any(|p| p.leaf_hash.len() != 32) {
        return Err(EnclaveError::InvalidArgument);
    }
    let credential = ports
        .blocking(move |e| e.session_credential(&session_id, tenant.as_deref(), &sealed, &metadata))
        .await??;
    if credential.exchange() != exchange.name() {
        return Err(EnclaveError::UnsupportedExchange);
    }
    let started_ms = ports.enclave().clock().now_unix_ms();
    let ask = Ask {
        from_ms: window.from_ms,
        to_ms: window.to_ms,
        symbols: symbols.as_deref(),
    };
    // The trader's terms, whatever the host asked (owner signature checks
    // are a few hundred microseconds: no need for the blocking pool).
    let grant = terms::check(&credential, ask, owner_authorization.as_deref(), started_ms)?;
    let usage = ports.enclave().usage();
    let (interval, claim) = match grant {
        Grant::Policy => (Some(usage.begin(&credential, started_ms)?), None),
        Grant::Owner(digest) => (None, Some(usage.claim(digest, started_ms)?)),
    };
    let listed = symbols.is_some();
    let history = exchange
        .fetch_history(&credential, symbols.as_deref())
        .await
        .map_err(|e| {
            tracing::info!(reason = %e, "exchange fetch failed");
            EnclaveError::Compute(e.into())
        })?;
    let answer = ports
        .blocking(move |e| {
            let ctx = Asked {
                listed,
                window,
                previous: &previous,
            };
            sign_aggregates(e, &credential, &history, &ctx, started_ms)
        })
        .await??;
    if let Some(slot) = interval {
        slot.done(started_ms);
    }
    if let Some(claim) = claim {
        claim.done();
    }
    Ok(answer)
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
