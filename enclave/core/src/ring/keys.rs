//! The key ring in memory: HPKE key pairs by key id (several versions, for
//! rotation), the P-256 ECDSA key that signs results, and the ring's
//! identity (id, version) and data key (the AES-256-GCM key that seals it,
//! see [`super::sealed`]). Private keys never leave these types except as
//! the zeroizing secrets encoding of [`KeyRing::export_secrets`]
//! ([`super::secrets`]), which only sealing and peer sync (HPKE to an
//! attested peer) use; randomness comes from the NSM.

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
pub(crate) const SEC1_UNCOMPRESSED_LEN: usize = 65;
/// Length of a P-256 private scalar.
pub(crate) const P256_SECRET_LEN: usize = 32;
/// Hex characters of SHA-256(public key) in a key id.
pub(crate) const KEY_ID_HASH_HEX: usize = 16;

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
    /// HPKE sealing failed.
    #[error("HPKE seal failed")]
    Seal,
    /// Retiring the current key version is refused.
    #[error("the current key version cannot be retired")]
    RetireCurrent,
    /// The ring already holds `MAX_KEY_VERSIONS` versions (retire some first).
    #[error("too many key versions")]
    TooManyVersions,
    /// The revoked set is full, or the id is not a credential id.
    #[error("the revoked set cannot take this credential")]
    Revocations,
}

/// Length of a ring id.
pub(crate) const RING_ID_LEN: usize = 16;
/// HMAC label deriving the log's note key from the signing key.
const NOTE_KEY_LABEL: &[u8] = b"strongroom/log-note-key/v1";

/// Length of the ring's data key (AES-256).
pub(crate) const DATA_KEY_LEN: usize = 32;
/// Most HPKE versions a ring holds at once (rotation adds one and retires
/// the old ones; this bounds the sealed ring's size).
pub(crate) const MAX_KEY_VERSIONS: usize = 32;

/// `"v<version>:" + first 16 hex of SHA-256(SEC1 public key)`.
pub(crate) fn key_id_for(version: u32, public_sec1: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(public_sec1));
    format!("v{version}:{}", &digest[..KEY_ID_HASH_HEX])
}

