//! The key ring, in memory and at rest, as one module tree without a cycle:
//!
//! - `keys` (in memory): HPKE key pairs by key id (versioned, for
//!   rotation), the result-signing key, the ring's identity and data key,
//!   `add_version`, `retire`; the suite aliases `Kem`/`Kdf`/`Aead`.
//! - `secrets`: the ring's secrets as strict CBOR
//!   (`KeyRing::export_secrets`/`import_secrets`), for sealing and peer sync.
//! - `sealed` (at rest): those secrets sealed with AES-256-GCM under the
//!   data key into a `SealedKeyRing` (`seal`, `open`).
//!
//! Each depends only on the ones before it (`keys` <- `secrets` <- `sealed`).

mod keys;
mod sealed;
mod secrets;

pub use self::keys::{
    Aead, HpkeKeyPair, Kdf, Kem, KeyRing, KeyRingError, ResultSigningKey, RingMeta,
};
pub(crate) use self::keys::{
    DATA_KEY_LEN, MAX_KEY_VERSIONS, P256_SECRET_LEN, RING_ID_LEN, SEC1_UNCOMPRESSED_LEN, hpke_open,
    hpke_seal,
};
#[cfg(test)]
use self::sealed::TAG_LEN;
pub use self::sealed::{NONCE_LEN, open, ring_aad, seal, seal_with_nonce};
pub use self::secrets::{MAX_RING_SECRETS_LEN, RingError};

#[cfg(test)]
mod tests;
