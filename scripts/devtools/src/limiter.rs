//! Binance-style request weight budget: a fixed window (one minute on the
//! real exchange) with a weight limit. Past the limit the answer is 429 with
//! `Retry-After` (seconds to the window's end); a client that keeps going
//! after `ban_after` refusals in one window gets 418, as Binance bans IPs
//! that ignore 429s.

/// Budget configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightBudget {
    /// Weight allowed per window.
    pub limit: u32,
    /// Window length in milliseconds.
    pub window_ms: i64,
    /// 429s tolerated in one window before answering 418 (0: never 418).
    pub ban_after: u32,
    /// Weight every window starts with: other clients behind the same IP
    /// (Binance counts per IP, so a deployment's other instances and anyone
    /// sharing its egress address draw on the same budget).
    pub background: u32,
}

impl Default for WeightBudget {
    fn default() -> Self {
        // The real spot API: 6000 weight per minute.
        Self {
            limit: 6000,
            window_ms: 60_000,
            ban_after: 0,
            background: 0,
        }
    }
}

/// Outcome of charging a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Admitted; weight used in this window so far.
    Ok(u32),
    /// 429: retry after this many seconds.
    TooMany(u64),
    /// 418: banned for this many seconds.
    Banned(u64),
}

/// Running state of the budget.
#[derive(Debug)]
pub struct Limiter {
    budget: WeightBudget,
    window_start: i64,
    used: u32,
    refused: u32,
}

impl Limiter {
    /// A fresh budget.
    pub fn new(budget: WeightBudget) -> Self {
        Self {
            budget,
            window_start: i64::MIN,
            used: 0,
            refused: 0,
        }
    }

    /// Weight used so far in the window holding `now_ms` (nothing charged),
    /// for the `X-MBX-USED-WEIGHT-1M` header of answers that charge another
    /// budget or none.
    pub fn used(&self, now_ms: i64) -> u32 {
        let window = self.budget.window_ms.max(1);
        if now_ms - now_ms.rem_euclid(window) == self.window_start {
            self.used
        } else {
            self.budget.background
        }
    }

    /// Charge `weight` at time `now_ms`.
    pub fn charge(&mut self, weight: u32, now_ms: i64) -> Charge {
        let window = self.budget.window_ms.max(1);
        let start = now_ms - now_ms.rem_euclid(window);
        if start != self.window_start {
            self.window_start = start;
            self.used = self.budget.background;
            self.refused = 0;
        }
        if self.used.saturating_add(weight) <= self.budget.limit {
            self.used += weight;
            return Charge::Ok(self.used);
        }
        self.refused += 1;
        let left_ms = start + window - now_ms;
        let secs = u64::try_from((left_ms + 999) / 1000).unwrap_or(1).max(1);
        if self.budget.ban_after > 0 && self.refused > self.budget.ban_after {
            return Charge::Banned(secs.saturating_mul(2));
        }
        Charge::TooMany(secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_until_the_window_ends() {
        let mut l = Limiter::new(WeightBudget {
            limit: 40,
            window_ms: 10_000,
            ban_after: 2,
            background: 0,
        });
        assert_eq!(l.charge(20, 10_000), Charge::Ok(20));
        assert_eq!(l.charge(20, 10_001), Charge::Ok(40));
        assert_eq!(l.charge(1, 12_500), Charge::TooMany(8));
        assert_eq!(l.charge(1, 19_999), Charge::TooMany(1));
        assert_eq!(l.charge(1, 19_999), Charge::Banned(2));
        assert_eq!(l.charge(20, 20_000), Charge::Ok(20));
    }

    #[test]
    fn used_reads_the_current_window_without_charging() {
        let mut l = Limiter::new(WeightBudget {
            limit: 40,
            window_ms: 10_000,
            ban_after: 0,
            background: 0,
        });
        assert_eq!(l.used(10_000), 0);
        assert_eq!(l.charge(20, 10_000), Charge::Ok(20));
        assert_eq!(l.used(19_999), 20);
        assert_eq!(l.charge(30, 10_001), Charge::TooMany(10));
        assert_eq!(l.used(10_002), 20, "a refused request uses nothing");
        assert_eq!(l.used(20_000), 0, "next window");
    }

    #[test]
    fn every_window_starts_with_the_background_weight() {
        let mut l = Limiter::new(WeightBudget {
            limit: 100,
            window_ms: 10_000,
            ban_after: 0,
            background: 90,
        });
        assert_eq!(l.used(10_000), 90);
        assert_eq!(l.charge(10, 10_000), Charge::Ok(100));
        assert_eq!(l.charge(1, 10_001), Charge::TooMany(10));
        assert_eq!(l.charge(1, 20_000), Charge::Ok(91));
    }
}
