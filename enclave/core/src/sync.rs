//! Attested key sync between two enclaves running the identical image: the
//! HOLDER (has the ring) hands it to the REQUESTER (booting, no ring), sealed
//! to an ephemeral HPKE key the requester's attestation document binds.
//! Pure: no sockets, no clock of its own; the NSM, the trust root, the own
//! PCRs and the time are arguments. The host only relays the four messages.
//!
//! ```text
//! holder   issue_challenge             -> nonce_H (32 random bytes; single use, 60 s)
//! requester request(nonce_H)            -> doc_R = attest(public_key = eph_pub (65 bytes SEC1),
//!                                                         user_data = USER_DATA_PREFIX || nonce_R,
//!                                                         nonce     = nonce_H)
//! holder   export(doc_R, ring_secret)  -> SyncExported { doc_H, enc, ciphertext }
//!     doc_R verified under `root`, PCR0/1/2 byte-equal the holder's own, at most
//!     5 min old; its nonce must be a pending unexpired challenge (consumed as
//!     soon as it matched, even when a later check fails);
//!     (enc, ciphertext) = HPKE base seal to eph_pub, info = HPKE_INFO,
//!                         aad = SHA-256(doc_R), plaintext = ring_secret;
//!     doc_H = attest(public_key = none, user_data = SHA-256(enc || ciphertext),
//!                    nonce = nonce_R)
//! requester import(exported)            -> ring_secret
//!     the one pending request is consumed first (a replayed answer finds
//!     none, or another nonce); doc_H verified under `root`, PCR0/1/2 equal
//!     own, at most 5 min old, nonce == nonce_R, no public_key, user_data ==
//!     SHA-256(enc || ciphertext); then HPKE open with the ephemeral key.
//! ```
//!
//! API:
//! - [`SyncHolder::new`], [`SyncHolder::issue_challenge`]`(&self, nsm, now_ms)`,
//!   [`SyncHolder::export`]`(&self, nsm, root, own_pcrs, requester_doc, ring_secret, now)`.
//! - [`SyncRequester::new`], [`SyncRequester::request`]`(&self, nsm, challenge)`,
//!   [`SyncRequester::import`]`(&self, root, own_pcrs, exported, now)`.
//! - [`own_pcrs`]`(nsm)` reads PCR0..2 for the `own_pcrs` arguments.
//! - [`SyncError::code`]: the one mapping to the wire.
//!
//! Debug-mode enclaves (PCR0/1/2 all zero) are refused on both sides
//! (the verifier's default policy): a debug enclave never receives a ring.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hpke::Deserializable;
use hpke::kem::Kem as KemTrait;
use sha2::{Digest, Sha256};
use strongroom_protocol::ErrorCode;
use strongroom_protocol::messages::SyncExported;
use strongroom_verifier::{PcrSet, Policy, TrustRoot, VerifiedDocument, VerifyError};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::nsm::{Nsm, NsmError, PCR_LEN};
use crate::ring::{
    HpkeKeyPair, Kem, KeyRingError, P256_SECRET_LEN, SEC1_UNCOMPRESSED_LEN, hpke_open, hpke_seal,
};

/// `user_data` of a requester document is this prefix followed by the
/// requester's 32-byte nonce.
pub const USER_DATA_PREFIX: &[u8] = b"strongroom-keysync-v1";
/// HPKE `info` of the sealed ring.
pub const HPKE_INFO: &[u8] = b"strongroom keysync v1";
/// Length of every nonce (the holder's challenge, the requester's nonce).
pub const NONCE_LEN: usize = 32;
/// How long a holder's challenge may be answered.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(60);
/// Most challenges a holder keeps pending at once; more are refused (busy)
/// rather than evicting a legitimate requester's challenge.
pub const MAX_PENDING_CHALLENGES: usize = 64;
/// Maximum age of either side's attestation document.
pub const MAX_DOCUMENT_AGE: Duration = Duration::from_secs(5 * 60);
/// Largest attestation document accepted (the verifier's own limit).
pub(crate) const MAX_DOCUMENT_LEN: usize = strongroom_verifier::MAX_DOCUMENT_LEN;
/// Length of `enc`: an uncompressed SEC1 P-256 point.
pub const ENC_LEN: usize = SEC1_UNCOMPRESSED_LEN;
/// AES-256-GCM tag length (`ciphertext` carries `ct || tag`).
pub const TAG_LEN: usize = 16;
/// Largest `ciphertext` (`ct || tag`) accepted or produced.
pub const MAX_CIPHERTEXT_LEN: usize = 64 * 1024;
/// Largest ring secret that can be exported.
pub const MAX_SECRET_LEN: usize = MAX_CIPHERTEXT_LEN - TAG_LEN;

