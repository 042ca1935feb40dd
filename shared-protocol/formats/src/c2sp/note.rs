//! C2SP signed notes (`c2sp.org/signed-note`): parse, format, sign with
//! Ed25519 (signature type 0x01), and verify against a set of verifier keys.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one or more
//! lines `— <key name> base64(key ID || signature)`. The text is separated
//! from the signatures by the *last* blank line, so the text itself may
//! contain blank lines and [`Note::format`] always parses back to the same
//! note.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::cosignature;

/// Largest note accepted, in bytes. The spec asks verifiers to accept at
/// least 16 signatures and warns that post-quantum ones reach nearly 5 kB
/// (an ML-DSA-44 cosignature line is about 3.3 kB): 16 of those plus a
/// checkpoint body fit with room to spare.
pub const MAX_NOTE_LEN: usize = 64 * 1024;

/// Most signature lines accepted in one note (the spec's floor is 16).
pub const MAX_SIGNATURES: usize = 32;

/// Longest key name, in bytes: the ML-DSA-44 cosignature message stores the
/// cosigner name in a one-byte length, so no interoperable name is longer.
pub const MAX_KEY_NAME_LEN: usize = 255;

/// Signature type byte of plain Ed25519 note signatures.
pub const SIG_TYPE_ED25519: u8 = 0x01;

/// Signature type byte of `cosignature/v1` (timestamped Ed25519).
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;

const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note, a verifier key or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is longer than [`MAX_NOTE_LEN`].
    #[error("note is longer than {MAX_NOTE_LEN} bytes")]
    TooLong,
    /// The note breaks the format: not UTF-8, a control character, no blank
    /// line before the signatures, a bad signature line, a trailing blank line.
    #[error("malformed note")]
    Malformed,
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// A key name is empty, too long, or holds a space or a `+`.
    #[error("invalid key name")]
    InvalidName,
    /// A verifier key string is malformed, its key ID does not match its
    /// name and key, or its signature type is not supported here.
    #[error("invalid verifier key")]
    InvalidVerifierKey,
    /// A signature by a known key did not verify, or no known key signed.
    /// One variant on purpose: callers learn nothing about why.
    #[error("note signature verification failed")]
    VerificationFailed,
}

/// One signature line: key name, key ID, and the signature bytes after the
/// 4-byte key ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature line; the name is checked as the spec says.
    pub fn new(name: &str, key_id: u32, signature: Vec<u8>) -> Result<Self, NoteError> {
        check_name(name)?;
        if signature.is_empty() {
            return Err(NoteError::Malformed);
        }
        Ok(Self {
            name: name.to_owned(),
            key_id,
            signature,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-bit key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes (without the key ID).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Parses one signature line (without its newline), as a note's
    /// signature block or a witness's `add-checkpoint` answer carries it.
    pub fn parse_line(line: &str) -> Result<Self, NoteError> {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed)?;
        let (name, b64) = rest.split_once(' ').ok_or(NoteError::Malformed)?;
        let raw = B64.decode(b64).map_err(|_| NoteError::Malformed)?;
        if raw.len() < 5 {
            return Err(NoteError::Malformed);
        }
        let (id, sig) = raw.split_at(4);
        let key_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
        Self::new(name, key_id, sig.to_vec())
    }

    /// The signature line, newline included.
    pub fn line(&self) -> String {
        let mut out = String::new();
        self.format_line(&mut out);
        out
    }

    fn format_line(&self, out: &mut String) {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        out.push_str(SIG_PREFIX);
        out.push_str(&self.name);
        out.push(' ');
        out.push_str(&B64.encode(raw));
        out.push('\n');
    }
}

/// A signed note: its text and its signature lines, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note over `text`, which must be non-empty, end in a
    /// newline and hold no control character other than newline.
    pub fn new(text: &str) -> Result<Self, NoteError> {
        if text.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLong);
        }
        check_text(text)?;
        if !text.ends_with('\n') {
            return Err(NoteError::Malformed);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note (at least one signature line), refusing
    /// anything the spec calls malformed and anything after the last line.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLong);
        }
        let s = std::str::from_utf8(bytes).map_err(|_| NoteError::Malformed)?;
        check_text(s)?;
        let split = s.rfind("\n\n").ok_or(NoteError::Malformed)?;
        let (text, sigs) = (&s[..=split], &s[split + 2..]);
        // Empty signature block: no signature, or a trailing blank line.
        let sigs = sigs.strip_suffix('\n').ok_or(NoteError::Malformed)?;
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(NoteSignature::parse_line(line)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends a signature line (refused past [`MAX_SIGNATURES`]).
    pub fn add_signature(&mut self, sig: NoteSignature) -> Result<(), NoteError> {
        if self.signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// The note as text: the text, a blank line, the signature lines.
    pub fn format(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for sig in &self.signatures {
            sig.format_line(&mut out);
        }
        out
    }

    /// Verifies the note against `keys` (signed-note "Signatures"): lines
    /// whose (name, key ID) match no key are ignored; every line that
    /// matches a key must verify, or the whole note is refused; at least one
    /// must. Returns the keys that verified, each once, in `keys` order.
    pub fn verify<'k>(&self, keys: &'k [VerifierKey]) -> Result<Vec<&'k VerifierKey>, NoteError> {
        let mut ok = vec![false; keys.len()];
        for sig in &self.signatures {
            for (i, key) in keys.iter().enumerate() {
                if key.name == sig.name && key.key_id == sig.key_id {
                    key.verify_text(&self.text, &sig.signature)?;
                    ok[i] = true;
                }
            }
        }
        let verified: Vec<_> = keys
            .iter()
            .zip(ok)
            .filter(|(_, v)| *v)
            .map(|(k, _)| k)
            .collect();
        if verified.is_empty() {
            return Err(NoteError::VerificationFailed);
        }
        Ok(verified)
    }
}

