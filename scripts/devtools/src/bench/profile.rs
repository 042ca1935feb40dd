//! `strongroom-bench profile`: one `submit_key` burst recorded system-wide by
//! `perf record`, started after the credentials are sealed and stopped when
//! the last answer is in (the sessions are revoked after that), so the
//! profile holds the timed window and nothing else. `scripts/bench
//! --profile` turns the data into text reports.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use strongroom_verifier::client::Client;

use super::figures::BoxError;
use super::submit::{self, Burst};
use crate::stack::Stack;

/// A running `perf record -a -g`; stopped with SIGINT so it writes a
/// complete file.
struct PerfRecord {
    child: Child,
}

impl PerfRecord {
    fn start(out: &Path, frequency: u32) -> Result<Self, BoxError> {
        let mut child = Command::new("perf")
            .args(["record", "-a", "-g", "-F", &frequency.to_string(), "-o"])
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run perf (Debian package linux-perf): {e}"))?;
        // perf needs a moment to open its events on every CPU.
        std::thread::sleep(Duration::from_millis(500));
        if let Some(status) = child.try_wait()? {
            return Err(format!("perf record exited at once ({status}); are you root?").into());
        }
        Ok(PerfRecord { child })
    }

    fn stop(mut self) -> Result<(), BoxError> {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            return Err("cannot signal perf record".into());
        }
        self.child.wait()?;
        Ok(())
    }
}

/// Seals `count` credentials, then records one burst at `concurrency` into
/// `perf_data`.
pub fn profile_submit(
    stack: &Stack,
    concurrency: usize,
    count: usize,
    perf_data: &Path,
    frequency: u32,
) -> Result<Burst, BoxError> {
    let client =
        Client::new(&stack.host_url, &stack.api_key)?.with_timeout(Duration::from_secs(60));
    let recipient = submit::attested_recipient(&client, stack)?;
    let cred = submit::bench_credential();
    let bodies = submit::seal_bodies(&recipient, &cred, count)?;
    let perf = PerfRecord::start(perf_data, frequency)?;
    let (burst, sessions) = submit::timed_burst(&client, &bodies, concurrency);
    let stopped = perf.stop();
    submit::revoke_all(&client, sessions, concurrency);
    stopped?;
    Ok(burst)
}
