//! Requests per second per client address: a token bucket per address
//! (burst of two seconds' worth), forgotten after a minute idle so the map
//! stays bounded by recent clients.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Idle time after which an address's bucket is dropped.
const IDLE: Duration = Duration::from_secs(60);
/// Most addresses tracked; past it, idle buckets are swept first.
const MAX_TRACKED: usize = 100_000;

/// A per-address token bucket.
#[derive(Debug)]
pub struct Limiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Limiter {
    /// `rate` requests per second, bursts of `2 * rate`.
    pub fn new(rate: u32) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(rate) * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `ip` at `now`; false when the bucket is empty.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let Ok(mut map) = self.buckets.lock() else {
            return false;
        };
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (_, seen)| now.duration_since(*seen) < IDLE);
        }
        let (tokens, seen) = map.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*seen).as_secs_f64() * self.rate).min(self.burst);
        *seen = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let l = Limiter::new(2);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t0 = Instant::now();
        assert!((0..4).all(|_| l.allow(ip, t0)));
        assert!(!l.allow(ip, t0));
        assert!(
            l.allow([10, 0, 0, 1].into(), t0),
            "another address has its own bucket"
        );
        assert!(l.allow(ip, t0 + Duration::from_millis(500)));
        assert!(!l.allow(ip, t0 + Duration::from_millis(500)));
    }
}
