//! `strongroom-host`: one-shot commands and a running `serve`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::http::{Reply, http};
use crate::pg::TestDb;
use crate::{bin, process};

/// Runs the host binary to completion with exactly `env` (plus PATH).
pub async fn run_host(args: &[&str], env: &HashMap<String, String>) -> std::process::Output {
    Command::new(bin::host())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .output()
        .await
        .expect("run strongroom-host")
}

/// A running `strongroom-host serve`, killed when dropped.
pub struct Host {
    pub child: Child,
    pub addr: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Host {
    /// Starts `serve` on an ephemeral loopback port and waits for it to listen.
    /// `extra` is added to (and overrides) the test defaults.
    pub async fn start(db: &TestDb, enclave_addr: &str, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let log = dir.path().join("host.log");
        let mut cmd = Command::new(bin::host());
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(serve_env(db, enclave_addr, extra));
        let mut child = process::spawn(&mut cmd, &log, Stdio::piped());
        let line = process::first_line(&mut child, "host", &log, Duration::from_secs(30)).await;
        let addr = line
            .strip_prefix("listening on http://")
            .or_else(|| line.strip_prefix("listening on https://"))
            .unwrap_or_else(|| panic!("unexpected first line {line}"))
            .to_owned();
        Self {
            child,
            addr,
            log,
            _dir: dir,
        }
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        http(&self.addr, "GET", path, headers, None).await
    }

    /// POST a JSON body with API key `key`.
    pub async fn post(&self, path: &str, key: &str, body: &str) -> Reply {
        let auth = format!("Bearer {key}");
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        http(&self.addr, "POST", path, &headers, Some(body.as_bytes())).await
    }

    pub fn logs(&self) -> String {
        process::read_log(&self.log)
    }

    /// SIGTERM and wait; returns the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("host running");
        process::signal(pid, "TERM");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the host exits within 30 s of SIGTERM")
            .expect("wait for the host")
    }
}

/// The environment of `serve` in tests: the database, the enclave, an
/// ephemeral port, a 3 s enclave timeout, debug logs; then `extra`.
fn serve_env(db: &TestDb, enclave_addr: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env = db.env();
    env.insert("ENCLAVE_ADDR".into(), enclave_addr.into());
    env.insert("LISTEN_ADDR".into(), "127.0.0.1:0".into());
    env.insert("ENCLAVE_TIMEOUT_MS".into(), "3000".into());
    env.insert("LOG_LEVEL".into(), "debug".into());
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    env
}

/// Waits (up to a minute: a debug enclave is slow) until `/readyz` answers 200,
/// i.e. the host has booted the enclave's key ring.
pub async fn wait_ready(host: &Host) {
    for _ in 0..600 {
        if host.get("/readyz", &[]).await.status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("host never became ready: {}", host.logs());
}
