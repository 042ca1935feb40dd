//! `cosignature/v1` (c2sp.org/tlog-cosignature, signature type 0x04):
//! timestamped Ed25519 witness cosignatures over a checkpoint, and the
//! quorum check of a witness policy (k of n distinct witnesses).
//!
//! The ML-DSA-44 `subtree/v1` type (0x06) is not implemented: its
//! signatures are unknown-key lines here and are ignored.

use ed25519_dalek::{Signature, Signer as _, SigningKey};

use super::checkpoint::Checkpoint;
use super::note::{KeyType, Note, NoteError, NoteSignature, VerifierKey, check_name, key_id};

/// The header line of the signed message (domain separation).
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1";

/// Largest timestamp allowed (2^63 - 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Bytes of a `timestamped_signature` for Ed25519: u64 time || 64-byte signature.
pub const TIMESTAMPED_SIGNATURE_LEN: usize = 8 + 64;

/// Why a cosignature was not made or a quorum not met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CosignatureError {
    /// A timestamp above [`MAX_TIMESTAMP`].
    #[error("timestamp exceeds 2^63 - 1")]
    Timestamp,
    /// A witness key is not a `cosignature/v1` (0x04) key.
    #[error("witness key is not a cosignature/v1 key")]
    NotCosignatureKey,
    /// The policy lists a witness twice, or asks for an impossible quorum.
    #[error("invalid witness policy")]
    InvalidPolicy,
    /// Fewer valid cosignatures from distinct policy witnesses than the threshold.
    #[error("{got} of the {need} required witness cosignatures")]
    QuorumNotMet {
        /// Distinct witnesses with a valid cosignature.
        got: usize,
        /// The policy threshold.
        need: usize,
    },
    /// A note-level failure (a known witness's cosignature did not verify, a name).
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// The message a `cosignature/v1` signs: `cosignature/v1\ntime <t>\n` then
/// the checkpoint text (final newline included, no signature lines).
pub fn signed_message(checkpoint_text: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_V1_HEADER}\ntime {timestamp}\n{checkpoint_text}")
}

/// Splits a `timestamped_signature` (the bytes after the key ID); `None`
/// if its length is wrong or its timestamp exceeds [`MAX_TIMESTAMP`].
pub fn split_timestamped(sig: &[u8]) -> Option<(u64, Signature)> {
    if sig.len() != TIMESTAMPED_SIGNATURE_LEN {
        return None;
    }
    let (time, sig) = sig.split_at(8);
    let time = u64::from_be_bytes(time.try_into().ok()?);
    if time > MAX_TIMESTAMP {
        return None;
    }
    Some((time, Signature::from_slice(sig).ok()?))
}

/// A witness (cosigner) key: name and Ed25519 private key. No
/// `Debug`/`Clone`; the key zeroizes on drop.
pub struct CosignatureSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for CosignatureSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CosignatureSigner")
    }
}

impl CosignatureSigner {
    /// A cosigner from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, CosignatureError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        })
    }

    /// The matching `cosignature/v1` verifier key.
    pub fn verifier_key(&self) -> Result<VerifierKey, CosignatureError> {
        Ok(VerifierKey::new(
            &self.name,
            KeyType::CosignatureV1,
            self.key.verifying_key(),
        )?)
    }

    /// Cosigns `checkpoint` as of `timestamp` (POSIX seconds, taken from the
    /// caller: no clock here) and returns the signature line.
    pub fn cosign(
        &self,
        checkpoint: &Checkpoint,
        timestamp: u64,
    ) -> Result<NoteSignature, CosignatureError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::Timestamp);
        }
        let msg = signed_message(&checkpoint.format(), timestamp);
        let mut sig = timestamp.to_be_bytes().to_vec();
        sig.extend_from_slice(&self.key.sign(msg.as_bytes()).to_bytes());
        let pk = self.key.verifying_key();
        let id = key_id(&self.name, KeyType::CosignatureV1.byte(), pk.as_bytes());
        Ok(NoteSignature::new(&self.name, id, sig)?)
    }
}

/// Which witnesses are trusted and how many must cosign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessPolicy {
    witnesses: Vec<VerifierKey>,
    threshold: usize,
}

/// A valid cosignature by a policy witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessCosignature {
    /// The witness's key name.
    pub name: String,
    /// The cosignature's timestamp (POSIX seconds). Not checked against any
    /// clock here: application policy may.
    pub timestamp: u64,
}

impl WitnessPolicy {
    /// `threshold` of `witnesses` (all `cosignature/v1` keys, pairwise
    /// distinct in name+ID and in public key), 1 <= threshold <= n.
    pub fn new(witnesses: Vec<VerifierKey>, threshold: usize) -> Result<Self, CosignatureError> {
        if witnesses.iter().any(|w| w.kind() != KeyType::CosignatureV1) {
            return Err(CosignatureError::NotCosignatureKey);
        }
        for (i, a) in witnesses.iter().enumerate() {
            let same = |b: &VerifierKey| {
                (a.name() == b.name() && a.key_id() == b.key_id())
                    || a.public_key() == b.public_key()
            };
            if witnesses[i + 1..].iter().any(same) {
                return Err(CosignatureError::InvalidPolicy);
            }
        }
        if threshold == 0 || threshold > witnesses.len() {
            return Err(CosignatureError::InvalidPolicy);
        }
        Ok(Self {
            witnesses,
            threshold,
        })
    }

    /// DANGER: a policy that needs no witness at all, so a log alone can
    /// show a forked view. For development stacks without witnesses only.
    pub fn danger_no_witnesses() -> Self {
        Self {
            witnesses: Vec::new(),
            threshold: 0,
        }
    }

    /// The trusted witnesses.
    pub fn witnesses(&self) -> &[VerifierKey] {
        &self.witnesses
    }

    /// How many distinct witnesses must cosign.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The distinct policy witnesses whose cosignature on `note` (a signed
    /// checkpoint) verifies. Lines from unknown keys are ignored; a line
    /// from a policy witness that does not verify refuses the whole note.
    pub fn cosignatures(&self, note: &Note) -> Result<Vec<WitnessCosignature>, CosignatureError> {
        let mut seen = vec![None; self.witnesses.len()];
        for sig in note.signatures() {
            let matches = |w: &VerifierKey| w.name() == sig.name() && w.key_id() == sig.key_id();
            let Some(i) = self.witnesses.iter().position(matches) else {
                continue;
            };
            let time = self.witnesses[i].verify_text(note.text(), sig.signature())?;
            let timestamp = time.ok_or(NoteError::VerificationFailed)?;
            // A witness that cosigned twice counts once (its first line).
            seen[i].get_or_insert(timestamp);
        }
        let named = self.witnesses.iter().zip(seen);
        let out = named.filter_map(|(w, t)| {
            t.map(|timestamp| WitnessCosignature {
                name: w.name().to_owned(),
                timestamp,
            })
        });
        Ok(out.collect())
    }

    /// [`Self::cosignatures`], refused unless at least `threshold` distinct
    /// witnesses cosigned.
    pub fn check_quorum(&self, note: &Note) -> Result<Vec<WitnessCosignature>, CosignatureError> {
        let got = self.cosignatures(note)?;
        if got.len() < self.threshold {
            return Err(CosignatureError::QuorumNotMet {
                got: got.len(),
                need: self.threshold,
            });
        }
        Ok(got)
    }
}

#[cfg(test)]
#[path = "cosignature_tests.rs"]
mod tests;
