//! `cargo +nightly fuzz run wallet_answers`: see `src/wallet_answers.rs` for the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strongroom_enclave_fuzz::wallet_answers::run(data));
