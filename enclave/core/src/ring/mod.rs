//! The key ring, in memory and at rest, as one module tree without a cycle:
//!
//! - [`keys`] (in memory): HPKE key pairs by key id (versioned, for
//!   rotation), the result-signing key, the ring's identity and data key,
//!   `add_version`, `retire`; the suite aliases `Kem`/`Kdf`/`Aead`.
//! - [`secrets`]: the ring's secrets as strict CBOR
//!   (`KeyRing::export_secrets`/`import_secrets`), for sealing and peer sync.
//! - [`sealed`] (at rest): those secrets sealed with AES-256-GCM under the
//!   data key into a `SealedKeyRing` (`seal`, `open`).
//!
//! Each depends only on the ones before it (`keys` <- `secrets` <- `sealed`).

mod keys;
mod sealed;
mod secrets;

pub(crate) use self::keys::hpke_seal;
pub use self::keys::{
    Aead, DATA_KEY_LEN, HpkeKeyPair, KEY_ID_HASH_HEX, Kdf, Kem, KeyRing, KeyRingError,
    MAX_KEY_VERSIONS, P256_SECRET_LEN, RING_ID_LEN, ResultSigningKey, RingMeta,
    SEC1_UNCOMPRESSED_LEN, key_id_for,
};
pub use self::sealed::{
    NONCE_LEN, RING_AAD_PREFIX, TAG_LEN, open, ring_aad, seal, seal_with_nonce,
};
pub use self::secrets::{MAX_RING_SECRETS_LEN, RingError};

#[cfg(test)]
mod tests;
