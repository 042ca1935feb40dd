//! The real `strongroom-witness` binary against real PostgreSQL, over HTTP:
//! cosigns consistent checkpoints (verified here and by an independent
//! Python implementation), refuses a fork, a rollback, bad signatures and
//! unknown logs with the spec's statuses, keeps its state across a SIGKILL,
//! and rate-limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use strongroom_formats::c2sp::checkpoint::{Checkpoint, SignedCheckpoint};
use strongroom_formats::c2sp::cosignature::WitnessPolicy;
use strongroom_formats::c2sp::note::{NoteSigner, VerifierKey};
use strongroom_formats::c2sp::witness::{AddCheckpoint, parse_cosignatures, parse_tlog_size};
use strongroom_formats::merkle::{self, Hash};

const ORIGIN: &str = "strongroom.test/log";

/// A fresh database on the cluster of `DATABASE_URL` (scripts/test sets it).
fn fresh_database() -> String {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL (scripts/test starts PostgreSQL and sets it)");
    let name = format!("witness_{}_{}", std::process::id(), rand_suffix());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    });
    with_dbname(&url, &name)
}

fn rand_suffix() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

fn with_dbname(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (path, query) = rest
        .split_once('?')
        .map_or((rest, None), |(a, q)| (a, Some(q)));
    let authority = path.split('/').next().unwrap();
    let q = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{authority}/{db}{q}")
}

struct WitnessProcess {
    child: Child,
    addr: String,
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    dir: tempfile::TempDir,
    db: String,
    log: NoteSigner,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap();
        std::fs::write(dir.path().join("key"), format!("{}\n", "42".repeat(32))).unwrap();
        let logs = format!("# the test log\n{ORIGIN} {}\n", log.verifier_key());
        std::fs::write(dir.path().join("logs"), logs).unwrap();
        Self {
            dir,
            db: fresh_database(),
            log,
        }
    }

    fn start(&self, rate: u32) -> WitnessProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strongroom-witness"))
            .arg("serve")
            .env("WITNESS_NAME", "witness.test/w1")
            .env("WITNESS_KEY_FILE", self.dir.path().join("key"))
            .env("WITNESS_LOGS_FILE", self.dir.path().join("logs"))
            .env("DATABASE_URL", &self.db)
            .env("WITNESS_LISTEN", "127.0.0.1:0")
            .env("WITNESS_RATE_PER_SEC", rate.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("no listening line: {line:?}"))
            .to_owned();
        WitnessProcess { child, addr }
    }

    fn checkpoint(&self, leaves: &[Hash], signer: &NoteSigner) -> SignedCheckpoint {
        let cp = Checkpoint::new(ORIGIN, leaves.len() as u64, merkle::root(leaves), vec![]);
        let mut s = SignedCheckpoint::new(cp.unwrap()).unwrap();
        signer.sign(s.note_mut()).unwrap();
        s
    }

    fn add(&self, leaves: &[Hash], old: u64) -> AddCheckpoint {
        let proof = if old == 0 {
            vec![]
        } else {
            merkle::consistency_proof(leaves, old).unwrap()
        };
        AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: self.checkpoint(leaves, &self.log),
        }
    }
}

