//! HTTPS with rustls when TLS_CERT_PATH/TLS_KEY_PATH are set (certificate made by openssl).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{Host, TestDb, run_host};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn make_cert(dir: &std::path::Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert.display().to_string(), key.display().to_string())
}

#[tokio::test]
async fn https_with_hsts_and_plain_http_refused_on_the_tls_port() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = make_cert(dir.path());
    let db = TestDb::migrated().await;
    let host = Host::start(
        &db,
        "unix:///nonexistent/enclave.sock",
        &[("TLS_CERT_PATH", &cert), ("TLS_KEY_PATH", &key)],
    )
    .await;

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&cert).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(&host.addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tls.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(
        text.contains("strict-transport-security: max-age="),
        "{text}"
    );

    let plain = common::raw(&host.addr, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(plain.is_none(), "no plain HTTP answer on the TLS port");
}

#[tokio::test]
async fn bad_tls_files_or_plain_http_off_loopback_refuse_to_start() {
    let db = TestDb::migrated().await;
    let mut env = db.env();
    env.insert(
        "ENCLAVE_ADDR".into(),
        "unix:///nonexistent/enclave.sock".into(),
    );
    env.insert("LISTEN_ADDR".into(), "0.0.0.0:0".into());
    let out = run_host(&["serve"], &env).await;
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LISTEN_ADDR"));
    env.insert("LISTEN_ADDR".into(), "127.0.0.1:0".into());
    env.insert("TLS_CERT_PATH".into(), "/nonexistent/cert.pem".into());
    env.insert("TLS_KEY_PATH".into(), "/nonexistent/key.pem".into());
    let out = run_host(&["serve"], &env).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS_CERT_PATH"));
}
