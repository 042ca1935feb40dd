//! The enclave's state machine (booting -> ready) and its operations, one
//! method per request; the one error -> wire-code mapping
//! (`EnclaveError::to_rpc`). Requests reach it through
//! [`crate::handle`], which owns phase gating and dispatch. No sockets, no
//! runtime. Key-ring operations are in `keys.rs`, peer sync in
//! `peer_sync.rs`.

use std::sync::{Arc, Mutex, RwLock};

use strongroom_formats::c2sp::cosignature::WitnessPolicy;
use strongroom_formats::policy::PolicyViolation;
use strongroom_protocol::messages::{
    AppendLogRequest, AttestRequest, AttestationInfo, CredentialAccepted, CredentialMetadata,
    ForgetRequest, Forgotten, HealthInfo, LogAppended, OpenCredentialRequest, Phase, ResponseBody,
    SealedCredential,
};
use strongroom_protocol::{ErrorCode, RpcError};
use strongroom_verifier::TrustRoot;
use strongroom_verifier::owner::OwnerError;
use tracing::warn;

use crate::attest::{self, AttestError};
use crate::clock::Clock;
use crate::compute::{ComputeError, rfc3339_ms};
use crate::exchange::ExchangeError;
use crate::intake::{
    self, Credential, IntakeError, IntakePolicy, Metadata, SessionCache, valid_session_id,
};
use crate::jobs::Jobs;
use crate::nsm::{Nsm, NsmError};
use crate::ring::RingError;
use crate::ring::{KeyRing, KeyRingError};
use crate::slots::ComputeSlots;
use crate::sync::{SyncError, SyncHolder, SyncRequester};
use crate::terms::Usage;
use crate::tlog::{LogError, LogKeys, LogSigner};

/// The log origin prefix when none is configured (dev and tests).
pub const DEFAULT_LOG_ORIGIN: &str = "strongroom.dev/log";

/// Version string reported by health checks.
pub const VERSION: &str = concat!("strongroom-enclave/", env!("CARGO_PKG_VERSION"));

