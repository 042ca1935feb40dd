//! Support for the fault tests (`host/tests/faults.rs`): the whole stack of real
//! processes with restart and SIGKILL, an HTTP client that survives a dead
//! server, a private PostgreSQL cluster that a test may stop, a TCP cutter
//! between the host's egress proxy and the mock exchange, and the memory/file
//! scanner `scripts/checks/memscan`.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::{HashMap, VecDeque};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::real::{MockExchange, RealEnclave, start_enclave, start_mock_exchange};
use crate::common::{Host, Reply, TestDb, run_host, workspace_root};

/// Every fault test fails instead of hanging past this.
pub const TEST_BOUND: Duration = Duration::from_secs(150);

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `planted-<32 hex>`: random, so a hit can only come from this run.
pub fn planted(what: &str) -> String {
    format!("planted-{what}-{}", uuid::Uuid::new_v4().simple())
}

// ---------------------------------------------------------------- HTTP client

/// One request on a fresh connection; `Err` when the server is gone or silent
/// for `limit` (unlike `common::http`, which panics).
pub async fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    limit: Duration,
) -> Result<Reply, String> {
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
    let work = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        s.write_all(&bytes)
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        parse_reply(&buf).ok_or_else(|| format!("no HTTP answer ({} bytes)", buf.len()))
    };
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
}

pub use crate::common::parse_reply;

