//! `cargo +nightly fuzz run history_segment`: see `src/history_segment.rs`
//! for the input layout and the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strongroom_enclave_fuzz::history_segment::run(data));
