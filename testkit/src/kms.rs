//! `strongroom-kms-double`: the KMS subset the enclave uses, over HTTPS.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{bin, process};

/// The KMS double's default credentials (what the host must sign with).
pub const KMS_DOUBLE_ACCESS_KEY: &str = "AKIDSTRONGROOMDEV";
/// Its secret.
pub const KMS_DOUBLE_SECRET: &str = "strongroom-dev-secret-not-for-production";
/// The region every test uses.
pub const KMS_REGION: &str = "us-east-1";

/// The ARN the double answers as `KeyId` for `key_id` (its fixed account):
/// what the host must name and the enclave is pinned to (`--kms-key-arn`).
pub fn key_arn(key_id: &str) -> String {
    format!("arn:aws:kms:{KMS_REGION}:111122223333:key/{key_id}")
}

/// A running KMS double, killed when dropped.
pub struct KmsDouble {
    pub child: Child,
    /// The key it serves.
    pub key_id: String,
    pub port: u16,
    pub ca_pem: PathBuf,
    pub log: PathBuf,
}

impl KmsDouble {
    /// The host's environment for this double: key (as its ARN), region,
    /// endpoint, credentials.
    pub fn host_env(&self, key_id: &str) -> Vec<(String, String)> {
        vec![
            ("KMS_KEY_ID".into(), key_arn(key_id)),
            ("KMS_REGION".into(), KMS_REGION.into()),
            ("KMS_ENDPOINT".into(), format!("localhost:{}", self.port)),
            ("AWS_ACCESS_KEY_ID".into(), KMS_DOUBLE_ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), KMS_DOUBLE_SECRET.into()),
        ]
    }

    /// The enclave's flags for this double (`--dev-kms-url`, `--dev-kms-ca`)
    /// and the pin to its key (`--kms-key-arn`).
    pub fn enclave_args(&self) -> Vec<String> {
        vec![
            "--kms-key-arn".into(),
            key_arn(&self.key_id),
            "--dev-kms-url".into(),
            format!("https://localhost:{}", self.port),
            "--dev-kms-ca".into(),
            self.ca_pem.display().to_string(),
        ]
    }
}

/// Starts `strongroom-kms-double --lazy-trust` serving `key_id` in
/// us-east-1: it reads `root_pem` and the PCR policy `pcrs` on the first
/// request that needs them (the first dev enclave writes them).
pub async fn start_kms_double(dir: &Path, key_id: &str, root_pem: &Path, pcrs: &Path) -> KmsDouble {
    let ca_pem = dir.join("kms-ca.pem");
    let log = dir.join("kms-double.log");
    let mut cmd = Command::new(bin::kms_double());
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--lazy-trust",
        "--key-id",
        key_id,
    ])
    .args(["--region", KMS_REGION, "--trust-dev-root"])
    .arg(root_pem)
    .arg("--policy")
    .arg(pcrs)
    .arg("--ca-out")
    .arg(&ca_pem)
    .env("RUST_LOG", "info");
    let mut child = process::spawn(&mut cmd, &log, Stdio::piped());
    let line = process::first_line(&mut child, "the KMS double", &log, Duration::from_secs(30));
    let v = crate::json_line(&line.await, "the KMS double");
    let url = v["url"].as_str().expect("url").trim_end_matches('/');
    KmsDouble {
        child,
        key_id: key_id.to_owned(),
        port: crate::port_of(url),
        ca_pem,
        log,
    }
}
