//! Fixed-window rate limits shared by every host instance through
//! PostgreSQL (issue 15.4; table `rate_limits`, migration V12).
//!
//! Cost: a host reserves tokens for a key and window in batches of
//! [`batch_size`] (one upsert that never lets the window's total pass
//! RATE_LIMIT_MAX) and admits from its local batch without a statement;
//! once the database says the window is spent, the host refuses locally
//! until the window ends, so a flood costs no statements at all. So the
//! instances together admit at most RATE_LIMIT_MAX per key and window. The
//! price: tokens one instance reserved and did not use are lost for that
//! window, so a client spread over N instances may get up to
//! N × (batch − 1) fewer. Windows are aligned to the unix epoch by each
//! host's clock (hosts run NTP; a skew of a few ms moves a boundary by as
//! much). When the database cannot be reached, the host falls back to its
//! own in-memory count ([`RateLimiter`]): per instance again, never none.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deadpool_postgres::Pool;

use crate::ratelimit::RateLimiter;

/// Above this many tracked keys, past windows are pruned from the local map.
const PRUNE_ABOVE: usize = 10_000;

/// Tokens reserved per statement: a twentieth of the limit, 1 to 100.
pub fn batch_size(max: u32) -> u32 {
    (max / 20).clamp(1, 100)
}

/// What this host holds for one key.
#[derive(Debug, Clone, Copy)]
struct Local {
    window_start: i64,
    remaining: u32,
    /// The database said the window is spent: refuse without asking again.
    spent: bool,
}

/// Shared fixed-window limiter.
#[derive(Debug)]
pub struct SharedRateLimiter {
    pool: Pool,
    max: u32,
    window_ms: i64,
    batch: u32,
    local: Mutex<HashMap<String, Local>>,
    fallback: RateLimiter,
}

impl SharedRateLimiter {
    /// `max` requests per `window` and key, across every instance on `pool`.
    pub fn new(pool: Pool, max: u32, window: Duration) -> Self {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
        Self {
            pool,
            max,
            window_ms,
            batch: batch_size(max),
            local: Mutex::new(HashMap::new()),
            fallback: RateLimiter::new(max, window),
        }
    }

    /// Counts one request for `key`; `Err(retry_after)` when the window is
    /// spent across all instances.
    pub async fn check(&self, key: &str) -> Result<(), Duration> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let start = now_ms - now_ms.rem_euclid(self.window_ms);
        let retry =
            Duration::from_millis(u64::try_from(start + self.window_ms - now_ms).unwrap_or(0));
        match self.take_local(key, start) {
            Some(true) => return Ok(()),
            Some(false) => return Err(retry),
            None => {}
        }
        match self.reserve(key, start).await {
            Ok(granted) => self.add_local(key, start, granted, retry),
            Err(e) => {
                tracing::warn!(error = %e, "shared rate limit unavailable: counting locally");
                self.fallback.check(key, Instant::now())
            }
        }
    }

    /// From the local batch: `Some(true)` admitted, `Some(false)` spent,
    /// `None` ask the database.
    fn take_local(&self, key: &str, start: i64) -> Option<bool> {
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let l = local.get_mut(key).filter(|l| l.window_start == start)?;
        if l.remaining > 0 {
            l.remaining -= 1;
            return Some(true);
        }
        l.spent.then_some(false)
    }

    fn add_local(
        &self,
        key: &str,
        start: i64,
        granted: u32,
        retry: Duration,
    ) -> Result<(), Duration> {
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if local.len() > PRUNE_ABOVE {
            local.retain(|_, l| l.window_start >= start);
        }
        let l = local.entry(key.to_owned()).or_insert(Local {
            window_start: start,
            remaining: 0,
            spent: false,
        });
        if l.window_start != start {
            *l = Local {
                window_start: start,
                remaining: 0,
                spent: false,
            };
        }
        if granted == 0 {
            l.spent = true;
            return Err(retry);
        }
        l.remaining += granted - 1;
        Ok(())
    }

    /// Reserves up to a batch in the database: how many were granted.
    async fn reserve(&self, key: &str, start: i64) -> Result<u32, crate::store::DbError> {
        let client = self.pool.get().await?;
        let (batch, max) = (
            i32::try_from(self.batch).unwrap_or(1),
            i32::try_from(self.max).unwrap_or(i32::MAX),
        );
        Ok(crate::store::rate_limits::reserve(&client, key, start, batch, max).await?)
    }
}

/// Drops windows that ended before `now_ms - window_ms` (the janitor).
pub async fn prune(pool: &Pool, window: Duration) -> Result<u64, crate::store::DbError> {
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let client = pool.get().await?;
    let before = now_ms.saturating_sub(window_ms.saturating_mul(2));
    Ok(crate::store::rate_limits::prune(&client, before).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_a_twentieth_of_the_limit() {
        assert_eq!(batch_size(1), 1);
        assert_eq!(batch_size(100), 5);
        assert_eq!(batch_size(1_000_000), 100);
    }
}