/// Why a request was refused or failed; one mapping to the wire in
/// `EnclaveError::to_rpc`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnclaveError {
    /// Not allowed in the current phase.
    #[error("not ready")]
    NotReady,
    /// Attestation nonce over the limit.
    #[error("nonce too long")]
    NonceTooLong,
    /// Credential intake refused.
    #[error("intake: {0}")]
    Intake(#[from] IntakeError),
    /// Overloaded (kept for the wire code `busy`; the session cache no
    /// longer refuses: it evicts).
    #[error("busy")]
    Busy,
    /// Too many computations in flight, for this tenant or in total
    /// ([`crate::slots`]).
    #[error("too many computations in flight")]
    ComputeBusy,
    /// The credential names an exchange this enclave has no client for.
    #[error("unsupported exchange")]
    UnsupportedExchange,
    /// No egress proxy configured, so no exchange can be reached.
    #[error("no egress configured")]
    NoEgress,
    /// Computing signed aggregates failed.
    #[error("aggregates: {0}")]
    Compute(#[from] ComputeError),
    /// The host's transparency-log state did not check out.
    #[error("log: {0}")]
    Log(#[from] LogError),
    /// Operation not in this build yet.
    #[error("not implemented")]
    NotImplemented,
    /// A boot operation while a key ring is already held.
    #[error("a key ring is already present")]
    RingPresent,
    /// A sealed ring does not open, is another ring, or is not newer.
    #[error("key ring invalid")]
    RingInvalid,
    /// KMS could not be reached, refused, or answered something unusable
    /// (the reason is logged in the enclave, never sent).
    #[error("KMS failed")]
    KmsFailed,
    /// Peer sync refused: attestation, measurements, challenge or message.
    #[error("key sync refused")]
    SyncRefused,
    /// Peer sync failed (`sync_refused`, `busy` or `internal`, per
    /// [`SyncError::code`]).
    #[error("key sync: {0}")]
    Sync(SyncError),
    /// An argument other than a credential is invalid (e.g. retiring the
    /// current key, an oversized batch).
    #[error("invalid argument")]
    InvalidArgument,
    /// The credential's policy does not allow the request (and no owner
    /// authorization was given); with the seconds until the interval allows
    /// another computation.
    #[error("policy: {violation}")]
    Policy {
        /// The rule broken.
        violation: PolicyViolation,
        /// For the interval: seconds until the next computation is allowed.
        retry_after_s: Option<u32>,
    },
    /// An owner authorization was refused.
    #[error("owner authorization: {0}")]
    Owner(OwnerError),
    /// An owner action on a credential sealed without an owner key.
    #[error("no owner key")]
    NoOwnerKey,
    /// NSM, key generation or lock failure; details stay in the enclave log.
    #[error("internal: {0}")]
    Internal(String),
}

impl EnclaveError {
    /// The wire error (fixed, non-secret messages only).
    pub(crate) fn to_rpc(&self) -> RpcError {
        if let EnclaveError::Compute(ComputeError::Exchange(ExchangeError::WeightBudget {
            retry_after_s,
        })) = self
        {
            return RpcError::new(ErrorCode::ExchangeBudget).with_retry_after(*retry_after_s);
        }
        if let EnclaveError::Policy {
            violation,
            retry_after_s,
        } = self
        {
            let code = match violation {
                PolicyViolation::Window => ErrorCode::PolicyWindow,
                PolicyViolation::Symbols => ErrorCode::PolicySymbols,
                _ => ErrorCode::PolicyInterval,
            };
            let err = RpcError::new(code);
            return match retry_after_s {
                Some(s) => err.with_retry_after(*s),
                None => err,
            };
        }
        let code = match self {
            EnclaveError::NotReady => ErrorCode::NotReady,
            EnclaveError::NonceTooLong => ErrorCode::NonceTooLong,
            EnclaveError::Intake(e) => e.code(),
            EnclaveError::Busy => ErrorCode::Busy,
            EnclaveError::ComputeBusy => ErrorCode::ComputeBusy,
            EnclaveError::UnsupportedExchange => {
                return RpcError::with_message(
                    ErrorCode::InvalidArgument,
                    "the credential's exchange is not supported by this enclave",
                );
            }
            EnclaveError::NoEgress => ErrorCode::ExchangeUnreachable,
            EnclaveError::Compute(e) => e.code(),
            EnclaveError::Log(LogError::RingRolledBack) => ErrorCode::RingOutdated,
            EnclaveError::Log(LogError::CredentialRevoked) => ErrorCode::CredentialRevoked,
            EnclaveError::Log(_) => ErrorCode::LogStateInvalid,
            EnclaveError::NotImplemented => ErrorCode::NotImplemented,
            EnclaveError::RingPresent => ErrorCode::RingPresent,
            EnclaveError::RingInvalid => ErrorCode::RingInvalid,
            EnclaveError::KmsFailed => ErrorCode::KmsFailed,
            EnclaveError::SyncRefused => ErrorCode::SyncRefused,
            EnclaveError::Sync(e) => e.code(),
            EnclaveError::InvalidArgument => ErrorCode::InvalidArgument,
            EnclaveError::Policy { .. } => ErrorCode::PolicyInterval,
            EnclaveError::Owner(e) => match e {
                OwnerError::Malformed | OwnerError::BadPayload => {
                    ErrorCode::MalformedOwnerAuthorization
                }
                OwnerError::WrongOwner | OwnerError::BadSignature => {
                    ErrorCode::OwnerSignatureInvalid
                }
                OwnerError::Stale => ErrorCode::OwnerAuthorizationStale,
                _ => ErrorCode::OwnerAuthorizationMismatch,
            },
            EnclaveError::NoOwnerKey => ErrorCode::NoOwnerKey,
            EnclaveError::Internal(_) => ErrorCode::Internal,
        };
        RpcError::new(code)
    }
}

impl EnclaveError {
    /// The error as an RPC answer; internal details go to the enclave's log only.
    pub(crate) fn into_response(self) -> ResponseBody {
        if let EnclaveError::Internal(detail) = &self {
            warn!(%detail, "request failed");
        }
        ResponseBody::Error(self.to_rpc())
    }
}

impl From<AttestError> for EnclaveError {
    fn from(e: AttestError) -> Self {
        match e {
            AttestError::NonceTooLong => EnclaveError::NonceTooLong,
            other => EnclaveError::Internal(other.to_string()),
        }
    }
}

impl From<KeyRingError> for EnclaveError {
    fn from(e: KeyRingError) -> Self {
        match e {
            KeyRingError::RetireCurrent | KeyRingError::TooManyVersions => {
                EnclaveError::InvalidArgument
            }
            KeyRingError::Revocations => EnclaveError::Busy,
            other => EnclaveError::Internal(other.to_string()),
        }
    }
}

impl From<RingError> for EnclaveError {
    fn from(e: RingError) -> Self {
        match e {
            RingError::Random(nsm) => EnclaveError::Internal(nsm.to_string()),
            _ => EnclaveError::RingInvalid,
        }
    }
}

fn poisoned<T>(_: T) -> EnclaveError {
    EnclaveError::Internal("lock poisoned".to_owned())
}

mod keys;
mod peer_sync;

/// The enclave.
pub struct Enclave {
    nsm: Arc<dyn Nsm>,
    clock: Arc<dyn Clock>,
    policy: IntakePolicy,
    ring: RwLock<Option<KeyRing>>,
    sessions: Mutex<SessionCache>,
    slots: ComputeSlots,
    usage: Usage,
    jobs: Jobs,
    log: LogSigner,
    log_origin: String,
    pcr0: Vec<u8>,
    pcrs: [Vec<u8>; 3],
    root: TrustRoot,
    holder: SyncHolder,
    requester: SyncRequester,
}

impl std::fmt::Debug for Enclave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enclave")
            .field("phase", &self.phase())
            .field("simulator", &self.nsm.is_simulator())
            .finish_non_exhaustive()
    }
}

