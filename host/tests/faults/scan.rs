//! The memory/file scanner `scripts/checks/memscan` (python3), driven from the
//! no-plaintext test: needles go on stdin, never on a command line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::workspace_root;

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
