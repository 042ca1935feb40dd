//! Test support of the host's tests: the shared kit (`strongroom-testkit`:
//! binaries, PostgreSQL, processes, the HTTP client) re-exported under the
//! names the tests use, plus what only the host's tests need: a stub enclave
//! speaking the real RPC protocol (for host-side flows that do not need the
//! enclave's cryptography; the end-to-end tests use the real enclave binary).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unused_imports)]

pub mod agg;
pub mod real;
pub mod stub;
pub mod stub_log;

use std::path::{Path, PathBuf};

pub use strongroom_testkit::host::{Host, run_host, wait_ready};
pub use strongroom_testkit::http::{Reply, http, parse_reply, raw};
pub use strongroom_testkit::pg::{TestDb, admin_url, connect, with_dbname};
pub use strongroom_testkit::workspace_root;

/// The host binary under test (cargo builds it for its own tests).
pub const HOST_BIN: &str = env!("CARGO_BIN_EXE_strongroom-host");

/// A unix socket path for an enclave in `dir`.
pub fn socket_in(dir: &Path) -> (PathBuf, String) {
    let p = dir.join("enclave.sock");
    let a = format!("unix://{}", p.display());
    (p, a)
}
