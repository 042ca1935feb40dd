//! Port: wall-clock time behind a trait, so the core is tested with a fixed
//! clock. The system clock (`clock::SystemClock`) is in the binary crate.

use std::sync::atomic::{AtomicU64, Ordering};

/// The enclave's source of wall-clock time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the unix epoch.
    fn now_unix_ms(&self) -> u64;

    /// Whole seconds since the unix epoch.
    fn now_unix_s(&self) -> u64 {
        self.now_unix_ms() / 1000
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
