//! `cargo +nightly fuzz run proxy_v2`: see `src/proxy_v2.rs` for the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strongroom_enclave_fuzz::proxy_v2::run(data));
