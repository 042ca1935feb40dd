//! Bodies of the cargo-fuzz targets (`fuzz_targets/`), one module per parser
//! of untrusted bytes. They live in a library so the stable toolchain runs
//! them too (`src/tests.rs`: seeds, their mutations and pseudo-random
//! inputs), without libFuzzer: `cargo test --manifest-path
//! enclave/fuzz/Cargo.toml --no-default-features`.
//!
//! Each body panics when an invariant breaks: a panic is a finding.
#![forbid(unsafe_code)]

pub mod c2sp;
pub mod cose_sign1;
pub mod fixtures;
pub mod history_segment;
pub mod kms_answer;
pub mod kms_cms;
pub mod owner_action;
pub mod proxy_v2;
pub mod ring_open;
pub mod ring_secrets;
pub mod sync_export;
pub mod sync_import;
pub mod wallet_answers;

#[cfg(test)]
mod tests;
