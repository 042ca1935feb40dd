//! Shared test helpers of the binary's tests: the core's (a deterministic
//! NSM, a sealing client, test data paths; one copy, included by path) and
//! the key-ring boot helpers.
#![allow(dead_code)]

pub mod boot;

#[path = "../../core/tests/common/mod.rs"]
mod pure;

pub use pure::*;