/// Why a sync step failed. Messages never carry key material; details beyond
/// the wire code stay in the enclave log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// [`MAX_PENDING_CHALLENGES`] challenges are pending; retry later.
    #[error("too many pending sync challenges")]
    Busy,
    /// The challenge handed to the requester is not [`NONCE_LEN`] bytes.
    #[error("the sync challenge is not {NONCE_LEN} bytes")]
    BadChallenge,
    /// The peer's document did not verify (signature, chain, root, PCRs,
    /// nonce, age).
    #[error("peer attestation refused: {0}")]
    Attestation(VerifyError),
    /// The requester document answers no pending challenge of ours
    /// (never issued, already used, or evicted).
    #[error("the document answers no pending challenge")]
    UnknownChallenge,
    /// The requester document answers a challenge older than [`CHALLENGE_TTL`].
    #[error("the challenge has expired")]
    ChallengeExpired,
    /// The requester document's `user_data` is not prefix || 32-byte nonce.
    #[error("the requester document's user_data is not a key-sync request")]
    BadUserData,
    /// The requester document binds no valid 65-byte P-256 public key.
    #[error("the requester document binds no valid P-256 public key")]
    BadPublicKey,
    /// No request is pending (none made, or already used by an import).
    #[error("no key-sync request is pending")]
    NoPendingRequest,
    /// `enc`/`ciphertext` have the wrong size, or the holder document does not
    /// bind exactly this `enc || ciphertext`.
    #[error("the export answer is malformed or not bound to its document")]
    BadAnswer,
    /// The sealed ring did not open (opaque on purpose).
    #[error("the sealed ring could not be opened")]
    OpenFailed,
    /// The NSM failed (randomness or attestation).
    #[error("NSM failure: {0}")]
    Nsm(#[from] NsmError),
    /// A local invariant failed (own PCRs malformed, ring too large, HPKE
    /// seal error).
    #[error("internal key-sync failure: {0}")]
    Internal(&'static str),
}

impl SyncError {
    /// The one mapping to the wire: every refusal is `sync_refused`; a full
    /// challenge table is `busy`; NSM and local failures are `internal`.
    pub fn code(&self) -> ErrorCode {
        match self {
            SyncError::Busy => ErrorCode::Busy,
            SyncError::Nsm(_) | SyncError::Internal(_) => ErrorCode::Internal,
            SyncError::BadChallenge
            | SyncError::Attestation(_)
            | SyncError::UnknownChallenge
            | SyncError::ChallengeExpired
            | SyncError::BadUserData
            | SyncError::BadPublicKey
            | SyncError::NoPendingRequest
            | SyncError::BadAnswer
            | SyncError::OpenFailed => ErrorCode::SyncRefused,
        }
    }
}

/// Reads PCR0, PCR1 and PCR2 from the NSM, for the `own_pcrs` arguments.
pub fn own_pcrs(nsm: &dyn Nsm) -> Result<[Vec<u8>; 3], SyncError> {
    Ok([
        nsm.describe_pcr(0)?,
        nsm.describe_pcr(1)?,
        nsm.describe_pcr(2)?,
    ])
}

/// Locks, recovering from poisoning: the guarded data are plain tables whose
/// every mutation is a single push/remove/replace, so they are never torn.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_ms(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn random_nonce(nsm: &dyn Nsm) -> Result<[u8; NONCE_LEN], SyncError> {
    let bytes = nsm.random(NONCE_LEN)?;
    <[u8; NONCE_LEN]>::try_from(&bytes[..]).map_err(|_| SyncError::Internal("short randomness"))
}

