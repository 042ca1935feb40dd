#![doc = include_str!("../README.md")]
// A test kit: a panic is how a failed start-up or a broken assumption is
// reported to the test that called it, so unwrap/expect are the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bin;
pub mod cutter;
pub mod enclave;
pub mod host;
pub mod hostile;
pub mod http;
pub mod kms;
pub mod mock;
pub mod pg;
pub mod process;
pub mod seal;
pub mod stack;
pub mod witness;

use std::path::PathBuf;

pub use cutter::Cutter;
pub use host::{Host, run_host, wait_ready};
pub use http::{Client, Reply};
pub use pg::{PrivatePg, TestDb};
pub use stack::{Stack, StackOpts};

/// The repository's root (the kit lives at `<root>/testkit`).
pub fn workspace_root() -> PathBuf {
    let kit = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    kit.parent().expect("testkit/ has a parent").to_path_buf()
}

/// Parses the JSON line a dev tool prints when it is up.
fn json_line(line: &str, what: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{what} printed {line:?}: {e}"))
}

/// The port of `scheme://host:PORT`.
fn port_of(url: &str) -> u16 {
    let port = url.trim_end_matches('/').rsplit(':').next();
    port.and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}
