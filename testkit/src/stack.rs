//! One whole stack of real processes: the mock exchange (optionally behind a
//! [`Cutter`]), an optional KMS double, the simulator enclave whose exchange
//! and KMS traffic go through the host's egress proxy, the host, PostgreSQL,
//! a tenant. The processes can be SIGKILLed and restarted with the same
//! flags; every log is kept for failure messages and scans.

mod demo;

pub use demo::{DEMO_KEY, DEMO_SECRET, assert_demo_figures, demo_fixture, expected_demo};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cutter::Cutter;
use crate::enclave::{RealEnclave, start_enclave};
use crate::host::Host;
use crate::http::{Client, body_text, try_http};
use crate::kms::{KmsDouble, start_kms_double};
use crate::mock::{MockExchange, start_mock_exchange_with};
use crate::pg::TestDb;
use crate::process::{sigkill, tail};
use crate::seal::submission;
use crate::witness::{RealWitness, keygen};

/// The KMS key id of a stack's key ring.
pub const KMS_KEY_ID: &str = "strongroom-faults-ring-key";

/// Options of a stack.
#[derive(Default)]
pub struct StackOpts {
    /// Fixture for the mock exchange (default: the demo fixture).
    pub fixture: Option<PathBuf>,
    /// Put a cutter between the egress proxy and the mock exchange.
    pub cutter: bool,
    /// Run on this database (e.g. a `PrivatePg`'s) instead of a fresh one of
    /// the shared cluster.
    pub db_url: Option<String>,
    /// Extra host environment (overrides the stack's).
    pub host_env: Vec<(String, String)>,
    /// Seal the key ring with the KMS double (`strongroom-kms-double`), so a
    /// restarted enclave gets the same ring back (the production set-up).
    pub kms: bool,
    /// Run this many `strongroom-witness` processes; the enclave needs all of
    /// them to cosign (quorum = number of witnesses).
    pub witnesses: usize,
    /// Extra flags of the mock exchange (e.g. `--weight-limit`).
    pub mock_args: Vec<String>,
    /// Extra flags of the enclave (e.g. `--exchange-weight-limit`), kept
    /// for restarts.
    pub enclave_args: Vec<String>,
}

/// The database a stack runs on (see [`TestDb`]: a fresh one is dropped at
/// the end, a given one is not).
pub struct Db(TestDb);

impl Db {
    pub fn test_db(&self) -> &TestDb {
        &self.0
    }

    pub fn url(&self) -> &str {
        &self.0.url
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        self.0.client().await
    }

    /// The single `bigint` that `sql` selects.
    pub async fn count(&self, sql: &str) -> i64 {
        self.0.count(sql).await
    }
}

/// A running stack; every process is killed when it is dropped.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub db: Db,
    pub mock: MockExchange,
    pub kms: Option<KmsDouble>,
    pub cutter: Option<Cutter>,
    pub enclave: RealEnclave,
    /// The enclave's flags, for restarts.
    pub enclave_args: Vec<String>,
    pub host: Host,
    /// The host's environment, for restarts.
    pub host_env: Vec<(String, String)>,
    /// The API key of tenant "faults".
    pub key: String,
    /// Logs of processes that were killed or replaced (kept for scans and failures).
    pub old_logs: Vec<PathBuf>,
    /// The log's witnesses (empty without [`StackOpts::witnesses`]).
    pub witnesses: Vec<RealWitness>,
}

/// Where the exchange is reached (through the cutter when there is one) and
/// the flags and environment every start uses.
struct Wiring {
    enclave_args: Vec<String>,
    host_env: Vec<(String, String)>,
}