impl Enclave {
    /// A booting enclave (no key ring yet). Reads PCR0 once. Peer sync
    /// verifies under the AWS Nitro root unless
    /// [`Enclave::with_trust_root`] says otherwise (the simulator's dev root).
    pub fn new(
        nsm: Arc<dyn Nsm>,
        clock: Arc<dyn Clock>,
        policy: IntakePolicy,
    ) -> Result<Self, NsmError> {
        let pcr0 = nsm.describe_pcr(0)?;
        let pcrs = [pcr0.clone(), nsm.describe_pcr(1)?, nsm.describe_pcr(2)?];
        Ok(Self {
            nsm,
            clock,
            policy,
            ring: RwLock::new(None),
            sessions: Mutex::new(SessionCache::default()),
            slots: ComputeSlots::default(),
            usage: Usage::default(),
            jobs: Jobs::default(),
            log: LogSigner::new(),
            log_origin: DEFAULT_LOG_ORIGIN.to_owned(),
            pcr0,
            pcrs,
            root: TrustRoot::aws_nitro_g1(),
            holder: SyncHolder::new(),
            requester: SyncRequester::new(),
        })
    }

    /// The same enclave with a session cache of `capacity` credentials
    /// (`--session-cache-capacity`; see `intake::sessions`).
    pub fn with_session_cache_capacity(mut self, capacity: usize) -> Self {
        self.sessions = Mutex::new(SessionCache::with_capacity(capacity));
        self
    }

    /// The same enclave with at most `total` computations in flight, and
    /// `per_tenant` of one tenant (`--max-computations`,
    /// `--max-computations-per-tenant`; see [`crate::slots`]).
    pub fn with_compute_slots(mut self, total: usize, per_tenant: usize) -> Self {
        self.slots = ComputeSlots::new(total, per_tenant);
        self
    }

    /// The computation slots.
    pub(crate) fn slots(&self) -> &ComputeSlots {
        &self.slots
    }

    /// The last computation per credential (the policy's interval).
    pub(crate) fn usage(&self) -> &Usage {
        &self.usage
    }

    /// Interrupted computations' memory (see [`crate::jobs`]).
    pub(crate) fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// Verifies peers' attestation under `root` instead (dev simulator:
    /// its own dev root, shared by every dev enclave via `--dev-root-key`).
    pub fn with_trust_root(mut self, root: TrustRoot) -> Self {
        self.root = root;
        self
    }

    /// The log's origin prefix and witnesses (measured configuration: the
    /// enclave's command line). The origin line of every checkpoint is
    /// `<origin>/<first 16 hex digits of the ring id>`, so `keys reset` (a
    /// new ring) starts a new log under a new origin. `None` if the prefix
    /// is not a valid note key name.
    pub fn with_log(mut self, origin: &str, witnesses: WitnessPolicy) -> Option<Self> {
        strongroom_formats::c2sp::note::check_name(&format!("{origin}/0123456789abcdef")).ok()?;
        self.log_origin = origin.to_owned();
        self.log = LogSigner::with_witnesses(witnesses);
        Some(self)
    }