struct Reply {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: w\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let headers = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status = headers[9..12].parse().unwrap();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn post(w: &WitnessProcess, req: &AddCheckpoint) -> Reply {
    http(&w.addr, "POST", "/add-checkpoint", req.format().as_bytes())
}

fn leaves(n: u64, salt: u8) -> Vec<Hash> {
    (0..n)
        .map(|i| merkle::leaf_hash(&[&i.to_be_bytes()[..], &[salt]].concat()))
        .collect()
}

/// The cosigned note verifies under a 1-of-1 policy of the witness's vkey.
fn cosigned(s: &Setup, req: &AddCheckpoint, reply: &Reply, vkey: &VerifierKey) -> String {
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let mut note = req.checkpoint.clone();
    for line in parse_cosignatures(&reply.body).unwrap() {
        note.note_mut().add_signature(line).unwrap();
    }
    let policy = WitnessPolicy::new(vec![vkey.clone()], 1).unwrap();
    let sigs = policy.cosignatures(note.note()).unwrap();
    assert_eq!(sigs.len(), 1);
    note.verify_log(ORIGIN, &s.log.verifier_key()).unwrap();
    note.format()
}

fn python_verifies(dir: &Path, note: &str, vkeys: &[String]) {
    let python = std::env::var("STRONGROOM_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/checks/c2sp_check.py");
    let file = dir.join("note.txt");
    std::fs::write(&file, note).unwrap();
    let out = Command::new(&python)
        .arg(script)
        .arg("verify")
        .arg(&file)
        .args(vkeys)
        .output();
    let out = out.unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cosigns_consistent_checkpoints_and_refuses_forks_across_restarts() {
    let s = Setup::new();
    let w = s.start(1000);
    let vkey_text = String::from_utf8(http(&w.addr, "GET", "/vkey", b"").body).unwrap();
    let vkey = VerifierKey::parse(vkey_text.trim()).unwrap();
    let log = leaves(10, 0);

    // First contact and an extension: cosigned, checked here and in Python.
    let first = s.add(&log[..5], 0);
    let note = cosigned(&s, &first, &post(&w, &first), &vkey);
    python_verifies(
        s.dir.path(),
        &note,
        &[s.log.verifier_key().to_string(), vkey_text.trim().into()],
    );
    let ext = s.add(&log[..8], 5);
    cosigned(&s, &ext, &post(&w, &ext), &vkey);

    // A fork at the recorded size: 422. A rollback to 5: 409 naming 8.
    let mut fork = s.add(&leaves(8, 1), 0);
    fork.old_size = 8;
    assert_eq!(post(&w, &fork).status, 422);
    let stale = post(&w, &s.add(&log[..9], 5));
    assert_eq!(stale.status, 409);
    assert!(
        stale.headers.contains("content-type: text/x.tlog.size"),
        "{}",
        stale.headers
    );
    assert_eq!(parse_tlog_size(&stale.body), Ok(8));
    // A longer history that does not extend the recorded one: 422.
    let other = leaves(9, 2);
    let mut bad_ext = s.add(&other, 8);
    bad_ext.proof = merkle::consistency_proof(&other, 8).unwrap();
    assert_eq!(post(&w, &bad_ext).status, 422);

    // Unknown origin 404, another key 403, garbage 400, oversized 413.
    let stranger = NoteSigner::from_seed("elsewhere.test/log", &[3; 32]).unwrap();
    let cp = Checkpoint::new("elsewhere.test/log", 1, log[0], vec![]).unwrap();
    let mut foreign = SignedCheckpoint::new(cp).unwrap();
    stranger.sign(foreign.note_mut()).unwrap();
    let unknown = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        checkpoint: foreign,
    };
    assert_eq!(post(&w, &unknown).status, 404);
    let impostor = NoteSigner::from_seed(ORIGIN, &[4; 32]).unwrap();
    let forged = AddCheckpoint {
        old_size: 8,
        proof: merkle::consistency_proof(&log[..9], 8).unwrap(),
        checkpoint: s.checkpoint(&log[..9], &impostor),
    };
    assert_eq!(post(&w, &forged).status, 403);
    assert_eq!(
        http(&w.addr, "POST", "/add-checkpoint", b"old 0\n").status,
        400
    );
    assert_eq!(
        http(&w.addr, "POST", "/add-checkpoint", &vec![b'a'; 80_000]).status,
        413
    );

    // SIGKILL and restart on the same database: the state is kept.
    drop(w);
    let w = s.start(1000);
    assert_eq!(parse_tlog_size(&post(&w, &s.add(&log[..9], 5)).body), Ok(8));
    let after = s.add(&log, 8);
    cosigned(&s, &after, &post(&w, &after), &vkey);
    let latest = http(
        &w.addr,
        "GET",
        "/checkpoint?origin=strongroom.test%2Flog",
        b"",
    );
    assert_eq!(latest.status, 200);
    let latest = SignedCheckpoint::parse(&latest.body).unwrap();
    assert_eq!(latest.checkpoint().size(), 10);
}

#[test]
fn rate_limited_per_address_with_retry_after() {
    let s = Setup::new();
    let w = s.start(1);
    let replies: Vec<Reply> = (0..6)
        .map(|_| http(&w.addr, "GET", "/healthz", b""))
        .collect();
    assert_eq!(replies[0].status, 200);
    let limited = replies
        .iter()
        .find(|r| r.status == 429)
        .expect("a 429 within six requests");
    assert!(limited.headers.contains("retry-after: 1"));
}

#[test]
fn bad_configuration_exits_64_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom-witness"))
        .arg("serve")
        .env_clear()
        .env("WITNESS_NAME", "witness.test/w1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WITNESS_KEY_FILE"));
}