/// One HPKE key version. Holds the private scalar in a zeroizing buffer;
/// the `hpke` private key object is rebuilt per use and dropped at once
/// (its inner `p256::SecretKey` zeroizes on drop as well).
pub struct HpkeKeyPair {
    version: u32,
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
            version,
            key_id: key_id_for(version, &public_sec1),
            secret,
            public: pk,
            public_sec1,
        }
    }

    /// Rebuilds a key pair from its private scalar (a restored ring);
    /// `None` if the bytes are not a valid P-256 scalar.
    pub fn from_scalar(version: u32, scalar: &[u8]) -> Option<Self> {
        let sk = <Kem as KemTrait>::PrivateKey::from_bytes(scalar).ok()?;
        let pk = <Kem as KemTrait>::sk_to_pk(&sk);
        drop(sk);
        let mut secret = Zeroizing::new([0u8; P256_SECRET_LEN]);
        secret.copy_from_slice(scalar);
        let mut public_sec1 = [0u8; SEC1_UNCOMPRESSED_LEN];
        public_sec1.copy_from_slice(&pk.to_bytes());
        Some(Self {
            version,
            key_id: key_id_for(version, &public_sec1),
            secret,
            public: pk,
            public_sec1,
        })
    }

    /// The version number (`v<version>:` of the key id).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The private scalar (for the ring's secrets encoding only).
    pub(crate) fn scalar(&self) -> &[u8; P256_SECRET_LEN] {
        &self.secret
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

    /// The private scalar in a zeroizing buffer (for the ring's secrets
    /// encoding only).
    pub(crate) fn scalar(&self) -> Zeroizing<[u8; P256_SECRET_LEN]> {
        let mut out = Zeroizing::new([0u8; P256_SECRET_LEN]);
        let mut bytes = self.key.to_bytes();
        out.copy_from_slice(&bytes);
        bytes.zeroize();
        out
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

/// The ring's identity and sealing key: who it is (`ring_id`, the same on
/// every instance sharing it), which version (`ring_version`, +1 on every
/// add or retire), the data key that seals it and, with KMS, that data key
/// wrapped by KMS (`kms_blob`, public).
pub struct RingMeta {
    /// Ring identity.
    pub ring_id: [u8; RING_ID_LEN],
    /// Version, starting at 1.
    pub ring_version: u64,
    /// AES-256-GCM key sealing the ring. Secret.
    pub data_key: Zeroizing<[u8; DATA_KEY_LEN]>,
    /// The data key under the KMS key (`CiphertextBlob`), if KMS is used.
    pub kms_blob: Option<Vec<u8>>,
}

impl RingMeta {
    /// A fresh identity (version 1) from NSM randomness, sealed by
    /// `data_key` (KMS-generated) or, when `None`, by a random data key.
    pub fn generate(
        nsm: &dyn Nsm,
        data_key: Option<Zeroizing<[u8; DATA_KEY_LEN]>>,
        kms_blob: Option<Vec<u8>>,
    ) -> Result<Self, KeyRingError> {
        let ring_id = Self::random_ring_id(nsm)?;
        Self::with_id(nsm, ring_id, data_key, kms_blob)
    }

    /// Like [`RingMeta::generate`] with a given ring id (the KMS path draws
    /// it first: it is part of the encryption context).
    pub fn with_id(
        nsm: &dyn Nsm,
        ring_id: [u8; RING_ID_LEN],
        data_key: Option<Zeroizing<[u8; DATA_KEY_LEN]>>,
        kms_blob: Option<Vec<u8>>,
    ) -> Result<Self, KeyRingError> {
        let data_key = match data_key {
            Some(k) => k,
            None => {
                let bytes = nsm.random(DATA_KEY_LEN)?;
                let mut k = Zeroizing::new([0u8; DATA_KEY_LEN]);
                k.copy_from_slice(&bytes);
                k
            }
        };
        Ok(Self {
            ring_id,
            ring_version: 1,
            data_key,
            kms_blob,
        })
    }

    /// 16 random bytes.
    pub(crate) fn random_ring_id(nsm: &dyn Nsm) -> Result<[u8; RING_ID_LEN], KeyRingError> {
        let bytes = nsm.random(RING_ID_LEN)?;
        let mut id = [0u8; RING_ID_LEN];
        id.copy_from_slice(&bytes);
        Ok(id)
    }
}

impl fmt::Debug for RingMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingMeta")
            .field("ring_id", &hex::encode(self.ring_id))
            .field("ring_version", &self.ring_version)
            .finish_non_exhaustive()
    }
}

/// HPKE keys by key id, the current version, the signing key, and the
/// ring's identity and data key.
pub struct KeyRing {
    meta: RingMeta,
    hpke: BTreeMap<String, HpkeKeyPair>,
    order: Vec<String>,
    current: String,
    next_version: u32,
    signing: ResultSigningKey,
    /// Credentials their owners revoked: id -> the credential's `not_after`
    /// (after which it is refused anyway, so the entry can go).
    revoked: BTreeMap<[u8; 32], u64>,
}

/// Most revocations a ring holds at once (entries leave when the revoked
/// credential's `not_after` passes, at most MAX_TTL_SECONDS after it was
/// accepted).
pub const MAX_REVOKED: usize = 1024;

/// HMAC label of the key that authenticates the enclave's own re-seals.
const RESEAL_KEY_LABEL: &[u8] = b"strongroom/reseal-key/v1";

impl KeyRing {
    /// A fresh ring: HPKE version 1, a signing key, a random ring id and
    /// data key (no KMS), from NSM randomness.
    pub fn generate(nsm: &dyn Nsm) -> Result<Self, KeyRingError> {
        let meta = RingMeta::generate(nsm, None, None)?;
        Self::generate_with(nsm, meta)
    }

