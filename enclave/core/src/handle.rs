//! The one entry point for RPC requests: phase gating, then dispatch of
//! every request. The binary's transport loop calls [`handle`] with its
//! [`Ports`] (exchange, KMS, and a blocking pool for CPU-bound work);
//! [`Enclave::handle`] is the same function with no egress at all, polled
//! to completion in place (tests, fuzzing).
//!
//! `OpenCredential` with `check_key` also needs the exchange (see
//! `open_and_check`).
//!
//! | request | booting | ready |
//! |---|---|---|
//! | `Health`, `KeyRingStatus`, `Forget` | served | served |
//! | `NewKeyRing`, `UnsealKeyRing`, `SyncRequest`, `SyncImport` | served | `ring_present` |
//! | every other request | `not_ready` | served |

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use strongroom_protocol::messages::{
    CredentialAccepted, ForgetRequest, NewKeyRingRequest, OpenCredentialRequest, Phase,
    RequestBody, ResponseBody,
};

use crate::compute::account_pseudonym_v2;
use crate::exchange::{Exchange, ExchangeError, Fetched, KeyCheck, Resume};
use crate::intake::Credential;
use crate::kms::boot;
use crate::kms::client::{KmsClientError, KmsTarget, KmsTransport};
use crate::kms::request::KmsRequest;
use crate::results::{Computed, compute_aggregates};
use crate::state::{Enclave, EnclaveError};

/// What [`handle`] needs besides the enclave's state: the ports to the
/// outside. Plain `std` futures; the core names no runtime.
pub trait Ports: Sync {
    /// The exchange client.
    type Exchange: Exchange;
    /// The KMS transport.
    type Kms: KmsTransport;

    /// The enclave served.
    fn enclave(&self) -> &Enclave;

    /// The exchange, if egress is configured (`ComputeAggregates` answers
    /// `exchange_unreachable` without it).
    fn exchange(&self) -> Option<&Self::Exchange>;

    /// KMS, if egress is configured (the KMS boot paths answer `kms_failed`
    /// without it).
    fn kms(&self) -> Option<&Self::Kms>;

    /// Runs CPU-bound or blocking work (HPKE, ECDSA, RSA, the NSM ioctl) off
    /// the async workers (the binary: tokio's blocking pool). `Err` only if
    /// the work could not run to completion.
    fn blocking<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Enclave) -> R + Send + 'static,
    ) -> impl Future<Output = Result<R, EnclaveError>> + Send;

    /// Whether egress I/O exists at all. Only [`Enclave::handle`] says no:
    /// the requests that need it then answer `not_implemented`.
    fn has_io(&self) -> bool {
        true
    }
}

/// Whether `request` may be served in `phase`. Booting serves only what
/// needs no key ring (health, status, forget, which only drops state) and
/// the boot operations; ready serves everything. The boot operations
/// (`NewKeyRing`, `UnsealKeyRing`, `SyncRequest`, `SyncImport`) pass here in
/// both phases: once a ring is held they answer `ring_present`, which tells
/// the host more than `not_ready` would.
fn allowed(phase: Phase, request: &RequestBody) -> bool {
    match request {
        RequestBody::Health | RequestBody::KeyRingStatus | RequestBody::Forget(_) => true,
        RequestBody::NewKeyRing(_)
        | RequestBody::UnsealKeyRing(_)
        | RequestBody::SyncRequest(_)
        | RequestBody::SyncImport(_) => true,
        _ => phase == Phase::Ready,
    }
}

