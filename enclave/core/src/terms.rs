//! The trader's terms (DESIGN.md "Credential v2"), enforced on every
//! computation whatever the host asks: the sealed policy's window and
//! symbol rules, and at most one computation per `min_interval_seconds` per
//! credential — unless the owner signed for exactly this request.
//!
//! The interval is kept in this enclave's memory ([`Usage`]). What that
//! does not cover is stated in the README: a host that restarts the
//! enclave, or spreads requests over instances, can compute more often than
//! the interval — but every computation is logged under the credential's id
//! and time, so `strongroom history` shows it.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use strongroom_formats::policy::PolicyViolation;
use strongroom_verifier::owner::{Action, OwnerError, parse_rfc3339_ms, verify_action};

use crate::intake::Credential;
use crate::state::EnclaveError;

/// Most credentials whose last computation is remembered; beyond it the
/// entries of expired credentials go first, then the oldest.
pub(crate) const MAX_TRACKED: usize = 100_000;

/// What the request asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ask<'a> {
    /// Window start, unix ms.
    pub(crate) from_ms: Option<i64>,
    /// Window end, unix ms.
    pub(crate) to_ms: Option<i64>,
    /// Symbols named.
    pub(crate) symbols: Option<&'a [String]>,
}

/// Under which terms a computation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    /// The sealed policy allows it.
    Policy,
    /// The owner signed for exactly this request; the SHA-256 of the
    /// authorization (each is used once, [`Usage::claim`]).
    Owner([u8; 32]),
}

/// Checks `ask` against the credential's terms at `now_ms`: with an owner
/// authorization, that it is the owner's and names exactly this request;
/// without, the policy's window and symbol rules (the interval is
/// [`Usage::begin`]'s).
pub(crate) fn check(
    credential: &Credential,
    ask: Ask<'_>,
    owner_authorization: Option<&[u8]>,
    now_ms: u64,
) -> Result<Grant, EnclaveError> {
    let Some(auth) = owner_authorization else {
        credential
            .policy()
            .check_request(ask.from_ms, ask.to_ms, ask.symbols.is_some())
            .map_err(|violation| EnclaveError::Policy {
                violation,
                retry_after_s: None,
            })?;
        return Ok(Grant::Policy);
    };
    let owner = credential.owner_key().ok_or(EnclaveError::NoOwnerKey)?;
    let verified = verify_action(auth, Some(owner)).map_err(EnclaveError::Owner)?;
    let now_s = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
    verified
        .check(Action::Aggregates, credential.id(), now_s)
        .map_err(EnclaveError::Owner)?;
    let a = &verified.action;
    let bound = |b: &Option<String>| -> Result<Option<i64>, EnclaveError> {
        b.as_deref()
            .map(|t| parse_rfc3339_ms(t).ok_or(EnclaveError::Owner(OwnerError::Mismatch)))
            .transpose()
    };
    let sorted = |s: Option<&[String]>| {
        s.map(|s| {
            let mut v = s.to_vec();
            v.sort();
            v.dedup();
            v
        })
    };
    let same = bound(&a.from)? == ask.from_ms
        && bound(&a.to)? == ask.to_ms
        && sorted(a.symbols.as_deref()) == sorted(ask.symbols);
    if !same {
        return Err(EnclaveError::Owner(OwnerError::Mismatch));
    }
    Ok(Grant::Owner(Sha256::digest(auth).into()))
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    last_ms: Option<u64>,
    in_flight: bool,
    until_s: u64,
}

/// The last computation per credential, and the owner authorizations
/// already used, in this enclave's memory.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    map: Mutex<HashMap<String, Entry>>,
    /// SHA-256 of a used authorization -> until when it would be fresh (ms).
    claimed: Mutex<HashMap<[u8; 32], u64>>,
}

/// How long a claimed authorization is remembered: its `time` may lie up to
/// 300 s either side of the clock, so 600 s covers its whole life.
const CLAIM_TTL_MS: u64 = 2 * 300_000;

/// Most authorizations remembered at once (then the request is refused
/// `busy` until some expire).
pub(crate) const MAX_CLAIMED: usize = 100_000;

/// A computation under way for a credential; [`Slot::done`] records it,
/// dropping it without (a failure, a cancel) frees the credential again.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    usage: &'a Usage,
    id: Option<String>,
}

