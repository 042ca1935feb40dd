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

/// Polls `/readyz` until it answers `status` with error `code` (`None`: no
/// code, i.e. 200), at most `limit`: it answers from a state refreshed once
/// a second (`routes/health.rs`), so a change shows within about a second.
pub async fn readyz_becomes(
    host: &Host,
    status: u16,
    code: Option<&str>,
    limit: std::time::Duration,
) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let r = host.get("/readyz", &[]).await;
        let got = serde_json::from_slice::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
        if r.status == status && got.as_deref() == code {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz stayed {} {got:?}, expected {status} {code:?}",
            r.status
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Polls `/readyz` until it stops answering 200, at most `limit` (it lags a
/// change by about a second): before waiting for an enclave that was just
/// replaced to be ready again, so that the wait does not return on the
/// state cached from before.
pub async fn readyz_leaves_ready(host: &Host, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while host.get("/readyz", &[]).await.status == 200 {
        assert!(std::time::Instant::now() < deadline, "/readyz stayed 200");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