/// Answers one request: the phase gate, then the request. Egress I/O
/// (`ComputeAggregates`, `NewKeyRing` with KMS, `UnsealKeyRing`) runs here
/// with its CPU-bound steps on [`Ports::blocking`]; every other request runs
/// on [`Ports::blocking`] as a whole (HPKE open, ECDSA, NSM ioctl).
/// Refusals are typed [`ResponseBody::Error`]s.
pub async fn handle<P: Ports>(ports: &P, request: RequestBody) -> ResponseBody {
    if !allowed(ports.enclave().phase(), &request) {
        return EnclaveError::NotReady.into_response();
    }
    let result = match request {
        RequestBody::NewKeyRing(NewKeyRingRequest { kms: Some(access) }) if ports.has_io() => {
            boot::new_key_ring(ports, access)
                .await
                .map(ResponseBody::KeyRingSealed)
        }
        RequestBody::UnsealKeyRing(req) if ports.has_io() => boot::unseal_key_ring(ports, req)
            .await
            .map(ResponseBody::KeyRingStatus),
        RequestBody::ComputeAggregates(req) if ports.has_io() => {
            compute_aggregates(ports, req).await.map(|c| match c {
                Computed::Signed(result) => ResponseBody::Aggregates(result),
                Computed::Pending(pending) => ResponseBody::Pending(pending),
            })
        }
        RequestBody::OpenCredential(req) if req.check_key && ports.has_io() => {
            open_and_check(ports, req)
                .await
                .map(ResponseBody::CredentialAccepted)
        }
        other => ports
            .blocking(move |e| local(e, other))
            .await
            .and_then(|r| r),
    };
    result.unwrap_or_else(EnclaveError::into_response)
}

/// `OpenCredential` with `check_key` (protocol 5): the credential is opened
/// and cached as without it, then the key is checked at the exchange
/// (restrictions and account id). A key that can do more than read
/// (`key_not_read_only`), that the exchange rejects, or that could not be
/// checked (unreachable, rate-limited, weight budget: the host retries) is
/// refused and its session forgotten at once (also when the request is
/// cancelled mid-check): a key is never kept unchecked when the check was
/// asked for. The answer names the account's v2
/// pseudonym.
async fn open_and_check<P: Ports>(
    ports: &P,
    req: OpenCredentialRequest,
) -> Result<CredentialAccepted, EnclaveError> {
    let session_id = req.session_id.clone();
    let (mut accepted, credential) = ports
        .blocking(move |e| {
            let accepted = e.open_credential(&req)?;
            let credential = e
                .credential(&req.session_id)
                .ok_or_else(|| EnclaveError::Internal("session vanished".to_owned()))?;
            Ok::<_, EnclaveError>((accepted, credential))
        })
        .await??;
    // Forgets the session unless the check passes, also when this future
    // is dropped mid-check (a cancel, the host's deadline).
    let mut guard = Unchecked {
        enclave: ports.enclave(),
        session_id: Some(session_id),
    };
    let checked = check(ports, &credential).await?;
    accepted.account = Some(account_pseudonym_v2(
        credential.exchange(),
        &checked.account_id,
    ));
    guard.session_id = None;
    Ok(accepted)
}

/// A session opened for a key check that has not passed (yet).
struct Unchecked<'a> {
    enclave: &'a Enclave,
    session_id: Option<String>,
}

impl Drop for Unchecked<'_> {
    fn drop(&mut self) {
        if let Some(session_id) = self.session_id.take()
            && let Err(e) = self.enclave.forget(&ForgetRequest { session_id })
        {
            tracing::warn!(reason = %e, "forgetting an unchecked session failed");
        }
    }
}

/// The exchange's word on `credential`'s key.
async fn check<P: Ports>(ports: &P, credential: &Credential) -> Result<KeyCheck, EnclaveError> {
    let exchange = ports.exchange().ok_or(EnclaveError::NoEgress)?;
    if credential.exchange() != exchange.name() {
        return Err(EnclaveError::UnsupportedExchange);
    }
    exchange.check_key(credential).await.map_err(|e| {
        tracing::info!(reason = %e, "key check failed");
        EnclaveError::Compute(e.into())
    })
}

