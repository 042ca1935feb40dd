//! Every message that crosses the host <-> enclave boundary, field by field as in
//! `SPEC.md`. Each struct refuses unknown fields; binary fields are CBOR byte strings.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::error::RpcError;

/// The protocol version this build speaks. Version 2 (issue 7) added the
/// key-ring operations (sealing, peer sync, rotation), `resealed` in
/// [`CredentialAccepted`] and the ring fields of [`KeyRingInfo`]; version 1
/// peers are refused at the handshake (host and enclave ship together).
/// Version 3 added C2SP checkpoints (log v2): `checkpoint` in
/// [`AppendLogRequest`], `checkpoint` and `witness_quorum` in
/// [`LogAppended`], `log_vkey` in [`AttestationInfo`]; and (issue 15.5) the
/// code `exchange_budget`, [`crate::RpcError::retry_after`] and the
/// optional `tenant` of credential and compute requests; and `cancel`.
/// Version 4 (credential v2) added `owner_authorization` and `previous` in
/// [`ComputeAggregatesRequest`], [`RequestBody::RevokeCredential`] and its
/// answer [`CredentialRevoked`], and the policy and owner error codes.
/// Version 5 (issue 18: a complete, incremental track record) added
/// `check_key` in [`OpenCredentialRequest`] and `account` in
/// [`CredentialAccepted`]; `history` and `job` in
/// [`ComputeAggregatesRequest`], `history` in [`AggregatesResult`], and the
/// answer [`ResponseBody::Pending`]; and the largest frame grew from 1 MiB
/// to 64 MiB (an account's sealed history travels in one request).
pub const PROTOCOL_VERSION: u32 = 5;

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
    /// Protocol 3: abandon the request `id` of this connection (its caller
    /// timed out or went away): the server drops its work and never answers
    /// it. Served by the RPC server itself, never by the enclave's handler.
    Cancel(CancelRequest),
    /// Which key versions the ring holds.
    KeyRingStatus,
    /// First boot: generate a key ring (and its data key, through KMS when
    /// `kms` is given) and answer it sealed for storage.
    NewKeyRing(NewKeyRingRequest),
    /// Restart: unwrap the stored ring's data key through KMS (Recipient =
    /// this enclave's attestation) and open the ring.
    UnsealKeyRing(UnsealKeyRingRequest),
    /// A newer version of the ring this enclave holds (another instance
    /// rotated): open it with the data key already in memory.
    ReloadKeyRing(SealedKeyRing),
    /// Peer sync, holder side, step 1: issue a single-use challenge.
    SyncChallenge,
    /// Peer sync, requester side, step 2: an attestation document answering
    /// the holder's challenge and binding a fresh ephemeral HPKE key.
    SyncRequest(SyncRequestRequest),
    /// Peer sync, holder side, step 3: check the requester's document and
    /// answer the ring HPKE-sealed to its ephemeral key.
    SyncExport(SyncExportRequest),
    /// Peer sync, requester side, step 4: check the holder's document, open
    /// and install the ring.
    SyncImport(SyncImportRequest),
    /// Rotation: add a key version and make it current.
    AddKeyVersion,
    /// Rotation: re-seal stored credentials to the current key version.
    ResealCredentials(ResealRequest),
    /// Rotation: drop key versions nothing uses any more.
    RetireKeyVersions(RetireRequest),
    /// Protocol 4: an owner-signed revoke. The enclave checks the owner's
    /// signature against the key sealed in the credential, adds the
    /// credential to the ring's revoked set, and answers the revocation
    /// entry to log and the ring to store.
    RevokeCredential(RevokeCredentialRequest),
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
    /// Answer to [`RequestBody::Cancel`].
    Cancelled(Cancelled),
    /// Answer to [`RequestBody::KeyRingStatus`], [`RequestBody::UnsealKeyRing`],
    /// [`RequestBody::ReloadKeyRing`] and [`RequestBody::SyncImport`].
    KeyRingStatus(KeyRingInfo),
    /// Answer to [`RequestBody::NewKeyRing`], [`RequestBody::AddKeyVersion`]
    /// and [`RequestBody::RetireKeyVersions`]: the ring to store.
    KeyRingSealed(SealedKeyRing),
    /// Answer to [`RequestBody::SyncChallenge`].
    SyncChallenge(SyncChallengeInfo),
    /// Answer to [`RequestBody::SyncRequest`].
    SyncRequestDocument(SyncRequestDocument),
    /// Answer to [`RequestBody::SyncExport`].
    SyncExported(SyncExported),
    /// Answer to [`RequestBody::ResealCredentials`].
    Resealed(ResealResult),
    /// Answer to [`RequestBody::RevokeCredential`].
    CredentialRevoked(CredentialRevoked),
    /// Protocol 5: answer to [`RequestBody::ComputeAggregates`] when the
    /// computation needs more exchange weight than this minute has left:
    /// what was fetched so far (sealed, to store) and the progress. The host
    /// asks again, with the same `job` and the stored history, after
    /// `retry_after_s`; nothing fetched is fetched twice.
    Pending(ComputePending),
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
    /// Protocol 3: the log's note verifier key (`origin+keyid+base64`,
    /// Ed25519); the document's `user_data` binds its 32-byte key as `note`.
    pub log_vkey: String,
}