/// Verifies a peer document: `root`, PCR0/1/2 equal to `own_pcrs`, at most
/// [`MAX_DOCUMENT_AGE`] old at `now`, and `nonce` if given.
fn verify_peer(
    document: &[u8],
    root: &TrustRoot,
    own_pcrs: &[Vec<u8>; 3],
    nonce: Option<&[u8; NONCE_LEN]>,
    now: SystemTime,
) -> Result<VerifiedDocument, SyncError> {
    if own_pcrs.iter().any(|pcr| pcr.len() != PCR_LEN) {
        return Err(SyncError::Internal("own PCRs are not SHA-384 values"));
    }
    if document.len() > MAX_DOCUMENT_LEN {
        return Err(SyncError::Attestation(VerifyError::DocumentTooLarge {
            len: document.len(),
            max: MAX_DOCUMENT_LEN,
        }));
    }
    let pcrs: BTreeMap<u8, Vec<u8>> = (0u8..).zip(own_pcrs.iter().cloned()).collect();
    let mut policy = Policy::default()
        .allow_pcrs(PcrSet {
            source: "own PCR0-2".to_owned(),
            pcrs,
        })
        .with_max_age(MAX_DOCUMENT_AGE);
    if let Some(nonce) = nonce {
        policy = policy.with_nonce(nonce.to_vec());
    }
    strongroom_verifier::verify(document, root, now, &policy).map_err(SyncError::Attestation)
}

/// A pending challenge of the holder.
struct Challenge {
    nonce: [u8; NONCE_LEN],
    expires_ms: u64,
}

/// The holder's side: pending challenges and the export.
pub struct SyncHolder {
    challenges: Mutex<Vec<Challenge>>,
}

impl fmt::Debug for SyncHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncHolder")
            .field("pending_challenges", &lock(&self.challenges).len())
            .finish()
    }
}

impl Default for SyncHolder {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncHolder {
    /// A holder with no pending challenge.
    pub fn new() -> Self {
        Self {
            challenges: Mutex::new(Vec::new()),
        }
    }

    /// Issues a fresh 32-byte challenge, valid once for [`CHALLENGE_TTL`]
    /// from `now_ms` (unix milliseconds). Expired challenges are dropped
    /// first; with [`MAX_PENDING_CHALLENGES`] still pending, refuses (`Busy`).
    pub fn issue_challenge(&self, nsm: &dyn Nsm, now_ms: u64) -> Result<[u8; 32], SyncError> {
        let mut challenges = lock(&self.challenges);
        challenges.retain(|c| c.expires_ms > now_ms);
        if challenges.len() >= MAX_PENDING_CHALLENGES {
            return Err(SyncError::Busy);
        }
        let nonce = random_nonce(nsm)?;
        let ttl_ms = u64::try_from(CHALLENGE_TTL.as_millis()).unwrap_or(u64::MAX);
        challenges.push(Challenge {
            nonce,
            expires_ms: now_ms.saturating_add(ttl_ms),
        });
        Ok(nonce)
    }

    /// Number of challenges currently held (expired ones included until the
    /// next issue or export drops them).
    pub fn pending_challenges(&self) -> usize {
        lock(&self.challenges).len()
    }

    /// Removes the challenge `nonce` if pending; errors if absent or expired.
    fn consume(&self, nonce: &[u8], now_ms: u64) -> Result<(), SyncError> {
        let mut challenges = lock(&self.challenges);
        let found = challenges
            .iter()
            .position(|c| bool::from(c.nonce[..].ct_eq(nonce)))
            .map(|i| challenges.swap_remove(i));
        challenges.retain(|c| c.expires_ms > now_ms);
        match found {
            None => Err(SyncError::UnknownChallenge),
            Some(c) if c.expires_ms <= now_ms => Err(SyncError::ChallengeExpired),
            Some(_) => Ok(()),
        }
    }

