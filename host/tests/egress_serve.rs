//! `strongroom-host serve` runs the egress proxy when EGRESS_LISTEN is set: the
//! real binary, configured only by the environment, connects an allowed
//! destination, refuses another, and counts both in /metrics; bad EGRESS_*
//! values exit 64 naming the variable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::stub::StubEnclave;
use common::{Host, TestDb, run_host, socket_in};
use strongroom_protocol::ErrorCode;
use strongroom_protocol::egress::open;
use strongroom_protocol::transport::Address;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn echo_server() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 256];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn serve_runs_the_egress_proxy_from_the_environment() {
    let db = TestDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, addr) = socket_in(dir.path());
    let _enclave = StubEnclave::start(&path);
    let port = echo_server().await;
    let egress = dir.path().join("egress.sock");
    let listen = format!("unix://{}", egress.display());
    let allow = format!("localhost:{port}");
    let host = Host::start(
        &db,
        &addr,
        &[("EGRESS_LISTEN", &listen), ("EGRESS_ALLOWLIST", &allow)],
    )
    .await;
    assert!(egress.exists(), "proxy socket bound before `listening`");
    let proxy = Address::Unix(egress.clone());
    let mut s = open(&proxy, "localhost", port, Duration::from_secs(3))
        .await
        .unwrap();
    s.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello");
    let err = open(&proxy, "api.binance.com", 443, Duration::from_secs(3))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        ErrorCode::EgressRefused,
        "default list replaced"
    );
    let m = String::from_utf8(host.get("/metrics", &[]).await.body).unwrap();
    assert!(
        m.contains("strongroom_egress_connections_total{outcome=\"connected\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("strongroom_egress_connections_total{outcome=\"refused\"} 1"),
        "{m}"
    );
    assert!(host.logs().contains("egress refused"));
    assert!(host.terminate().await.success());
    assert!(!egress.exists(), "socket removed at shutdown");
}

#[tokio::test]
async fn bad_egress_configuration_exits_64() {
    let db = TestDb::migrated().await;
    for (k, v) in [
        ("EGRESS_LISTEN", "tcp://127.0.0.1:9"),
        ("EGRESS_ALLOWLIST", "no-port-here"),
        ("EGRESS_IDLE_TIMEOUT_MS", "0"),
        ("EGRESS_MAX_CONNECTIONS", "lots"),
    ] {
        let mut env = db.env();
        env.insert("ENCLAVE_ADDR".into(), "unix:///tmp/none.sock".into());
        env.insert(
            "EGRESS_LISTEN".into(),
            "unix:///tmp/egress-cfg-test.sock".into(),
        );
        env.insert(k.into(), v.into());
        let out = run_host(&["serve"], &env).await;
        assert_eq!(out.status.code(), Some(64), "{k}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(k), "{k}: {err}");
    }
}
