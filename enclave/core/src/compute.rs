//! `compute_aggregates`: fetch the session's history through the exchange
//! client, aggregate it in exact decimals, and sign the DESIGN.md payload.
//! The payload is built by a pure function (`build_payload`) so it is tested
//! without a network.

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use strongroom_formats::aggregates::{Selection, SelectionMode};
use strongroom_formats::returns::{self, METHODOLOGY, Returns};
use strongroom_protocol::ErrorCode;
use strongroom_protocol::aggregates::{AGGREGATES_VERSION, AggregatePayload};
use strongroom_protocol::messages::PreviousLeaf;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::aggregate::{AggregateError, Window, aggregate};
use crate::equity;
use crate::exchange::{Exchange, ExchangeError, History};
use crate::intake::Credential;

/// Largest difference tolerated between the enclave clock and the exchange's
/// (learned over TLS) before refusing to stamp a result.
pub(crate) const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// Why no signed result was produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ComputeError {
    /// Fetching the history failed.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The figures could not be computed.
    #[error(transparent)]
    Aggregate(#[from] AggregateError),
    /// The enclave clock and the exchange clock disagree.
    #[error("enclave clock disagrees with the exchange clock")]
    ClockSkew,
    /// The window is empty or inverted, or a time is out of range.
    #[error("invalid time window")]
    BadWindow,
    /// Encoding failed.
    #[error("payload encoding failed")]
    Encoding,
    /// Daily equity or its figures could not be computed (a value out of
    /// range; METHODOLOGY.md section 5): no partial block is signed.
    #[error("the returns could not be computed")]
    Returns,
}

impl ComputeError {
    /// The RPC code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ComputeError::Exchange(e) => e.code(),
            ComputeError::BadWindow => ErrorCode::InvalidArgument,
            ComputeError::ClockSkew
            | ComputeError::Aggregate(_)
            | ComputeError::Encoding
            | ComputeError::Returns => ErrorCode::Internal,
        }
    }
}

/// Domain separator of the v2 account pseudonym (DESIGN.md "Result payload v2").
pub(crate) const ACCOUNT_DOMAIN_V2: &[u8] = b"strongroom/account/v2";

/// hex SHA-256("strongroom/account/v2" ‖ 0x00 ‖ exchange ‖ 0x00 ‖ the
/// exchange's account id): every API key of one exchange account gives the
/// same pseudonym.
pub fn account_pseudonym_v2(exchange: &str, account_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(ACCOUNT_DOMAIN_V2);
    h.update([0u8]);
    h.update(exchange.as_bytes());
    h.update([0u8]);
    h.update(account_id.as_bytes());
    hex::encode(h.finalize())
}

/// Everything the payload states besides the figures.
#[derive(Debug, Clone)]
pub struct PayloadContext<'a> {
    /// Whether the request named its symbols (`selection.mode` = `listed`).
    pub listed: bool,
    /// The host's candidates for `previous`: the one for the computed
    /// account is signed, none means null.
    pub previous: &'a [PreviousLeaf],
    /// Window requested.
    pub window: Window,
    /// Enclave time when the figures were computed, unix ms.
    pub now_ms: u64,
    /// Key id the result is signed under.
    pub key_id: &'a str,
    /// PCR0 of the running image.
    pub pcr0: &'a [u8],
}

/// Formats unix milliseconds as RFC 3339 UTC (fraction only when non-zero).
pub fn rfc3339_ms(ms: i64) -> Option<String> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    t.format(&Rfc3339).ok()
}

/// Checks a window: bounds representable and `from < to` when both are given.
pub(crate) fn check_window(window: Window) -> Result<(), ComputeError> {
    for b in [window.from_ms, window.to_ms].into_iter().flatten() {
        rfc3339_ms(b).ok_or(ComputeError::BadWindow)?;
    }
    match (window.from_ms, window.to_ms) {
        (Some(f), Some(t)) if f >= t => Err(ComputeError::BadWindow),
        _ => Ok(()),
    }
}

/// The signed payload for `history` (pure).
pub(crate) fn build_payload(
    credential: &Credential,
    history: &History,
    ctx: &PayloadContext<'_>,
) -> Result<AggregatePayload, ComputeError> {
    let (symbols, totals) = aggregate(&history.trades, &history.symbols, ctx.window)?;
    let now = i64::try_from(ctx.now_ms).map_err(|_| ComputeError::BadWindow)?;
    let fmt = |b: Option<i64>| {
        b.map(|ms| rfc3339_ms(ms).ok_or(ComputeError::BadWindow))
            .transpose()
    };
    let account_id = history
        .account_id
        .as_deref()
        .ok_or(ComputeError::Exchange(ExchangeError::Malformed))?;
    let account = account_pseudonym_v2(credential.exchange(), account_id);
    let previous = ctx
        .previous
        .iter()
        .find(|p| p.account == account)
        .map(|p| hex::encode(&p.leaf_hash));
    Ok(AggregatePayload {
        version: AGGREGATES_VERSION,
        exchange: credential.exchange().to_owned(),
        label: credential.label().to_owned(),
        account,
        session: None,
        credential: Some(credential.id().to_owned()),
        owner: credential.owner_id(),
        policy: Some(*credential.policy()),
        permissions: history.permissions.clone(),
        selection: Some(Selection {
            mode: if ctx.listed {
                SelectionMode::Listed
            } else {
                SelectionMode::All
            },
            considered: history.considered.clone(),
            complete: history.complete,
        }),
        methodology: Some(METHODOLOGY.to_owned()),
        returns: returns_of(history)?,
        previous,
        from: fmt(ctx.window.from_ms)?,
        to: fmt(ctx.window.to_ms)?,
        computed_at: rfc3339_ms(now).ok_or(ComputeError::BadWindow)?,
        key_id: ctx.key_id.to_owned(),
        pcr0: hex::encode(ctx.pcr0),
        symbols,
        totals,
    })
}

