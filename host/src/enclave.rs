//! The host's view of the enclave: typed calls over the RPC client, failures
//! counted in metrics by kind.

use std::sync::Arc;
use std::time::Duration;

use strongroom_protocol::ErrorCode;
use strongroom_protocol::client::{CallError, ClientConfig, RpcClient};
use strongroom_protocol::messages::{
    AggregatesResult, AppendLogRequest, AttestRequest, AttestationInfo, ComputeAggregatesRequest,
    CredentialAccepted, ForgetRequest, HealthInfo, LogAppended, OpenCredentialRequest, RequestBody,
    ResponseBody,
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
        let rpc = match body {
            RequestBody::ComputeAggregates(_) => &self.slow,
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
            CallError::Remote(e) => (e.code.as_str(), EnclaveError::Refused(e.code)),
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
    pub async fn compute(
        &self,
        req: ComputeAggregatesRequest,
    ) -> Result<AggregatesResult, EnclaveError> {
        match self.call(RequestBody::ComputeAggregates(req)).await? {
            ResponseBody::Aggregates(a) => Ok(a),
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
}