    /// Checks the requester's document (see the module doc) and answers
    /// `ring_secret` sealed to its attested ephemeral key, with the holder's
    /// own attestation binding the answer to the requester's nonce.
    pub fn export(
        &self,
        nsm: &dyn Nsm,
        root: &TrustRoot,
        own_pcrs: &[Vec<u8>; 3],
        requester_doc: &[u8],
        ring_secret: &[u8],
        now: SystemTime,
    ) -> Result<SyncExported, SyncError> {
        if ring_secret.len() > MAX_SECRET_LEN {
            return Err(SyncError::Internal("ring secret too large to export"));
        }
        let doc = verify_peer(requester_doc, root, own_pcrs, None, now)?;
        let nonce = doc.nonce.as_deref().ok_or(SyncError::UnknownChallenge)?;
        // From here on the challenge is spent, whatever else fails.
        self.consume(nonce, unix_ms(now))?;
        let requester_nonce = requester_nonce(doc.user_data.as_deref())?;
        let public_key = doc
            .public_key
            .as_deref()
            .filter(|k| k.len() == SEC1_UNCOMPRESSED_LEN)
            .and_then(|k| <Kem as KemTrait>::PublicKey::from_bytes(k).ok())
            .ok_or(SyncError::BadPublicKey)?;
        let aad = Sha256::digest(requester_doc);
        let (enc, ciphertext) = seal(nsm, &public_key, &aad, ring_secret)?;
        let binding = answer_binding(&enc, &ciphertext);
        let document = nsm.attest(None, Some(&binding), Some(&requester_nonce))?;
        Ok(SyncExported {
            document,
            enc,
            ciphertext,
        })
    }
}

/// The requester nonce inside a requester document's `user_data`.
fn requester_nonce(user_data: Option<&[u8]>) -> Result<[u8; NONCE_LEN], SyncError> {
    user_data
        .and_then(|u| u.strip_prefix(USER_DATA_PREFIX))
        .and_then(|n| <[u8; NONCE_LEN]>::try_from(n).ok())
        .ok_or(SyncError::BadUserData)
}

/// `user_data` of the holder's document: SHA-256(enc || ciphertext).
fn answer_binding(enc: &[u8], ciphertext: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(enc);
    hash.update(ciphertext);
    hash.finalize().into()
}

/// HPKE base-mode seal with NSM-seeded randomness; returns (enc, ct || tag).
fn seal(
    nsm: &dyn Nsm,
    public_key: &<Kem as KemTrait>::PublicKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), SyncError> {
    hpke_seal(public_key, HPKE_INFO, aad, plaintext, nsm).map_err(|e| match e {
        KeyRingError::Random(e) => SyncError::Nsm(e),
        _ => SyncError::Internal("HPKE seal failed"),
    })
}

/// HPKE base-mode open of `ct || tag` (the ring's one open); every
/// failure is `OpenFailed`.
fn open(
    pair: &HpkeKeyPair,
    enc: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SyncError> {
    hpke_open(pair, enc, HPKE_INFO, aad, ciphertext).ok_or(SyncError::OpenFailed)
}

/// The requester's one outstanding request. Secret: the ephemeral key
/// (zeroized on drop by [`HpkeKeyPair`]).
struct PendingRequest {
    key: HpkeKeyPair,
    nonce: [u8; NONCE_LEN],
    document_hash: [u8; 32],
}

/// The requester's side: at most one pending request (a new request
/// replaces the old one, whose answer then no longer imports).
pub struct SyncRequester {
    pending: Mutex<Option<PendingRequest>>,
}

impl fmt::Debug for SyncRequester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncRequester")
            .field("pending", &lock(&self.pending).is_some())
            .finish()
    }
}

impl Default for SyncRequester {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncRequester {
    /// A requester with no pending request.
    pub fn new() -> Self {
        Self {
            pending: Mutex::new(None),
        }
    }

    /// True while a request awaits its answer.
    pub fn has_pending(&self) -> bool {
        lock(&self.pending).is_some()
    }

