//! `PROXY_PROTOCOL=1` (issue 15.4: behind an NLB every client has the
//! balancer's address unless the balancer says whose connection it is):
//! with a real host process, each connection's PROXY v2 header names the
//! client, and the per-address rate limit counts that client, not the
//! balancer; a connection without a header, or from a peer that is not a
//! trusted proxy, is closed before any request is read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::stub::StubEnclave;
use common::{Host, TestDb, socket_in};
use strongroom_formats::proxy::encode_v2;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request on a new connection that starts with `header`: the status,
/// or `None` when the host closed the connection without answering.
async fn get(host: &Host, header: &[u8], path: &str) -> Option<u16> {
    let mut s = tokio::net::TcpStream::connect(&host.addr).await.unwrap();
    s.write_all(header).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let _ = s.write_all(req.as_bytes()).await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the host neither answered nor closed");
    let text = String::from_utf8_lossy(&out);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn header(client: &str) -> Vec<u8> {
    let src: SocketAddr = client.parse().unwrap();
    encode_v2(src, "10.40.0.5:443".parse().unwrap())
}

async fn host(db: &TestDb, dir: &std::path::Path, trusted: &str) -> (StubEnclave, Host) {
    let (path, addr) = socket_in(dir);
    let enclave = StubEnclave::start(&path);
    let env = [
        ("PROXY_PROTOCOL", "1"),
        ("TRUSTED_PROXIES", trusted),
        ("RATE_LIMIT_MAX", "3"),
    ];
    (enclave, Host::start(db, &addr, &env).await)
}

#[tokio::test]
async fn the_proxy_header_names_the_client_the_limits_count() {
    let db = TestDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let (_enclave, host) = host(&db, dir.path(), "127.0.0.1/32").await;
    // The log is empty: each answer is 404 `log_empty` until the limit.
    let alice = header("203.0.113.7:40000");
    for _ in 0..3 {
        assert_eq!(get(&host, &alice, "/transparency/head").await, Some(404));
    }
    assert_eq!(get(&host, &alice, "/transparency/head").await, Some(429));
    // Another client through the same balancer is not limited by alice.
    let bob = header("[2001:db8::9]:50000");
    assert_eq!(get(&host, &bob, "/transparency/head").await, Some(404));
    // No header: closed unanswered (the request line is not a v2 header).
    assert_eq!(get(&host, b"", "/transparency/head").await, None);
}

#[tokio::test]
async fn a_header_from_an_untrusted_peer_is_not_believed() {
    let db = TestDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let (_enclave, host) = host(&db, dir.path(), "10.40.0.0/16").await;
    let forged = header("198.51.100.1:1234");
    assert_eq!(get(&host, &forged, "/transparency/head").await, None);
    assert_eq!(get(&host, &forged, "/healthz").await, None);
}
