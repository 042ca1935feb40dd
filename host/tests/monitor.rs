#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `strongroom monitor` against real processes: it follows the log from
//! `/checkpoint` and the tiles, reports growth as consistent, and catches a
//! hostile host's rollback (a log with witnesses: the old cosigned
//! checkpoint served again) and its fork (a log without witnesses: a
//! restarted enclave handed an old state signs a second history of one size,
//! which only a monitor that remembers the first can see). Entries of an
//! account are listed only where the operator made the entries public.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use strongroom_testkit::hostile::roll_back_log;
use strongroom_testkit::stack::{Stack, StackOpts};

/// `strongroom monitor` with `extra` flags: (exit code, stdout JSON, stderr).
fn monitor(s: &Stack, policy: &Path, extra: &[&str]) -> (i32, Value, String) {
    let out = std::process::Command::new(strongroom_testkit::bin::verifier_cli())
        .arg("monitor")
        .arg("--log")
        .arg(format!("http://{}", s.host.addr))
        .arg("--policy")
        .arg(policy)
        .arg("--state")
        .arg(s.dir.path().join("monitor-state.json"))
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `strongroom track --account` under `policy`: (exit code, stdout JSON, stderr).
fn track(s: &Stack, policy: &Path, account: &str) -> (i32, Value, String) {
    let out = std::process::Command::new(strongroom_testkit::bin::verifier_cli())
        .args(["track", "--json", "--account", account, "--log"])
        .arg(format!("http://{}", s.host.addr))
        .arg("--tlog-policy")
        .arg(policy)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn policy(s: &Stack, log_vkey: &str) -> std::path::PathBuf {
    let mut text = format!("log {log_vkey}\n");
    if s.witnesses.is_empty() {
        text.push_str("quorum none\n");
    } else {
        let mut names = Vec::new();
        for (i, w) in s.witnesses.iter().enumerate() {
            text.push_str(&format!("witness W{i} {}\n", w.vkey));
            names.push(format!("W{i}"));
        }
        text.push_str(&format!(
            "group all-of-them all {}\nquorum all-of-them\n",
            names.join(" ")
        ));
    }
    let path = s.dir.path().join("monitor-policy");
    std::fs::write(&path, text).unwrap();
    path
}

async fn aggregate(s: &Stack, session: &str) -> Value {
    let r = s.client().aggregates(session).await.unwrap();
    assert_eq!(
        r.status,
        200,
        "{}{}",
        String::from_utf8_lossy(&r.body),
        s.logs_tail()
    );
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_witnessed_log_and_catches_a_rollback() {
    let s = Stack::start(StackOpts {
        witnesses: 2,
        ..Default::default()
    })
    .await;
    let policy = policy(&s, &s.log_vkey().await);
    let (_, session) = s.submit_demo("monitored").await;
    for _ in 0..2 {
        aggregate(&s, &session).await;
    }
    let (code, out, err) = monitor(&s, &policy, &[]);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(out["size"], 2);
    assert_eq!(out["previous_size"], Value::Null);
    assert_eq!(out["witnesses"].as_array().unwrap().len(), 2);
    let answer = aggregate(&s, &session).await;
    let account = answer["aggregates"]["account"].as_str().unwrap().to_owned();
    let (code, out, err) = monitor(&s, &policy, &["--account", &account]);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(
        (out["size"].clone(), out["previous_size"].clone()),
        (3.into(), 2.into())
    );
    assert_eq!(out["consistent"], true);
    // Entries are not public on this host (PUBLIC_LOG_ENTRIES unset).
    assert_eq!(out["entries_public"], false, "{out}");
    // The hostile host rolls its log back: the cosigned checkpoint of size 1
    // is served again. The monitor remembers size 3.
    roll_back_log(&s.db.client().await, 1).await;
    let (code, out, err) = monitor(&s, &policy, &[]);
    assert_eq!(code, 1, "{out} {err}");
    assert_eq!(out["error"]["code"], "log_rolled_back", "{out}");
    assert!(err.contains("evidence"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_a_fork_of_a_log_without_witnesses_and_lists_public_entries() {
    let mut s = Stack::start(StackOpts {
        kms: true,
        host_env: vec![("PUBLIC_LOG_ENTRIES".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let policy = policy(&s, &s.log_vkey().await);
    let (_, session) = s.submit_demo("forked").await;
    let mut account = String::new();
    for _ in 0..2 {
        account = aggregate(&s, &session).await["aggregates"]["account"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    let (code, out, err) = monitor(&s, &policy, &["--account", &account]);
    assert_eq!(code, 0, "{out} {err}");
    let listed: Vec<u64> = out["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, vec![0, 1], "{out}");
    let (code, out, _) = monitor(&s, &policy, &["--account", &"ab".repeat(32)]);
    assert_eq!((code, out["entries"].as_array().unwrap().len()), (0, 0));
    // A restarted enclave (ring from KMS, no memory of the newest head)
    // handed the state of size 1 signs a second size 2: without witnesses
    // nothing stops it, and the host serves it as the log.
    s.kill_enclave().await;
    s.restart_enclave().await;
    s.wait_ready(Duration::from_secs(120)).await;
    roll_back_log(&s.db.client().await, 1).await;
    aggregate(&s, &session).await;
    let (code, out, err) = monitor(&s, &policy, &[]);
    assert_eq!(code, 1, "{out} {err}");
    assert_eq!(out["error"]["code"], "log_forked", "{out}");
    assert!(err.contains("evidence"), "{err}");
}

/// An account's results form a chain (payload v2 `previous`): the monitor
/// follows it across runs, and a hostile host that hides the account's
/// newest leaf from the enclave (so that the next result starts a chain of
/// its own, and whoever walks back from it misses the earlier ones) is
/// reported, on the following run and on a fresh one alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_a_gap_in_an_accounts_chain() {
    let s = Stack::start(StackOpts {
        host_env: vec![("PUBLIC_LOG_ENTRIES".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let policy = policy(&s, &s.log_vkey().await);
    let (_, session) = s.submit_demo("chained").await;
    let first = aggregate(&s, &session).await;
    let account = first["aggregates"]["account"].as_str().unwrap().to_owned();
    let second = aggregate(&s, &session).await;
    assert!(second["aggregates"]["previous"].is_string(), "{second}");
    let (code, out, err) = monitor(&s, &policy, &["--account", &account]);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(out["entries"].as_array().unwrap().len(), 2, "{out}");
    // A credential's entries, read by a monitor without a state file.
    let credential = first["aggregates"]["credential"].as_str().unwrap();
    let out = std::process::Command::new(strongroom_testkit::bin::verifier_cli())
        .args(["monitor", "--json", "--credential", credential, "--log"])
        .arg(format!("http://{}", s.host.addr))
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(
        listed["entries"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    // `strongroom track`: the account's record, its chain unbroken, and the
    // days its signed daily series cover.
    let (code, out, err) = track(&s, &policy, &account);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(out["results"].as_array().unwrap().len(), 2, "{out}");
    assert!(out["days"]["covered"].as_u64().unwrap() > 1, "{out}");
    assert_eq!(out["chain_gaps"], serde_json::json!([]));

    // The host forgets which leaves are the account's: no candidate goes
    // to the enclave, and the third result names no predecessor.
    s.db.client()
        .await
        .execute("UPDATE transparency_log SET account = NULL", &[])
        .await
        .unwrap();
    let third = aggregate(&s, &session).await;
    assert_eq!(third["aggregates"]["previous"], Value::Null, "{third}");
    let (code, out, err) = monitor(&s, &policy, &["--account", &account]);
    assert_eq!(code, 1, "{out} {err}");
    assert_eq!(out["error"]["code"], "chain_gap", "{out}");
    assert!(err.contains("entry 2 names none"), "{err}");
    let (code, out, err) = track(&s, &policy, &account);
    assert_eq!(
        (code, out["error"]["code"].as_str()),
        (1, Some("chain_gap")),
        "{err}"
    );
    // A monitor that starts now, reading the whole log, sees it too.
    std::fs::remove_file(s.dir.path().join("monitor-state.json")).unwrap();
    let (code, out, _) = monitor(&s, &policy, &["--account", &account]);
    assert_eq!(
        (code, out["error"]["code"].as_str()),
        (1, Some("chain_gap"))
    );
}