    /// A fresh ring (HPKE version 1 and a signing key) under `meta`.
    pub fn generate_with(nsm: &dyn Nsm, meta: RingMeta) -> Result<Self, KeyRingError> {
        let signing = ResultSigningKey::generate(nsm)?;
        let mut ring = Self::with_keys(HpkeKeyPair::generate(1, nsm)?, signing);
        ring.meta = meta;
        Ok(ring)
    }

    /// A ring from given keys (tests), with a fixed all-zero ring id, version
    /// 1 and an all-zero data key: never sealed for real use.
    pub fn with_keys(first: HpkeKeyPair, signing: ResultSigningKey) -> Self {
        let id = first.key_id().to_owned();
        let next_version = first.version().saturating_add(1);
        let mut hpke = BTreeMap::new();
        hpke.insert(id.clone(), first);
        Self {
            meta: RingMeta {
                ring_id: [0u8; RING_ID_LEN],
                ring_version: 1,
                data_key: Zeroizing::new([0u8; DATA_KEY_LEN]),
                kms_blob: None,
            },
            hpke,
            order: vec![id.clone()],
            current: id,
            next_version,
            signing,
            revoked: BTreeMap::new(),
        }
    }

    /// Reassembles a ring from decoded secrets (`super::secrets`), which has
    /// checked that `pairs` is non-empty, ordered by strictly increasing
    /// version, `current` one of them and `next_version` above all.
    pub(crate) fn from_parts(
        meta: RingMeta,
        pairs: Vec<HpkeKeyPair>,
        current: String,
        next_version: u32,
        signing: ResultSigningKey,
        revoked: BTreeMap<[u8; 32], u64>,
    ) -> Self {
        let order = pairs.iter().map(|p| p.key_id().to_owned()).collect();
        let hpke = pairs
            .into_iter()
            .map(|p| (p.key_id().to_owned(), p))
            .collect();
        Self {
            meta,
            hpke,
            order,
            current,
            next_version,
            signing,
            revoked,
        }
    }

    /// Whether the credential `id` (hex) was revoked by its owner.
    pub fn is_revoked(&self, id: &str) -> bool {
        let mut raw = [0u8; 32];
        hex::decode_to_slice(id, &mut raw).is_ok() && self.revoked.contains_key(&raw)
    }

    /// The revoked set: credential id -> its `not_after`.
    pub(crate) fn revoked(&self) -> &BTreeMap<[u8; 32], u64> {
        &self.revoked
    }

    /// Adds `id` (hex) to the revoked set, dropping entries whose
    /// `not_after` has passed at `now_s`; bumps the ring version. `Ok(false)`
    /// when it was already revoked (nothing changes).
    pub(crate) fn revoke(
        &mut self,
        id: &str,
        not_after: u64,
        now_s: u64,
    ) -> Result<bool, KeyRingError> {
        let mut raw = [0u8; 32];
        hex::decode_to_slice(id, &mut raw).map_err(|_| KeyRingError::Revocations)?;
        if self.revoked.contains_key(&raw) {
            return Ok(false);
        }
        self.revoked.retain(|_, until| *until > now_s);
        if self.revoked.len() >= MAX_REVOKED {
            return Err(KeyRingError::Revocations);
        }
        self.revoked.insert(raw, not_after);
        self.meta.ring_version = self.meta.ring_version.saturating_add(1);
        Ok(true)
    }

