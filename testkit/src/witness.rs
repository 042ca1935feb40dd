//! `strongroom-witness` processes for a stack: keys made with `keygen`, each
//! witness on its own database, its logs file written once the log's note
//! key is known (after the host booted the enclave's ring) and re-read on
//! SIGHUP.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::pg::TestDb;
use crate::{bin, process};

/// A running witness, killed when dropped.
pub struct RealWitness {
    pub child: Child,
    pub log: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its cosignature/v1 verifier key.
    pub vkey: String,
    /// `WITNESS_LOGS_FILE`.
    pub logs_file: PathBuf,
    pub name: String,
    pub key_file: PathBuf,
    pub db: TestDb,
}

/// A witness key made by `strongroom-witness keygen`: (name, key file, vkey).
pub fn keygen(dir: &Path, n: usize) -> (String, PathBuf, String) {
    let name = format!("witness.test/w{n}");
    let key_file = dir.join(format!("witness-{n}.key"));
    let out = std::process::Command::new(bin::witness())
        .args(["keygen", "--name", &name, "--out"])
        .arg(&key_file)
        .output()
        .expect("run strongroom-witness keygen");
    assert!(out.status.success(), "keygen: {out:?}");
    let vkey = String::from_utf8(out.stdout).expect("utf-8 vkey");
    (name, key_file, vkey.trim().to_owned())
}

impl RealWitness {
    /// Starts witness `n` (key from [`keygen`]) on a fresh database, with an
    /// empty logs file.
    pub async fn start(dir: &Path, n: usize, key: (String, PathBuf, String)) -> Self {
        let (name, key_file, vkey) = key;
        let logs_file = dir.join(format!("witness-{n}.logs"));
        std::fs::write(&logs_file, "# written once the log's note key is known\n")
            .expect("write the logs file");
        let db = TestDb::new().await;
        let log = dir.join(format!("witness-{n}.log"));
        let (child, url) = spawn(&name, &key_file, &logs_file, &db, &log, "127.0.0.1:0").await;
        Self {
            child,
            log,
            url,
            vkey,
            logs_file,
            name,
            key_file,
            db,
        }
    }

    /// Follows `log_vkey` (origin = its name) from now on: the logs file is
    /// written and the witness told to re-read it (SIGHUP).
    pub async fn follow(&self, log_vkey: &str) {
        let origin = log_vkey.split('+').next().expect("vkey name");
        std::fs::write(&self.logs_file, format!("{origin} {log_vkey}\n")).expect("write logs");
        let pid = self.child.id().expect("witness running");
        let _ = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status();
        // The reload is asynchronous: wait until the log line says so.
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if std::fs::read_to_string(&self.log).is_ok_and(|l| l.contains("logs file re-read")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "witness did not re-read its logs file: {}",
            process::tail(&self.log, 20)
        );
    }

    /// SIGKILL (unless already dead) and start again on the same address,
    /// key, logs and database.
    pub async fn restart(&mut self) {
        self.kill().await;
        let listen = self.url.trim_start_matches("http://").to_owned();
        let (child, url) = spawn(
            &self.name,
            &self.key_file,
            &self.logs_file,
            &self.db,
            &self.log,
            &listen,
        )
        .await;
        self.child = child;
        self.url = url;
    }
}

impl RealWitness {
    /// SIGKILL and wait until it is gone (nothing if it is gone already).
    pub async fn kill(&mut self) {
        if let Some(pid) = self.child.id() {
            process::sigkill(pid);
        }
        let _ = self.child.wait().await;
    }
}

async fn spawn(
    name: &str,
    key_file: &Path,
    logs_file: &Path,
    db: &TestDb,
    log: &Path,
    listen: &str,
) -> (Child, String) {
    let mut cmd = Command::new(bin::witness());
    cmd.arg("serve")
        .env("WITNESS_NAME", name)
        .env("WITNESS_KEY_FILE", key_file)
        .env("WITNESS_LOGS_FILE", logs_file)
        .env("DATABASE_URL", &db.url)
        .env("WITNESS_LISTEN", listen)
        .env("WITNESS_RATE_PER_SEC", "1000");
    let mut child = process::spawn(&mut cmd, log, Stdio::piped());
    let line = process::first_line(
        &mut child,
        "strongroom-witness",
        log,
        Duration::from_secs(30),
    )
    .await;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("no listening line: {line:?}"))
        .to_owned();
    (child, addr)
}