    /// An attestation document binding `ring`'s keys and its log note key,
    /// and that note key as a verifier key string.
    pub(crate) fn attest_ring(
        &self,
        ring: &KeyRing,
        nonce: Option<&[u8]>,
    ) -> Result<(attest::Attestation, String), EnclaveError> {
        let note = ring
            .note_signer(&self.log_origin_for(ring))
            .ok_or_else(|| EnclaveError::Internal("log origin".to_owned()))?;
        let vkey = note.verifier_key();
        let att = attest::attest(self.nsm.as_ref(), ring, vkey.public_key().as_bytes(), nonce)?;
        Ok((att, vkey.to_string()))
    }

    /// The log origin for `ring`.
    pub(crate) fn log_origin_for(&self, ring: &KeyRing) -> String {
        format!("{}/{}", self.log_origin, &hex::encode(ring.ring_id())[..16])
    }

    /// The root peers' attestation documents must chain to.
    pub fn trust_root(&self) -> &TrustRoot {
        &self.root
    }

    /// Current phase.
    pub fn phase(&self) -> Phase {
        match self.ring.read() {
            Ok(ring) if ring.is_some() => Phase::Ready,
            _ => Phase::Booting,
        }
    }

    /// Installs a key ring: booting -> ready (see `Enclave::install_new`).
    pub fn install_key_ring(&self, ring: KeyRing) -> Result<(), EnclaveError> {
        self.install_new(ring)
    }

    /// Runs `f` with the key ring; [`EnclaveError::NotReady`] while booting.
    pub fn with_key_ring<R>(&self, f: impl FnOnce(&KeyRing) -> R) -> Result<R, EnclaveError> {
        let ring = self.ring.read().map_err(poisoned)?;
        ring.as_ref().map(f).ok_or(EnclaveError::NotReady)
    }

    /// PCR0 of the running image.
    pub fn pcr0(&self) -> &[u8] {
        &self.pcr0
    }

    /// The NSM in use.
    pub fn nsm(&self) -> &dyn Nsm {
        self.nsm.as_ref()
    }

    /// The clock in use.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The cached credential of a live session (for the exchange client).
    pub fn credential(&self, session_id: &str) -> Option<Arc<Credential>> {
        let now = self.clock.now_unix_s();
        self.sessions.lock().ok()?.get(session_id, now)
    }

    /// Health: phase, version, simulator flag.
    pub fn health(&self) -> HealthInfo {
        HealthInfo {
            phase: self.phase(),
            version: VERSION.to_owned(),
            simulator: self.nsm.is_simulator(),
        }
    }

    /// A fresh attestation document binding the current keys.
    pub fn attest(&self, req: &AttestRequest) -> Result<AttestationInfo, EnclaveError> {
        let nonce = req.nonce.as_deref();
        let (att, log_vkey) = self.with_key_ring(|ring| self.attest_ring(ring, nonce))??;
        Ok(AttestationInfo {
            document: att.document,
            hpke_public_key: att.hpke_public_key,
            signing_public_key: att.signing_public_key,
            key_id: att.key_id,
            pcr0: self.pcr0.clone(),
            log_vkey,
        })
    }

    /// Opens, checks and caches a credential for the session.
    pub fn open_credential(
        &self,
        req: &OpenCredentialRequest,
    ) -> Result<CredentialAccepted, EnclaveError> {
        let (credential, resealed) = self.open_and_cache(
            &req.session_id,
            req.tenant.as_deref(),
            &req.sealed,
            &req.metadata,
            true,
        )?;
        Ok(CredentialAccepted {
            session_id: req.session_id.clone(),
            key_id: req.sealed.key_id().to_owned(),
            expires_at: credential.expires_at(),
            resealed,
            account: None,
        })
    }

