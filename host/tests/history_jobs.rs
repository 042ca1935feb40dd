//! A complete, incremental track record (issue 18), with every real
//! component (PostgreSQL, host, enclave through the egress proxy, the mock
//! exchange serving a generated fixture of 41 symbols):
//! - a computation that needs more exchange weight than one minute allows
//!   answers 202 with a job; the host's runner carries it on and the job
//!   ends with the signed, logged result, covering every symbol;
//! - the enclave's history is stored as ciphertext only (no symbol, no
//!   secret in it), handed back to the next computation, which fetches only
//!   trades after each symbol's cursor (the mock's request log proves it);
//! - the history is purged with the account's last credential.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::Host;
use serde_json::{Value, json};

const SYMBOLS: &str = "40";
const TRADES: usize = 3_000;

/// The mock's large fixture: 41 symbols (40 generated assets and BTCUSDT),
/// every one traded; its account's API key and secret.
fn fixture(dir: &std::path::Path) -> (std::path::PathBuf, String, String) {
    let out = dir.join("large.json");
    let status = std::process::Command::new(strongroom_testkit::bin::mock_exchange())
        .arg("--generate-fixture")
        .arg(&out)
        .args([
            "--large",
            "--symbols",
            SYMBOLS,
            "--trades",
            &TRADES.to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let f: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let account = &f["accounts"][0];
    assert_eq!(account["trades"].as_array().unwrap().len(), TRADES);
    let key = account["api_key"].as_str().unwrap().to_owned();
    let secret = account["api_secret"].as_str().unwrap().to_owned();
    (out, key, secret)
}

async fn submit(host: &Host, key: &str, api_key: &str, secret: &str) -> String {
    let quote = host.get("/attestation/quote", &[]).await.json();
    let sub = common::real::submission(&quote, api_key, secret, "main");
    let r = host.post("/enclave/submit_key", key, &sub).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["session_id"].as_str().unwrap().to_owned()
}

async fn get_job(host: &Host, path: &str, key: &str) -> strongroom_testkit::http::Reply {
    let auth = format!("Bearer {key}");
    host.get(path, &[("authorization", auth.as_str())]).await
}

fn trade_count(aggregates: &Value) -> u64 {
    aggregates["totals"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["trade_count"].as_u64().unwrap())
        .sum()
}

/// The `fromId` of every myTrades request in the mock's log, once it holds
/// more than `after` of them (the mock writes its log as it answers).
async fn from_ids(log: &std::path::Path, after: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ids = from_ids_now(log);
        if ids.len() > after || Instant::now() > deadline {
            return ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text without ANSI colour sequences (the mock's log may carry them).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn from_ids_now(log: &std::path::Path) -> Vec<u64> {
    my_trades_now(log).into_iter().map(|(_, id)| id).collect()
}

/// Every myTrades request the mock logged: (symbol, fromId).
fn my_trades_now(log: &std::path::Path) -> Vec<(String, u64)> {
    plain(&std::fs::read_to_string(log).unwrap())
        .lines()
        .filter(|l| l.contains("/api/v3/myTrades"))
        .filter_map(|l| {
            let symbol = field(l, "symbol=")?;
            let id = field(l, "from_id=")?.parse().ok()?;
            Some((symbol.to_owned(), id))
        })
        .collect()
}

/// The value of `name` in one of the mock's log lines (quoted or not).
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = &line[line.find(name)? + name.len()..];
    let rest = rest.trim_start_matches('"');
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_computation_past_one_minute_of_weight_continues_as_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let (path, api_key, secret) = fixture(dir.path());
    // 540 weight a minute: the first myTrades calls of 41 symbols (20
    // each) do not fit in one minute.
    let world = common::real::limited_with(
        &path,
        &[],
        None,
        &[
            "--exchange-weight-limit",
            "600",
            "--exchange-weight-margin",
            "60",
        ],
        &[("JOB_CHECK_SECONDS", "1")],
    )
    .await;
    let (db, host) = (&world.db, &world.host);
    let key = db.tenant("acme").await;
    let other = db.tenant("other").await;
    let session = submit(host, &key, &api_key, &secret).await;

    let body = json!({"session_id": session}).to_string();
    let r = host.post("/enclave/request_aggregates", &key, &body).await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let location = r.header("location").expect("Location").to_owned();
    let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&after), "{after}");
    let job = r.json();
    let id = job["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/enclave/jobs/{id}"));
    assert_eq!(job["job"]["state"], "running", "{job}");
    let (done, total) = (
        job["job"]["progress"]["symbols_done"].as_u64().unwrap(),
        job["job"]["progress"]["symbols_total"].as_u64().unwrap(),
    );
    assert!(done < total && total >= 41, "{job}");
    assert!(job["job"]["progress"]["weight_used"].as_u64().unwrap() > 0);

    // Another tenant does not see it.
    let r = get_job(host, &location, &other).await;
    assert_eq!((r.status, r.code().as_str()), (404, "job_not_found"));

    // The runner carries it on, at the exchange's next minute.
    let deadline = Instant::now() + Duration::from_secs(200);
    let finished = loop {
        let r = get_job(host, &location, &key).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let j = r.json();
        if j["job"]["state"] != "running" {
            break j;
        }
        assert!(Instant::now() < deadline, "job still running: {j}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    assert_eq!(finished["job"]["state"], "done", "{finished}");
    let result = &finished["result"];
    let aggregates = &result["aggregates"];
    let selection = &aggregates["selection"];
    assert_eq!(selection["complete"], true, "{selection}");
    let considered = selection["considered"].as_array().unwrap();
    assert_eq!(considered.len() as u64, total);
    assert_eq!(aggregates["symbols"].as_object().unwrap().len(), 41);
    assert_eq!(trade_count(aggregates), TRADES as u64, "every trade, once");
    assert!(result["log"]["leaf_index"].is_u64());
    assert!(result["aggregates_signed"].is_string());
    assert!(finished["job"]["attempts"].as_u64().unwrap() >= 2);

    // The result was stored and logged once.
    let n: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM transparency_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    // Every symbol was asked for once in the whole job (each has fewer
    // trades than one page): no attempt asked again for what an earlier
    // one completed, the first included.
    from_ids(&world.mock.log, 40).await;
    let asked = my_trades_now(&world.mock.log);
    let mut symbols: Vec<&str> = asked.iter().map(|(s, _)| s.as_str()).collect();
    symbols.sort_unstable();
    let n = symbols.len();
    symbols.dedup();
    assert_eq!((n, symbols.len()), (41, 41), "{asked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_is_sealed_incremental_and_purged_with_the_last_credential() {
    let dir = tempfile::tempdir().unwrap();
    let (path, api_key, secret) = fixture(dir.path());
    let world = common::real::limited_with(&path, &[], None, &[], &[]).await;
    let (db, host, mock) = (&world.db, &world.host, &world.mock);
    let key = db.tenant("acme").await;
    let session = submit(host, &key, &api_key, &secret).await;
    let body = json!({"session_id": session}).to_string();

    let r = host.post("/enclave/request_aggregates", &key, &body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let first = r.json()["aggregates"].clone();
    assert_eq!(trade_count(&first), TRADES as u64);
    let full = from_ids(&mock.log, 40).await;
    assert!(
        full.len() >= 41 && full.iter().all(|&id| id == 0),
        "the first computation fetches every symbol from the start: {full:?}"
    );

    // Stored: ciphertext only, filed under the account the result names.
    let pg = db.client().await;
    let rows = pg
        .query("SELECT account, sealed FROM trade_history", &[])
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in &rows {
        let account: String = row.get(0);
        let sealed: Vec<u8> = row.get(1);
        assert_eq!(account, first["account"].as_str().unwrap());
        for plain in [
            secret.as_bytes(),
            api_key.as_bytes(),
            b"BTCUSDT",
            b"AAAAUSDT",
        ] {
            assert!(
                !sealed.windows(plain.len()).any(|w| w == plain),
                "plaintext in a stored segment"
            );
        }
    }

    // The next computation hands the history back: every myTrades starts
    // after the symbol's cursor, and the figures are the same.
    let r = host.post("/enclave/request_aggregates", &key, &body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let second = r.json()["aggregates"].clone();
    let refresh = &from_ids(&mock.log, full.len() + 40).await[full.len()..];
    assert!(!refresh.is_empty());
    assert!(
        refresh.iter().all(|&id| id > 0),
        "a refresh fetches only after the cursors: {refresh:?}"
    );
    assert_eq!(second["symbols"], first["symbols"]);
    assert_eq!(second["totals"], first["totals"]);
    assert_eq!(second["selection"], first["selection"]);

    // Revoking the account's last credential purges its history.
    let r = host.post("/enclave/revoke", &key, &body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let left: i64 = pg
        .query_one("SELECT count(*) FROM trade_history", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "history purged with the last credential");
}
