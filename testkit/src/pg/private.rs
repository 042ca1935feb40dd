//! A PostgreSQL cluster of one test, under `target/faults-pg/`, that the test
//! may stop and start (the shared cluster is never touched). Unix socket only,
//! run as the `postgres` user when we are root, like `scripts/pg`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::workspace_root;

pub struct PrivatePg {
    pub dir: PathBuf,
    pub bin: PathBuf,
    pub port: u16,
}

impl PrivatePg {
    /// initdb, start, `createdb strongroom`.
    pub fn init() -> Self {
        let initdb = super::pg_program("initdb").expect(
            "no PostgreSQL server programs under /usr/lib/postgresql (run scripts/pg start once)",
        );
        let dir = workspace_root()
            .join("target/faults-pg")
            .join(&uuid::Uuid::new_v4().simple().to_string()[..12]);
        std::fs::create_dir_all(dir.join("run")).expect("create the cluster folder");
        let bin = initdb.parent().expect("bin folder").to_path_buf();
        let pg = PrivatePg {
            dir,
            bin,
            port: 5432,
        };
        if is_root() {
            give_to_postgres(&pg.dir);
        }
        pg.initdb();
        pg.start();
        pg.createdb();
        pg
    }

    fn initdb(&self) {
        let data = self.data();
        let args = ["-D", &data, "-U", "postgres", "--auth=trust"];
        let more = ["--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"];
        self.as_pg("initdb", &[&args[..], &more[..]].concat());
    }

    fn createdb(&self) {
        let sock = self.sock().display().to_string();
        let port = self.port.to_string();
        let args = ["-h", &sock, "-p", &port, "-U", "postgres", "strongroom"];
        self.as_pg("createdb", &args);
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// The socket folder.
    pub fn sock(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// The server's log.
    pub fn log(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// The URL of database `strongroom`.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@/strongroom?host={}&port={}",
            self.sock().display(),
            self.port
        )
    }

    fn as_pg(&self, prog: &str, args: &[&str]) -> Output {
        let out = as_pg_user(&self.bin.join(prog), args).expect("run a PostgreSQL program");
        assert!(
            out.status.success(),
            "{prog} {args:?}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            crate::process::read_log(&self.log())
        );
        out
    }

    /// `pg_ctl start`, waiting until it accepts connections.
    pub fn start(&self) {
        let opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -p {} \
             -c max_connections=100 -c fsync=off",
            self.sock().display(),
            self.port
        );
        let (data, log) = (self.data(), self.log().display().to_string());
        let args = [
            "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &opts, "start",
        ];
        self.as_pg("pg_ctl", &args);
    }

    /// `pg_ctl stop -m fast`: every client is disconnected.
    pub fn stop(&self) {
        self.as_pg("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let args = ["-D", &self.data(), "-m", "immediate", "-w", "stop"];
        let _ = as_pg_user(&self.bin.join("pg_ctl"), &args);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `exe` as the `postgres` user when we are root, else as ourselves.
fn as_pg_user(exe: &Path, args: &[&str]) -> std::io::Result<Output> {
    if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(exe)
            .args(args)
            .output()
    } else {
        Command::new(exe).args(args).output()
    }
}

/// The postgres user must reach and own the cluster folder (like scripts/pg).
fn give_to_postgres(dir: &Path) {
    for d in dir.ancestors().filter(|d| d.parent().is_some()) {
        let _ = Command::new("chmod").arg("o+x").arg(d).status();
    }
    let ok = Command::new("chown")
        .args(["-R", "postgres:"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chown postgres {}", dir.display());
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}
