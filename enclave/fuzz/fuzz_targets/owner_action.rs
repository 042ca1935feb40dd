//! `cargo +nightly fuzz run owner_action`: see `src/owner_action.rs` for the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strongroom_enclave_fuzz::owner_action::run(data));
