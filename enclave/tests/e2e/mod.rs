//! End-to-end harness: the real `strongroom-mock-exchange` binary, an egress
//! proxy written here (the host's real one lives in the host crate, which the
//! enclave must not depend on), and the real `strongroom-enclave` binary in
//! simulator mode, talking over unix sockets.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

// Shared with `common` (some test crates load both; each copy is the same code).
#[allow(clippy::duplicate_mod)]
#[path = "../common/boot.rs"]
pub mod boot;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hpke::kem::Kem as KemTrait;
use hpke::{Deserializable, OpModeS, Serializable};
use strongroom_enclave_core::intake::{HPKE_INFO, HPKE_INFO_V2};
use strongroom_enclave_core::ring::{Aead, Kdf, Kem};
use strongroom_protocol::client::{CallError, ClientConfig, RpcClient};
use strongroom_protocol::messages::{
    AggregatesResult, AttestRequest, AttestationInfo, ComputeAggregatesRequest, CredentialMetadata,
    OpenCredentialRequest, Phase, RequestBody, ResponseBody, SealedCredential,
};
use strongroom_protocol::transport::Address;
use strongroom_testkit::process;

pub use proxy::{Proxy, ProxyState};

/// The enclave binary under test.
pub const ENCLAVE_BIN: &str = env!("CARGO_BIN_EXE_strongroom-enclave");
/// Name of the mock exchange binary (package strongroom-devtools).
pub const MOCK_BIN: &str = "strongroom-mock-exchange";
/// A debug build hashes its own executable for the simulated PCR0.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// Repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `scripts/fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("scripts/fixtures").join(name)
}

/// `text` without ANSI colour sequences (`ESC [ ... m`).
pub fn plain(text: String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A child process killed (and reaped) when dropped (the kit's).
pub use strongroom_testkit::process::Guard;

/// The mock exchange binary: the kit finds it (`$STRONGROOM_BIN_DIR`, else
/// the test's `target/<profile>`), and panics with what to build when missing.
pub fn mock_binary() -> PathBuf {
    strongroom_testkit::bin::mock_exchange()
}

/// A running mock exchange.
pub struct Mock {
    pub url: String,
    pub ca_pem: PathBuf,
    pub log: PathBuf,
    pub child: Guard,
}

impl Mock {
    /// Starts the mock on `fixture` with `extra` flags, logging requests to
    /// `dir/mock.log`.
    pub fn start(dir: &Path, fixture: &Path, extra: &[&str]) -> Mock {
        let log = dir.join("mock.log");
        let mut cmd = Command::new(mock_binary());
        cmd.arg("--fixture")
            .arg(fixture)
            .arg("--ca-out")
            .arg(dir.join("mock-ca.pem"))
            .args(extra)
            .env("RUST_LOG", "info");
        let mut child = process::spawn_blocking(&mut cmd, &log, Stdio::piped());
        let line = process::first_line_blocking(&mut child, "mock exchange", &log);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!("mock exchange did not print its JSON line ({e}): {line:?}")
        });
        Mock {
            url: v["url"].as_str().unwrap().to_owned(),
            ca_pem: PathBuf::from(v["ca_pem"].as_str().unwrap()),
            log,
            child,
        }
    }

    /// Port from the URL.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The mock's request log, without terminal colours.
    pub fn log_text(&self) -> String {
        plain(std::fs::read_to_string(&self.log).unwrap_or_default())
    }
}

/// A running enclave (simulator) configured for a mock exchange.
pub struct Enclave {
    pub addr: Address,
    pub root_pem: PathBuf,
    /// `--dev-pcrs-out`: the simulated PCRs in nitro-cli form.
    pub pcrs_json: PathBuf,
    pub log: PathBuf,
    pub client: RpcClient,
    pub child: Guard,
}