/// The `returns` block of `history`'s daily equity, or `None` when there is
/// none (no snapshot). Pure.
pub(crate) fn returns_of(history: &History) -> Result<Option<Returns>, ComputeError> {
    let Some(inputs) = history.daily.as_ref() else {
        return Ok(None);
    };
    let Some(equity) = equity::build(inputs).map_err(|_| ComputeError::Returns)? else {
        return Ok(None);
    };
    let mut block = returns::compute(&inputs.valuation_asset, &equity.series, Decimal::ZERO)
        .map_err(|e| {
            tracing::warn!(reason = %e, "returns refused");
            ComputeError::Returns
        })?;
    block.unvalued = equity.unvalued;
    Ok(Some(block))
}

/// Checks the exchange's clock (learned over TLS while fetching) against the
/// enclave's: the exchange time must lie within [`MAX_CLOCK_SKEW_MS`] of the
/// enclave interval `[started_ms, now_ms]` during which it was read.
pub(crate) fn check_clock(
    exchange_time_ms: i64,
    started_ms: u64,
    now_ms: u64,
) -> Result<(), ComputeError> {
    let lo = i64::try_from(started_ms)
        .unwrap_or(i64::MAX)
        .saturating_sub(MAX_CLOCK_SKEW_MS);
    let hi = i64::try_from(now_ms)
        .unwrap_or(i64::MAX)
        .saturating_add(MAX_CLOCK_SKEW_MS);
    if (lo..=hi).contains(&exchange_time_ms) {
        Ok(())
    } else {
        tracing::warn!(
            exchange_time_ms,
            started_ms,
            now_ms,
            "enclave clock disagrees with the exchange"
        );
        Err(ComputeError::ClockSkew)
    }
}

/// Builds the payload for a fetched `history`, encodes it as CBOR and signs
/// it with `sign` (pure apart from `sign`).
pub(crate) fn sign_history(
    credential: &Credential,
    history: &History,
    ctx: &PayloadContext<'_>,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<(AggregatePayload, Vec<u8>), ComputeError> {
    let payload = build_payload(credential, history, ctx)?;
    let cbor = payload.to_cbor().map_err(|_| ComputeError::Encoding)?;
    Ok((payload, sign(&cbor)))
}

/// Fetches, aggregates, checks the clock, and signs with `sign`.
///
/// The enclave service runs the same steps split in two (fetch on the async
/// runtime, aggregate/sign/attest on the blocking pool), see
/// `service::EnclaveService`.
pub async fn compute_signed<E: Exchange>(
    exchange: &E,
    credential: &Credential,
    symbols: Option<&[String]>,
    ctx: &PayloadContext<'_>,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<(AggregatePayload, Vec<u8>), ComputeError> {
    check_window(ctx.window)?;
    let history = exchange.fetch_history(credential, symbols).await?;
    check_clock(history.exchange_time_ms, ctx.now_ms, ctx.now_ms)?;
    sign_history(credential, &history, ctx, sign)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rfc3339_formatting() {
        assert_eq!(rfc3339_ms(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_ms(1_767_225_600_000).unwrap(),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(
            rfc3339_ms(1_767_225_600_250).unwrap(),
            "2026-01-01T00:00:00.25Z"
        );
        assert!(rfc3339_ms(i64::MAX).is_none());
    }

    #[test]
    fn windows_are_checked() {
        let w = |f, t| Window {
            from_ms: f,
            to_ms: t,
        };
        assert!(check_window(w(None, None)).is_ok());
        assert!(check_window(w(Some(1), Some(2))).is_ok());
        assert_eq!(
            check_window(w(Some(2), Some(2))),
            Err(ComputeError::BadWindow)
        );
        assert_eq!(
            check_window(w(Some(3), Some(2))),
            Err(ComputeError::BadWindow)
        );
        assert_eq!(
            check_window(w(Some(i64::MAX), None)),
            Err(ComputeError::BadWindow)
        );
    }

    #[test]
    fn clock_is_cross_checked() {
        let t0 = 1_767_225_600_000u64;
        let t1 = t0 + 30_000;
        let e = |d: i64| t0 as i64 + d;
        assert!(check_clock(e(0), t0, t1).is_ok());
        assert!(check_clock(e(30_000 + MAX_CLOCK_SKEW_MS), t0, t1).is_ok());
        assert!(check_clock(e(-MAX_CLOCK_SKEW_MS), t0, t1).is_ok());
        assert_eq!(
            check_clock(e(-MAX_CLOCK_SKEW_MS - 1), t0, t1),
            Err(ComputeError::ClockSkew)
        );
        assert_eq!(
            check_clock(e(30_001 + MAX_CLOCK_SKEW_MS), t0, t1),
            Err(ComputeError::ClockSkew)
        );
    }
}
