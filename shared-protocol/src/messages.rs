//! Every message that crosses the host <-> enclave boundary, field by field as in
//! `SPEC.md`. Each struct refuses unknown fields; binary fields are CBOR byte strings.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::error::RpcError;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Versions this build can speak, oldest first.
pub const SUPPORTED_VERSIONS: &[u32] = &[PROTOCOL_VERSION];

/// First frame on every connection, client to server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientHello {
    /// Versions the client can speak.
    pub versions: Vec<u32>,
    /// Free-form name and version of the client, for logs.
    pub agent: String,
}

/// The server's answer to [`ClientHello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerHello {
    /// The highest version both sides speak; every later frame uses it.
    Accept {
        /// Agreed version.
        version: u32,
        /// Name and version of the server.
        agent: String,
    },
    /// No common version (or a malformed hello); the server closes the connection.
    Reject(RpcError),
}

/// One call. `id` is chosen by the client and echoed by the [`Response`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Correlates the response; unique among the calls in flight on a connection.
    pub id: u64,
    /// What is asked.
    pub body: RequestBody,
}

/// One answer, carrying the id of the request it answers (0 for a connection-level
/// error that could not be tied to a request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// The request's id.
    pub id: u64,
    /// The answer.
    pub body: ResponseBody,
}

/// The enclave operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RequestBody {
    /// Liveness, version and phase.
    Health,
    /// A fresh attestation document binding the current keys.
    Attest(AttestRequest),
    /// Open and check a sealed credential; remember it for the session.
    OpenCredential(OpenCredentialRequest),
    /// Fetch the session's trade history and sign its aggregates.
    ComputeAggregates(ComputeAggregatesRequest),
    /// Append a signed aggregate to the transparency log and sign the new head.
    AppendLog(AppendLogRequest),
    /// Drop everything cached for a session.
    Forget(ForgetRequest),
    /// Which key versions the ring holds.
    KeyRingStatus,
}

/// Answers, one variant per [`RequestBody`] kind plus [`ResponseBody::Error`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ResponseBody {
    /// Answer to [`RequestBody::Health`].
    Health(HealthInfo),
    /// Answer to [`RequestBody::Attest`].
    Attestation(AttestationInfo),
    /// Answer to [`RequestBody::OpenCredential`].
    CredentialAccepted(CredentialAccepted),
    /// Answer to [`RequestBody::ComputeAggregates`].
    Aggregates(AggregatesResult),
    /// Answer to [`RequestBody::AppendLog`].
    LogAppended(LogAppended),
    /// Answer to [`RequestBody::Forget`].
    Forgotten(Forgotten),
    /// Answer to [`RequestBody::KeyRingStatus`].
    KeyRingStatus(KeyRingInfo),
    /// Any refusal or failure; never carries secret material.
    Error(RpcError),
}

/// Where the enclave is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No usable key ring yet: only health and status are answered.
    Booting,
    /// Serving every request.
    Ready,
}

/// Answer to a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthInfo {
    /// Current phase.
    pub phase: Phase,
    /// The enclave program's version string.
    pub version: String,
    /// True when attestation comes from the dev simulator, not `/dev/nsm`.
    pub simulator: bool,
}

/// Asks for an attestation document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestRequest {
    /// The client's challenge, at most [`MAX_NONCE_LEN`] bytes.
    #[serde(with = "serde_bytes")]
    pub nonce: Option<Vec<u8>>,
}

/// Largest accepted attestation nonce.
pub const MAX_NONCE_LEN: usize = 64;

/// An attestation document and the keys it binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationInfo {
    /// The NSM (or simulator) attestation document, COSE_Sign1 bytes.
    #[serde(with = "serde_bytes")]
    pub document: Vec<u8>,
    /// Current HPKE public key, 65-byte uncompressed SEC1 P-256 point.
    #[serde(with = "serde_bytes")]
    pub hpke_public_key: Vec<u8>,
    /// Result-signing public key, 65-byte uncompressed SEC1 P-256 point.
    #[serde(with = "serde_bytes")]
    pub signing_public_key: Vec<u8>,
    /// Key id of the current HPKE key (also in the document's `user_data`).
    pub key_id: String,
    /// PCR0 of the running image, 48 bytes.
    #[serde(with = "serde_bytes")]
    pub pcr0: Vec<u8>,
}