    /// Answers the holder's `challenge` with an attestation document binding
    /// a fresh ephemeral HPKE key and a fresh requester nonce; keeps them
    /// pending (replacing any earlier request).
    pub fn request(&self, nsm: &dyn Nsm, challenge: &[u8]) -> Result<Vec<u8>, SyncError> {
        if challenge.len() != NONCE_LEN {
            return Err(SyncError::BadChallenge);
        }
        let ikm = nsm.random(P256_SECRET_LEN)?;
        let key = HpkeKeyPair::derive(0, &ikm);
        drop(ikm);
        let nonce = random_nonce(nsm)?;
        let mut user_data = Vec::with_capacity(USER_DATA_PREFIX.len() + NONCE_LEN);
        user_data.extend_from_slice(USER_DATA_PREFIX);
        user_data.extend_from_slice(&nonce);
        let document = nsm.attest(Some(key.public_sec1()), Some(&user_data), Some(challenge))?;
        *lock(&self.pending) = Some(PendingRequest {
            key,
            nonce,
            document_hash: Sha256::digest(&document).into(),
        });
        Ok(document)
    }

    /// Consumes the pending request, checks the holder's answer (see the
    /// module doc) and returns the ring secret.
    pub fn import(
        &self,
        root: &TrustRoot,
        own_pcrs: &[Vec<u8>; 3],
        exported: &SyncExported,
        now: SystemTime,
    ) -> Result<Zeroizing<Vec<u8>>, SyncError> {
        let pending = lock(&self.pending)
            .take()
            .ok_or(SyncError::NoPendingRequest)?;
        if exported.enc.len() != ENC_LEN
            || exported.ciphertext.len() < TAG_LEN
            || exported.ciphertext.len() > MAX_CIPHERTEXT_LEN
        {
            return Err(SyncError::BadAnswer);
        }
        let doc = verify_peer(
            &exported.document,
            root,
            own_pcrs,
            Some(&pending.nonce),
            now,
        )?;
        let binding = answer_binding(&exported.enc, &exported.ciphertext);
        let bound = doc
            .user_data
            .as_deref()
            .is_some_and(|u| bool::from(u.ct_eq(&binding[..])));
        if !bound || doc.public_key.is_some() {
            return Err(SyncError::BadAnswer);
        }
        open(
            &pending.key,
            &exported.enc,
            &pending.document_hash,
            &exported.ciphertext,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_maps_to_sync_refused() {
        for e in [
            SyncError::BadChallenge,
            SyncError::Attestation(VerifyError::PcrsNotAllowed),
            SyncError::UnknownChallenge,
            SyncError::ChallengeExpired,
            SyncError::BadUserData,
            SyncError::BadPublicKey,
            SyncError::NoPendingRequest,
            SyncError::BadAnswer,
            SyncError::OpenFailed,
        ] {
            assert_eq!(e.code(), ErrorCode::SyncRefused, "{e}");
        }
        assert_eq!(SyncError::Busy.code(), ErrorCode::Busy);
        assert_eq!(
            SyncError::Nsm(NsmError::Unavailable).code(),
            ErrorCode::Internal
        );
        assert_eq!(SyncError::Internal("x").code(), ErrorCode::Internal);
    }

    #[test]
    fn requester_nonce_is_exact() {
        let mut ok = USER_DATA_PREFIX.to_vec();
        ok.extend_from_slice(&[7u8; NONCE_LEN]);
        assert_eq!(requester_nonce(Some(&ok)), Ok([7u8; NONCE_LEN]));
        let mut long = ok.clone();
        long.push(0);
        assert_eq!(requester_nonce(Some(&long)), Err(SyncError::BadUserData));
        assert_eq!(
            requester_nonce(Some(&ok[..ok.len() - 1])),
            Err(SyncError::BadUserData)
        );
        let mut other = ok.clone();
        other[0] ^= 1;
        assert_eq!(requester_nonce(Some(&other)), Err(SyncError::BadUserData));
        assert_eq!(requester_nonce(None), Err(SyncError::BadUserData));
    }
}
