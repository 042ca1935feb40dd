//! Children of a test: started with a log file, killed when dropped, waited
//! for with a bound; their logs go into failure messages.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts `cmd` with stderr appended to `log` and stdout as given; the child
/// is killed when its handle is dropped.
pub fn spawn(cmd: &mut Command, log: &Path, stdout: Stdio) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    cmd.stdout(stdout)
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.as_std().get_program()))
}

/// The first line `child` prints on stdout, within `limit`.
pub async fn first_line(child: &mut Child, what: &str, log: &Path, limit: Duration) -> String {
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    match tokio::time::timeout(limit, lines.next_line()).await {
        Ok(Ok(Some(line))) => line,
        Ok(_) => panic!("{what} exited: {}", read_log(log)),
        Err(_) => panic!("{what} did not start within {limit:?}: {}", read_log(log)),
    }
}

/// Waits until `path` exists (a socket the child binds), within `limit`.
pub async fn wait_for_path(
    child: &mut Child,
    path: &Path,
    what: &str,
    log: &Path,
    limit: Duration,
) {
    let start = Instant::now();
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early ({status}): {}", read_log(log));
        }
        assert!(
            start.elapsed() < limit,
            "{what} did not listen within {limit:?}: {}",
            read_log(log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A log file's text ("" when missing).
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The last `n` lines of a log file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = read_log(path);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Sends `signal` (`KILL`, `TERM`) to `pid`, a process this test started.
pub fn signal(pid: u32, signal: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{signal} {pid} failed");
}

/// SIGKILL.
pub fn sigkill(pid: u32) {
    signal(pid, "KILL");
}

/// A blocking child (`std::process`), killed and reaped when dropped.
pub struct Guard(pub std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// [`spawn`] for blocking tests (`std::process`): stderr appended to `log`,
/// killed and reaped when the [`Guard`] drops.
pub fn spawn_blocking(cmd: &mut std::process::Command, log: &Path, stdout: Stdio) -> Guard {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    let child = cmd
        .stdout(stdout)
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()));
    Guard(child)
}

/// [`first_line`] for a blocking child: waits until it prints a line or exits.
pub fn first_line_blocking(child: &mut Guard, what: &str, log: &Path) -> String {
    use std::io::BufRead as _;
    let stdout = child.0.stdout.take().expect("stdout piped");
    let mut line = String::new();
    let read = std::io::BufReader::new(stdout).read_line(&mut line);
    match read {
        Ok(n) if n > 0 => line,
        _ => panic!("{what} printed nothing ({read:?}): {}", read_log(log)),
    }
}