/// Signed-note rules on the whole text: no control character but newline.
/// (UTF-8 is guaranteed by `&str`.)
fn check_text(s: &str) -> Result<(), NoteError> {
    if s.is_empty() || s.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed);
    }
    Ok(())
}

/// Key names: non-empty, no Unicode space, no `+`, at most
/// [`MAX_KEY_NAME_LEN`] bytes; control characters are refused too.
pub fn check_name(name: &str) -> Result<(), NoteError> {
    let bad = |c: char| c.is_whitespace() || c == '+' || c.is_control();
    if name.is_empty() || name.len() > MAX_KEY_NAME_LEN || name.chars().any(bad) {
        return Err(NoteError::InvalidName);
    }
    Ok(())
}

/// `SHA-256(name || 0x0A || type || public key)[:4]`, big-endian.
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The signature types this crate verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// 0x01: Ed25519 over the note text.
    Ed25519,
    /// 0x04: `cosignature/v1`, timestamped Ed25519 over a checkpoint.
    CosignatureV1,
}

impl KeyType {
    /// The signature type byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Ed25519 => SIG_TYPE_ED25519,
            Self::CosignatureV1 => SIG_TYPE_COSIGNATURE_V1,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            SIG_TYPE_ED25519 => Some(Self::Ed25519),
            SIG_TYPE_COSIGNATURE_V1 => Some(Self::CosignatureV1),
            _ => None,
        }
    }
}

/// A verifier key (vkey): `<name>+<hex key ID>+base64(type || public key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    kind: KeyType,
    key: VerifyingKey,
}

impl VerifierKey {
    /// A key of `kind` named `name`; the key ID is computed as the spec says.
    pub fn new(name: &str, kind: KeyType, key: VerifyingKey) -> Result<Self, NoteError> {
        check_name(name)?;
        let key_id = key_id(name, kind.byte(), key.as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            kind,
            key,
        })
    }

    /// Parses a vkey string. Its key ID must be the one computed from its
    /// name, type and key (the spec requires that for types 0x01 and 0x04);
    /// types other than those two are refused.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let bad = NoteError::InvalidVerifierKey;
        if s.len() > MAX_KEY_NAME_LEN + 64 {
            return Err(bad);
        }
        // Names hold no `+`; the base64 key may (standard alphabet).
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad);
        };
        let canonical_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if id.len() != 8 || !id.chars().all(canonical_hex) {
            return Err(bad);
        }
        let id = u32::from_str_radix(id, 16).map_err(|_| bad.clone())?;
        let raw = B64.decode(b64).map_err(|_| bad.clone())?;
        let (&ty, pk) = raw.split_first().ok_or(bad.clone())?;
        let kind = KeyType::from_byte(ty).ok_or(bad.clone())?;
        let pk: [u8; 32] = pk.try_into().map_err(|_| bad.clone())?;
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| bad.clone())?;
        let vkey = Self::new(name, kind, key).map_err(|_| bad.clone())?;
        if vkey.key_id != id {
            return Err(bad);
        }
        Ok(vkey)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type.
    pub fn kind(&self) -> KeyType {
        self.kind
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Checks `sig` (the bytes after the key ID) over note `text`. For a
    /// cosignature key the signed message is built from `text` as
    /// tlog-cosignature says; the timestamp is returned.
    pub(crate) fn verify_text(&self, text: &str, sig: &[u8]) -> Result<Option<u64>, NoteError> {
        let fail = NoteError::VerificationFailed;
        match self.kind {
            KeyType::Ed25519 => {
                let sig = Signature::from_slice(sig).map_err(|_| fail.clone())?;
                self.key
                    .verify_strict(text.as_bytes(), &sig)
                    .map_err(|_| fail)?;
                Ok(None)
            }
            KeyType::CosignatureV1 => {
                let (time, sig) = cosignature::split_timestamped(sig).ok_or(fail.clone())?;
                let msg = cosignature::signed_message(text, time);
                self.key
                    .verify_strict(msg.as_bytes(), &sig)
                    .map_err(|_| fail)?;
                Ok(Some(time))
            }
        }
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![self.kind.byte()];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }
}

/// A note signer: key name and Ed25519 private key (signature type 0x01).
/// No `Debug`/`Clone`; the key zeroizes on drop.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoteSigner")
    }
}

impl NoteSigner {
    /// A signer from a 32-byte Ed25519 seed (RFC 8032 private key).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        })
    }

    /// The matching verifier key.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: key_id(
                &self.name,
                SIG_TYPE_ED25519,
                self.key.verifying_key().as_bytes(),
            ),
            kind: KeyType::Ed25519,
            key: self.key.verifying_key(),
        }
    }

    /// Signs the note's text and appends the signature line.
    pub fn sign(&self, note: &mut Note) -> Result<(), NoteError> {
        let sig = self.key.sign(note.text.as_bytes());
        let vkey = self.verifier_key();
        note.add_signature(NoteSignature {
            name: self.name.clone(),
            key_id: vkey.key_id,
            signature: sig.to_bytes().to_vec(),
        })
    }
}

#[cfg(test)]
#[path = "note_tests.rs"]
mod tests;
