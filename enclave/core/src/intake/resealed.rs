//! A credential the enclave re-sealed to a newer key (rotation) keeps the
//! identity the client's sealed bytes gave it: the enclave seals, under the
//! version 2 `info`, the wrapper
//!
//! ```text
//! {"resealed": {"credential": hex id, "version": 1 | 2,
//!               "plaintext": base64 of the client's plaintext, "mac": hex}}
//! ```
//!
//! with `mac` = HMAC-SHA256(key = the ring's re-seal key, `strongroom/resealed/v1`
//! ‖ 0x00 ‖ id ‖ 0x00 ‖ version ‖ 0x00 ‖ plaintext). Anyone can seal to the
//! enclave's public key, so without the MAC a client could claim another
//! credential's id (and so its interval, or dodge a revocation by claiming
//! a fresh one); the re-seal key lives only in the ring.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::credential::CredentialVersion;
use super::{Envelope, IntakeError};
use crate::ring::KeyRing;

const MAC_LABEL: &[u8] = b"strongroom/resealed/v1";

#[derive(Serialize, Deserialize, Zeroize)]
#[serde(deny_unknown_fields)]
struct Wrapper {
    resealed: Inner,
}

#[derive(Serialize, Deserialize, Zeroize)]
#[serde(deny_unknown_fields)]
struct Inner {
    credential: String,
    version: u8,
    plaintext: String,
    mac: String,
}

impl Drop for Wrapper {
    fn drop(&mut self) {
        self.zeroize();
    }
}

fn version_byte(v: CredentialVersion) -> u8 {
    match v {
        CredentialVersion::V1 => 1,
        CredentialVersion::V2 => 2,
    }
}

fn mac(ring: &KeyRing, id: &str, version: u8, plaintext: &[u8]) -> [u8; 32] {
    let mut data = Zeroizing::new(Vec::with_capacity(plaintext.len() + 100));
    data.extend_from_slice(MAC_LABEL);
    data.push(0);
    data.extend_from_slice(id.as_bytes());
    data.push(0);
    data.push(version);
    data.push(0);
    data.extend_from_slice(plaintext);
    ring.reseal_mac(&data)
}

/// The wrapper plaintext for `envelope` (to seal under the v2 `info`).
pub(crate) fn wrap(ring: &KeyRing, envelope: &Envelope) -> Zeroizing<Vec<u8>> {
    let version = version_byte(envelope.version);
    let tag = mac(ring, &envelope.id, version, &envelope.plaintext);
    let wrapper = Wrapper {
        resealed: Inner {
            credential: envelope.id.clone(),
            version,
            plaintext: STANDARD.encode(&envelope.plaintext[..]),
            mac: hex::encode(tag),
        },
    };
    let mut out = Zeroizing::new(Vec::with_capacity(wrapper.resealed.plaintext.len() + 256));
    if serde_json::to_writer(&mut *out, &wrapper).is_err() {
        out.clear();
    }
    out
}

/// `Some` when `plaintext` is a wrapper this ring made (its inner envelope),
/// `None` when it is not a wrapper at all (a client's v2 plaintext); a
/// wrapper whose MAC does not verify is malformed.
pub(crate) fn unwrap(ring: &KeyRing, plaintext: &[u8]) -> Result<Option<Envelope>, IntakeError> {
    // A client's plaintext starts with another key; only a wrapper parses.
    let Ok(wrapper) = serde_json::from_slice::<Wrapper>(plaintext) else {
        return Ok(None);
    };
    let inner = &wrapper.resealed;
    let version = match inner.version {
        1 => CredentialVersion::V1,
        2 => CredentialVersion::V2,
        _ => return Err(IntakeError::MalformedCredential),
    };
    let client = Zeroizing::new(
        STANDARD
            .decode(&inner.plaintext)
            .map_err(|_| IntakeError::MalformedCredential)?,
    );
    let expected = mac(ring, &inner.credential, inner.version, &client);
    let given = hex::decode(&inner.mac).map_err(|_| IntakeError::MalformedCredential)?;
    let ok = strongroom_formats::owner::is_credential_id(&inner.credential)
        && bool::from(given.ct_eq(&expected[..]));
    if !ok {
        return Err(IntakeError::MalformedCredential);
    }
    Ok(Some(Envelope {
        plaintext: client,
        version,
        id: inner.credential.clone(),
    }))
}
