//! Start the real `strongroom-mock-exchange` binary and talk to it over TLS,
//! trusting only the dev CA it wrote.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::{KeyInit, Mac};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use strongroom_devtools::generate::{GENERATED_API_KEY, GENERATED_API_SECRET};
use strongroom_testkit::process::{self, Guard};

const BIN: &str = env!("CARGO_BIN_EXE_strongroom-mock-exchange");

struct Mock {
    /// Killed and reaped when the mock is dropped.
    _child: Guard,
    addr: String,
    ca_pem: PathBuf,
    _dir: tempfile::TempDir,
}

fn demo_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo.json")
}

fn start(fixture: &Path, extra: &[&str]) -> Mock {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let log = dir.path().join("mock.log");
    let mut cmd = Command::new(BIN);
    cmd.arg("--fixture")
        .arg(fixture)
        .arg("--ca-out")
        .arg(&ca)
        .args(extra);
    let mut child = process::spawn_blocking(&mut cmd, &log, Stdio::piped());
    let line = process::first_line_blocking(&mut child, "mock exchange", &log);
    let v: Value = serde_json::from_str(&line).unwrap();
    let url = v["url"].as_str().unwrap();
    assert_eq!(Path::new(v["ca_pem"].as_str().unwrap()), ca.as_path());
    Mock {
        _child: child,
        addr: url.strip_prefix("https://").unwrap().to_string(),
        ca_pem: ca,
        _dir: dir,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn sign(secret: &str, payload: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    format!(
        "{payload}&signature={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn tls_config(ca_pem: Option<&Path>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(p) = ca_pem {
        roots
            .add(CertificateDer::from_pem_file(p).unwrap())
            .unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

/// One HTTP/1.1 GET over a fresh TLS connection to `localhost`.
async fn get(m: &Mock, path_query: &str, api_key: Option<&str>) -> Answer {
    let tcp = tokio::net::TcpStream::connect(&m.addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(tls_config(Some(&m.ca_pem)));
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::get(path_query).header("host", "localhost");
    if let Some(k) = api_key {
        req = req.header("X-MBX-APIKEY", k);
    }
    let resp = sender
        .send_request(req.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        retry_after,
        body: serde_json::from_slice(&body).unwrap(),
    }
}

#[tokio::test]
async fn signatures_are_checked_over_tls() {
    let m = start(&demo_fixture(), &[]);
    let t = get(&m, "/api/v3/time", None).await;
    assert!((t.body["serverTime"].as_i64().unwrap() - now_ms()).abs() < 5_000);
    let q = sign(
        "demo-api-secret",
        &format!("timestamp={}&recvWindow=5000", now_ms()),
    );
    let ok = get(&m, &format!("/api/v3/account?{q}"), Some("demo-api-key")).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["balances"].as_array().unwrap().len(), 4);
    let bad = sign("demo-api-secreT", &format!("timestamp={}", now_ms()));
    let r = get(&m, &format!("/api/v3/account?{bad}"), Some("demo-api-key")).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(-1022)));
    let r = get(&m, &format!("/api/v3/account?{q}"), Some("not-a-key")).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (401, Some(-2015)));
    let old = sign(
        "demo-api-secret",
        &format!("timestamp={}", now_ms() - 10_000),
    );
    let r = get(&m, &format!("/api/v3/account?{old}"), Some("demo-api-key")).await;
    assert_eq!(r.body["code"], -1021);
}

#[tokio::test]
async fn a_client_without_the_dev_ca_is_refused() {
    let m = start(&demo_fixture(), &[]);
    let tcp = tokio::net::TcpStream::connect(&m.addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(tls_config(None));
    let err = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(err.is_err(), "handshake must fail without the dev CA");
    // With the CA, the certificate is valid for the IP in the printed URL too.
    let tcp = tokio::net::TcpStream::connect(&m.addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(tls_config(Some(&m.ca_pem)));
    let ip = ServerName::try_from("127.0.0.1").unwrap();
    connector.connect(ip, tcp).await.expect("IP SAN accepted");
}

#[tokio::test]
async fn twelve_thousand_trades_page_by_from_id() {
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("big.json");
    let st = Command::new(BIN)
        .arg("--generate-fixture")
        .arg(&fx)
        .args(["--trades", "12000"])
        .status()
        .unwrap();
    assert!(st.success());
    let m = start(&fx, &[]);
    let mut total = 0;
    for (symbol, want) in [("BTCUSDT", 9_000usize), ("ETHUSDT", 3_000)] {
        let (mut from_id, mut seen, mut pages) = (0u64, Vec::new(), 0);
        loop {
            let q = sign(
                GENERATED_API_SECRET,
                &format!(
                    "symbol={symbol}&fromId={from_id}&limit=1000&timestamp={}",
                    now_ms()
                ),
            );
            let r = get(
                &m,
                &format!("/api/v3/myTrades?{q}"),
                Some(GENERATED_API_KEY),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
            let page = r.body.as_array().unwrap().clone();
            assert!(page.len() <= 1000);
            if page.is_empty() {
                break;
            }
            pages += 1;
            let ids: Vec<u64> = page.iter().map(|t| t["id"].as_u64().unwrap()).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending");
            assert!(ids[0] >= from_id);
            from_id = ids[ids.len() - 1] + 1;
            seen.extend(ids);
        }
        assert_eq!(seen.len(), want);
        assert_eq!(pages, want.div_ceil(1000));
        total += seen.len();
    }
    assert_eq!(total, 12_000);
    let q = sign(
        GENERATED_API_SECRET,
        &format!("symbol=BTCUSDT&limit=1001&timestamp={}", now_ms()),
    );
    assert_eq!(
        get(
            &m,
            &format!("/api/v3/myTrades?{q}"),
            Some(GENERATED_API_KEY)
        )
        .await
        .body["code"],
        -1130
    );
}

#[tokio::test]
async fn weight_budget_answers_429_with_retry_after() {
    let m = start(
        &demo_fixture(),
        &["--weight-limit", "30", "--weight-window-ms", "2000"],
    );
    let mut first_429 = None;
    for _ in 0..3 {
        let r = get(&m, "/api/v3/exchangeInfo", None).await;
        if r.status == 429 {
            first_429 = Some(r);
            break;
        }
        assert_eq!(r.status, 200);
    }
    let r = first_429.expect("no 429 within 3 requests of weight 20 against a limit of 30");
    assert_eq!(r.body["code"], -1003);
    let secs = r.retry_after.expect("Retry-After");
    assert!((1..=2).contains(&secs), "Retry-After {secs}");
    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
    let again = get(&m, "/api/v3/exchangeInfo", None).await;
    assert_eq!(again.status, 200, "honouring Retry-After succeeds");
    assert_eq!(again.body["symbols"].as_array().unwrap().len(), 5);
}
