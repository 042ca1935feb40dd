//! Time behind a trait so the core is tested with a fixed clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The enclave's source of wall-clock time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the unix epoch.
    fn now_unix_ms(&self) -> u64;

    /// Whole seconds since the unix epoch.
    fn now_unix_s(&self) -> u64 {
        self.now_unix_ms() / 1000
    }
}

/// The system clock. A clock before 1970 reads as 0, which makes every
/// credential look expired (fails closed).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A settable clock for tests and fuzzing.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicU64);

impl FixedClock {
    /// A clock reading `unix_ms`.
    pub fn new(unix_ms: u64) -> Self {
        Self(AtomicU64::new(unix_ms))
    }

    /// Moves the clock to `unix_ms`.
    pub fn set(&self, unix_ms: u64) {
        self.0.store(unix_ms, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_unix_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
