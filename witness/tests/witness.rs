//! The real `strongroom-witness` binary against real PostgreSQL, over HTTP:
//! cosigns consistent checkpoints (verified here and by an independent
//! Python implementation), refuses a fork, a rollback, bad signatures and
//! unknown logs with the spec's statuses, keeps its state across a SIGKILL,
//! and rate-limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use strongroom_formats::c2sp::checkpoint::{Checkpoint, SignedCheckpoint};
use strongroom_formats::c2sp::cosignature::WitnessPolicy;
use strongroom_formats::c2sp::note::{NoteSigner, VerifierKey};
use strongroom_formats::c2sp::witness::{AddCheckpoint, parse_cosignatures, parse_tlog_size};
use strongroom_formats::merkle::{self, Hash};
use strongroom_testkit::http::{Reply, http};
use strongroom_testkit::pg::TestDb;
use strongroom_testkit::process::{Guard, first_line_blocking, spawn_blocking};

const ORIGIN: &str = "strongroom.test/log";

struct WitnessProcess {
    _guard: Guard,
    addr: String,
}

struct Setup {
    dir: tempfile::TempDir,
    db: TestDb,
    log: NoteSigner,
}

impl Setup {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap();
        std::fs::write(dir.path().join("key"), format!("{}\n", "42".repeat(32))).unwrap();
        let logs = format!("# the test log\n{ORIGIN} {}\n", log.verifier_key());
        std::fs::write(dir.path().join("logs"), logs).unwrap();
        Self {
            dir,
            db: TestDb::new().await,
            log,
        }
    }

    fn start(&self, rate: u32) -> WitnessProcess {
        let log = self.dir.path().join("witness.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_strongroom-witness"));
        cmd.arg("serve")
            .env("WITNESS_NAME", "witness.test/w1")
            .env("WITNESS_KEY_FILE", self.dir.path().join("key"))
            .env("WITNESS_LOGS_FILE", self.dir.path().join("logs"))
            .env("DATABASE_URL", &self.db.url)
            .env("WITNESS_LISTEN", "127.0.0.1:0")
            .env("WITNESS_RATE_PER_SEC", rate.to_string());
        let mut guard = spawn_blocking(&mut cmd, &log, Stdio::piped());
        let line = first_line_blocking(&mut guard, "strongroom-witness", &log);
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("no listening line: {line:?}"))
            .to_owned();
        WitnessProcess {
            _guard: guard,
            addr,
        }
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

async fn get(w: &WitnessProcess, path: &str) -> Reply {
    http(&w.addr, "GET", path, &[], None).await
}

async fn post_raw(w: &WitnessProcess, body: &[u8]) -> Reply {
    http(&w.addr, "POST", "/add-checkpoint", &[], Some(body)).await
}

async fn post(w: &WitnessProcess, req: &AddCheckpoint) -> Reply {
    post_raw(w, req.format().as_bytes()).await
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

#[tokio::test]
async fn cosigns_consistent_checkpoints_and_refuses_forks_across_restarts() {
    let s = Setup::new().await;
    let w = s.start(1000);
    let vkey_text = String::from_utf8(get(&w, "/vkey").await.body).unwrap();
    let vkey = VerifierKey::parse(vkey_text.trim()).unwrap();
    let log = leaves(10, 0);

    // First contact and an extension: cosigned, checked here and in Python.
    let first = s.add(&log[..5], 0);
    let note = cosigned(&s, &first, &post(&w, &first).await, &vkey);
    python_verifies(
        s.dir.path(),
        &note,
        &[s.log.verifier_key().to_string(), vkey_text.trim().into()],
    );
    let ext = s.add(&log[..8], 5);
    cosigned(&s, &ext, &post(&w, &ext).await, &vkey);

    // A fork at the recorded size: 422. A rollback to 5: 409 naming 8.
    let mut fork = s.add(&leaves(8, 1), 0);
    fork.old_size = 8;
    assert_eq!(post(&w, &fork).await.status, 422);
    let stale = post(&w, &s.add(&log[..9], 5)).await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.header("content-type"), Some("text/x.tlog.size"));
    assert_eq!(parse_tlog_size(&stale.body), Ok(8));
    // A longer history that does not extend the recorded one: 422.
    let other = leaves(9, 2);
    let mut bad_ext = s.add(&other, 8);
    bad_ext.proof = merkle::consistency_proof(&other, 8).unwrap();
    assert_eq!(post(&w, &bad_ext).await.status, 422);

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
    assert_eq!(post(&w, &unknown).await.status, 404);
    let impostor = NoteSigner::from_seed(ORIGIN, &[4; 32]).unwrap();
    let forged = AddCheckpoint {
        old_size: 8,
        proof: merkle::consistency_proof(&log[..9], 8).unwrap(),
        checkpoint: s.checkpoint(&log[..9], &impostor),
    };
    assert_eq!(post(&w, &forged).await.status, 403);
    assert_eq!(post_raw(&w, b"old 0\n").await.status, 400);
    assert_eq!(post_raw(&w, &vec![b'a'; 80_000]).await.status, 413);

    // SIGKILL and restart on the same database: the state is kept.
    drop(w);
    let w = s.start(1000);
    assert_eq!(
        parse_tlog_size(&post(&w, &s.add(&log[..9], 5)).await.body),
        Ok(8)
    );
    let after = s.add(&log, 8);
    cosigned(&s, &after, &post(&w, &after).await, &vkey);
    let latest = get(&w, "/checkpoint?origin=strongroom.test%2Flog").await;
    assert_eq!(latest.status, 200);
    let latest = SignedCheckpoint::parse(&latest.body).unwrap();
    assert_eq!(latest.checkpoint().size(), 10);
}

#[tokio::test]
async fn rate_limited_per_address_with_retry_after() {
    let s = Setup::new().await;
    let w = s.start(1);
    let mut replies = Vec::new();
    for _ in 0..6 {
        replies.push(get(&w, "/healthz").await);
    }
    assert_eq!(replies[0].status, 200);
    let limited = replies
        .iter()
        .find(|r| r.status == 429)
        .expect("a 429 within six requests");
    assert_eq!(limited.header("retry-after"), Some("1"));
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