/// An HPKE-sealed credential exactly as the client produced it: the one
/// contract type of `strongroom-formats` (its RPC form is unchanged).
pub use strongroom_formats::credential::SealedCredential;

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
    /// The tenant the session belongs to, as an opaque id (version 3): the
    /// enclave's session cache gives each tenant a fair share of its
    /// capacity. Absent on the wire when `None` (one shared pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Session id the host assigned (UUID text).
    pub session_id: String,
    /// The envelope.
    pub sealed: SealedCredential,
    /// The forwarded metadata.
    pub metadata: CredentialMetadata,
    /// Protocol 5: ask the exchange now, over the enclave's own TLS, whether
    /// the key is read-only (refused with `key_not_read_only` if it can do
    /// more) and which account it belongs to. Absent on the wire when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub check_key: bool,
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
    /// Present when the credential was sealed to an older key version: the
    /// same credential re-sealed (inside the enclave) to the current one.
    /// The host stores this instead of what the client sent.
    pub resealed: Option<SealedCredential>,
    /// Protocol 5: with `check_key`, the account pseudonym (hex, as signed
    /// into results) of the exchange account the key belongs to, so the host
    /// can hand that account's sealed history to the first computation.
    /// Absent on the wire when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// Compute signed aggregates for a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeAggregatesRequest {
    /// The tenant the session belongs to, as an opaque id (version 3): the
    /// enclave's session cache gives each tenant a fair share of its
    /// capacity. Absent on the wire when `None` (one shared pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
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
    /// Protocol 4: the owner's COSE_Sign1 authorizing exactly this request
    /// when the credential's policy does not allow it by itself. Absent on
    /// the wire when `None`.
    #[serde(default, with = "serde_bytes", skip_serializing_if = "Option::is_none")]
    pub owner_authorization: Option<Vec<u8>>,
    /// Protocol 4: the newest logged result of each account this result
    /// may be about (at most [`MAX_PREVIOUS`]); the enclave signs, as
    /// `previous`, the leaf hash given for the account it computes, or null.
    /// The host cannot make a chain skip a result unseen: monitors check
    /// that `previous` is the account's preceding leaf in the log. Absent on
    /// the wire when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous: Vec<PreviousLeaf>,
    /// Protocol 5: the sealed history segments the host stores for the
    /// account this credential belongs to (opaque to the host; see
    /// [`SealedHistory`]). The enclave opens those of the account it
    /// computes, fetches only trades after their cursors, and ignores the
    /// rest. Absent on the wire when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<SealedHistory>,
    /// Protocol 5: the host's id of the job this computation belongs to
    /// (at most [`MAX_JOB_ID_LEN`] bytes). Between a [`ResponseBody::Pending`]
    /// and the next attempt, the enclave remembers in memory which symbols
    /// the job has already brought up to date. Absent on the wire when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// Longest job id.
pub const MAX_JOB_ID_LEN: usize = 64;