/// The requests that need no egress, on the enclave's state alone.
fn local(e: &Enclave, request: RequestBody) -> Result<ResponseBody, EnclaveError> {
    Ok(match request {
        RequestBody::Health => ResponseBody::Health(e.health()),
        RequestBody::Attest(req) => ResponseBody::Attestation(e.attest(&req)?),
        // Checking the key needs the exchange.
        RequestBody::OpenCredential(req) if req.check_key => {
            return Err(EnclaveError::NotImplemented);
        }
        RequestBody::OpenCredential(req) => {
            ResponseBody::CredentialAccepted(e.open_credential(&req)?)
        }
        RequestBody::Forget(req) => ResponseBody::Forgotten(e.forget(&req)?),
        RequestBody::KeyRingStatus => ResponseBody::KeyRingStatus(e.key_ring_status()),
        RequestBody::AppendLog(req) => ResponseBody::LogAppended(e.append_log(&req)?),
        RequestBody::NewKeyRing(NewKeyRingRequest { kms: None }) => {
            ResponseBody::KeyRingSealed(e.new_key_ring()?)
        }
        RequestBody::ReloadKeyRing(sealed) => {
            ResponseBody::KeyRingStatus(e.reload_key_ring(&sealed)?)
        }
        RequestBody::AddKeyVersion => ResponseBody::KeyRingSealed(e.add_key_version()?),
        RequestBody::SyncChallenge => ResponseBody::SyncChallenge(e.sync_challenge()?),
        RequestBody::SyncRequest(req) => ResponseBody::SyncRequestDocument(e.sync_request(&req)?),
        RequestBody::SyncExport(req) => ResponseBody::SyncExported(e.sync_export(&req)?),
        RequestBody::SyncImport(req) => ResponseBody::KeyRingStatus(e.sync_import(&req)?),
        RequestBody::RetireKeyVersions(req) => {
            ResponseBody::KeyRingSealed(e.retire_key_versions(&req)?)
        }
        RequestBody::ResealCredentials(req) => ResponseBody::Resealed(e.reseal_credentials(&req)?),
        RequestBody::RevokeCredential(req) => {
            ResponseBody::CredentialRevoked(e.revoke_credential(&req)?)
        }
        // Egress I/O: only through ports that have it (see `handle`); a
        // cancel is the RPC server's (it never reaches a handler).
        RequestBody::ComputeAggregates(_)
        | RequestBody::NewKeyRing(_)
        | RequestBody::UnsealKeyRing(_)
        | RequestBody::Cancel(_) => return Err(EnclaveError::NotImplemented),
    })
}

impl Enclave {
    /// [`handle`] without egress: the requests that need the exchange or
    /// KMS answer `not_implemented`; everything else is served in place, on
    /// the calling thread.
    pub fn handle(&self, request: RequestBody) -> ResponseBody {
        let ports = Inline(self);
        let mut answer = pin!(handle(&ports, request));
        // `Inline` never waits, so the first poll completes.
        match answer
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(response) => response,
            Poll::Pending => {
                EnclaveError::Internal("inline request waited".to_owned()).into_response()
            }
        }
    }
}

/// Ports without egress, running work in place.
struct Inline<'a>(&'a Enclave);

/// No exchange and no KMS: never constructed.
enum NoEgress {}

impl Exchange for NoEgress {
    fn name(&self) -> &'static str {
        match *self {}
    }

    async fn fetch(
        &self,
        _credential: &Credential,
        _symbols: Option<&[String]>,
        _resume: Resume<'_>,
    ) -> Result<Fetched, ExchangeError> {
        match *self {}
    }

    async fn check_key(&self, _credential: &Credential) -> Result<KeyCheck, ExchangeError> {
        match *self {}
    }
}

impl KmsTransport for NoEgress {
    fn dev_endpoint(&self) -> Option<&crate::exchange::Endpoint> {
        match *self {}
    }

    fn pinned_key(&self) -> Option<&crate::kms::pin::KmsKeyPin> {
        match *self {}
    }

    async fn post(
        &self,
        _target: &KmsTarget,
        _request: &KmsRequest,
    ) -> Result<(u16, Vec<u8>), KmsClientError> {
        match *self {}
    }
}

impl Ports for Inline<'_> {
    type Exchange = NoEgress;
    type Kms = NoEgress;

    fn enclave(&self) -> &Enclave {
        self.0
    }

    fn exchange(&self) -> Option<&NoEgress> {
        None
    }

    fn kms(&self) -> Option<&NoEgress> {
        None
    }

    fn blocking<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Enclave) -> R + Send + 'static,
    ) -> impl Future<Output = Result<R, EnclaveError>> + Send {
        std::future::ready(Ok(work(self.0)))
    }

    fn has_io(&self) -> bool {
        false
    }
}
