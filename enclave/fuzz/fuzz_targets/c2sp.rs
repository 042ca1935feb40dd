//! `cargo +nightly fuzz run c2sp`: see `src/c2sp.rs` for the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strongroom_enclave_fuzz::c2sp::run(data));
