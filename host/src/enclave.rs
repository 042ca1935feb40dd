//! The host's view of the enclave: typed calls over the RPC client, failures
//! counted in metrics by kind.

use std::sync::Arc;
use std::time::Duration;

use strongroom_protocol::ErrorCode;
use strongroom_protocol::client::{CallError, ClientConfig, RpcClient};
use strongroom_protocol::messages::{
    AggregatesResult, AppendLogRequest, AttestRequest, AttestationInfo, ComputeAggregatesRequest,
    ComputePending, CredentialAccepted, CredentialRevoked, ForgetRequest, HealthInfo, KeyRingInfo,
    KmsAccess, LogAppended, NewKeyRingRequest, OpenCredentialRequest, RequestBody, ResealRequest,
    ResealResult, ResponseBody, RetireRequest, RevokeCredentialRequest, SealedKeyRing,
    SyncExportRequest, SyncExported, SyncImportRequest, SyncRequestRequest, UnsealKeyRingRequest,
};
use strongroom_protocol::transport::Address;

use crate::metrics::Metrics;

/// Why an enclave call did not give the expected answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnclaveError {
    /// Not reachable, connection broken, or no answer in time.
    #[error("enclave unavailable")]
    Unavailable,
    /// The enclave refused with a typed code.
    #[error("enclave refused: {0}")]
    Refused(ErrorCode),
    /// The enclave answered something that does not fit the request.
    #[error("unexpected enclave answer")]
    Protocol,
    /// The exchange's weight budget of this minute is spent (`exchange_budget`):
    /// retry after this many seconds (the exchange's next minute).
    #[error("exchange weight budget spent")]
    ExchangeBudget(u32),
    /// `policy_interval` with the seconds until the credential may be used again.
    #[error("the credential's policy interval has not passed")]
    PolicyInterval(u32),
}

/// What a `ComputeAggregates` call came back with.
#[derive(Debug, Clone)]
pub enum Computed {
    /// The signed result (and the history segments to store).
    Done(AggregatesResult),
    /// Protocol 5: the exchange's weight ran out first; the computation
    /// continues as a job.
    Pending(ComputePending),
}

/// A typed enclave client.
#[derive(Debug)]
pub struct Enclave {
    rpc: RpcClient,
    /// Its own connection with a longer deadline: `ComputeAggregates` waits on
    /// the exchange (paging, honoured Retry-After), so it must not share the
    /// short deadline, nor hold up the quick calls behind it.
    slow: RpcClient,
    metrics: Arc<Metrics>,
}

impl Enclave {
    /// A lazily connecting client for `addr`: `call_timeout` for every call but
    /// `ComputeAggregates`, which gets `compute_timeout`.
    pub fn new(
        addr: Address,
        call_timeout: Duration,
        compute_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        let config = |call_timeout| ClientConfig {
            call_timeout,
            agent: concat!("strongroom-host/", env!("CARGO_PKG_VERSION")).to_owned(),
            ..ClientConfig::default()
        };
        Self {
            rpc: RpcClient::new(addr.clone(), config(call_timeout)),
            slow: RpcClient::new(addr, config(compute_timeout)),
            metrics,
        }
    }

    async fn call(&self, body: RequestBody) -> Result<ResponseBody, EnclaveError> {
        let rpc = match &body {
            // KMS round trips (through the egress proxy), whole-ring re-seal
            // batches and a key checked at the exchange may take longer than
            // the quick calls.
            RequestBody::ComputeAggregates(_)
            | RequestBody::NewKeyRing(_)
            | RequestBody::UnsealKeyRing(_)
            | RequestBody::ResealCredentials(_) => &self.slow,
            RequestBody::OpenCredential(r) if r.check_key => &self.slow,
            _ => &self.rpc,
        };
        let err = match rpc.call(body).await {
            Ok(ResponseBody::Error(e)) => CallError::Remote(e),
            Ok(answer) => return Ok(answer),
            Err(e) => e,
        };
        let (kind, mapped) = match err {
            CallError::Unavailable => ("unavailable", EnclaveError::Unavailable),
            CallError::Timeout => ("timeout", EnclaveError::Unavailable),
            CallError::Remote(e) => {
                let mapped = match (e.code, e.retry_after) {
                    (ErrorCode::ExchangeBudget, Some(s)) => EnclaveError::ExchangeBudget(s),
                    (ErrorCode::PolicyInterval, Some(s)) => EnclaveError::PolicyInterval(s),
                    (code, _) => EnclaveError::Refused(code),
                };
                (e.code.as_str(), mapped)
            }
            _ => ("protocol", EnclaveError::Protocol),
        };
        self.metrics.enclave_error(kind);
        Err(mapped)
    }