    /// HMAC-SHA256 of `data` under the re-seal key: HMAC-SHA256(key = the
    /// result-signing scalar, `strongroom/reseal-key/v1`), like the note
    /// key a part of the ring without a field of its own.
    pub(crate) fn reseal_mac(&self, data: &[u8]) -> [u8; 32] {
        use hmac::{KeyInit, Mac};
        let scalar = self.signing.scalar();
        let mut key = Zeroizing::new([0u8; 32]);
        if let Ok(mut mac) = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&scalar[..]) {
            mac.update(RESEAL_KEY_LABEL);
            key.copy_from_slice(&mac.finalize().into_bytes());
        }
        match <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&key[..]) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().into()
            }
            Err(_) => [0u8; 32],
        }
    }

    /// Adds a new HPKE version and makes it current; returns its key id.
    /// Older versions stay available for opening until retired. Bumps the
    /// ring version. Nothing changes if randomness fails.
    pub fn add_version(&mut self, nsm: &dyn Nsm) -> Result<String, KeyRingError> {
        if self.order.len() >= MAX_KEY_VERSIONS {
            return Err(KeyRingError::TooManyVersions);
        }
        let pair = HpkeKeyPair::generate(self.next_version, nsm)?;
        self.next_version = self.next_version.saturating_add(1);
        let id = pair.key_id().to_owned();
        self.hpke.insert(id.clone(), pair);
        self.order.push(id.clone());
        self.current = id.clone();
        self.meta.ring_version = self.meta.ring_version.saturating_add(1);
        Ok(id)
    }

    /// Drops the named key versions (their private keys are zeroized).
    /// The current one is refused (nothing changes then); ids the ring does
    /// not hold are ignored, so a retried request is harmless. Bumps the
    /// ring version when anything was dropped; returns how many were.
    pub(crate) fn retire(&mut self, key_ids: &[String]) -> Result<usize, KeyRingError> {
        if key_ids.contains(&self.current) {
            return Err(KeyRingError::RetireCurrent);
        }
        let before = self.order.len();
        for id in key_ids {
            self.hpke.remove(id);
        }
        self.order.retain(|id| self.hpke.contains_key(id));
        let dropped = before - self.order.len();
        if dropped > 0 {
            self.meta.ring_version = self.meta.ring_version.saturating_add(1);
        }
        Ok(dropped)
    }

    /// The current HPKE key pair (new submissions use it).
    pub fn current(&self) -> &HpkeKeyPair {
        // `current` is always a key of `hpke`: set together in every mutator,
        // `retire` refuses it, `from_parts`' caller checks it.
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

    /// Every key pair, oldest first.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = &HpkeKeyPair> {
        self.order.iter().filter_map(|id| self.hpke.get(id))
    }

    /// The version number the next [`KeyRing::add_version`] uses.
    pub(crate) fn next_version(&self) -> u32 {
        self.next_version
    }

    /// The result-signing key.
    pub fn signing(&self) -> &ResultSigningKey {
        &self.signing
    }

    /// The log's Ed25519 note key, named `origin`. Its seed is
    /// HMAC-SHA256(key = the result-signing scalar, `strongroom/log-note-key/v1`):
    /// part of the ring (sealed and synced with it, no field of its own, so
    /// rings sealed before v2 have one too), the same on every instance
    /// sharing the ring, unchanged by HPKE rotation (the signing key stays),
    /// and new with `keys reset` (a new signing key). `None` if `origin` is
    /// not a valid note key name.
    pub fn note_signer(&self, origin: &str) -> Option<strongroom_formats::c2sp::note::NoteSigner> {
        use hmac::{KeyInit, Mac};
        let scalar = self.signing.scalar();
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&scalar[..]).ok()?;
        mac.update(NOTE_KEY_LABEL);
        let mut seed = Zeroizing::new([0u8; 32]);
        let mut out = mac.finalize().into_bytes();
        seed.copy_from_slice(&out);
        out.zeroize();
        strongroom_formats::c2sp::note::NoteSigner::from_seed(origin, &seed).ok()
    }

    /// Signs a CBOR payload as COSE_Sign1 ES256 under the current key id.
    pub fn sign_cose(&self, payload: &[u8]) -> Vec<u8> {
        self.signing.sign_cose(payload, &self.current)
    }

    /// The ring's identity (16 bytes).
    pub fn ring_id(&self) -> &[u8; RING_ID_LEN] {
        &self.meta.ring_id
    }

    /// The ring's version.
    pub fn ring_version(&self) -> u64 {
        self.meta.ring_version
    }

    /// The data key that seals this ring. Secret.
    pub(crate) fn data_key(&self) -> &[u8; DATA_KEY_LEN] {
        &self.meta.data_key
    }

    /// The data key under KMS, if any (public).
    pub fn kms_blob(&self) -> Option<&[u8]> {
        self.meta.kms_blob.as_deref()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("ring_id", &hex::encode(self.meta.ring_id))
            .field("ring_version", &self.meta.ring_version)
            .field("key_ids", &self.order)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

/// A random generator for the `hpke` crate, which wants an infallible RNG:
/// seeded with 32 bytes of NSM randomness (the fallible call happens before),
/// expanded as SHA-256("strongroom/seeded-rng/v1" || seed || counter).
pub(crate) struct SeededRng {
    seed: Zeroizing<[u8; 32]>,
    counter: u64,
    block: Zeroizing<[u8; 32]>,
    used: usize,
}

impl SeededRng {
    /// Seeds from the NSM.
    pub(crate) fn from_nsm(nsm: &dyn Nsm) -> Result<Self, NsmError> {
        let bytes = nsm.random(32)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&bytes);
        Ok(Self {
            seed,
            counter: 0,
            block: Zeroizing::new([0u8; 32]),
            used: 32,
        })
    }

    fn next_byte(&mut self) -> u8 {
        if self.used == self.block.len() {
            let digest = Sha256::new()
                .chain_update(b"strongroom/seeded-rng/v1")
                .chain_update(&self.seed[..])
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            self.block.copy_from_slice(&digest);
            self.counter = self.counter.wrapping_add(1);
            self.used = 0;
        }
        let b = self.block[self.used];
        self.used += 1;
        b
    }
}

