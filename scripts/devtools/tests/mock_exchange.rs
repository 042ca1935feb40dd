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
    /// `X-MBX-USED-WEIGHT-1M`.
    used_weight: Option<u32>,
    /// `X-SAPI-USED-IP-WEIGHT-1M`.
    sapi_weight: Option<u32>,
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
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap())
    };
    let retry_after = header("retry-after");
    let used_weight = header("x-mbx-used-weight-1m").map(|w| w as u32);
    let sapi_weight = header("x-sapi-used-ip-weight-1m").map(|w| w as u32);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        retry_after,
        used_weight,
        sapi_weight,
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

const DEMO_KEY: &str = "demo-api-key";
const DEMO_SECRET: &str = "demo-api-secret";
/// The demo fixture's v2 series: 2024-12-18 .. 2025-01-16 (30 days).
const DEMO_FROM: i64 = 1_734_480_000_000;
const DEMO_TO: i64 = DEMO_FROM + 30 * 86_400_000 - 1;

async fn signed_get(m: &Mock, path: &str, payload: &str, key: &str, secret: &str) -> Answer {
    let q = sign(secret, &format!("{payload}&timestamp={}", now_ms()));
    get(m, &format!("{path}?{q}"), Some(key)).await
}

#[tokio::test]
async fn demo_fixture_serves_the_v2_endpoints() {
    let m = start(&demo_fixture(), &[]);
    let demo = |path: &'static str, payload: String| {
        let m = &m;
        async move { signed_get(m, path, &payload, DEMO_KEY, DEMO_SECRET).await }
    };
    let k = get(
        &m,
        "/api/v3/klines?symbol=DEMOBTC&interval=1d&limit=1000",
        None,
    )
    .await;
    assert_eq!(k.status, 200, "{}", k.body);
    let first = k.used_weight.unwrap();
    assert_eq!(k.body.as_array().unwrap().len(), 30);
    assert_eq!(k.body[0][0], DEMO_FROM);
    for sym in ["BTCUSDT", "ETHUSDT", "ETHBTC", "BNBUSDT"] {
        let k = get(
            &m,
            &format!("/api/v3/klines?symbol={sym}&interval=1d&startTime={DEMO_FROM}&limit=30"),
            None,
        )
        .await;
        assert_eq!(k.body.as_array().unwrap().len(), 30, "{sym}");
        assert_eq!(k.body[0].as_array().unwrap().len(), 12);
    }
    let k = get(&m, "/api/v3/klines?symbol=BTCUSDT&interval=1d", None).await;
    assert_eq!(k.used_weight, Some(first + 5 * 2), "klines weigh 2");
    let bad = get(&m, "/api/v3/klines?symbol=BTCUSDT&interval=1h", None).await;
    assert_eq!((bad.status, bad.body["code"].as_i64()), (400, Some(-1120)));

    let a = demo("/api/v3/account", String::new()).await;
    assert_eq!((a.status, a.body["uid"].as_u64()), (200, Some(35_742_811)));
    let r = demo("/sapi/v1/account/apiRestrictions", String::new()).await;
    assert_eq!(r.body["enableReading"], true);
    assert_eq!(r.body["enableWithdrawals"], false);
    assert_eq!(r.sapi_weight, Some(1));
    assert!(
        r.used_weight.is_some(),
        "every answer carries X-MBX-USED-WEIGHT-1M"
    );

    let window = format!("startTime={DEMO_FROM}&endTime={DEMO_TO}");
    let d = demo("/sapi/v1/capital/deposit/hisrec", window.clone()).await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body.as_array().unwrap().len(), 1);
    assert_eq!(d.body[0]["coin"], "USDT");
    let now_window = demo("/sapi/v1/capital/deposit/hisrec", String::new()).await;
    assert_eq!(
        now_window.body,
        serde_json::json!([]),
        "default: the last 90 days"
    );
    let w = demo("/sapi/v1/capital/withdraw/history", window).await;
    assert_eq!(w.body[0]["coin"], "DEMO");
    assert_eq!(w.body[0]["applyTime"], "2025-01-08 09:00:00");
    let wide = demo(
        "/sapi/v1/capital/withdraw/history",
        format!("startTime={}&endTime={DEMO_TO}", DEMO_TO - 91 * 86_400_000),
    )
    .await;
    assert_eq!(
        (wide.status, wide.body["code"].as_i64()),
        (400, Some(-1127))
    );

    let s = demo("/sapi/v1/accountSnapshot", "type=SPOT&limit=30".into()).await;
    assert_eq!(s.body["code"], 200);
    let vos = s.body["snapshotVos"].as_array().unwrap();
    assert_eq!(vos.len(), 30);
    assert_eq!(vos[0]["updateTime"], DEMO_FROM + 86_399_000);
    assert_eq!(s.sapi_weight, Some(2400));
    let unsigned = get(
        &m,
        &format!("/sapi/v1/accountSnapshot?type=SPOT&timestamp={}", now_ms()),
        Some(DEMO_KEY),
    )
    .await;
    assert_eq!(unsigned.body["code"], -1102);
    let forged = signed_get(&m, "/sapi/v1/accountSnapshot", "type=SPOT", DEMO_KEY, "x").await;
    assert_eq!(
        (forged.status, forged.body["code"].as_i64()),
        (400, Some(-1022))
    );
    // 2400 a call on 12,000 a minute: the sixth call in the minute is 429.
    let mut last = None;
    for _ in 0..5 {
        last = Some(demo("/sapi/v1/accountSnapshot", "type=SPOT".into()).await);
    }
    let r = last.unwrap();
    assert_eq!((r.status, r.sapi_weight), (429, Some(12_000)), "{}", r.body);
    assert!(r.retry_after.is_some());
}

