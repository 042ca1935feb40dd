//! `cargo +nightly fuzz run cose_sign1`: see `src/cose_sign1.rs` for the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strongroom_enclave_fuzz::cose_sign1::run(data));
