//! The key ring: HPKE key pairs by key id (several versions, for rotation)
//! and the P-256 ECDSA key that signs results. Private keys never leave
//! these types; randomness comes from the NSM.

use std::collections::BTreeMap;
use std::fmt;

use hpke::kem::Kem as KemTrait;
use hpke::{Deserializable, Serializable};
use p256::ecdsa::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, Zeroizing};

use crate::nsm::{Nsm, NsmError};

/// HPKE KEM: DHKEM(P-256, HKDF-SHA256), 0x0010.
pub type Kem = hpke::kem::DhP256HkdfSha256;
/// HPKE KDF: HKDF-SHA256, 0x0001.
pub type Kdf = hpke::kdf::HkdfSha256;
/// HPKE AEAD: AES-256-GCM, 0x0002.
pub type Aead = hpke::aead::AesGcm256;

/// Length of an uncompressed SEC1 P-256 point.
pub const SEC1_UNCOMPRESSED_LEN: usize = 65;
/// Length of a P-256 private scalar.
pub const P256_SECRET_LEN: usize = 32;
/// Hex characters of SHA-256(public key) in a key id.
pub const KEY_ID_HASH_HEX: usize = 16;

/// Why a key-ring operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    /// The NSM could not supply randomness.
    #[error("randomness unavailable: {0}")]
    Random(#[from] NsmError),
    /// Repeatedly drew bytes that are not a valid scalar (practically impossible).
    #[error("could not derive a valid key")]
    KeyGeneration,
}

/// `"v<version>:" + first 16 hex of SHA-256(SEC1 public key)`.
pub fn key_id_for(version: u32, public_sec1: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(public_sec1));
    format!("v{version}:{}", &digest[..KEY_ID_HASH_HEX])
}

/// One HPKE key version. Holds the private scalar in a zeroizing buffer;
/// the `hpke` private key object is rebuilt per use and dropped at once
/// (its inner `p256::SecretKey` zeroizes on drop as well).
pub struct HpkeKeyPair {
    key_id: String,
    secret: Zeroizing<[u8; P256_SECRET_LEN]>,
    public: <Kem as KemTrait>::PublicKey,
    public_sec1: [u8; SEC1_UNCOMPRESSED_LEN],
}

impl HpkeKeyPair {
    /// Derives a key pair from 32 bytes of input keying material
    /// (RFC 9180 DeriveKeyPair; with random `ikm` this is GenerateKeyPair).
    pub fn derive(version: u32, ikm: &[u8]) -> Self {
        let (sk, pk) = Kem::derive_keypair(ikm);
        let mut secret = Zeroizing::new([0u8; P256_SECRET_LEN]);
        let mut sk_bytes = sk.to_bytes();
        secret.copy_from_slice(&sk_bytes);
        sk_bytes.zeroize();
        let mut public_sec1 = [0u8; SEC1_UNCOMPRESSED_LEN];
        public_sec1.copy_from_slice(&pk.to_bytes());
        Self {
            key_id: key_id_for(version, &public_sec1),
            secret,
            public: pk,
            public_sec1,
        }
    }

    /// Generates a fresh key pair from NSM randomness.
    pub fn generate(version: u32, nsm: &dyn Nsm) -> Result<Self, KeyRingError> {
        let ikm = nsm.random(P256_SECRET_LEN)?;
        Ok(Self::derive(version, &ikm))
    }

    /// The key id clients name when sealing to this key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key, 65-byte uncompressed SEC1.
    pub fn public_sec1(&self) -> &[u8; SEC1_UNCOMPRESSED_LEN] {
        &self.public_sec1
    }

    /// The public key as the `hpke` crate's type.
    pub fn public_key(&self) -> &<Kem as KemTrait>::PublicKey {
        &self.public
    }

    /// A short-lived `hpke` private key for one open.
    pub(crate) fn private_key(&self) -> Option<<Kem as KemTrait>::PrivateKey> {
        <Kem as KemTrait>::PrivateKey::from_bytes(&self.secret[..]).ok()
    }
}

impl fmt::Debug for HpkeKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HpkeKeyPair")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl ConstantTimeEq for HpkeKeyPair {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.secret[..].ct_eq(&other.secret[..])
    }
}