/// Protocol 5: one sealed segment of an account's trade history, as the
/// enclave hands it out and the host stores it (ciphertext only; the
/// format of `sealed` is the enclave's, SPEC §3.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedHistory {
    /// The account pseudonym (hex) the segment belongs to; also bound
    /// inside the AEAD, so a segment filed under another account is refused.
    pub account: String,
    /// The AEAD-sealed segment.
    #[serde(with = "serde_bytes")]
    pub sealed: Vec<u8>,
}

/// Protocol 5: a computation interrupted by the exchange's weight budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputePending {
    /// The account pseudonym (hex) being computed.
    pub account: String,
    /// New sealed history segments (the trades fetched so far), to store.
    pub history: Vec<SealedHistory>,
    /// Symbols brought up to date so far.
    pub symbols_done: u32,
    /// Symbols the computation covers.
    pub symbols_total: u32,
    /// Exchange request weight this job has used so far.
    pub weight_used: u64,
    /// Seconds until the exchange's weight budget allows more, 1 to 60.
    pub retry_after_s: u32,
}

/// Most `previous` candidates one request carries.
pub const MAX_PREVIOUS: usize = 64;

/// An account's newest logged result, by its RFC 9162 leaf hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousLeaf {
    /// The account pseudonym (hex).
    pub account: String,
    /// RFC 9162 leaf hash of that result's COSE_Sign1 bytes, 32 bytes.
    #[serde(with = "serde_bytes")]
    pub leaf_hash: Vec<u8>,
}

/// Protocol 4: revoke a credential on its owner's word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeCredentialRequest {
    /// The stored envelope (the enclave opens it for the owner key).
    pub sealed: SealedCredential,
    /// The metadata stored with it.
    pub metadata: CredentialMetadata,
    /// The owner's COSE_Sign1 over `{"action": "revoke", "credential", "time"}`.
    #[serde(with = "serde_bytes")]
    pub authorization: Vec<u8>,
}

/// The enclave revoked a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRevoked {
    /// Hex credential id.
    pub credential: String,
    /// The revocation entry (COSE_Sign1 by the result-signing key over
    /// `{"type": "revocation", "credential", "time"}`), to append to the log.
    #[serde(with = "serde_bytes")]
    pub entry: Vec<u8>,
    /// The ring with the credential in its revoked set, to store (and to
    /// reload on the other instances). Absent when it was already revoked.
    pub ring: Option<SealedKeyRing>,
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
    /// Protocol 5: new sealed history segments of the computed account, to
    /// store for its next computation. Absent on the wire when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<SealedHistory>,
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
    /// Protocol 3: the C2SP checkpoint of this state (signed note text:
    /// the log's signature and the witnesses' cosignatures). Required for a
    /// non-empty log when the enclave's witness quorum is above 0.
    #[serde(default)]
    pub checkpoint: Option<String>,
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
    /// Protocol 3: the new C2SP checkpoint, signed by the log's note key
    /// only; the host collects witness cosignatures for it.
    pub checkpoint: String,
    /// Protocol 3: how many witness cosignatures the enclave needs on a
    /// checkpoint before it extends the log from it (0: no witnesses).
    pub witness_quorum: u32,
}

/// Abandon a request of this connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// The abandoned request's id.
    pub id: u64,
}

/// A cancel was applied: `running` says whether the request was still in
/// flight (its work was dropped) or had already ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cancelled {
    /// The abandoned request's id.
    pub id: u64,
    /// Whether it was still running.
    pub running: bool,
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
    /// Identity of the ring (16 bytes; the same on every instance sharing it).
    #[serde(with = "serde_bytes")]
    pub ring_id: Option<Vec<u8>>,
    /// Version of the ring held (grows with every add or retire).
    pub ring_version: Option<u64>,
}

/// AWS KMS access the host passes in: where KMS is, which key, and the
/// instance role's credentials (SigV4 signing happens in the enclave; the
/// request travels through the egress proxy inside TLS).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsAccess {
    /// SigV4 region, e.g. `eu-central-1`.
    pub region: String,
    /// `host` or `host:port` of the KMS endpoint; must be on the enclave's
    /// allowlist (`kms.<region>.amazonaws.com`, or the dev double).
    pub endpoint: String,
    /// KMS key id or ARN.
    pub key_id: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for KmsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsAccess")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The key ring as the host stores it: AES-256-GCM under the ring's data key,
