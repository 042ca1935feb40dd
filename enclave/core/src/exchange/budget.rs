//! The exchange's request-weight budget, kept by the enclave (issue 15.5).
//!
//! Binance counts request weight per source IP and per minute (its own
//! clock's minutes) and answers 429 past 6,000, then 418 (an IP ban of
//! minutes to days) to a client that goes on. Every tenant and every
//! instance whose traffic leaves through one egress address shares that one
//! counter, which no enclave can see except through the exchange's own
//! `X-MBX-USED-WEIGHT-1M` header on each answer. So the budget is: the
//! highest count the exchange reported this minute plus what this enclave
//! has sent since, and a request that would take it past `limit − margin`
//! is not sent at all (the margin covers the other instances' requests in
//! flight and the clock error). The caller gets the seconds left in the
//! exchange's minute, which it hands on as `Retry-After`.

use std::sync::Mutex;

/// Binance's spot limit: request weight per minute and IP.
pub const DEFAULT_WEIGHT_LIMIT: u32 = 6_000;
/// Weight kept free below the limit (10 %: other instances behind the same
/// egress address, requests in flight, the clock error of the minute).
pub const DEFAULT_WEIGHT_MARGIN: u32 = 600;

const MINUTE_MS: i64 = 60_000;

/// The limit and the margin kept below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightLimits {
    /// The exchange's weight limit per minute (per egress address).
    pub limit: u32,
    /// Weight never used by this enclave: it sends nothing that would take
    /// the counter past `limit - margin`.
    pub margin: u32,
}

impl Default for WeightLimits {
    fn default() -> Self {
        Self {
            limit: DEFAULT_WEIGHT_LIMIT,
            margin: DEFAULT_WEIGHT_MARGIN,
        }
    }
}

/// What the enclave knows of the current minute's count.
#[derive(Debug, Default)]
struct Minute {
    /// Exchange minute (unix ms / 60,000) the count belongs to.
    index: i64,
    /// Highest count reported by the exchange plus weight admitted since.
    used: u32,
}

/// The budget of one egress address, shared by every request of the enclave.
#[derive(Debug, Default)]
pub struct WeightBudget {
    limits: WeightLimits,
    /// Length of the exchange's counting window, ms (a minute, or a second
    /// for `capital/withdraw/history`); 0 stands for a minute.
    window_ms: i64,
    minute: Mutex<Minute>,
}

impl WeightBudget {
    /// An empty budget under `limits`, counted per exchange minute.
    pub fn new(limits: WeightLimits) -> Self {
        Self::per_window(limits, MINUTE_MS)
    }

    /// An empty budget under `limits` counted per window of `window_ms`
    /// (1 ms to a minute).
    pub fn per_window(limits: WeightLimits, window_ms: i64) -> Self {
        Self {
            limits,
            window_ms: window_ms.clamp(1, MINUTE_MS),
            minute: Mutex::default(),
        }
    }

    fn window(&self) -> i64 {
        if self.window_ms > 0 {
            self.window_ms
        } else {
            MINUTE_MS
        }
    }

    /// The configured limits.
    pub fn limits(&self) -> WeightLimits {
        self.limits
    }

    /// Reserves `weight` at exchange time `now_ms`, or refuses with the
    /// seconds (1 to 60) until the exchange's next minute.
    pub fn admit(&self, weight: u32, now_ms: i64) -> Result<(), u32> {
        let index = now_ms.div_euclid(self.window());
        let mut m = self.lock();
        m.roll(index);
        let ceiling = self.limits.limit.saturating_sub(self.limits.margin);
        if m.used.saturating_add(weight) > ceiling {
            return Err(seconds_to_next_window(now_ms, self.window()));
        }
        m.used = m.used.saturating_add(weight);
        Ok(())
    }

