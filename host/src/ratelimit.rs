//! Fixed-window rate limiting, in process memory: the key-sync listener's
//! limit, and the fallback of the API's limits, which are shared by every
//! instance through PostgreSQL ([`crate::shared_limits`]) while it answers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many tracked keys, expired windows are pruned on insert.
const PRUNE_ABOVE: usize = 10_000;

/// Counts requests per key in fixed windows.
#[derive(Debug)]
pub struct RateLimiter {
    max: u32,
    window: Duration,
    buckets: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// `max` requests per `window` and key.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request for `key`; `Err(retry_after)` when over the limit.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let window = self.window;
            buckets.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = buckets.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.max {
            return Err(self.window.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_lifts() {
        let rl = RateLimiter::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(rl.check("a", t0).is_ok());
        assert!(rl.check("a", t0).is_ok());
        let retry = rl.check("a", t0 + Duration::from_secs(3)).unwrap_err();
        assert_eq!(retry, Duration::from_secs(7));
        assert!(rl.check("b", t0).is_ok(), "keys are independent");
        assert!(
            rl.check("a", t0 + Duration::from_secs(10)).is_ok(),
            "new window"
        );
    }
}
