//! Recent successful authentications for `submit_key` only, so that a
//! submission costs one PostgreSQL round trip: the store call
//! (`strongroom_submit`, migration V9) authenticates the key again and stores
//! nothing for a key revoked in the meantime. Other routes always ask the
//! database. Keyed by SHA-256 of the API key (never the key); at most
//! [`MAX_ENTRIES`] entries, cleared whole when full.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Most cached keys (a full cache is emptied: the next requests ask the database).
pub const MAX_ENTRIES: usize = 10_000;

/// Key hash -> (tenant, when it authenticated).
#[derive(Debug)]
pub struct AuthCache {
    ttl: Duration,
    map: Mutex<HashMap<[u8; 32], (Uuid, Instant)>>,
}

impl AuthCache {
    /// Entries live `ttl`; a zero `ttl` caches nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant of `hash` if it authenticated less than the TTL before `now`.
    pub fn get(&self, hash: &[u8; 32], now: Instant) -> Option<Uuid> {
        let map = self.map.lock().ok()?;
        let (tenant, at) = map.get(hash)?;
        (now.duration_since(*at) < self.ttl).then_some(*tenant)
    }

    /// Records a successful authentication.
    pub fn put(&self, hash: [u8; 32], tenant: Uuid, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(hash, (tenant, now));
        }
    }

    /// Drops `hash` (its key was refused by the store call).
    pub fn forget(&self, hash: &[u8; 32]) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let c = AuthCache::new(Duration::from_secs(5));
        let (t, now) = (Uuid::new_v4(), Instant::now());
        c.put([1; 32], t, now);
        assert_eq!(c.get(&[1; 32], now + Duration::from_secs(4)), Some(t));
        assert_eq!(c.get(&[1; 32], now + Duration::from_secs(5)), None);
        assert_eq!(c.get(&[2; 32], now), None);
        c.forget(&[1; 32]);
        assert_eq!(c.get(&[1; 32], now), None);
        let off = AuthCache::new(Duration::ZERO);
        off.put([1; 32], t, now);
        assert_eq!(off.get(&[1; 32], now), None);
    }
}