    fn unexpected(&self) -> EnclaveError {
        self.metrics.enclave_error("protocol");
        EnclaveError::Protocol
    }

    /// Liveness and phase.
    pub async fn health(&self) -> Result<HealthInfo, EnclaveError> {
        match self.call(RequestBody::Health).await? {
            ResponseBody::Health(h) => Ok(h),
            _ => Err(self.unexpected()),
        }
    }

    /// A fresh attestation document, with `nonce` when given.
    pub async fn attest(&self, nonce: Option<Vec<u8>>) -> Result<AttestationInfo, EnclaveError> {
        match self
            .call(RequestBody::Attest(AttestRequest { nonce }))
            .await?
        {
            ResponseBody::Attestation(a) => Ok(a),
            _ => Err(self.unexpected()),
        }
    }

    /// Asks the enclave to open and check a sealed credential.
    pub async fn open(
        &self,
        req: OpenCredentialRequest,
    ) -> Result<CredentialAccepted, EnclaveError> {
        let session = req.session_id.clone();
        match self.call(RequestBody::OpenCredential(req)).await? {
            ResponseBody::CredentialAccepted(a) if a.session_id == session => Ok(a),
            _ => Err(self.unexpected()),
        }
    }

    /// Tells the enclave to drop whatever it caches for `session_id`.
    pub async fn forget(&self, session_id: String) -> Result<(), EnclaveError> {
        match self
            .call(RequestBody::Forget(ForgetRequest { session_id }))
            .await?
        {
            ResponseBody::Forgotten(_) => Ok(()),
            _ => Err(self.unexpected()),
        }
    }

    /// Asks the enclave to fetch the session's history and sign its aggregates.
    pub async fn compute(&self, req: ComputeAggregatesRequest) -> Result<Computed, EnclaveError> {
        match self.call(RequestBody::ComputeAggregates(req)).await? {
            ResponseBody::Aggregates(a) => Ok(Computed::Done(a)),
            ResponseBody::Pending(p) => Ok(Computed::Pending(p)),
            _ => Err(self.unexpected()),
        }
    }

    /// Protocol 4: an owner-signed revoke; the answer carries the revocation
    /// entry to log and (unless it was revoked already) the ring to store.
    pub async fn revoke_credential(
        &self,
        req: RevokeCredentialRequest,
    ) -> Result<CredentialRevoked, EnclaveError> {
        match self.call(RequestBody::RevokeCredential(req)).await? {
            ResponseBody::CredentialRevoked(r) => Ok(r),
            _ => Err(self.unexpected()),
        }
    }

    /// Asks the enclave to check the log state and sign the head that adds `req.leaf`.
    pub async fn append_log(&self, req: AppendLogRequest) -> Result<LogAppended, EnclaveError> {
        match self.call(RequestBody::AppendLog(req)).await? {
            ResponseBody::LogAppended(a) => Ok(a),
            _ => Err(self.unexpected()),
        }
    }

    /// The key ring's phase, id, version and key ids.
    pub async fn key_ring_status(&self) -> Result<KeyRingInfo, EnclaveError> {
        match self.call(RequestBody::KeyRingStatus).await? {
            ResponseBody::KeyRingStatus(k) => Ok(k),
            _ => Err(self.unexpected()),
        }
    }

