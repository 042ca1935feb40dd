//! `strongroom-enclave --dev-simulator` on a unix socket.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{bin, process};

/// A debug build hashes its own executable for the simulated PCR0: tens of seconds.
pub const ENCLAVE_START_LIMIT: Duration = Duration::from_secs(180);

/// A running simulator enclave, killed when dropped.
pub struct RealEnclave {
    pub child: Child,
    pub log: PathBuf,
    /// `unix://…/enclave.sock`.
    pub addr: String,
    /// Where `--dev-root-out` writes the simulator's root certificate.
    pub root_pem: PathBuf,
}

/// Starts `strongroom-enclave --dev-simulator` on `dir/enclave.sock` (log
/// `dir/enclave.log`, root `dir/dev-root.pem`) with `extra` flags; returns
/// once the socket exists.
pub async fn start_enclave(dir: &Path, extra: &[&str]) -> RealEnclave {
    let path = dir.join("enclave.sock");
    let addr = format!("unix://{}", path.display());
    let log = dir.join("enclave.log");
    let root_pem = dir.join("dev-root.pem");
    let mut cmd = Command::new(bin::enclave());
    cmd.args(["--listen", &addr, "--dev-simulator", "--dev-root-out"])
        .arg(&root_pem)
        .args(extra);
    let mut child = process::spawn(&mut cmd, &log, Stdio::null());
    process::wait_for_path(&mut child, &path, "enclave", &log, ENCLAVE_START_LIMIT).await;
    RealEnclave {
        child,
        log,
        addr,
        root_pem,
    }
}