/// The error code of an answer, or "" when it has none.
pub fn code_of(r: &Reply) -> String {
    serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn body_text(r: &Reply) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// A client of one host address with one tenant key.
#[derive(Clone)]
pub struct Client {
    pub addr: String,
    pub key: String,
    pub limit: Duration,
}

impl Client {
    pub async fn get(&self, path: &str) -> Result<Reply, String> {
        try_http(&self.addr, "GET", path, &[], None, self.limit).await
    }

    pub async fn get_auth(&self, path: &str) -> Result<Reply, String> {
        let auth = format!("Bearer {}", self.key);
        try_http(
            &self.addr,
            "GET",
            path,
            &[("authorization", &auth)],
            None,
            self.limit,
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &str) -> Result<Reply, String> {
        self.post_with(path, body, &[]).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let auth = format!("Bearer {}", self.key);
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        try_http(
            &self.addr,
            "POST",
            path,
            &headers,
            Some(body.as_bytes()),
            self.limit,
        )
        .await
    }

    pub async fn quote(&self) -> Result<Reply, String> {
        self.get("/attestation/quote").await
    }

    pub async fn submit(&self, body: &str) -> Result<Reply, String> {
        self.post("/enclave/submit_key", body).await
    }

    pub async fn aggregates(&self, session: &str) -> Result<Reply, String> {
        self.post(
            "/enclave/request_aggregates",
            &json!({"session_id": session}).to_string(),
        )
        .await
    }

    pub async fn revoke(&self, session: &str) -> Result<Reply, String> {
        self.post(
            "/enclave/revoke",
            &json!({"session_id": session}).to_string(),
        )
        .await
    }
}

pub use crate::common::real::submission;

/// The demo fixture's API key and secret (`scripts/fixtures/demo.json`).
pub const DEMO_KEY: &str = "demo-api-key";
pub const DEMO_SECRET: &str = "demo-api-secret";

pub fn expected_demo() -> Value {
    serde_json::from_slice(
        &std::fs::read(workspace_root().join("scripts/fixtures/demo.expected.json")).unwrap(),
    )
    .unwrap()
}

/// Asserts `r` is a 200 whose figures equal the hand-computed demo figures.
pub fn assert_demo_figures(r: &Reply, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", body_text(r));
    let v = r.json();
    let want = expected_demo();
    assert_eq!(
        v["aggregates"]["symbols"], want["symbols"],
        "{what}: wrong symbols"
    );
    assert_eq!(
        v["aggregates"]["totals"], want["totals"],
        "{what}: wrong totals"
    );
}

// ------------------------------------------------------------------ processes

/// Sends SIGKILL to `pid` (a process this test started).
pub fn sigkill(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -KILL {pid} failed");
}

/// The database a stack runs on: a fresh database of the shared cluster, or a
/// database of a private cluster (never dropped through the shared one).
pub enum Db {
    Shared(TestDb),
    Private(ManuallyDrop<TestDb>),
}

impl Db {
    pub fn test_db(&self) -> &TestDb {
        match self {
            Db::Shared(d) => d,
            Db::Private(d) => d,
        }
    }

    pub fn url(&self) -> &str {
        &self.test_db().url
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        self.test_db().client().await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap()
            .get(0)
    }
}

/// Options of a stack.
#[derive(Default)]
pub struct StackOpts {
    /// Fixture for the mock exchange (default: the demo fixture).
    pub fixture: Option<PathBuf>,
    /// Put a cutter between the egress proxy and the mock exchange.
    pub cutter: bool,
    /// Run on this database instead of a fresh one of the shared cluster.
    pub db_url: Option<String>,
    /// Extra host environment.
    pub host_env: Vec<(String, String)>,
    /// Seal the key ring with the KMS double (`strongroom-kms-double`), so a
    /// restarted enclave gets the same ring back (the production set-up).
    pub kms: bool,
}

/// PostgreSQL, the mock exchange, the real enclave (simulator) whose exchange
/// traffic goes through the real host's egress proxy, the real host, a tenant.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub db: Db,
    pub mock: MockExchange,
    pub kms: Option<tokio::process::Child>,
    pub cutter: Option<Cutter>,
    pub enclave: RealEnclave,
    pub enclave_args: Vec<String>,
    pub host: Host,
    pub host_env: Vec<(String, String)>,
    pub key: String,
    /// Logs of processes that were killed or replaced (kept for scans and failures).
    pub old_logs: Vec<PathBuf>,
}

impl Stack {
    pub async fn start(opts: StackOpts) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fixture = opts
            .fixture
            .unwrap_or_else(|| workspace_root().join("scripts/fixtures/demo.json"));
        let t0 = Instant::now();
        let mock = start_mock_exchange(dir.path(), &fixture).await;
        eprintln!("[stack] mock exchange up after {:?}", t0.elapsed());
        let cutter = if opts.cutter {
            Some(Cutter::start(mock.port).await)
        } else {
            None
        };
        let port = cutter.as_ref().map_or(mock.port, |c| c.port);
        let egress = format!("unix://{}", dir.path().join("egress.sock").display());
        // One dev root for every start of this stack's enclave (as real
        // enclaves share the AWS root); the PCRs are the binary's.
        let root_key = dir.path().join("dev-root.key");
        let pcrs = dir.path().join("pcrs.json");
        let mut enclave_args: Vec<String> = vec![
            "--egress".into(),
            egress.clone(),
            "--dev-exchange-url".into(),
            format!("https://localhost:{port}"),
            "--dev-exchange-ca".into(),
            mock.ca_pem.to_str().unwrap().into(),
            "--dev-root-key".into(),
            root_key.to_str().unwrap().into(),
            "--dev-pcrs-out".into(),
            pcrs.to_str().unwrap().into(),
        ];
        let mut allow = format!("localhost:{port}");
        let mut kms_env: Vec<(String, String)> = Vec::new();
        let kms = if opts.kms {
            let kms = crate::common::real::start_kms_double(
                dir.path(),
                KMS_KEY_ID,
                &dir.path().join("dev-root.pem"),
                &pcrs,
            )
            .await;
            let (child, kms_port, ca) = (kms.child, kms.port, kms.ca_pem);
            enclave_args.extend([
                "--dev-kms-url".into(),
                format!("https://localhost:{kms_port}"),
                "--dev-kms-ca".into(),
                ca.to_str().unwrap().into(),
            ]);
            allow.push_str(&format!(",localhost:{kms_port}"));
            kms_env = vec![
                ("KMS_KEY_ID".into(), KMS_KEY_ID.into()),
                ("KMS_REGION".into(), "us-east-1".into()),
                ("KMS_ENDPOINT".into(), format!("localhost:{kms_port}")),
                ("AWS_ACCESS_KEY_ID".into(), "AKIDSTRONGROOMDEV".into()),
                (
                    "AWS_SECRET_ACCESS_KEY".into(),
                    "strongroom-dev-secret-not-for-production".into(),
                ),
            ];
            Some(child)
        } else {
            None
        };
        let args: Vec<&str> = enclave_args.iter().map(String::as_str).collect();
        let enclave = start_enclave(dir.path(), &args).await;
        eprintln!("[stack] enclave listening after {:?}", t0.elapsed());
        let db = match opts.db_url {
            Some(url) => {
                let d = ManuallyDrop::new(TestDb {
                    name: String::new(),
                    url,
                });
                let out = run_host(&["migrate"], &d.env()).await;
                assert!(
                    out.status.success(),
                    "migrate: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                Db::Private(d)
            }
            None => Db::Shared(TestDb::migrated().await),
        };
        let mut host_env: Vec<(String, String)> = vec![
            ("EGRESS_LISTEN".into(), egress),
            ("EGRESS_ALLOWLIST".into(), allow),
            ("RATE_LIMIT_MAX".into(), "1000000".into()),
            ("ENCLAVE_TIMEOUT_MS".into(), "20000".into()),
            ("AGGREGATES_TIMEOUT_MS".into(), "60000".into()),
            ("REQUEST_TIMEOUT_MS".into(), "60000".into()),
        ];
        host_env.extend(kms_env);
        host_env.extend(opts.host_env);
        let host = start_host(db.test_db(), &enclave.addr, &host_env).await;
        eprintln!("[stack] host listening after {:?}", t0.elapsed());
        let key = db.test_db().tenant("faults").await;
        let stack = Self {
            dir,
            db,
            mock,
            kms,
            cutter,
            enclave,
            enclave_args,
            host,
            host_env,
            key,
            old_logs: Vec::new(),
        };
        // The host drives the new enclave's boot (first boot: a new key ring).
        stack.wait_ready(Duration::from_secs(60)).await;
        eprintln!("[stack] ready after {:?}", t0.elapsed());
        stack
    }

    pub fn client(&self) -> Client {
        Client {
            addr: self.host.addr.clone(),
            key: self.key.clone(),
            limit: Duration::from_secs(90),
        }
    }

    pub fn host_pid(&self) -> u32 {
        self.host.child.id().expect("host running")
    }

    pub fn enclave_pid(&self) -> u32 {
        self.enclave.child.id().expect("enclave running")
    }

    /// SIGKILL the enclave and wait until it is gone.
    pub async fn kill_enclave(&mut self) {
        sigkill(self.enclave_pid());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.enclave.child.wait())
            .await
            .expect("enclave did not die");
    }

    /// Starts the enclave again with the same flags (its old log is kept).
    pub async fn restart_enclave(&mut self) {
        let n = self.old_logs.len();
        let kept = self.dir.path().join(format!("enclave.{n}.log"));
        std::fs::rename(&self.enclave.log, &kept).unwrap();
        self.old_logs.push(kept);
        let _ = std::fs::remove_file(self.dir.path().join("enclave.sock"));
        let args: Vec<&str> = self.enclave_args.iter().map(String::as_str).collect();
        self.enclave = start_enclave(self.dir.path(), &args).await;
    }

    /// SIGKILL the host and wait until it is gone.
    pub async fn kill_host(&mut self) {
        sigkill(self.host_pid());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.host.child.wait())
            .await
            .expect("host did not die");
    }

    /// Starts the host again with the same environment (its old log is kept).
    pub async fn restart_host(&mut self) {
        let n = self.old_logs.len();
        let kept = self.dir.path().join(format!("host.{n}.log"));
        std::fs::write(&kept, self.host.logs()).unwrap();
        self.old_logs.push(kept);
        self.host = start_host(self.db.test_db(), &self.enclave.addr, &self.host_env).await;
    }

    /// Every log this stack wrote so far: host, enclave, earlier ones.
    pub fn log_files(&self) -> Vec<PathBuf> {
        let mut v = self.old_logs.clone();
        v.push(self.host.log.clone());
        v.push(self.enclave.log.clone());
        v
    }

    /// Host and enclave logs, for failure messages (the tail only).
    pub fn logs_tail(&self) -> String {
        let mut out = String::new();
        for p in self.log_files() {
            let t = std::fs::read_to_string(&p).unwrap_or_default();
            let tail: String = t
                .lines()
                .rev()
                .take(25)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            out.push_str(&format!("\n--- {} ---\n{tail}", p.display()));
        }
        out
    }

    /// Polls GET /readyz until 200, at most `limit`; returns the time it took.
    pub async fn wait_ready(&self, limit: Duration) -> Duration {
        let start = Instant::now();
        let c = self.client();
        let mut last = String::new();
        while start.elapsed() < limit {
            match try_http(&c.addr, "GET", "/readyz", &[], None, Duration::from_secs(5)).await {
                Ok(r) if r.status == 200 => return start.elapsed(),
                Ok(r) => last = format!("{} {}", r.status, body_text(&r)),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("not ready after {limit:?}: {last}{}", self.logs_tail());
    }

    /// quote -> submit (201) with the demo credential; returns (quote, session).
    pub async fn submit_demo(&self, label: &str) -> (Value, String) {
        let c = self.client();
        let q = c.quote().await.unwrap();
        assert_eq!(
            q.status,
            200,
            "quote: {}{}",
            body_text(&q),
            self.logs_tail()
        );
        let quote = q.json();
        let r = c
            .submit(&submission(&quote, DEMO_KEY, DEMO_SECRET, label))
            .await
            .unwrap();
        assert_eq!(
            r.status,
            201,
            "submit: {}{}",
            body_text(&r),
            self.logs_tail()
        );
        (quote, r.json()["session_id"].as_str().unwrap().to_owned())
    }
}

const KMS_KEY_ID: &str = "strongroom-faults-ring-key";

async fn start_host(db: &TestDb, enclave: &str, env: &[(String, String)]) -> Host {
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Host::start(db, enclave, &extra).await
}

// -------------------------------------------------------------- load records

/// One request of a load run: when it started and ended (from the run's start) and how it ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub route: &'static str,
    pub start: Duration,
    pub took: Duration,
    pub status: Option<u16>,
    pub code: String,
    pub session: Option<String>,
    pub error: Option<String>,
}