impl Enclave {
    /// Starts the enclave binary with `--egress egress`, the mock's URL and
    /// CA, then `extra` flags.
    pub async fn start(dir: &Path, egress: &Address, mock: &Mock, extra: &[&str]) -> Enclave {
        let sock = dir.join("enclave.sock");
        let root_pem = dir.join("dev-root.pem");
        let log = dir.join("enclave.log");
        let pcrs_json = dir.join("pcrs.json");
        let addr: Address = format!("unix://{}", sock.display()).parse().unwrap();
        let mut cmd = Command::new(ENCLAVE_BIN);
        cmd.arg("--listen")
            .arg(addr.to_string())
            .arg("--dev-simulator")
            .arg("--dev-root-out")
            .arg(&root_pem)
            .arg("--dev-pcrs-out")
            .arg(&pcrs_json)
            .arg("--egress")
            .arg(egress.to_string())
            .arg("--dev-exchange-url")
            .arg(&mock.url)
            .arg("--dev-exchange-ca")
            .arg(&mock.ca_pem)
            .args(extra)
            .env("RUST_LOG", "info");
        let mut child = process::spawn_blocking(&mut cmd, &log, Stdio::null());
        let config = ClientConfig {
            call_timeout: Duration::from_secs(120),
            ..ClientConfig::default()
        };
        let client = RpcClient::new(addr.clone(), config);
        let started = Instant::now();
        loop {
            assert!(started.elapsed() < START_TIMEOUT, "enclave did not come up");
            if let Some(status) = child.0.try_wait().unwrap() {
                panic!(
                    "enclave exited early ({status}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            // The enclave starts booting (no key ring); boot it as the host does.
            if sock.exists() && boot::phase(&client).await == Some(Phase::Booting) {
                boot::new_key_ring(&client).await;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Enclave {
            addr,
            root_pem,
            pcrs_json,
            log,
            client,
            child,
        }
    }

    /// The enclave's log so far, without terminal colours.
    pub fn log_text(&self) -> String {
        plain(std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// A fresh attestation (no nonce): keys to seal to and verify with.
    pub async fn attest(&self) -> AttestationInfo {
        match self
            .client
            .call(RequestBody::Attest(AttestRequest { nonce: None }))
            .await
            .unwrap()
        {
            ResponseBody::Attestation(a) => a,
            other => panic!("not an attestation: {other:?}"),
        }
    }

    /// Opens a credential for `session`.
    pub async fn open(&self, session: &str, cred: &Sealed) -> Result<ResponseBody, CallError> {
        self.client
            .call(RequestBody::OpenCredential(OpenCredentialRequest {
                tenant: None,
                session_id: session.into(),
                sealed: cred.sealed.clone(),
                metadata: cred.metadata.clone(),
                check_key: false,
            }))
            .await
    }

    /// `ComputeAggregates` for `session`.
    pub async fn compute(
        &self,
        session: &str,
        cred: &Sealed,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        symbols: Option<Vec<String>>,
    ) -> Result<AggregatesResult, CallError> {
        let body = RequestBody::ComputeAggregates(ComputeAggregatesRequest {
            tenant: None,
            session_id: session.into(),
            sealed: cred.sealed.clone(),
            metadata: cred.metadata.clone(),
            from_ms,
            to_ms,
            symbols,
            owner_authorization: None,
            previous: Vec::new(),
            history: Vec::new(),
            job: None,
        });
        match self.client.call(body).await? {
            ResponseBody::Aggregates(r) => Ok(r),
            other => panic!("not aggregates: {other:?}"),
        }
    }
}

/// A sealed credential with the metadata the host would store.
#[derive(Clone)]
pub struct Sealed {
    pub sealed: SealedCredential,
    pub metadata: CredentialMetadata,
}

/// The policy [`seal_credential`] seals: any window, a choice of symbols,
/// no interval (tests of other things than the policy).
pub fn open_policy() -> serde_json::Value {
    serde_json::json!({"windows": "any", "symbols": "choice", "min_interval_seconds": 0, "publish": false})
}

/// Seals a version 2 credential under [`open_policy`] to the attested HPKE
/// key, as a client does (RFC 9180 base mode, DESIGN.md suite).
pub fn seal_credential(att: &AttestationInfo, exchange: &str, key: &str, secret: &str) -> Sealed {
    seal_credential_with(att, exchange, key, secret, Some(open_policy()), None)
}

/// Seals a credential: version 2 with `policy` (and `owner`, 65-byte SEC1),
/// or version 1 (`{"exchange","api_key","api_secret","label","not_after"}`)
/// when `policy` is `None`.
pub fn seal_credential_with(
    att: &AttestationInfo,
    exchange: &str,
    key: &str,
    secret: &str,
    policy: Option<serde_json::Value>,
    owner: Option<&[u8]>,
) -> Sealed {
    use base64::Engine as _;
    let not_after = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let mut plaintext = serde_json::json!({
        "exchange": exchange, "api_key": key, "api_secret": secret,
        "label": "main", "not_after": not_after,
    });
    let info = match policy {
        Some(policy) => {
            plaintext["policy"] = policy;
            if let Some(owner) = owner {
                plaintext["owner"] = base64::engine::general_purpose::STANDARD
                    .encode(owner)
                    .into();
            }
            HPKE_INFO_V2
        }
        None => HPKE_INFO,
    };
    let plaintext = plaintext.to_string();
    let pk = <Kem as KemTrait>::PublicKey::from_bytes(&att.hpke_public_key).unwrap();
    let (enc, ciphertext) = hpke::single_shot_seal::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext.as_bytes(),
        b"",
    )
    .unwrap();
    Sealed {
        sealed: SealedCredential::from_aead(&att.key_id, enc.to_bytes().to_vec(), ciphertext)
            .unwrap(),
        metadata: CredentialMetadata {
            exchange: exchange.into(),
            label: "main".into(),
            ttl_seconds: 600,
        },
    }
}

/// Mock + proxy + enclave in one temp dir.
pub struct Stack {
    pub enclave: Enclave,
    pub proxy: Proxy,
    pub mock: Mock,
    pub dir: tempfile::TempDir,
}

impl Stack {
    /// Starts everything; the proxy allows exactly the mock's port on 127.0.0.1.
    pub async fn start(fixture: &Path, mock_flags: &[&str]) -> Stack {
        Self::start_with(fixture, mock_flags, &[]).await
    }

    /// [`Stack::start`] with extra enclave flags.
    pub async fn start_with(fixture: &Path, mock_flags: &[&str], enclave_flags: &[&str]) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let mock = Mock::start(dir.path(), fixture, mock_flags);
        let proxy = Proxy::start(
            &dir.path().join("egress.sock"),
            vec![("127.0.0.1".to_owned(), mock.port())],
        );
        let enclave = Enclave::start(dir.path(), &proxy.addr, &mock, enclave_flags).await;
        Stack {
            enclave,
            proxy,
            mock,
            dir,
        }
    }

    /// Shared state of the proxy.
    pub fn proxy_state(&self) -> &Arc<ProxyState> {
        &self.proxy.state
    }
}