    /// Records the exchange's `X-MBX-USED-WEIGHT-1M` of an answer received
    /// at exchange time `now_ms`. Counts only grow within a minute: an
    /// answer overtaken by later ones does not lower it.
    pub fn observe(&self, used: u32, now_ms: i64) {
        let index = now_ms.div_euclid(self.window());
        let mut m = self.lock();
        m.roll(index);
        if m.index == index {
            m.used = m.used.max(used);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Minute> {
        // The state is two integers, consistent after any panic.
        self.minute.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Minute {
    /// A later minute starts from zero; an earlier one (a clock step back)
    /// keeps the count, which only errs on the safe side.
    fn roll(&mut self, index: i64) {
        if index > self.index {
            self.index = index;
            self.used = 0;
        }
    }
}

fn seconds_to_next_window(now_ms: i64, window_ms: i64) -> u32 {
    let left = window_ms - now_ms.rem_euclid(window_ms);
    u32::try_from((left + 999) / 1000)
        .unwrap_or(60)
        .clamp(1, 60)
}

/// Binance's limit of each IP-limited `/sapi/*` endpoint: its own 12,000
/// weight a minute ("LIMITS": "each IP-limited endpoint has an independent
/// 12,000 per minute").
pub const SAPI_WEIGHT_LIMIT: u32 = 12_000;
/// `capital/withdraw/history` counts per second: 180,000 a second.
pub const WITHDRAW_HISTORY_LIMIT_PER_SECOND: u32 = 180_000;

/// The `/sapi/*` endpoints the enclave calls, each on its own budget apart
/// from the `/api/*` one, with the same 10 % margin.
#[derive(Debug)]
pub struct SapiBudgets {
    snapshot: WeightBudget,
    deposits: WeightBudget,
    withdrawals: WeightBudget,
}

impl Default for SapiBudgets {
    fn default() -> Self {
        let minute = || {
            WeightBudget::new(WeightLimits {
                limit: SAPI_WEIGHT_LIMIT,
                margin: SAPI_WEIGHT_LIMIT / 10,
            })
        };
        Self {
            snapshot: minute(),
            deposits: minute(),
            withdrawals: WeightBudget::per_window(
                WeightLimits {
                    limit: WITHDRAW_HISTORY_LIMIT_PER_SECOND,
                    margin: WITHDRAW_HISTORY_LIMIT_PER_SECOND / 10,
                },
                1_000,
            ),
        }
    }
}

impl SapiBudgets {
    /// The budget of `path` and the request's weight (Binance's wallet
    /// pages: accountSnapshot 2,400, deposit history 1, withdraw history
    /// 18,000; apiRestrictions 1), or `None` for a path not under `/sapi/`.
    pub fn of(&self, path: &str) -> Option<(&WeightBudget, u32)> {
        match path {
            "/sapi/v1/accountSnapshot" => Some((&self.snapshot, 2_400)),
            "/sapi/v1/capital/deposit/hisrec" => Some((&self.deposits, 1)),
            // The key's restrictions: weight 1 on the IP's /sapi/ minute.
            "/sapi/v1/account/apiRestrictions" => Some((&self.deposits, 1)),
            "/sapi/v1/capital/withdraw/history" => Some((&self.withdrawals, 18_000)),
            // Any other /sapi/ call counts against the strictest budget.
            p if p.starts_with("/sapi/") => Some((&self.snapshot, 2_400)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_700_000_080_000; // 40 s into an exchange minute

    fn budget(limit: u32, margin: u32) -> WeightBudget {
        WeightBudget::new(WeightLimits { limit, margin })
    }

    #[test]
    fn refuses_what_would_pass_the_margin_until_the_next_minute() {
        let b = budget(100, 10);
        assert_eq!(b.admit(90, T), Ok(()));
        assert_eq!(b.admit(1, T + 500), Err(20));
        assert_eq!(b.admit(1, T + 19_001), Err(1));
        assert_eq!(b.admit(90, T + 20_000), Ok(()), "the next minute");
    }

    #[test]
    fn the_exchanges_count_includes_everyone_behind_the_address() {
        let b = budget(6_000, 600);
        assert_eq!(b.admit(20, T), Ok(()));
        b.observe(5_390, T + 100);
        assert_eq!(b.admit(20, T + 200), Err(20));
        assert_eq!(b.admit(10, T + 200), Ok(()), "exactly at limit - margin");
        b.observe(10, T + 300);
        assert_eq!(
            b.admit(1, T + 300),
            Err(20),
            "a stale lower count does not lower it"
        );
        b.observe(5_000, T - 60_000);
        assert_eq!(
            b.admit(1, T + 300),
            Err(20),
            "an answer of the previous minute neither"
        );
        b.observe(100, T + 20_000);
        assert_eq!(b.admit(20, T + 20_000), Ok(()));
    }

    #[test]
    fn sapi_endpoints_have_their_own_budgets() {
        let s = SapiBudgets::default();
        let (snap, w) = s
            .of("/sapi/v1/accountSnapshot")
            .unwrap_or_else(|| unreachable!());
        // 10,800 of 12,000: four snapshots a minute, the fifth waits.
        for _ in 0..4 {
            assert_eq!(snap.admit(w, T), Ok(()));
        }
        assert_eq!(snap.admit(w, T), Err(20));
        let (dep, w) = s
            .of("/sapi/v1/capital/deposit/hisrec")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(dep.admit(w, T), Ok(()), "not the snapshot's budget");
        let (wd, w) = s
            .of("/sapi/v1/capital/withdraw/history")
            .unwrap_or_else(|| unreachable!());
        for _ in 0..9 {
            assert_eq!(wd.admit(w, T), Ok(()));
        }
        assert_eq!(wd.admit(w, T + 10), Err(1), "per second");
        assert_eq!(wd.admit(w, T + 1_000), Ok(()));
        assert!(s.of("/api/v3/klines").is_none());
    }
}