/// An HPKE-sealed credential exactly as the client produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedCredential {
    /// Which HPKE key it was sealed to.
    pub key_id: String,
    /// HPKE encapsulated key, 65 bytes.
    #[serde(with = "serde_bytes")]
    pub enc: Vec<u8>,
    /// AEAD output: ciphertext followed by the 16-byte tag.
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

/// What the host says the credential is for; the enclave checks it against the
/// sealed plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialMetadata {
    /// Exchange name, e.g. `binance`.
    pub exchange: String,
    /// The client's label for the key, e.g. `main`.
    pub label: String,
    /// Requested session lifetime in seconds.
    pub ttl_seconds: u64,
}

/// Open a sealed credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenCredentialRequest {
    /// Session id the host assigned (UUID text).
    pub session_id: String,
    /// The envelope.
    pub sealed: SealedCredential,
    /// The forwarded metadata.
    pub metadata: CredentialMetadata,
}

/// The enclave accepted a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialAccepted {
    /// Echo of the session id.
    pub session_id: String,
    /// Key id the credential was sealed to.
    pub key_id: String,
    /// When the session ends, unix seconds: min(not_after, now + ttl).
    pub expires_at: u64,
}

/// Compute signed aggregates for a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeAggregatesRequest {
    /// Session id.
    pub session_id: String,
    /// The stored envelope (the enclave may have it cached; it re-opens it if not).
    pub sealed: SealedCredential,
    /// The metadata stored with it.
    pub metadata: CredentialMetadata,
    /// Window start, unix milliseconds, inclusive.
    pub from_ms: Option<i64>,
    /// Window end, unix milliseconds, exclusive.
    pub to_ms: Option<i64>,
    /// Symbols to include; discovered from the account when absent.
    pub symbols: Option<Vec<String>>,
}

/// Signed aggregates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatesResult {
    /// COSE_Sign1 (ES256) over the CBOR aggregate payload.
    #[serde(with = "serde_bytes")]
    pub signed: Vec<u8>,
    /// Attestation document binding the signing key.
    #[serde(with = "serde_bytes")]
    pub attestation: Vec<u8>,
}

/// Extend the transparency log by one leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendLogRequest {
    /// Leaf data: the exact COSE_Sign1 bytes of a signed aggregate.
    #[serde(with = "serde_bytes")]
    pub leaf: Vec<u8>,
    /// Current tree size.
    pub tree_size: u64,
    /// Right-edge subtree hashes (32 bytes each) of the current tree, largest first.
    pub frontier: Vec<ByteBuf>,
    /// The last signed tree head (COSE_Sign1), absent only for the empty log.
    #[serde(with = "serde_bytes")]
    pub head: Option<Vec<u8>>,
}

/// The log grew by one leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogAppended {
    /// Index of the new leaf.
    pub leaf_index: u64,
    /// New tree size.
    pub tree_size: u64,
    /// Newly signed tree head (COSE_Sign1 ES256).
    #[serde(with = "serde_bytes")]
    pub tree_head: Vec<u8>,
}

/// Forget a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgetRequest {
    /// Session id.
    pub session_id: String,
}

/// A session was forgotten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forgotten {
    /// Echo of the session id.
    pub session_id: String,
    /// Whether anything was cached for it.
    pub was_cached: bool,
}

/// Key-ring status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRingInfo {
    /// Current phase.
    pub phase: Phase,
    /// Key id new submissions should use.
    pub current_key_id: Option<String>,
    /// Every key id the ring can open, oldest first.
    pub key_ids: Vec<String>,
}
