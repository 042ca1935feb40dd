//! `cargo +nightly fuzz run kms_cms`: see `src/kms_cms.rs` for the input layout
//! and the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strongroom_enclave_fuzz::kms_cms::run(data));
