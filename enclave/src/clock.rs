//! The system clock, the binary's implementation of the core's
//! [`Clock`] port.

use std::time::{SystemTime, UNIX_EPOCH};

use strongroom_enclave_core::clock::Clock;

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
