//! The egress proxy over a real unix socket to real TCP listeners: allowed
//! destinations are connected and bytes flow both ways; others are refused with a
//! code; an unreachable one says so; idle connections are closed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use strongroom_host::egress::{EgressConfig, EgressStats, parse_allowlist, serve};
use strongroom_protocol::ErrorCode;
use strongroom_protocol::egress::{EgressError, open};
use strongroom_protocol::transport::Address;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn echo_server() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
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

async fn start(allow: &str, idle: Duration) -> (Address, Arc<EgressStats>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listen = Address::Unix(dir.path().join("egress.sock"));
    let config = EgressConfig {
        listen: listen.clone(),
        allowlist: parse_allowlist(allow).unwrap(),
        max_connections: 8,
        idle_timeout: idle,
        connect_timeout: Duration::from_secs(2),
    };
    let stats = Arc::new(EgressStats::default());
    tokio::spawn(serve(config, stats.clone(), std::future::pending()));
    for _ in 0..100 {
        if dir.path().join("egress.sock").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (listen, stats, dir)
}

#[tokio::test]
async fn allowed_destination_carries_bytes_both_ways() {
    let port = echo_server().await;
    let (proxy, stats, _dir) = start(&format!("localhost:{port}"), Duration::from_secs(10)).await;
    let mut s = open(&proxy, "localhost", port, Duration::from_secs(2))
        .await
        .unwrap();
    s.write_all(b"ping through the proxy").await.unwrap();
    let mut buf = [0u8; 22];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping through the proxy");
    assert_eq!(stats.connected.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn destination_off_the_allowlist_is_refused() {
    let port = echo_server().await;
    let (proxy, stats, _dir) = start("api.binance.com:443", Duration::from_secs(10)).await;
    let err = open(&proxy, "localhost", port, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EgressError::Refused(e) if e.code == ErrorCode::EgressRefused),
        "{err:?}"
    );
    // Same host, other port: refused too.
    let (proxy2, _, _dir2) =
        start(&format!("localhost:{}", port + 1), Duration::from_secs(10)).await;
    assert!(
        open(&proxy2, "localhost", port, Duration::from_secs(2))
            .await
            .is_err()
    );
    assert_eq!(stats.refused.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn unreachable_destination_says_so() {
    // A port nobody listens on: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (proxy, stats, _dir) = start(&format!("127.0.0.1:{port}"), Duration::from_secs(10)).await;
    let err = open(&proxy, "127.0.0.1", port, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ExchangeUnreachable);
    assert_eq!(stats.unreachable.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let port = echo_server().await;
    let (proxy, _, _dir) = start(&format!("localhost:{port}"), Duration::from_millis(200)).await;
    let mut s = open(&proxy, "localhost", port, Duration::from_secs(2))
        .await
        .unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "idle connection was not closed"
    );
}

#[tokio::test]
async fn garbage_preamble_gets_nothing() {
    let port = echo_server().await;
    let (proxy, stats, _dir) = start(&format!("localhost:{port}"), Duration::from_secs(10)).await;
    let Address::Unix(path) = &proxy else {
        unreachable!()
    };
    let mut s = tokio::net::UnixStream::connect(path).await.unwrap();
    s.write_all(&[0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3])
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(buf.is_empty());
    assert_eq!(stats.connected.load(Ordering::Relaxed), 0);
}

#[test]
fn allowlist_parsing() {
    let l = parse_allowlist("api.binance.com:443, LOCALHOST:8443,[::1]:9").unwrap();
    assert_eq!(l.len(), 3);
    assert_eq!(l[1].host, "localhost");
    assert_eq!(l[2].host, "::1");
    assert!(parse_allowlist("nope").is_err());
    assert!(parse_allowlist("a b:1").is_err());
    assert!(parse_allowlist("").unwrap().is_empty());
}
