//! Jobs: a computation interrupted by the exchange's weight budget
//! (`pending`) and asked again by the host under the same `job` id. The
//! enclave remembers, in memory only, per (credential, job):
//!
//! - the grant taken at the first attempt (the policy, or the owner's
//!   authorization by its digest), so a job lasting minutes does not fail
//!   on an owner authorization's 300 s freshness — but only for exactly
//!   the request first granted (window, symbols and authorization bytes
//!   are hashed into the entry), only for the same credential (the key),
//!   and only within [`JOB_TTL_MS`] of the first attempt;
//! - which symbols the job already brought up to date (symbol -> the cursor
//!   reached), so later attempts do not query them again when the host
//!   hands their segments back (when it does not, they are fetched again:
//!   completeness first);
//! - the exchange weight the job used.
//!
//! A pending answer consumes neither the policy's interval nor the owner's
//! authorization (like a failure); a signed result ends the job.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::terms::{Ask, Grant};

/// Most jobs remembered; beyond it expired entries go first, then the oldest.
pub(crate) const MAX_JOBS: usize = 1_024;
/// A job is forgotten this long after its first attempt.
pub(crate) const JOB_TTL_MS: u64 = 15 * 60 * 1000;

/// What the enclave remembers of one job.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// SHA-256 of the request's terms ([`ask_digest`]).
    pub(crate) ask: [u8; 32],
    /// The grant of the first attempt.
    pub(crate) grant: Grant,
    /// Enclave time of the first attempt, unix ms.
    pub(crate) first_ms: u64,
    /// Symbols brought up to date -> the cursor reached.
    pub(crate) done: BTreeMap<String, u64>,
    /// Exchange weight used by the job's attempts so far.
    pub(crate) weight_used: u64,
}

/// The jobs in this enclave's memory, by (credential id, job id).
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    map: Mutex<HashMap<(String, String), Job>>,
}

/// SHA-256 over the request's terms: window bounds, the sorted symbol set,
/// and the owner authorization's bytes, each length- or tag-prefixed.
pub(crate) fn ask_digest(ask: &Ask<'_>, owner_authorization: Option<&[u8]>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"strongroom/job/v1");
    for b in [ask.from_ms, ask.to_ms] {
        match b {
            Some(v) => h.update([&[1u8][..], &v.to_be_bytes()].concat()),
            None => h.update([0u8]),
        }
    }
    match ask.symbols {
        Some(list) => {
            let mut v: Vec<&String> = list.iter().collect();
            v.sort();
            v.dedup();
            h.update([1u8]);
            h.update((v.len() as u64).to_be_bytes());
            for s in v {
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
        }
        None => h.update([0u8]),
    }
    match owner_authorization {
        Some(a) => {
            h.update([1u8]);
            h.update(Sha256::digest(a));
        }
        None => h.update([0u8]),
    }
    h.finalize().into()
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Job>> {
        // Plain data, consistent after any panic.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The job `job` of `credential` if remembered, unexpired at `now_ms`,
    /// and asked on exactly the same terms (`ask`).
    pub(crate) fn get(
        &self,
        credential: &str,
        job: &str,
        ask: &[u8; 32],
        now_ms: u64,
    ) -> Option<Job> {
        let map = self.lock();
        let j = map.get(&(credential.to_owned(), job.to_owned()))?;
        let fresh = now_ms < j.first_ms.saturating_add(JOB_TTL_MS);
        (fresh && j.ask == *ask).then(|| j.clone())
    }

    /// Remembers `entry` (after a pending answer), evicting expired jobs
    /// and then the oldest when full.
    pub(crate) fn remember(&self, credential: &str, job: &str, entry: Job, now_ms: u64) {
        let mut map = self.lock();
        let key = (credential.to_owned(), job.to_owned());
        if map.len() >= MAX_JOBS && !map.contains_key(&key) {
            map.retain(|_, j| now_ms < j.first_ms.saturating_add(JOB_TTL_MS));
            if map.len() >= MAX_JOBS {
                let oldest = map
                    .iter()
                    .min_by_key(|(_, j)| j.first_ms)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    map.remove(&k);
                }
            }
        }
        map.insert(key, entry);
    }

    /// Forgets a job (its result is signed).
    pub(crate) fn forget(&self, credential: &str, job: &str) {
        self.lock().remove(&(credential.to_owned(), job.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(ask: [u8; 32], first_ms: u64) -> Job {
        Job {
            ask,
            grant: Grant::Policy,
            first_ms,
            done: BTreeMap::new(),
            weight_used: 0,
        }
    }

    #[test]
    fn a_job_is_bound_to_its_credential_terms_and_lifetime() {
        let jobs = Jobs::default();
        let a = ask_digest(
            &Ask {
                from_ms: None,
                to_ms: Some(5),
                symbols: None,
            },
            None,
        );
        let b = ask_digest(
            &Ask {
                from_ms: None,
                to_ms: Some(6),
                symbols: None,
            },
            None,
        );
        assert_ne!(a, b);
        jobs.remember("c1", "j", job(a, 1_000), 1_000);
        assert!(jobs.get("c1", "j", &a, 2_000).is_some());
        assert!(
            jobs.get("c2", "j", &a, 2_000).is_none(),
            "another credential"
        );
        assert!(jobs.get("c1", "j", &b, 2_000).is_none(), "other terms");
        assert!(
            jobs.get("c1", "j", &a, 1_000 + JOB_TTL_MS).is_none(),
            "expired"
        );
        jobs.forget("c1", "j");
        assert!(jobs.get("c1", "j", &a, 2_000).is_none());
    }

    #[test]
    fn the_memory_is_bounded() {
        let jobs = Jobs::default();
        for i in 0..MAX_JOBS as u64 + 10 {
            jobs.remember("c", &i.to_string(), job([0; 32], i), 0);
        }
        assert_eq!(jobs.lock().len(), MAX_JOBS);
        assert!(
            jobs.get("c", "0", &[0; 32], 100).is_none(),
            "oldest evicted"
        );
        assert!(jobs.get("c", "1033", &[0; 32], 100).is_some());
    }

    #[test]
    fn symbol_order_and_repeats_do_not_change_the_terms() {
        let s1 = ["B".to_owned(), "A".to_owned(), "A".to_owned()];
        let s2 = ["A".to_owned(), "B".to_owned()];
        let d = |s: &[String], auth: Option<&[u8]>| {
            ask_digest(
                &Ask {
                    from_ms: None,
                    to_ms: None,
                    symbols: Some(s),
                },
                auth,
            )
        };
        assert_eq!(d(&s1, None), d(&s2, None));
        assert_ne!(d(&s2, None), d(&s2, Some(b"x")));
    }
}