    /// Opens (one HPKE open), checks and caches; with `reseal`, a credential
    /// sealed to an older key version also comes back re-sealed to the
    /// current one, from the same plaintext.
    fn open_and_cache(
        &self,
        session_id: &str,
        tenant: Option<&str>,
        sealed: &SealedCredential,
        meta: &CredentialMetadata,
        reseal: bool,
    ) -> Result<(Arc<Credential>, Option<SealedCredential>), EnclaveError> {
        if !valid_session_id(session_id) {
            return Err(IntakeError::InvalidArgument.into());
        }
        let now = self.clock.now_unix_s();
        let metadata = Metadata {
            exchange: &meta.exchange,
            label: &meta.label,
            ttl_seconds: meta.ttl_seconds,
        };
        let (credential, resealed) = self.with_key_ring(|ring| {
            let opened = intake::open_credential(ring, sealed, &metadata, now, &self.policy)?;
            let resealed = (reseal && ring.current().key_id() != sealed.key_id())
                .then(|| {
                    let envelope = intake::Envelope {
                        plaintext: opened.plaintext.clone(),
                        version: opened.credential.version(),
                        id: opened.credential.id().to_owned(),
                    };
                    self.reseal_envelope(ring, &envelope)
                })
                .and_then(|r| {
                    r.inspect_err(|err| warn!(reason = %err, "re-seal on open failed"))
                        .ok()
                });
            Ok::<_, EnclaveError>((opened.credential, resealed))
        })??;
        let mut sessions = self.sessions.lock().map_err(poisoned)?;
        sessions.insert(session_id, tenant, credential, now);
        let cached = sessions
            .get(session_id, now)
            .ok_or_else(|| EnclaveError::Internal("session vanished".to_owned()))?;
        Ok((cached, resealed))
    }

    /// The credential for an aggregates request: the cached one when the
    /// session is live here, else the forwarded envelope re-opened and checked
    /// exactly like `OpenCredential` (after a restart, or on another instance
    /// holding the same key ring). The host's metadata must match either way.
    pub(crate) fn session_credential(
        &self,
        session_id: &str,
        tenant: Option<&str>,
        sealed: &SealedCredential,
        metadata: &CredentialMetadata,
    ) -> Result<Arc<Credential>, EnclaveError> {
        if !valid_session_id(session_id) {
            return Err(IntakeError::InvalidArgument.into());
        }
        match self.credential(session_id) {
            Some(c) if c.exchange() != metadata.exchange || c.label() != metadata.label => {
                Err(IntakeError::MetadataMismatch.into())
            }
            // A cached session of a credential revoked since (here, or on
            // another instance whose ring this one reloaded or synced).
            Some(c) if self.with_key_ring(|r| r.is_revoked(c.id()))? => {
                self.sessions.lock().map_err(poisoned)?.forget(session_id);
                Err(IntakeError::Revoked.into())
            }
            Some(c) => Ok(c),
            None => Ok(self
                .open_and_cache(session_id, tenant, sealed, metadata, false)?
                .0),
        }
    }

    /// Checks the host's log state and appends a signed result (see `tlog`).
    pub fn append_log(&self, req: &AppendLogRequest) -> Result<LogAppended, EnclaveError> {
        let now = i64::try_from(self.clock.now_unix_ms()).unwrap_or(i64::MAX);
        let time = rfc3339_ms(now).ok_or_else(|| EnclaveError::Internal("clock".to_owned()))?;
        let appended = self.with_key_ring(|ring| {
            // A result of a revoked credential is never logged, whichever
            // instance computed it (one that had not reloaded the ring yet).
            let revoked = strongroom_formats::cose::Sign1::payload_of(&req.leaf)
                .ok()
                .and_then(|p| strongroom_protocol::aggregates::AggregatePayload::from_cbor(&p).ok())
                .and_then(|p| p.credential)
                .is_some_and(|c| ring.is_revoked(&c));
            if revoked {
                return Err(LogError::CredentialRevoked);
            }
            let signing = ring.signing();
            let sign = |payload: &[u8], kid: &str| signing.sign_cose(payload, kid);
            let note = ring
                .note_signer(&self.log_origin_for(ring))
                .ok_or(LogError::HeadInvalid)?;
            let keys = LogKeys {
                verifying: signing.verifying_key(),
                sign: &sign,
                key_id: ring.current().key_id(),
                note: &note,
                ring_version: ring.ring_version(),
            };
            self.log.append(req, &keys, &time)
        })?;
        appended.map_err(|e| {
            warn!(reason = %e, "log append refused");
            e.into()
        })
    }

    /// Drops a session's cached credential.
    pub fn forget(&self, req: &ForgetRequest) -> Result<Forgotten, EnclaveError> {
        let was_cached = self
            .sessions
            .lock()
            .map_err(poisoned)?
            .forget(&req.session_id);
        Ok(Forgotten {
            session_id: req.session_id.clone(),
            was_cached,
        })
    }

    /// Drops expired sessions; how many.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now_unix_s();
        self.sessions
            .lock()
            .map(|mut s| s.purge_expired(now))
            .unwrap_or(0)
    }
}