impl Stack {
    /// Starts everything and waits until the host has booted the enclave's
    /// key ring (`/readyz` 200).
    pub async fn start(opts: StackOpts) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let t0 = Instant::now();
        let fixture = opts.fixture.clone().unwrap_or_else(demo_fixture);
        let mock_args: Vec<&str> = opts.mock_args.iter().map(String::as_str).collect();
        let mock = start_mock_exchange_with(dir.path(), &fixture, &mock_args).await;
        eprintln!("[stack] mock exchange up after {:?}", t0.elapsed());
        let cutter = match opts.cutter {
            true => Some(Cutter::start(mock.port).await),
            false => None,
        };
        let port = cutter.as_ref().map_or(mock.port, |c| c.port);
        let kms = match opts.kms {
            true => Some(start_kms(dir.path()).await),
            false => None,
        };
        let mut wiring = Wiring::new(dir.path(), &mock, port, kms.as_ref(), opts.host_env);
        wiring.enclave_args.extend(opts.enclave_args);
        let mut witnesses = Vec::new();
        for n in 1..=opts.witnesses {
            let key = keygen(dir.path(), n);
            witnesses.push(RealWitness::start(dir.path(), n, key).await);
        }
        // The witnesses the verification page trusts (/verify/tlog-policy).
        let policy = dir.path().join("tlog-policy");
        std::fs::write(&policy, tlog_policy(&witnesses)).expect("write the tlog-policy");
        wiring.host_env.insert(
            0,
            ("VERIFY_TLOG_POLICY".into(), policy.display().to_string()),
        );
        if !witnesses.is_empty() {
            for w in &witnesses {
                wiring
                    .enclave_args
                    .extend(["--witness".to_owned(), w.vkey.clone()]);
            }
            let urls: Vec<&str> = witnesses.iter().map(|w| w.url.as_str()).collect();
            // Before the stack's own variables, so `host_env` may override it.
            wiring
                .host_env
                .insert(0, ("WITNESS_URLS".into(), urls.join(",")));
            eprintln!(
                "[stack] {} witnesses up after {:?}",
                witnesses.len(),
                t0.elapsed()
            );
        }
        let enclave = start_enclave(dir.path(), &as_strs(&wiring.enclave_args)).await;
        eprintln!("[stack] enclave listening after {:?}", t0.elapsed());
        let db = Db(match opts.db_url {
            Some(url) => TestDb::existing(url).await,
            None => TestDb::migrated().await,
        });
        let host = start_host(db.test_db(), &enclave.addr, &wiring.host_env).await;
        eprintln!("[stack] host listening after {:?}", t0.elapsed());
        let key = db.test_db().tenant("faults").await;
        let stack = Self {
            dir,
            db,
            mock,
            kms,
            cutter,
            enclave,
            enclave_args: wiring.enclave_args,
            host,
            host_env: wiring.host_env,
            key,
            old_logs: Vec::new(),
            witnesses,
        };
        // The host drives the new enclave's boot (first boot: a new key ring).
        stack.wait_ready(Duration::from_secs(60)).await;
        if !stack.witnesses.is_empty() {
            let vkey = stack.log_vkey().await;
            for w in &stack.witnesses {
                w.follow(&vkey).await;
            }
        }
        eprintln!("[stack] ready after {:?}", t0.elapsed());
        stack
    }

    /// A client with the tenant key; every call bounded by 90 s.
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
    /// Returns once the host's `/readyz` state (refreshed once a second) has
    /// been refreshed since: a [`Stack::wait_ready`] after this sees the new
    /// enclave, never the old one's cached "ready".
    pub async fn restart_enclave(&mut self) {
        let kept = self.keep_log("enclave");
        std::fs::rename(&self.enclave.log, &kept).expect("keep the enclave's log");
        let _ = std::fs::remove_file(self.dir.path().join("enclave.sock"));
        self.enclave = start_enclave(self.dir.path(), &as_strs(&self.enclave_args)).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
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
        let kept = self.keep_log("host");
        std::fs::write(&kept, self.host.logs()).expect("keep the host's log");
        self.host = start_host(self.db.test_db(), &self.enclave.addr, &self.host_env).await;
    }

    /// Registers `dir/<what>.<n>.log` as an old log and returns its path.
    fn keep_log(&mut self, what: &str) -> PathBuf {
        let n = self.old_logs.len();
        let kept = self.dir.path().join(format!("{what}.{n}.log"));
        self.old_logs.push(kept.clone());
        kept
    }

    /// The log's note verifier key, from the quote.
    pub async fn log_vkey(&self) -> String {
        let q = self.client().quote().await.expect("quote answered");
        assert_eq!(q.status, 200, "quote: {}", body_text(&q));
        q.json()["log_vkey"]
            .as_str()
            .expect("log_vkey in the quote")
            .to_owned()
    }

    /// Every log this stack wrote so far: host, enclave, witnesses, earlier ones.
    pub fn log_files(&self) -> Vec<PathBuf> {
        let mut v = self.old_logs.clone();
        v.extend(self.witnesses.iter().map(|w| w.log.clone()));
        v.push(self.host.log.clone());
        v.push(self.enclave.log.clone());
        v
    }

    /// Host and enclave logs, for failure messages (the tail only).
    pub fn logs_tail(&self) -> String {
        let mut out = String::new();
        for p in self.log_files() {
            out.push_str(&format!("\n--- {} ---\n{}", p.display(), tail(&p, 25)));
        }
        out
    }

    /// Polls GET /readyz until 200, at most `limit`; returns the time it took.
    pub async fn wait_ready(&self, limit: Duration) -> Duration {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < limit {
            let five = Duration::from_secs(5);
            match try_http(&self.host.addr, "GET", "/readyz", &[], None, five).await {
                Ok(r) if r.status == 200 => return start.elapsed(),
                Ok(r) => last = format!("{} {}", r.status, body_text(&r)),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("not ready after {limit:?}: {last}{}", self.logs_tail());
    }

    /// The stack as `stack.json` (the form `scripts/demo --serve` writes and the
    /// load tools read: `strongroom_devtools::stack::Stack`).
    pub fn description(&self) -> Value {
        serde_json::json!({
            "host_url": format!("http://{}", self.host.addr),
            "api_key": self.key,
            "database_url": self.db.url(),
            "dev_root_pem": self.enclave.root_pem,
            "pcrs_json": self.dir.path().join("pcrs.json"),
            "pids": {"host": self.host_pid(), "enclave": self.enclave_pid()},
            "witnesses": self.witnesses.iter()
                .map(|w| serde_json::json!({"url": w.url, "vkey": w.vkey}))
                .collect::<Vec<_>>(),
        })
    }

    /// Writes [`Stack::description`] to `dir/stack.json` and returns its path.
    pub fn write_description(&self) -> PathBuf {
        let path = self.dir.path().join("stack.json");
        std::fs::write(&path, self.description().to_string()).expect("write stack.json");
        path
    }

    /// quote -> submit (201) with the demo credential; returns (quote, session).
    pub async fn submit_demo(&self, label: &str) -> (Value, String) {
        let c = self.client();
        let q = c.quote().await.expect("quote answered");
        let logs = || self.logs_tail();
        assert_eq!(q.status, 200, "quote: {}{}", body_text(&q), logs());
        let quote = q.json();
        let body = submission(&quote, DEMO_KEY, DEMO_SECRET, label);
        let r = c.submit(&body).await.expect("submit answered");
        assert_eq!(r.status, 201, "submit: {}{}", body_text(&r), logs());
        let session = r.json()["session_id"]
            .as_str()
            .expect("session_id")
            .to_owned();
        (quote, session)
    }
}

impl Wiring {
    /// The enclave reaches the exchange on `port` (and the KMS double) through
    /// the host's egress proxy at `dir/egress.sock`, which allows exactly those.
    fn new(
        dir: &Path,
        mock: &MockExchange,
        port: u16,
        kms: Option<&KmsDouble>,
        extra_env: Vec<(String, String)>,
    ) -> Self {
        let egress = format!("unix://{}", dir.join("egress.sock").display());
        let mut enclave_args = enclave_args(dir, &egress, mock, port);
        let mut allow = format!("localhost:{port}");
        let mut host_env = host_env(egress);
        if let Some(kms) = kms {
            enclave_args.extend(kms.enclave_args());
            allow.push_str(&format!(",localhost:{}", kms.port));
            host_env.extend(kms.host_env(KMS_KEY_ID));
        }
        host_env.push(("EGRESS_ALLOWLIST".into(), allow));
        // What the verification page (/verify/) pins: the enclave writes both
        // files before the host starts.
        let file = |name: &str| dir.join(name).display().to_string();
        host_env.push(("VERIFY_PCRS_JSON".into(), file("pcrs.json")));
        host_env.push(("VERIFY_DEV_ROOT_PEM".into(), file("dev-root.pem")));
        host_env.extend(extra_env);
        Wiring {
            enclave_args,
            host_env,
        }
    }
}

/// A C2SP tlog-policy naming `witnesses` (W1, W2, ...) and requiring all of
/// them; `quorum none` without witnesses. The log's own key is not in it:
/// verifiers take it from the attestation.
pub fn tlog_policy(witnesses: &[RealWitness]) -> String {
    if witnesses.is_empty() {
        return "quorum none\n".to_owned();
    }
    let mut text = String::new();
    let mut names = Vec::new();
    for (i, w) in witnesses.iter().enumerate() {
        text.push_str(&format!("witness W{} {}\n", i + 1, w.vkey));
        names.push(format!("W{}", i + 1));
    }
    text.push_str(&format!(
        "group all-witnesses all {}\nquorum all-witnesses\n",
        names.join(" ")
    ));
    text
}

/// One dev root for every start of this stack's enclave (as real enclaves
/// share the AWS root); the PCRs are the binary's.
fn enclave_args(dir: &Path, egress: &str, mock: &MockExchange, port: u16) -> Vec<String> {
    let path = |name: &str| dir.join(name).display().to_string();
    vec![
        "--egress".into(),
        egress.into(),
        "--dev-exchange-url".into(),
        format!("https://localhost:{port}"),
        "--dev-exchange-ca".into(),
        mock.ca_pem.display().to_string(),
        "--dev-root-key".into(),
        path("dev-root.key"),
        "--dev-pcrs-out".into(),
        path("pcrs.json"),
    ]
}

/// Limits high enough for load, timeouts long enough for a debug enclave.
fn host_env(egress: String) -> Vec<(String, String)> {
    vec![
        ("EGRESS_LISTEN".into(), egress),
        ("RATE_LIMIT_MAX".into(), "1000000".into()),
        ("ENCLAVE_TIMEOUT_MS".into(), "20000".into()),
        ("AGGREGATES_TIMEOUT_MS".into(), "60000".into()),
        ("REQUEST_TIMEOUT_MS".into(), "60000".into()),
    ]
}

/// The double trusts the root and PCRs the stack's first enclave writes.
async fn start_kms(dir: &Path) -> KmsDouble {
    let (root, pcrs) = (dir.join("dev-root.pem"), dir.join("pcrs.json"));
    start_kms_double(dir, KMS_KEY_ID, &root, &pcrs).await
}

async fn start_host(db: &TestDb, enclave: &str, env: &[(String, String)]) -> Host {
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Host::start(db, enclave, &extra).await
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