impl Outcome {
    pub fn of(route: &'static str, t0: Instant, start: Instant, r: &Result<Reply, String>) -> Self {
        let (status, code, session, error) = match r {
            Ok(r) => (
                Some(r.status),
                code_of(r),
                (r.status == 201)
                    .then(|| r.json()["session_id"].as_str().map(str::to_owned))
                    .flatten(),
                None,
            ),
            Err(e) => (None, String::new(), None, Some(e.clone())),
        };
        Outcome {
            route,
            start: start - t0,
            took: start.elapsed(),
            status,
            code,
            session,
            error,
        }
    }
}

/// A summary like `{"submit 201": 120, "quote 503 enclave_unavailable": 40}`.
pub fn tally(outcomes: &[Outcome]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for o in outcomes {
        let k = match (o.status, &o.error) {
            (Some(s), _) => format!("{} {s} {}", o.route, o.code),
            (None, Some(e)) => format!("{} error {}", o.route, e.split(':').next().unwrap()),
            _ => unreachable!(),
        };
        *m.entry(k.trim().to_owned()).or_insert(0) += 1;
    }
    m
}

// ------------------------------------------------------- private PostgreSQL

/// A PostgreSQL cluster of one test, under `target/faults-pg/`, that the test
/// may stop and start (the shared cluster of `scripts/pg` is never touched).
/// Unix socket only, run as the `postgres` user when we are root, like `scripts/pg`.
pub struct PrivatePg {
    pub dir: PathBuf,
    pub bin: PathBuf,
    pub port: u16,
}