#[tokio::test]
async fn large_generated_fixture_is_served() {
    use strongroom_devtools::generate_large::{LARGE_API_KEY, LARGE_API_SECRET};
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("large.json");
    let st = Command::new(BIN)
        .arg("--generate-fixture")
        .arg(&fx)
        .args(["--large", "--trades", "100000", "--seed", "3"])
        .status()
        .unwrap();
    assert!(st.success());
    let m = start(&fx, &[]);
    let info = get(&m, "/api/v3/exchangeInfo", None).await;
    let symbols = info.body["symbols"].as_array().unwrap();
    assert!(symbols.len() >= 300, "{}", symbols.len());
    let a = signed_get(&m, "/api/v3/account", "", LARGE_API_KEY, LARGE_API_SECRET).await;
    assert_eq!(a.body["uid"], 300_000_003);
    let balances = a.body["balances"].as_array().unwrap();
    assert!(balances.iter().any(|b| b["free"] == "0.00000000"));
    let nz = signed_get(
        &m,
        "/api/v3/account",
        "omitZeroBalances=true",
        LARGE_API_KEY,
        LARGE_API_SECRET,
    )
    .await;
    assert!(nz.body["balances"].as_array().unwrap().len() < balances.len());
    let sym = symbols[7]["symbol"].as_str().unwrap();
    let t = signed_get(
        &m,
        "/api/v3/myTrades",
        &format!("symbol={sym}&fromId=0&limit=1000"),
        LARGE_API_KEY,
        LARGE_API_SECRET,
    )
    .await;
    assert!(!t.body.as_array().unwrap().is_empty());
    let k = get(
        &m,
        &format!("/api/v3/klines?symbol={sym}&interval=1d"),
        None,
    )
    .await;
    assert_eq!(k.body.as_array().unwrap().len(), 30);
    let s = signed_get(
        &m,
        "/sapi/v1/accountSnapshot",
        "type=SPOT&limit=30",
        LARGE_API_KEY,
        LARGE_API_SECRET,
    )
    .await;
    assert_eq!(s.body["snapshotVos"].as_array().unwrap().len(), 30);
    let from = 1_704_067_200_000i64;
    let w = signed_get(
        &m,
        "/sapi/v1/capital/withdraw/history",
        &format!("startTime={from}&endTime={}", from + 30 * 86_400_000),
        LARGE_API_KEY,
        LARGE_API_SECRET,
    )
    .await;
    assert_eq!(w.body.as_array().unwrap().len(), 5);
    let d = signed_get(
        &m,
        "/sapi/v1/capital/deposit/hisrec",
        &format!(
            "startTime={from}&endTime={}&limit=4&offset=8",
            from + 30 * 86_400_000
        ),
        LARGE_API_KEY,
        LARGE_API_SECRET,
    )
    .await;
    assert_eq!(
        d.body.as_array().unwrap().len(),
        2,
        "10 deposits: offset 8 leaves 2"
    );
}