impl Usage {
    /// Uses the owner authorization `digest` once: while a computation
    /// under it is in flight or after one succeeded, another use (a host
    /// replaying it within its 300 s) is refused as stale; a computation
    /// that failed frees it for a retry ([`Claim`]). Across restarts or
    /// instances a replay stays possible within those 300 s; it repeats
    /// exactly the computation the owner asked for, and each is logged.
    pub(crate) fn claim(&self, digest: [u8; 32], now_ms: u64) -> Result<Claim<'_>, EnclaveError> {
        let mut claimed = self
            .claimed
            .lock()
            .map_err(|_| EnclaveError::Internal("lock poisoned".to_owned()))?;
        if claimed.len() >= MAX_CLAIMED {
            claimed.retain(|_, until| *until > now_ms);
            if claimed.len() >= MAX_CLAIMED {
                return Err(EnclaveError::Busy);
            }
        }
        if claimed.get(&digest).is_some_and(|until| *until > now_ms) {
            return Err(EnclaveError::Owner(OwnerError::Stale));
        }
        claimed.insert(digest, now_ms.saturating_add(CLAIM_TTL_MS));
        Ok(Claim {
            usage: self,
            digest: Some(digest),
        })
    }

    /// Starts a computation under the policy's interval: refused while
    /// another is in flight for the credential or within
    /// `min_interval_seconds` of the last one (with the seconds to wait).
    pub(crate) fn begin(
        &self,
        credential: &Credential,
        now_ms: u64,
    ) -> Result<Slot<'_>, EnclaveError> {
        let interval_ms = credential
            .policy()
            .min_interval_seconds
            .saturating_mul(1000);
        let mut map = self
            .map
            .lock()
            .map_err(|_| EnclaveError::Internal("lock poisoned".to_owned()))?;
        let refuse = |wait_ms: u64| EnclaveError::Policy {
            violation: PolicyViolation::Interval,
            retry_after_s: Some(u32::try_from(wait_ms.div_ceil(1000).max(1)).unwrap_or(u32::MAX)),
        };
        if let Some(e) = map.get(credential.id()) {
            if e.in_flight && interval_ms > 0 {
                return Err(refuse(interval_ms));
            }
            if let Some(last) = e.last_ms {
                let next = last.saturating_add(interval_ms);
                if now_ms < next {
                    return Err(refuse(next - now_ms));
                }
            }
        }
        if map.len() >= MAX_TRACKED && !map.contains_key(credential.id()) {
            let now_s = now_ms / 1000;
            map.retain(|_, e| e.until_s > now_s || e.in_flight);
            if map.len() >= MAX_TRACKED {
                let oldest = map
                    .iter()
                    .filter(|(_, e)| !e.in_flight)
                    .min_by_key(|(_, e)| e.last_ms)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    map.remove(&k);
                }
            }
        }
        let entry = map.entry(credential.id().to_owned()).or_insert(Entry {
            last_ms: None,
            in_flight: false,
            until_s: credential.not_after(),
        });
        entry.in_flight = true;
        Ok(Slot {
            usage: self,
            id: Some(credential.id().to_owned()),
        })
    }
}

/// An owner authorization in use; dropped without [`Claim::done`] (the
/// computation failed) it may be used again.
#[derive(Debug)]
pub(crate) struct Claim<'a> {
    usage: &'a Usage,
    digest: Option<[u8; 32]>,
}

impl Claim<'_> {
    /// The computation produced a signed result: the authorization is spent.
    pub(crate) fn done(mut self) {
        self.digest = None;
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some(d) = self.digest.take()
            && let Ok(mut claimed) = self.usage.claimed.lock()
        {
            claimed.remove(&d);
        }
    }
}

impl Slot<'_> {
    /// The computation produced a signed result at `now_ms`.
    pub(crate) fn done(mut self, now_ms: u64) {
        if let Some(id) = self.id.take()
            && let Ok(mut map) = self.usage.map.lock()
            && let Some(e) = map.get_mut(&id)
        {
            e.in_flight = false;
            e.last_ms = Some(now_ms);
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take()
            && let Ok(mut map) = self.usage.map.lock()
            && let Some(e) = map.get_mut(&id)
        {
            e.in_flight = false;
        }
    }
}
