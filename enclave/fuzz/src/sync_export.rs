//! `SyncHolder::export`: a requester's attestation document, as relayed by
//! the host, against one freshly issued challenge. Byte 0 selects the mode:
//!
//! - even, raw: `rest` is the document. It never exports, and it must not
//!   spend the challenge (only a verified document naming it does).
//! - odd, attested: a GENUINE simulator document whose fields `rest` picks
//!   (see [`fields`]), so the input reaches the checks after the signature.
//!   It must export exactly when its nonce is the challenge, its
//!   `user_data` is `USER_DATA_PREFIX || 32 bytes` and its public key a
//!   P-256 point; then the challenge is spent.

use strongroom_enclave_core::nsm::{MAX_NSM_FIELD_LEN, Nsm};
use strongroom_enclave_core::sync::{ENC_LEN, NONCE_LEN, SyncHolder, USER_DATA_PREFIX};

use crate::fixtures::{T0_MS, VALID_POINT, sim};

/// What the holder would export (opaque bytes here).
const SECRET: &[u8] = b"ring secrets under test";

/// One input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let s = sim();
    let holder = SyncHolder::new();
    let challenge = holder.issue_challenge(&s.nsm, T0_MS).expect("challenge");
    if mode % 2 == 0 {
        let result = holder.export(&s.nsm, &s.root, &s.pcrs, rest, SECRET, s.now);
        assert!(result.is_err(), "an arbitrary document exported");
        assert_eq!(holder.pending_challenges(), 1, "garbage spent a challenge");
        return;
    }
    let f = fields(rest, &challenge);
    let Ok(document) = s.nsm.attest(
        f.public_key.as_deref(),
        f.user_data.as_deref(),
        f.nonce.as_deref(),
    ) else {
        return;
    };
    let result = holder.export(&s.nsm, &s.root, &s.pcrs, &document, SECRET, s.now);
    let nonce_ok = f.nonce.as_deref() == Some(&challenge[..]);
    let user_data_ok = f
        .user_data
        .as_deref()
        .and_then(|u| u.strip_prefix(USER_DATA_PREFIX))
        .is_some_and(|n| n.len() == NONCE_LEN);
    match f.key_valid {
        Some(key_ok) => assert_eq!(
            result.is_ok(),
            nonce_ok && user_data_ok && key_ok,
            "export disagrees with the document's fields"
        ),
        // A fuzzer-made point: valid or not, everything else must hold.
        None => assert!(result.is_err() || (nonce_ok && user_data_ok)),
    }
    if let Ok(exported) = result {
        assert_eq!(exported.enc.len(), ENC_LEN);
        assert!(!exported.document.is_empty() && !exported.ciphertext.is_empty());
        assert_eq!(holder.pending_challenges(), 0, "challenge not spent");
    }
}

/// The requester document's fields, from fuzz bytes.
pub struct Fields {
    /// `public_key`.
    pub public_key: Option<Vec<u8>>,
    /// Whether `public_key` is a P-256 point; `None` when the fuzzer made it.
    pub key_valid: Option<bool>,
    /// `user_data`.
    pub user_data: Option<Vec<u8>>,
    /// `nonce`.
    pub nonce: Option<Vec<u8>>,
}

/// Byte 0 is a flag set; the rest is consumed in order.
/// bits 0-1: key = none / the generator / 65 fuzz bytes / 1-byte-short generator;
/// bit 2: user_data = prefix || 32 fuzz bytes, else length-prefixed fuzz bytes;
/// bit 3: no user_data; bit 4: nonce = the challenge, else 32 fuzz bytes;
/// bit 5: no nonce.
pub fn fields(rest: &[u8], challenge: &[u8; NONCE_LEN]) -> Fields {
    let (&flags, mut rest) = rest.split_first().unwrap_or((&0, &[]));
    let mut take = |n: usize| -> Vec<u8> {
        let (a, b) = rest.split_at(rest.len().min(n));
        rest = b;
        a.to_vec()
    };
    let (public_key, key_valid) = match flags & 3 {
        0 => (None, Some(false)),
        1 => (Some(VALID_POINT.to_vec()), Some(true)),
        2 => {
            let k = take(ENC_LEN);
            let known = (k.len() != ENC_LEN).then_some(false);
            (Some(k), known)
        }
        _ => (Some(VALID_POINT[..ENC_LEN - 1].to_vec()), Some(false)),
    };
    let user_data = if flags & 8 != 0 {
        None
    } else if flags & 4 != 0 {
        let mut u = USER_DATA_PREFIX.to_vec();
        u.extend(take(NONCE_LEN));
        Some(u)
    } else {
        let n = take(1).first().copied().map_or(0, usize::from);
        Some(take(n.min(MAX_NSM_FIELD_LEN)))
    };
    let nonce = if flags & 32 != 0 {
        None
    } else if flags & 16 != 0 {
        Some(challenge.to_vec())
    } else {
        Some(take(NONCE_LEN))
    };
    Fields {
        public_key,
        key_valid,
        user_data,
        nonce,
    }
}