/// The result-signing key. `p256::ecdsa::SigningKey` is `ZeroizeOnDrop`.
pub struct ResultSigningKey {
    key: SigningKey,
    public_sec1: [u8; SEC1_UNCOMPRESSED_LEN],
}

impl ResultSigningKey {
    /// Builds the key from a 32-byte scalar; `None` if out of range.
    pub fn from_scalar(bytes: &[u8]) -> Option<Self> {
        let key = SigningKey::from_slice(bytes).ok()?;
        let point = key.verifying_key().to_sec1_point(false);
        let mut public_sec1 = [0u8; SEC1_UNCOMPRESSED_LEN];
        public_sec1.copy_from_slice(point.as_bytes());
        Some(Self { key, public_sec1 })
    }

    /// Generates a fresh key from NSM randomness.
    pub fn generate(nsm: &dyn Nsm) -> Result<Self, KeyRingError> {
        for _ in 0..8 {
            let bytes = nsm.random(P256_SECRET_LEN)?;
            if let Some(key) = Self::from_scalar(&bytes) {
                return Ok(key);
            }
        }
        Err(KeyRingError::KeyGeneration)
    }

    /// Verifying key, 65-byte uncompressed SEC1.
    pub fn public_sec1(&self) -> &[u8; SEC1_UNCOMPRESSED_LEN] {
        &self.public_sec1
    }

    /// The verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs `payload` as COSE_Sign1 ES256 with `kid` (the shared definition
    /// in `strongroom_verifier::cose`).
    pub fn sign_cose(&self, payload: &[u8], kid: &str) -> Vec<u8> {
        strongroom_verifier::cose::sign_es256(payload, kid, &self.key)
    }
}

impl fmt::Debug for ResultSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResultSigningKey { .. }")
    }
}

impl ConstantTimeEq for ResultSigningKey {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.key.ct_eq(&other.key)
    }
}

/// HPKE keys by key id, the current version, and the signing key.
pub struct KeyRing {
    hpke: BTreeMap<String, HpkeKeyPair>,
    order: Vec<String>,
    current: String,
    next_version: u32,
    signing: ResultSigningKey,
}

impl KeyRing {
    /// A fresh ring: HPKE version 1 and a signing key, from NSM randomness.
    pub fn generate(nsm: &dyn Nsm) -> Result<Self, KeyRingError> {
        let signing = ResultSigningKey::generate(nsm)?;
        Ok(Self::with_keys(HpkeKeyPair::generate(1, nsm)?, signing))
    }

    /// A ring from given keys (tests, and later KMS/peer restore).
    pub fn with_keys(first: HpkeKeyPair, signing: ResultSigningKey) -> Self {
        let id = first.key_id().to_owned();
        let mut hpke = BTreeMap::new();
        hpke.insert(id.clone(), first);
        Self {
            hpke,
            order: vec![id.clone()],
            current: id,
            next_version: 2,
            signing,
        }
    }

    /// Adds a new HPKE version and makes it current; returns its key id.
    /// Older versions stay available for opening until retired.
    pub fn add_version(&mut self, nsm: &dyn Nsm) -> Result<String, KeyRingError> {
        let pair = HpkeKeyPair::generate(self.next_version, nsm)?;
        self.next_version = self.next_version.saturating_add(1);
        let id = pair.key_id().to_owned();
        self.hpke.insert(id.clone(), pair);
        self.order.push(id.clone());
        self.current = id.clone();
        Ok(id)
    }

    /// The current HPKE key pair (new submissions use it).
    pub fn current(&self) -> &HpkeKeyPair {
        // `current` is always a key of `hpke`: set together in every mutator.
        &self.hpke[&self.current]
    }

    /// The HPKE key pair named `key_id`, if the ring holds it.
    pub fn get(&self, key_id: &str) -> Option<&HpkeKeyPair> {
        self.hpke.get(key_id)
    }

    /// Every key id, oldest first.
    pub fn key_ids(&self) -> &[String] {
        &self.order
    }

    /// The result-signing key.
    pub fn signing(&self) -> &ResultSigningKey {
        &self.signing
    }

    /// Signs a CBOR payload as COSE_Sign1 ES256 under the current key id.
    pub fn sign_cose(&self, payload: &[u8]) -> Vec<u8> {
        self.signing.sign_cose(payload, &self.current)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("key_ids", &self.order)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}
