//! Opened credentials by session id, in memory only, dropped on forget or
//! expiry.

use std::collections::HashMap;
use std::sync::Arc;

use super::credential::Credential;

/// Most sessions cached at once.
pub(crate) const MAX_SESSIONS: usize = 10_000;
/// Longest session id (the host sends a UUID).
pub(crate) const MAX_SESSION_ID_LEN: usize = 64;

/// The cache. Plain data; the caller serializes access.
#[derive(Debug, Default)]
pub(crate) struct SessionCache {
    sessions: HashMap<String, Arc<Credential>>,
}

impl SessionCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `credential` for `session_id`, replacing an earlier one.
    /// Expired entries are purged first; `false` when the cache is full.
    pub fn insert(&mut self, session_id: &str, credential: Credential, now_s: u64) -> bool {
        self.purge_expired(now_s);
        if self.sessions.len() >= MAX_SESSIONS && !self.sessions.contains_key(session_id) {
            return false;
        }
        self.sessions
            .insert(session_id.to_owned(), Arc::new(credential));
        true
    }

    /// The session's credential if cached and not expired (an expired one
    /// is dropped on the way).
    pub fn get(&mut self, session_id: &str, now_s: u64) -> Option<Arc<Credential>> {
        let live = self.sessions.get(session_id)?.expires_at() > now_s;
        if live {
            self.sessions.get(session_id).cloned()
        } else {
            self.sessions.remove(session_id);
            None
        }
    }

    /// Drops the session; whether anything was cached.
    pub fn forget(&mut self, session_id: &str) -> bool {
        self.sessions.remove(session_id).is_some()
    }

    /// Drops every expired session; how many.
    pub fn purge_expired(&mut self, now_s: u64) -> usize {
        let before = self.sessions.len();
        self.sessions.retain(|_, c| c.expires_at() > now_s);
        before - self.sessions.len()
    }

    /// Number of cached sessions.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
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
mod tests {
    use super::*;
    use crate::intake::credential::parse_plaintext;

    fn credential(expires_at: u64) -> Credential {
        let json = br#"{"exchange":"binance","api_key":"k","api_secret":"s","label":"main","not_after":99999999999}"#;
        Credential::from_plaintext(parse_plaintext(json).unwrap(), expires_at)
    }

    #[test]
    fn session_id_limits() {
        assert!(valid_session_id(&"a".repeat(MAX_SESSION_ID_LEN)));
        assert!(!valid_session_id(&"a".repeat(MAX_SESSION_ID_LEN + 1)));
        assert!(valid_session_id("3f2504e0-4f89-11d3-9a0c-0305e82c3301"));
        assert!(!valid_session_id(""));
        assert!(!valid_session_id("a/b"));
    }

    #[test]
    fn cache_is_bounded_and_purges_expired_first() {
        let mut cache = SessionCache::new();
        for i in 0..MAX_SESSIONS {
            assert!(cache.insert(&format!("s{i}"), credential(100 + (i % 2) as u64), 0));
        }
        assert!(!cache.insert("one-more", credential(200), 0), "full");
        assert!(
            cache.insert("s0", credential(200), 0),
            "replacing is allowed"
        );
        // At t=100 half of them have expired and are purged on insert.
        assert!(cache.insert("one-more", credential(200), 100));
        assert_eq!(cache.len(), MAX_SESSIONS / 2 + 2);
        assert!(cache.get("s1", 100).is_some());
        assert!(cache.get("s1", 101).is_none());
        assert!(cache.forget("s0"));
        assert!(!cache.forget("s0"));
    }
}