impl PrivatePg {
    pub fn init() -> Self {
        let bin = pg_bindir();
        let dir = workspace_root()
            .join("target/faults-pg")
            .join(&uuid::Uuid::new_v4().simple().to_string()[..12]);
        std::fs::create_dir_all(dir.join("run")).unwrap();
        let pg = PrivatePg {
            dir,
            bin,
            port: 5432,
        };
        if is_root() {
            // The postgres user must reach the folder (like scripts/pg).
            let mut d = pg.dir.clone();
            while d.parent().is_some() {
                let _ = std::process::Command::new("chmod")
                    .arg("o+x")
                    .arg(&d)
                    .status();
                d = d.parent().unwrap().to_path_buf();
            }
            let ok = std::process::Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(&pg.dir)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown postgres {}", pg.dir.display());
        }
        let data = pg.dir.join("data");
        pg.as_pg(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
        );
        pg.start();
        pg.as_pg(
            "createdb",
            &[
                "-h",
                pg.sock().to_str().unwrap(),
                "-p",
                &pg.port.to_string(),
                "-U",
                "postgres",
                "strongroom",
            ],
        );
        pg
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.join("run")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@/strongroom?host={}&port={}",
            self.sock().display(),
            self.port
        )
    }

    fn as_pg(&self, prog: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(prog);
        let out = if is_root() {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            std::process::Command::new(&exe).args(args).output()
        }
        .unwrap();
        assert!(
            out.status.success(),
            "{prog} {args:?}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
        out
    }

    pub fn start(&self) {
        let opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -p {} -c max_connections=100 -c fsync=off",
            self.sock().display(),
            self.port
        );
        self.as_pg(
            "pg_ctl",
            &[
                "-D",
                self.dir.join("data").to_str().unwrap(),
                "-l",
                self.log().to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start",
            ],
        );
    }

    /// `pg_ctl stop -m fast`: every client is disconnected.
    pub fn stop(&self) {
        self.as_pg(
            "pg_ctl",
            &[
                "-D",
                self.dir.join("data").to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let args = [
            "-D",
            data.to_str().unwrap(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ];
        let _ = if is_root() {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(args)
                .output()
        } else {
            std::process::Command::new(self.bin.join("pg_ctl"))
                .args(args)
                .output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// The newest installed PostgreSQL server programs (installed by `scripts/pg`).
fn pg_bindir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let v = e.file_name().to_str()?.parse().ok()?;
                    let b = e.path().join("bin");
                    b.join("initdb").exists().then_some((v, b))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().map(|(_, b)| b).expect(
        "no PostgreSQL server programs under /usr/lib/postgresql (run scripts/pg start once)",
    )
}

// --------------------------------------------------------------------- cutter

/// A TCP relay between the host's egress proxy and the mock exchange. Each new
/// connection takes the next entry of `plan`: `Some(k)` relays k bytes of the
/// exchange's answer stream (TLS records) and then closes both sides; `None`
/// (or an empty plan) relays everything.
pub struct Cutter {
    pub port: u16,
    pub plan: Arc<Mutex<VecDeque<Option<u64>>>>,
    /// Connections accepted.
    pub connections: Arc<AtomicUsize>,
    /// Connections cut.
    pub cuts: Arc<AtomicUsize>,
    /// Bytes relayed from the exchange, per connection, in accept order.
    pub down_bytes: Arc<Mutex<Vec<Arc<AtomicUsize>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Cutter {
    pub async fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let plan: Arc<Mutex<VecDeque<Option<u64>>>> = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let cuts = Arc::new(AtomicUsize::new(0));
        let down_bytes: Arc<Mutex<Vec<Arc<AtomicUsize>>>> = Arc::default();
        let (p, n, c, d) = (
            plan.clone(),
            connections.clone(),
            cuts.clone(),
            down_bytes.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                n.fetch_add(1, Ordering::SeqCst);
                let limit = p.lock().unwrap().pop_front().flatten();
                let counter = Arc::new(AtomicUsize::new(0));
                d.lock().unwrap().push(counter.clone());
                let cuts = c.clone();
                tokio::spawn(async move {
                    let Ok(up) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
                        return;
                    };
                    relay(client, up, limit, counter, cuts).await;
                });
            }
        });
        Cutter {
            port,
            plan,
            connections,
            cuts,
            down_bytes,
            task,
        }
    }

    pub fn set_plan(&self, plan: impl IntoIterator<Item = Option<u64>>) {
        *self.plan.lock().unwrap() = plan.into_iter().collect();
    }

    /// Bytes relayed from the exchange on connection `i` so far.
    pub fn bytes_of(&self, i: usize) -> usize {
        self.down_bytes.lock().unwrap()[i].load(Ordering::SeqCst)
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    client: TcpStream,
    up: TcpStream,
    limit: Option<u64>,
    counter: Arc<AtomicUsize>,
    cuts: Arc<AtomicUsize>,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = up.into_split();
    let upward = async {
        let _ = tokio::io::copy(&mut cr, &mut uw).await;
        let _ = uw.shutdown().await;
    };
    let downward = async {
        let mut buf = vec![0u8; 4096];
        let mut left = limit.unwrap_or(u64::MAX);
        loop {
            let n = match ur.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let take = usize::try_from(left.min(n as u64)).unwrap();
            if cw.write_all(&buf[..take]).await.is_err() {
                break;
            }
            counter.fetch_add(take, Ordering::SeqCst);
            left -= take as u64;
            if left == 0 {
                // Cut: both directions end here, mid-stream.
                cuts.fetch_add(1, Ordering::SeqCst);
                return true;
            }
        }
        let _ = cw.shutdown().await;
        false
    };
    // Whichever ends first (a cut, the exchange closing, the enclave closing)
    // ends the relay: dropping every half closes both sockets.
    tokio::select! {
        _ = downward => {}
        () = upward => {}
    }
}

// ---------------------------------------------------------------- scanner

/// What `scripts/checks/memscan` reported.
#[derive(Debug)]
pub struct Scan {
    pub bytes_scanned: u64,
    pub process_bytes: HashMap<String, u64>,
    pub hits: Vec<Value>,
    pub raw: String,
}

impl Scan {
    /// Hits whose location contains `where_` (a file path or `pid N`).
    pub fn hits_in(&self, where_: &str) -> Vec<&Value> {
        self.hits
            .iter()
            .filter(|h| h["where"].as_str().unwrap_or("").contains(where_))
            .collect()
    }

    pub fn forms(&self) -> Vec<String> {
        let mut f: Vec<String> = self
            .hits
            .iter()
            .map(|h| h["form"].as_str().unwrap().to_owned())
            .collect();
        f.sort();
        f.dedup();
        f
    }
}

/// Runs `scripts/checks/memscan` over `pids` (live memory) and `files`, looking
/// for every needle (given on stdin, never on a command line).
pub fn memscan(pids: &[u32], files: &[PathBuf], needles: &[&str]) -> Scan {
    use std::io::Write as _;
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(workspace_root().join("scripts/checks/memscan"))
        .arg("--json");
    for p in pids {
        cmd.arg("--pid").arg(p.to_string());
    }
    for f in files {
        cmd.arg("--file").arg(f);
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 scripts/checks/memscan");
    let mut stdin = child.stdin.take().unwrap();
    for n in needles {
        writeln!(stdin, "{n}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "memscan failed ({code:?}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(raw.trim()).unwrap();
    Scan {
        bytes_scanned: v["bytes_scanned"].as_u64().unwrap(),
        process_bytes: v["process_bytes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, b)| (k.clone(), b.as_u64().unwrap()))
            .collect(),
        hits: v["hits"].as_array().unwrap().clone(),
        raw,
    }
}

/// Writes `bytes` to `dir/name` and returns the path (answers are scanned as files).
pub fn save(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}
