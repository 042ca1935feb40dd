//! `cargo +nightly fuzz run sync_export`: see `src/sync_export.rs` for the input layout
//! and the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strongroom_enclave_fuzz::sync_export::run(data));
