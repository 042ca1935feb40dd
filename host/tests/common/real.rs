//! Real processes for end-to-end tests: the enclave in simulator mode, the mock
//! exchange, HPKE sealing as a client does it, pg_dump.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hpke::{Deserializable, OpModeS, Serializable};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::HOST_BIN;

type Kem = hpke::kem::DhP256HkdfSha256;

/// A sibling binary of `strongroom-host` in the target directory, or `$var`.
pub fn sibling_bin(name: &str, var: &str, package: &str) -> PathBuf {
    if let Ok(p) = std::env::var(var) {
        return p.into();
    }
    let p = Path::new(HOST_BIN).with_file_name(name);
    assert!(
        p.exists(),
        "{} not found: run `cargo build -p {package}` first (scripts/test does), or set {var}",
        p.display()
    );
    p
}

pub struct RealEnclave {
    pub child: tokio::process::Child,
    pub log: PathBuf,
    pub addr: String,
    pub root_pem: PathBuf,
}

/// Starts `strongroom-enclave --dev-simulator` on `dir/enclave.sock` with `extra` flags.
pub async fn start_enclave(dir: &Path, extra: &[&str]) -> RealEnclave {
    let path = dir.join("enclave.sock");
    let addr = format!("unix://{}", path.display());
    let log = dir.join("enclave.log");
    let root_pem = dir.join("dev-root.pem");
    let bin = sibling_bin(
        "strongroom-enclave",
        "STRONGROOM_ENCLAVE_BIN",
        "strongroom-enclave",
    );
    let child = tokio::process::Command::new(bin)
        .args(["--listen", &addr, "--dev-simulator", "--dev-root-out"])
        .arg(&root_pem)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // A debug build hashes its own executable for the simulated PCR0: tens of seconds.
    for _ in 0..1800 {
        if path.exists() {
            return RealEnclave {
                child,
                log,
                addr,
                root_pem,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "enclave did not listen: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

pub struct MockExchange {
    pub child: tokio::process::Child,
    pub port: u16,
    pub ca_pem: PathBuf,
}

/// Starts `strongroom-mock-exchange` with `fixture`; reads its `{"url","ca_pem"}` line.
pub async fn start_mock_exchange(dir: &Path, fixture: &Path) -> MockExchange {
    let bin = sibling_bin(
        "strongroom-mock-exchange",
        "STRONGROOM_MOCK_EXCHANGE_BIN",
        "strongroom-devtools",
    );
    let mut child = tokio::process::Command::new(bin)
        .arg("--fixture")
        .arg(fixture)
        .arg("--ca-out")
        .arg(dir.join("mock-ca.pem"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("mock.log")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("mock exchange printed nothing");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let url = v["url"].as_str().unwrap();
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    MockExchange {
        child,
        port,
        ca_pem: v["ca_pem"].as_str().unwrap().into(),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A `submit_key` body sealed to `quote`'s key exactly as a client does it
/// (valid for an hour, ttl 3600 s).
pub fn submission(quote: &serde_json::Value, api_key: &str, secret: &str, label: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let pk = b64
        .decode(quote["enclave_pubkey"].as_str().unwrap())
        .unwrap();
    let plaintext = serde_json::json!({
        "exchange": "binance", "api_key": api_key, "api_secret": secret,
        "label": label, "not_after": unix_now() + 3600,
    })
    .to_string();
    let (enc, ct, tag) = seal(&pk, plaintext.as_bytes());
    serde_json::json!({
        "key_id": quote["key_id"],
        "ephemeral_pub": b64.encode(enc),
        "ciphertext": b64.encode(ct),
        "tag": b64.encode(tag),
        "metadata": {"exchange": "binance", "label": label, "ttl": 3600}
    })
    .to_string()
}

/// The KMS double's default credentials (what the host must sign with).
pub const KMS_DOUBLE_ACCESS_KEY: &str = "AKIDSTRONGROOMDEV";
/// Its secret.
pub const KMS_DOUBLE_SECRET: &str = "strongroom-dev-secret-not-for-production";

/// A running `strongroom-kms-double`.
pub struct KmsDouble {
    pub child: tokio::process::Child,
    pub port: u16,
    pub ca_pem: PathBuf,
    pub log: PathBuf,
}

/// Starts `strongroom-kms-double --lazy-trust` serving `key_id` in
/// us-east-1: it reads `root_pem` and the PCR policy `pcrs` on the first
/// request that needs them (the first dev enclave writes them).
pub async fn start_kms_double(dir: &Path, key_id: &str, root_pem: &Path, pcrs: &Path) -> KmsDouble {
    let bin = sibling_bin(
        "strongroom-kms-double",
        "STRONGROOM_KMS_DOUBLE_BIN",
        "strongroom-devtools",
    );
    let ca_pem = dir.join("kms-ca.pem");
    let log = dir.join("kms-double.log");
    let mut child = tokio::process::Command::new(bin)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--lazy-trust",
            "--key-id",
            key_id,
        ])
        .args(["--region", "us-east-1", "--trust-dev-root"])
        .arg(root_pem)
        .arg("--policy")
        .arg(pcrs)
        .arg("--ca-out")
        .arg(&ca_pem)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("the KMS double printed nothing");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let port = v["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    KmsDouble {
        child,
        port,
        ca_pem,
        log,
    }
}

/// HPKE base-mode seal to the enclave key as DESIGN.md says: (enc, ciphertext, tag).
pub fn seal(pk: &[u8], plaintext: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(pk).unwrap();
    let (enc, ct) = hpke::single_shot_seal::<hpke::aead::AesGcm256, hpke::kdf::HkdfSha256, Kem>(
        &OpModeS::Base,
        &pk,
        b"strongroom/credential/v1",
        plaintext,
        b"",
    )
    .unwrap();
    let (body, tag) = ct.split_at(ct.len() - 16);
    (enc.to_bytes().to_vec(), body.to_vec(), tag.to_vec())
}

/// The newest installed pg_dump (Debian puts it under /usr/lib/postgresql/N/bin).
pub fn pg_dump(url: &str) -> String {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin/pg_dump"))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    let bin = found.pop().unwrap_or_else(|| "pg_dump".into());
    let out = std::process::Command::new(bin)
        .arg("--dbname")
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
