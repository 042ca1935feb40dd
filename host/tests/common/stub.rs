//! A stub enclave on the real RPC server code. It accepts any credential (no
//! cryptography), or refuses with the code named by a label `refuse_<code>`; it runs
//! on its own runtime so `stop` really drops every connection, like a dead enclave.
//!
//! `ComputeAggregates` signs a plausible payload (COSE_Sign1 ES256 with a test
//! P-256 key) or, for a label `agg_<code>`, refuses with that code. `AppendLog`
//! checks the host's state exactly like the real enclave (frontier hashes to the
//! root of a head it signed, no head older than the newest it signed) and signs
//! the next head; see `tlog.rs` of the enclave.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use strongroom_protocol::messages::{
    AttestationInfo, CredentialAccepted, CredentialRevoked, Forgotten, HealthInfo, KeyRingInfo,
    Phase, RequestBody, ResponseBody,
};
use strongroom_protocol::server::{self, Handler, ServerConfig};
use strongroom_protocol::transport::{Address, Listener};
use strongroom_protocol::{ErrorCode, RpcError};

#[derive(Default)]
struct Stub {
    forgotten: Arc<Mutex<Vec<String>>>,
    authorizations: Arc<Mutex<Vec<Vec<u8>>>>,
    log: super::stub_log::StubLog,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Handler for Stub {
    async fn handle(&self, request: RequestBody) -> ResponseBody {
        match request {
            RequestBody::Health => ResponseBody::Health(HealthInfo {
                phase: Phase::Ready,
                version: "stub".into(),
                simulator: true,
            }),
            RequestBody::Attest(a) => {
                if a.nonce.as_ref().is_some_and(|n| n.len() > 64) {
                    return ResponseBody::Error(RpcError::new(ErrorCode::NonceTooLong));
                }
                let mut document = b"stub-attestation:".to_vec();
                document.extend(a.nonce.unwrap_or_default());
                ResponseBody::Attestation(AttestationInfo {
                    document,
                    hpke_public_key: vec![4; 65],
                    signing_public_key: super::stub_log::signing_key()
                        .verifying_key()
                        .to_sec1_point(false)
                        .as_bytes()
                        .to_vec(),
                    key_id: "stub-1".into(),
                    pcr0: vec![0xab; 48],
                    log_vkey: super::stub_log::note_signer().verifier_key().to_string(),
                })
            }
            RequestBody::OpenCredential(o) => {
                if let Some(code) = o.metadata.label.strip_prefix("refuse_") {
                    let code: ErrorCode = serde_json::from_str(&format!("\"{code}\"")).unwrap();
                    return ResponseBody::Error(RpcError::new(code));
                }
                ResponseBody::CredentialAccepted(CredentialAccepted {
                    session_id: o.session_id,
                    key_id: o.sealed.key_id().to_owned(),
                    expires_at: now() + o.metadata.ttl_seconds,
                    resealed: None,
                    // A checked key's account, as the real enclave names it.
                    account: o.check_key.then(|| "ab".repeat(32)),
                })
            }
            RequestBody::Forget(f) => {
                self.forgotten.lock().unwrap().push(f.session_id.clone());
                ResponseBody::Forgotten(Forgotten {
                    session_id: f.session_id,
                    was_cached: true,
                })
            }
            RequestBody::ComputeAggregates(c) => {
                if let Some(a) = &c.owner_authorization {
                    self.authorizations.lock().unwrap().push(a.clone());
                }
                if let Some(code) = c.metadata.label.strip_prefix("agg_") {
                    let code: ErrorCode = serde_json::from_str(&format!("\"{code}\"")).unwrap();
                    let e = RpcError::new(code);
                    return ResponseBody::Error(match code {
                        ErrorCode::PolicyInterval => e.with_retry_after(120),
                        _ => e,
                    });
                }
                ResponseBody::Aggregates(super::stub_log::aggregates(&c))
            }
            // A stub manages no key ring: Ready without a ring id, which the
            // host's keys task leaves alone (no boot, no rotation).
            RequestBody::KeyRingStatus => ResponseBody::KeyRingStatus(KeyRingInfo {
                phase: Phase::Ready,
                current_key_id: Some("stub-1".into()),
                key_ids: vec!["stub-1".into()],
                ring_id: None,
                ring_version: None,
            }),
            // No owner key to check against (the stub opens nothing): it
            // refuses under a label `revoke_<code>`, else revokes.
            RequestBody::RevokeCredential(r) => {
                if let Some(code) = r.metadata.label.strip_prefix("revoke_") {
                    let code: ErrorCode = serde_json::from_str(&format!("\"{code}\"")).unwrap();
                    return ResponseBody::Error(RpcError::new(code));
                }
                let credential = hex::encode(r.sealed.id());
                ResponseBody::CredentialRevoked(CredentialRevoked {
                    entry: super::stub_log::revocation_entry(&credential),
                    credential,
                    ring: None,
                })
            }
            RequestBody::AppendLog(a) => match self.log.append(&a) {
                Ok(r) => ResponseBody::LogAppended(r),
                Err(code) => ResponseBody::Error(RpcError::new(code)),
            },
            _ => ResponseBody::Error(RpcError::new(ErrorCode::NotImplemented)),
        }
    }
}

pub struct StubEnclave {
    rt: Option<tokio::runtime::Runtime>,
    pub path: PathBuf,
    pub forgotten: Arc<Mutex<Vec<String>>>,
    /// Every `owner_authorization` a `ComputeAggregates` carried.
    pub authorizations: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl StubEnclave {
    pub fn start(path: &Path) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let stub = Stub::default();
        let forgotten = stub.forgotten.clone();
        let authorizations = stub.authorizations.clone();
        let addr = Address::Unix(path.to_path_buf());
        let listener = {
            let _guard = rt.enter();
            Listener::bind(&addr).unwrap()
        };
        rt.spawn(server::serve(
            listener,
            Arc::new(stub),
            ServerConfig::default(),
            std::future::pending::<()>(),
        ));
        Self {
            rt: Some(rt),
            path: path.to_path_buf(),
            forgotten,
            authorizations,
        }
    }

    /// Kills the stub: listener and every open connection go away.
    pub fn stop(mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for StubEnclave {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