    /// First boot: a new ring (data key wrapped by KMS when `kms` is given), sealed for storage.
    pub async fn new_key_ring(
        &self,
        kms: Option<KmsAccess>,
    ) -> Result<SealedKeyRing, EnclaveError> {
        self.sealed(RequestBody::NewKeyRing(NewKeyRingRequest { kms }))
            .await
    }

    /// Restart: unwrap the stored ring through KMS.
    pub async fn unseal_key_ring(
        &self,
        sealed: SealedKeyRing,
        kms: KmsAccess,
    ) -> Result<KeyRingInfo, EnclaveError> {
        let body = RequestBody::UnsealKeyRing(UnsealKeyRingRequest { sealed, kms });
        self.ring_status(body).await
    }

    /// A newer version of the ring the enclave holds.
    pub async fn reload_key_ring(
        &self,
        sealed: SealedKeyRing,
    ) -> Result<KeyRingInfo, EnclaveError> {
        self.ring_status(RequestBody::ReloadKeyRing(sealed)).await
    }

    /// Peer sync, holder side: a single-use challenge.
    pub async fn sync_challenge(&self) -> Result<Vec<u8>, EnclaveError> {
        match self.call(RequestBody::SyncChallenge).await? {
            ResponseBody::SyncChallenge(c) => Ok(c.nonce),
            _ => Err(self.unexpected()),
        }
    }

    /// Peer sync, requester side: the document answering the holder's challenge.
    pub async fn sync_request(&self, challenge: Vec<u8>) -> Result<Vec<u8>, EnclaveError> {
        let body = RequestBody::SyncRequest(SyncRequestRequest { challenge });
        match self.call(body).await? {
            ResponseBody::SyncRequestDocument(d) => Ok(d.document),
            _ => Err(self.unexpected()),
        }
    }

    /// Peer sync, holder side: the ring sealed to the requester's attested key.
    pub async fn sync_export(&self, document: Vec<u8>) -> Result<SyncExported, EnclaveError> {
        match self
            .call(RequestBody::SyncExport(SyncExportRequest { document }))
            .await?
        {
            ResponseBody::SyncExported(e) => Ok(e),
            _ => Err(self.unexpected()),
        }
    }

    /// Peer sync, requester side: check the holder's answer and install the ring.
    pub async fn sync_import(&self, exported: SyncExported) -> Result<KeyRingInfo, EnclaveError> {
        self.ring_status(RequestBody::SyncImport(SyncImportRequest { exported }))
            .await
    }

    /// Rotation: a new current key version; the ring to store.
    pub async fn add_key_version(&self) -> Result<SealedKeyRing, EnclaveError> {
        self.sealed(RequestBody::AddKeyVersion).await
    }

    /// Rotation: re-seal stored credentials to the current key version.
    pub async fn reseal(&self, req: ResealRequest) -> Result<ResealResult, EnclaveError> {
        let n = req.items.len();
        match self.call(RequestBody::ResealCredentials(req)).await? {
            ResponseBody::Resealed(r) if r.items.len() == n => Ok(r),
            _ => Err(self.unexpected()),
        }
    }

    /// Rotation: drop key versions; the ring to store.
    pub async fn retire_key_versions(
        &self,
        key_ids: Vec<String>,
    ) -> Result<SealedKeyRing, EnclaveError> {
        self.sealed(RequestBody::RetireKeyVersions(RetireRequest { key_ids }))
            .await
    }

    async fn sealed(&self, body: RequestBody) -> Result<SealedKeyRing, EnclaveError> {
        match self.call(body).await? {
            ResponseBody::KeyRingSealed(s) => Ok(s),
            _ => Err(self.unexpected()),
        }
    }

    async fn ring_status(&self, body: RequestBody) -> Result<KeyRingInfo, EnclaveError> {
        match self.call(body).await? {
            ResponseBody::KeyRingStatus(k) => Ok(k),
            _ => Err(self.unexpected()),
        }
    }
}