impl hpke::rand_core::TryRng for SeededRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for d in dst {
            *d = self.next_byte();
        }
        Ok(())
    }
}

impl hpke::rand_core::TryCryptoRng for SeededRng {}

/// Length of the HPKE AEAD tag (AES-256-GCM).
const HPKE_TAG_LEN: usize = 16;

/// HPKE base-mode open (the DESIGN.md suite) of `ciphertext || tag` into a
/// zeroizing buffer: the one open of the enclave, used by credential intake
/// and peer sync (which check their own size bounds first). `None` for every
/// failure, with no detail.
pub(crate) fn hpke_open(
    pair: &HpkeKeyPair,
    enc: &[u8],
    info: &[u8],
    aad: &[u8],
    ciphertext_and_tag: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let split = ciphertext_and_tag.len().checked_sub(HPKE_TAG_LEN)?;
    let (ct, tag) = ciphertext_and_tag.split_at(split);
    let encapped = <Kem as KemTrait>::EncappedKey::from_bytes(enc).ok()?;
    let tag = hpke::aead::AeadTag::<Aead>::from_bytes(tag).ok()?;
    let sk = pair.private_key()?;
    let mut ctx =
        hpke::setup_receiver::<Aead, Kdf, Kem>(&hpke::OpModeR::Base, &sk, &encapped, info).ok()?;
    drop(sk);
    let mut buffer = Zeroizing::new(ct.to_vec());
    ctx.open_inout_detached(buffer.as_mut_slice().into(), aad, &tag)
        .ok()?;
    Some(buffer)
}

/// HPKE base-mode seal (the DESIGN.md suite) of `plaintext` to `public`,
/// randomness from the NSM. Returns (enc, ciphertext || tag).
pub(crate) fn hpke_seal(
    public: &<Kem as KemTrait>::PublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    nsm: &dyn Nsm,
) -> Result<(Vec<u8>, Vec<u8>), KeyRingError> {
    let mut rng = SeededRng::from_nsm(nsm)?;
    let (enc, ct) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &hpke::OpModeS::Base,
        public,
        info,
        plaintext,
        aad,
        &mut rng,
    )
    .map_err(|_| KeyRingError::Seal)?;
    Ok((enc.to_bytes().to_vec(), ct))
}
