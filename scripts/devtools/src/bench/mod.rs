//! The measurements behind `scripts/bench`: each subcommand of
//! `strongroom-bench` runs one kind of measurement several times and prints
//! one JSON object with every run's value, so the script can put the
//! median and spread next to its ceiling.

pub mod aggregate;
pub mod attest;
pub mod figure;
pub mod figures;
pub mod hpke_open;
pub mod machine;
pub mod pg_insert;
pub mod profile;
pub mod returns;
pub mod submit;
pub mod tiles;
pub mod track_record;
pub mod witnessing;

use std::time::{Duration, Instant};

/// Calls `op` in a loop for at least `min` (and at least once); returns
/// operations per second.
pub fn rate<E>(min: Duration, mut op: impl FnMut() -> Result<(), E>) -> Result<f64, E> {
    let t0 = Instant::now();
    let mut n: u64 = 0;
    loop {
        op()?;
        n += 1;
        if t0.elapsed() >= min {
            return Ok(n as f64 / t0.elapsed().as_secs_f64());
        }
    }
}
