//! Test support: a real PostgreSQL (scripts/pg or DATABASE_URL), one fresh database
//! per test, the real `strongroom-host` binary, a raw HTTP/1.1 client, and a stub
//! enclave speaking the real RPC protocol (for host-side flows that do not need the
//! enclave's cryptography; the end-to-end tests use the real enclave binary).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod agg;
pub mod real;
pub mod stub;
pub mod stub_log;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

pub const HOST_BIN: &str = env!("CARGO_BIN_EXE_strongroom-host");

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The admin URL of the cluster: `DATABASE_URL` when set, else `scripts/pg start`.
pub fn admin_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(u) = std::env::var("DATABASE_URL")
            && !u.is_empty()
        {
            return u;
        }
        let out = std::process::Command::new(workspace_root().join("scripts/pg"))
            .arg("start")
            .output()
            .expect("run scripts/pg start");
        assert!(
            out.status.success(),
            "scripts/pg start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("DATABASE_URL="))
            .expect("scripts/pg printed no DATABASE_URL")
            .trim()
            .to_owned()
    })
    .clone()
}

/// `url` with its database name replaced (URL form `postgres://auth@host/db?params`).
pub fn with_dbname(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("DATABASE_URL must be a URL");
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap();
    let mut out = format!("{scheme}://{authority}/{db}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A database of its own for one test, dropped at the end.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&with_dbname(&admin_url(), "postgres")).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let url = with_dbname(&admin_url(), &name);
        Self { name, url }
    }

    /// A migrated database.
    pub async fn migrated() -> Self {
        let db = Self::new().await;
        let out = run_host(&["migrate"], &db.env()).await;
        assert!(
            out.status.success(),
            "migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        db
    }

    pub fn env(&self) -> HashMap<String, String> {
        HashMap::from([("DATABASE_URL".to_owned(), self.url.clone())])
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// Creates a tenant through the CLI and returns its API key.
    pub async fn tenant(&self, name: &str) -> String {
        let out = run_host(&["tenant", "create", name], &self.env()).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let url = with_dbname(&admin_url(), "postgres");
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((c, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Runs the host binary to completion with exactly `env` (plus PATH).
pub async fn run_host(args: &[&str], env: &HashMap<String, String>) -> std::process::Output {
    Command::new(HOST_BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .output()
        .await
        .unwrap()
}

/// A running `strongroom-host serve`.
pub struct Host {
    pub child: Child,
    pub addr: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Host {
    /// Starts `serve` on an ephemeral loopback port and waits for it to listen.
    pub async fn start(db: &TestDb, enclave_addr: &str, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("host.log");
        let mut env = db.env();
        env.insert("ENCLAVE_ADDR".into(), enclave_addr.into());
        env.insert("LISTEN_ADDR".into(), "127.0.0.1:0".into());
        env.insert("ENCLAVE_TIMEOUT_MS".into(), "3000".into());
        env.insert("LOG_LEVEL".into(), "debug".into());
        for (k, v) in extra {
            env.insert((*k).into(), (*v).into());
        }
        let mut child = Command::new(HOST_BIN)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&env)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "host did not start: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "host exited: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
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

    pub async fn post(&self, path: &str, key: &str, body: &str) -> Reply {
        let auth = format!("Bearer {key}");
        http(
            &self.addr,
            "POST",
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            Some(body.as_bytes()),
        )
        .await
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait; returns the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .unwrap()
            .unwrap()
    }
}

/// A parsed HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The error code of a `{"error": {...}}` body.
    pub fn code(&self) -> String {
        let v = self.json();
        v["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {v}"))
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("content-length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    raw(addr, &bytes).await.expect("a parseable HTTP answer")
}

/// Sends raw bytes and parses whatever answer comes back (None if none).
pub async fn raw(addr: &str, bytes: &[u8]) -> Option<Reply> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(bytes).await;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    parse_reply(&buf)
}

/// Parses a raw HTTP/1.1 answer (status line, headers, body).
pub fn parse_reply(buf: &[u8]) -> Option<Reply> {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Reply {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    })
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

/// A unix socket path for an enclave in `dir`.
pub fn socket_in(dir: &Path) -> (PathBuf, String) {
    let p = dir.join("enclave.sock");
    let a = format!("unix://{}", p.display());
    (p, a)
}
