//! `strongroom-mock-exchange`: a Binance-shaped HTTPS server on a fixture.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{bin, process};

/// A running mock exchange, killed when dropped.
pub struct MockExchange {
    pub child: Child,
    pub port: u16,
    /// `https://localhost:PORT`-style URL it printed.
    pub url: String,
    /// Its CA (PEM), to trust with `--dev-exchange-ca`.
    pub ca_pem: PathBuf,
    /// Its request log (`RUST_LOG=info`).
    pub log: PathBuf,
}

/// Starts the mock on `fixture` on an ephemeral loopback port with `extra`
/// flags; reads its `{"url","ca_pem"}` line. Files go to `dir` (`mock.log`,
/// `mock-ca.pem`).
pub async fn start_mock_exchange_with(dir: &Path, fixture: &Path, extra: &[&str]) -> MockExchange {
    let log = dir.join("mock.log");
    let mut cmd = Command::new(bin::mock_exchange());
    cmd.arg("--fixture")
        .arg(fixture)
        .arg("--ca-out")
        .arg(dir.join("mock-ca.pem"))
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "info");
    let mut child = process::spawn(&mut cmd, &log, Stdio::piped());
    let line = process::first_line(&mut child, "mock exchange", &log, Duration::from_secs(30));
    let v = crate::json_line(&line.await, "mock exchange");
    let url = v["url"].as_str().expect("url").to_owned();
    MockExchange {
        child,
        port: crate::port_of(&url),
        url,
        ca_pem: v["ca_pem"].as_str().expect("ca_pem").into(),
        log,
    }
}

/// [`start_mock_exchange_with`] without extra flags.
pub async fn start_mock_exchange(dir: &Path, fixture: &Path) -> MockExchange {
    start_mock_exchange_with(dir, fixture, &[]).await
}
