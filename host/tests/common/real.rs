//! Real processes for end-to-end tests (the enclave in simulator mode, the
//! mock exchange, the KMS double), HPKE sealing as a client does it, pg_dump:
//! all from the shared kit.
#![allow(unused_imports)]

pub use strongroom_testkit::enclave::{RealEnclave, start_enclave};
pub use strongroom_testkit::kms::{
    KMS_DOUBLE_ACCESS_KEY, KMS_DOUBLE_SECRET, KmsDouble, start_kms_double,
};
pub use strongroom_testkit::mock::{MockExchange, start_mock_exchange, start_mock_exchange_with};
pub use strongroom_testkit::pg::pg_dump;
pub use strongroom_testkit::seal::{seal, submission};

/// The processes the enclave-limit tests run: the mock exchange (with
/// `mock_flags`), the simulator enclave reaching the exchange through the
/// host's egress proxy (with `enclave_flags`), PostgreSQL and the host (with
/// `host_env`), ready. With `exchange_port` the enclave is pointed there
/// instead of at the mock, which then only lends its CA.
pub struct Limited {
    pub dir: tempfile::TempDir,
    pub mock: MockExchange,
    pub enclave: RealEnclave,
    pub db: super::TestDb,
    pub host: super::Host,
}

pub async fn limited(
    mock_flags: &[&str],
    exchange_port: Option<u16>,
    enclave_flags: &[&str],
    host_env: &[(&str, &str)],
) -> Limited {
    let fixture = super::workspace_root().join("scripts/fixtures/demo.json");
    limited_with(&fixture, mock_flags, exchange_port, enclave_flags, host_env).await
}

/// [`limited`] with the mock exchange serving `fixture`.
pub async fn limited_with(
    fixture: &std::path::Path,
    mock_flags: &[&str],
    exchange_port: Option<u16>,
    enclave_flags: &[&str],
    host_env: &[(&str, &str)],
) -> Limited {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock_exchange_with(dir.path(), fixture, mock_flags).await;
    let port = exchange_port.unwrap_or(mock.port);
    let egress = format!("unix://{}", dir.path().join("egress.sock").display());
    let url = format!("https://localhost:{port}");
    let ca = mock.ca_pem.to_str().unwrap().to_owned();
    let mut flags = vec![
        "--egress",
        &egress,
        "--dev-exchange-url",
        &url,
        "--dev-exchange-ca",
        &ca,
    ];
    flags.extend_from_slice(enclave_flags);
    let enclave = start_enclave(dir.path(), &flags).await;
    let db = super::TestDb::migrated().await;
    let allow = format!("localhost:{port}");
    let mut env = vec![
        ("EGRESS_LISTEN", egress.as_str()),
        ("EGRESS_ALLOWLIST", allow.as_str()),
    ];
    env.extend_from_slice(host_env);
    let host = super::Host::start(&db, &enclave.addr, &env).await;
    super::wait_ready(&host).await;
    Limited {
        dir,
        mock,
        enclave,
        db,
        host,
    }
}

/// The demo credential sealed to `quote` and submitted as tenant `key`
/// (201 asserted): the new session id.
pub async fn submit_demo(host: &super::Host, key: &str, quote: &serde_json::Value) -> String {
    let sub = submission(quote, "demo-api-key", "demo-api-secret", "main");
    let r = host.post("/enclave/submit_key", key, &sub).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["session_id"].as_str().unwrap().to_owned()
}
