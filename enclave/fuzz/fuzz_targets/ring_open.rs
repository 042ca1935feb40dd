//! `cargo +nightly fuzz run ring_open`: see `src/ring_open.rs` for the input layout
//! and the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strongroom_enclave_fuzz::ring_open::run(data));