/// which is itself stored only wrapped by KMS (`kms_blob`) or not at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedKeyRing {
    /// Ring identity, 16 bytes.
    #[serde(with = "serde_bytes")]
    pub ring_id: Vec<u8>,
    /// Version, starting at 1; authenticated with the ciphertext.
    pub ring_version: u64,
    /// The data key encrypted under the KMS key (`CiphertextBlob`); null
    /// without KMS (the ring then survives only through peers).
    #[serde(with = "serde_bytes")]
    pub kms_blob: Option<Vec<u8>>,
    /// AES-GCM nonce, 12 bytes.
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    /// AES-256-GCM output (ciphertext and tag) of the ring's secrets.
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
    /// Public description, for operators (also inside the ciphertext).
    pub key_ids: Vec<String>,
    /// The current key id.
    pub current_key_id: String,
    /// Result-signing public key, 65-byte SEC1.
    #[serde(with = "serde_bytes")]
    pub signing_public_key: Vec<u8>,
}

/// Generate a new ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRingRequest {
    /// KMS to wrap the data key with; null: no KMS (dev, or peers only).
    pub kms: Option<KmsAccess>,
}

/// Open a stored ring through KMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsealKeyRingRequest {
    /// The stored ring (its `kms_blob` must be present).
    pub sealed: SealedKeyRing,
    /// KMS access.
    pub kms: KmsAccess,
}

/// Single-use challenge from the ring holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncChallengeInfo {
    /// 32 random bytes; valid once, for a short time.
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
}

/// Ask the requester enclave for its sync document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequestRequest {
    /// The holder's challenge.
    #[serde(with = "serde_bytes")]
    pub challenge: Vec<u8>,
}

/// The requester's attestation: `nonce` = the holder's challenge,
/// `public_key` = ephemeral HPKE key, `user_data` = the requester's own
/// challenge (see SPEC.md, key sync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequestDocument {
    /// Attestation document.
    #[serde(with = "serde_bytes")]
    pub document: Vec<u8>,
}

/// Hand the requester's document to the holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncExportRequest {
    /// The requester's [`SyncRequestDocument::document`].
    #[serde(with = "serde_bytes")]
    pub document: Vec<u8>,
}

/// The ring, sealed to the requester's attested ephemeral key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncExported {
    /// The holder's attestation: `nonce` = the requester's challenge,
    /// `user_data` = SHA-256(enc || ciphertext).
    #[serde(with = "serde_bytes")]
    pub document: Vec<u8>,
    /// HPKE encapsulated key, 65 bytes.
    #[serde(with = "serde_bytes")]
    pub enc: Vec<u8>,
    /// HPKE ciphertext of the ring.
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

/// Hand the holder's answer to the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncImportRequest {
    /// The holder's answer, unchanged.
    pub exported: SyncExported,
}

/// One stored credential to re-seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResealItem {
    /// Session id.
    pub session_id: String,
    /// The stored envelope.
    pub sealed: SealedCredential,
    /// The stored metadata (checked as at intake; `ttl_seconds` is not).
    pub metadata: CredentialMetadata,
}

/// Re-seal a batch (at most [`MAX_RESEAL_BATCH`] items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResealRequest {
    /// The batch.
    pub items: Vec<ResealItem>,
}

/// Largest re-seal batch.
pub const MAX_RESEAL_BATCH: usize = 256;

/// The outcome for one item, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResealOutcome {
    /// Session id.
    pub session_id: String,
    /// The envelope under the current key; null when `error` is set.
    pub sealed: Option<SealedCredential>,
    /// Why this item could not be re-sealed (e.g. `unknown_key_id`).
    pub error: Option<RpcError>,
}

/// Answer to a re-seal batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResealResult {
    /// One outcome per item.
    pub items: Vec<ResealOutcome>,
}

/// Drop key versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetireRequest {
    /// Key ids to drop; the current one is refused.
    pub key_ids: Vec<String>,
}
