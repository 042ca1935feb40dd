//! Fault tests (issue 9) and the extended no-plaintext proof, with real
//! processes only: `strongroom-host serve`, `strongroom-enclave --dev-simulator`
//! (its exchange traffic through the host's egress proxy), the mock exchange,
//! PostgreSQL (the shared test cluster, or a private one the test may stop),
//! all started by the kit's `Stack` (`strongroom-testkit`). One scenario per
//! file; each test is bounded (`TEST_BOUND`); nextest runs them one at a time
//! (`.config/nextest.toml`, binary `faults`). What each one proves: README.md,
//! "Faults and no-plaintext proof".
//! Needs `cargo build --workspace --bins` (scripts/test does) and python3.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
mod scan;
mod support;

mod egress_cut;
mod enclave_sigkill;
mod enclave_sigkill_without_kms;
mod host_sigkill;
mod memory_scan;
mod postgres_stopped;
mod slowloris;
