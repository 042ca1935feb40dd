//! Opened credentials by session id, in memory only, dropped on forget or
//! expiry, and evicted least-recently-used when the cache is full.
//!
//! The cache is an optimisation, never an admission limit (issue 15.5): the
//! host sends the sealed credential with every `ComputeAggregates`, so a
//! session that is not cached here (evicted, or after a restart, or on
//! another instance) is opened again from it. A full cache therefore evicts
//! instead of refusing. Fairness between tenants: the victim is the
//! least-recently-used session of the tenant that holds the most sessions,
//! so a tenant flooding submissions evicts its own sessions once it holds
//! more than any other, and never pushes another tenant below an equal
//! share of the capacity.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::credential::Credential;

/// Default capacity (`--session-cache-capacity`): about 1 KiB per cached
/// credential, so 10,000 take ~10 MiB of the enclave's memory.
pub const DEFAULT_SESSION_CACHE_CAPACITY: usize = 10_000;
/// Longest session id (the host sends a UUID).
pub(crate) const MAX_SESSION_ID_LEN: usize = 64;
/// The tenant of sessions the host names no tenant for.
const NO_TENANT: &str = "";

struct Entry {
    credential: Arc<Credential>,
    tenant: String,
    /// Last use, in the cache's own ticks (LRU order).
    tick: u64,
}

/// The cache. Plain data; the caller serializes access.
pub(crate) struct SessionCache {
    capacity: usize,
    sessions: HashMap<String, Entry>,
    /// Per tenant, its sessions by last use (oldest first).
    by_tenant: HashMap<String, BTreeMap<u64, String>>,
    tick: u64,
    /// When a full cache last scanned for expired sessions (at most once a
    /// second: the scan is O(capacity), an eviction O(tenants)).
    purged_at_s: Option<u64>,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("capacity", &self.capacity)
            .field("len", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Default for SessionCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_SESSION_CACHE_CAPACITY)
    }
}

impl SessionCache {
    /// An empty cache holding at most `capacity` sessions (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            sessions: HashMap::new(),
            by_tenant: HashMap::new(),
            tick: 0,
            purged_at_s: None,
        }
    }

    /// Stores `credential` for `session_id` of `tenant`, replacing an
    /// earlier one. Expired entries go first (scanned for at most once a
    /// second); when the cache is still full,
    /// the least-recently-used session of the largest tenant is evicted.
    pub fn insert(
        &mut self,
        session_id: &str,
        tenant: Option<&str>,
        credential: Credential,
        now_s: u64,
    ) {
        self.remove(session_id);
        if self.sessions.len() >= self.capacity && self.purged_at_s != Some(now_s) {
            self.purged_at_s = Some(now_s);
            self.purge_expired(now_s);
        }
        let tenant = tenant.unwrap_or(NO_TENANT).to_owned();
        while self.sessions.len() >= self.capacity {
            self.evict_one(&tenant);
        }
        let tick = self.next_tick();
        self.by_tenant
            .entry(tenant.clone())
            .or_default()
            .insert(tick, session_id.to_owned());
        let entry = Entry {
            credential: Arc::new(credential),
            tenant,
            tick,
        };
        self.sessions.insert(session_id.to_owned(), entry);
    }

    /// The session's credential if cached and not expired (an expired one
    /// is dropped on the way); a hit makes it the most recently used.
    pub fn get(&mut self, session_id: &str, now_s: u64) -> Option<Arc<Credential>> {
        let live = self.sessions.get(session_id)?.credential.expires_at() > now_s;
        if !live {
            self.remove(session_id);
            return None;
        }
        let tick = self.next_tick();
        let entry = self.sessions.get_mut(session_id)?;
        let old = std::mem::replace(&mut entry.tick, tick);
        if let Some(lru) = self.by_tenant.get_mut(&entry.tenant) {
            lru.remove(&old);
            lru.insert(tick, session_id.to_owned());
        }
        Some(entry.credential.clone())
    }

    /// Drops the session; whether anything was cached.
    pub fn forget(&mut self, session_id: &str) -> bool {
        self.remove(session_id)
    }

    /// Drops every session of the credential `id`; how many.
    pub fn forget_credential(&mut self, id: &str) -> usize {
        let hit: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.credential.id() == id)
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in &hit {
            self.remove(sid);
        }
        hit.len()
    }

    /// Drops every expired session; how many.
    pub fn purge_expired(&mut self, now_s: u64) -> usize {
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.credential.expires_at() <= now_s)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.remove(id);
        }
        expired.len()
    }

    /// Number of cached sessions.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Sessions cached for `tenant`.
    #[cfg(test)]
    pub(crate) fn tenant_len(&self, tenant: &str) -> usize {
        self.by_tenant.get(tenant).map_or(0, BTreeMap::len)
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn remove(&mut self, session_id: &str) -> bool {
        let Some(entry) = self.sessions.remove(session_id) else {
            return false;
        };
        if let Some(lru) = self.by_tenant.get_mut(&entry.tenant) {
            lru.remove(&entry.tick);
            if lru.is_empty() {
                self.by_tenant.remove(&entry.tenant);
            }
        }
        true
    }

    /// Evicts the least-recently-used session of the tenant holding the most,
    /// counting the session `incoming` is about to add (so on a tie the
    /// inserting tenant gives way: nobody is pushed below an equal share by
    /// someone else's insert). O(tenants).
    fn evict_one(&mut self, incoming: &str) {
        let victim = self
            .by_tenant
            .iter()
            .filter_map(|(tenant, lru)| {
                let own = tenant == incoming;
                let (tick, id) = lru.first_key_value()?;
                Some(((lru.len() + usize::from(own), own, u64::MAX - tick), id))
            })
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, id)| id.clone());
        match victim {
            Some(id) => {
                self.remove(&id);
            }
            // Unreachable while `sessions` is non-empty (both maps hold the
            // same sessions); clear rather than loop.
            None => self.sessions.clear(),
        }
    }
}

/// A session id is 1..=64 bytes of `[A-Za-z0-9-]`.
pub(crate) fn valid_session_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_SESSION_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "sessions_tests.rs"]
mod tests;
