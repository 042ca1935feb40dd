//! Unit tests of the ring's secrets encoding and sealing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use strongroom_protocol::messages::SealedKeyRing;

use super::secrets::SecretBytes;
use super::*;
use crate::nsm::{Nsm, NsmError};

/// Deterministic randomness: SHA-256(seed || counter).
struct TestNsm {
    seed: u64,
    counter: AtomicU64,
}

impl TestNsm {
    fn new(seed: u64) -> Self {
        Self {
            seed,
            counter: AtomicU64::new(0),
        }
    }
}

impl Nsm for TestNsm {
    fn attest(
        &self,
        _: Option<&[u8]>,
        _: Option<&[u8]>,
        _: Option<&[u8]>,
    ) -> Result<Vec<u8>, NsmError> {
        Ok(Vec::new())
    }
    fn random(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, NsmError> {
        let mut out = Zeroizing::new(Vec::new());
        while out.len() < n {
            let c = self.counter.fetch_add(1, Ordering::SeqCst);
            out.extend_from_slice(
                &Sha256::new()
                    .chain_update(self.seed.to_be_bytes())
                    .chain_update(c.to_be_bytes())
                    .finalize(),
            );
        }
        out.truncate(n);
        Ok(out)
    }
    fn describe_pcr(&self, _: u16) -> Result<Vec<u8>, NsmError> {
        Ok(vec![0; 48])
    }
    fn is_simulator(&self) -> bool {
        false
    }
}

fn ring(seed: u64, extra_versions: usize) -> (TestNsm, KeyRing) {
    let nsm = TestNsm::new(seed);
    let mut ring = KeyRing::generate(&nsm).unwrap();
    for _ in 0..extra_versions {
        ring.add_version(&nsm).unwrap();
    }
    (nsm, ring)
}

fn same_ring(a: &KeyRing, b: &KeyRing) {
    assert_eq!(a.ring_id(), b.ring_id());
    assert_eq!(a.ring_version(), b.ring_version());
    assert_eq!(a.key_ids(), b.key_ids());
    assert_eq!(a.current().key_id(), b.current().key_id());
    assert_eq!(a.next_version(), b.next_version());
    assert_eq!(a.kms_blob(), b.kms_blob());
    assert!(bool::from(a.data_key().ct_eq(b.data_key())));
    assert!(bool::from(a.signing().ct_eq(b.signing())));
    for (x, y) in a.pairs().zip(b.pairs()) {
        assert!(bool::from(x.ct_eq(y)));
        assert_eq!(x.public_sec1(), y.public_sec1());
    }
}

#[test]
fn seal_open_round_trip() {
    let (nsm, ring) = ring(1, 2);
    let sealed = seal(&ring, &nsm).unwrap();
    assert_eq!(sealed.ring_id, ring.ring_id().to_vec());
    assert_eq!(sealed.ring_version, 3);
    assert_eq!(sealed.nonce.len(), NONCE_LEN);
    assert_eq!(sealed.key_ids, ring.key_ids());
    assert_eq!(sealed.current_key_id, ring.current().key_id());
    assert!(sealed.current_key_id.starts_with("v3:"));
    let opened = open(&sealed, ring.data_key()).unwrap();
    same_ring(&ring, &opened);
    // Two seals of the same ring use different nonces.
    let again = seal(&ring, &nsm).unwrap();
    assert_ne!(again.nonce, sealed.nonce);
    assert_ne!(again.ciphertext, sealed.ciphertext);
}

#[test]
fn kms_blob_travels_inside_and_must_match() {
    let nsm = TestNsm::new(2);
    let meta = RingMeta::generate(&nsm, None, Some(vec![7u8; 200])).unwrap();
    let ring = KeyRing::generate_with(&nsm, meta).unwrap();
    let sealed = seal(&ring, &nsm).unwrap();
    assert_eq!(sealed.kms_blob.as_deref(), Some(&[7u8; 200][..]));
    assert_eq!(
        open(&sealed, ring.data_key()).unwrap().kms_blob(),
        Some(&[7u8; 200][..])
    );
    let mut swapped = sealed.clone();
    swapped.kms_blob = Some(vec![8u8; 200]);
    assert_eq!(open(&swapped, ring.data_key()).err(), Some(RingError::Open));
    // The clear blob is optional for opening (the enclave trusts the inner one).
    let mut cleared = sealed;
    cleared.kms_blob = None;
    assert!(open(&cleared, ring.data_key()).is_ok());
}

#[test]
fn tampering_is_refused() {
    let (nsm, ring) = ring(3, 1);
    let sealed = seal(&ring, &nsm).unwrap();
    let key = *ring.data_key();
    for i in [0, sealed.ciphertext.len() / 2, sealed.ciphertext.len() - 1] {
        let mut t = sealed.clone();
        t.ciphertext[i] ^= 0x01;
        assert_eq!(
            open(&t, &key).err(),
            Some(RingError::Open),
            "bit flip at {i}"
        );
    }
    let mut t = sealed.clone();
    t.nonce[0] ^= 1;
    assert_eq!(open(&t, &key).err(), Some(RingError::Open));
    let mut t = sealed.clone();
    t.ring_id[5] ^= 1;
    assert_eq!(
        open(&t, &key).err(),
        Some(RingError::Open),
        "other ring id in aad"
    );
    for v in [sealed.ring_version - 1, sealed.ring_version + 1] {
        let mut t = sealed.clone();
        t.ring_version = v;
        assert_eq!(
            open(&t, &key).err(),
            Some(RingError::Open),
            "version {v} in aad"
        );
    }
    let mut t = sealed.clone();
    t.ciphertext.push(0);
    assert_eq!(open(&t, &key).err(), Some(RingError::Open), "appended byte");
    let mut t = sealed.clone();
    t.ciphertext.truncate(TAG_LEN - 1);
    assert_eq!(open(&t, &key).err(), Some(RingError::Open));
    let mut t = sealed.clone();
    t.nonce.push(0);
    assert_eq!(open(&t, &key).err(), Some(RingError::Open));
    let mut wrong = key;
    wrong[0] ^= 1;
    assert_eq!(open(&sealed, &wrong).err(), Some(RingError::Open));
    assert!(open(&sealed, &key).is_ok());
}

/// Seals raw secret bytes exactly as `seal_with_nonce` does, to test what
/// `open` does with well-encrypted but bad contents.
fn seal_raw(plain: &[u8], ring_id: &[u8], version: u64, key: &[u8; 32]) -> SealedKeyRing {
    let cipher = Aes256Gcm::new_from_slice(key).unwrap();
    let mut buf = plain.to_vec();
    let nonce = [9u8; NONCE_LEN];
    let tag = cipher
        .encrypt_inout_detached(
            &nonce.into(),
            &ring_aad(ring_id, version),
            buf.as_mut_slice().into(),
        )
        .unwrap();
    buf.extend_from_slice(&tag);
    SealedKeyRing {
        ring_id: ring_id.to_vec(),
        ring_version: version,
        kms_blob: None,
        nonce: nonce.to_vec(),
        ciphertext: buf,
        key_ids: vec![],
        current_key_id: String::new(),
        signing_public_key: vec![],
    }
}

#[test]
fn trailing_bytes_and_mismatched_inner_fields_are_refused() {
    let (_, ring) = ring(4, 0);
    let secrets = ring.export_secrets().unwrap();
    let key = *ring.data_key();
    let (id, v) = (ring.ring_id().to_vec(), ring.ring_version());
    assert!(open(&seal_raw(&secrets, &id, v, &key), &key).is_ok());
    let mut trailing = secrets.to_vec();
    trailing.push(0xf6);
    assert_eq!(
        KeyRing::import_secrets(&trailing).err(),
        Some(RingError::Malformed)
    );
    assert_eq!(
        open(&seal_raw(&trailing, &id, v, &key), &key).err(),
        Some(RingError::Open)
    );
    // Authentic ciphertext, but the aad names another ring / version than inside.
    let other_id = [0xaau8; 16];
    assert_eq!(
        open(&seal_raw(&secrets, &other_id, v, &key), &key).err(),
        Some(RingError::Open)
    );
    assert_eq!(
        open(&seal_raw(&secrets, &id, v + 1, &key), &key).err(),
        Some(RingError::Open)
    );
    // Sealed under a key that is not the inner data key.
    let other_key = [0x55u8; 32];
    assert_eq!(
        open(&seal_raw(&secrets, &id, v, &other_key), &other_key).err(),
        Some(RingError::Open)
    );
}

#[test]
fn malformed_secrets_are_refused() {
    let (_, ring) = ring(5, 1);
    let good = ring.export_secrets().unwrap();
    let value: serde_cbor::Value = serde_cbor::from_slice(&good).unwrap();
    let serde_cbor::Value::Map(map) = value else {
        panic!("not a map")
    };
    let text = |k: &str| serde_cbor::Value::Text(k.to_owned());
    let edits: Vec<(&str, Option<serde_cbor::Value>)> = vec![
        ("ring_id", Some(serde_cbor::Value::Bytes(vec![0; 15]))),
        ("ring_version", Some(serde_cbor::Value::Integer(0))),
        ("data_key", Some(serde_cbor::Value::Bytes(vec![0; 31]))),
        ("current", Some(serde_cbor::Value::Integer(9))),
        ("next_version", Some(serde_cbor::Value::Integer(2))),
        ("signing", Some(serde_cbor::Value::Bytes(vec![0; 32]))),
        ("hpke", Some(serde_cbor::Value::Array(vec![]))),
        ("kms_blob", Some(serde_cbor::Value::Bytes(vec![]))),
        ("signing", None),
        ("extra", Some(serde_cbor::Value::Null)),
    ];
    for (key, value) in edits {
        let mut m = map.clone();
        match value {
            Some(v) => {
                m.insert(text(key), v);
            }
            None => {
                m.remove(&text(key));
            }
        }
        let bytes = serde_cbor::to_vec(&serde_cbor::Value::Map(m)).unwrap();
        assert_eq!(
            KeyRing::import_secrets(&bytes).err(),
            Some(RingError::Malformed),
            "{key}"
        );
    }
    // Versions out of order.
    let mut m = map.clone();
    if let Some(serde_cbor::Value::Array(v)) = m.get_mut(&text("hpke")) {
        v.reverse();
    }
    let bytes = serde_cbor::to_vec(&serde_cbor::Value::Map(m)).unwrap();
    assert_eq!(
        KeyRing::import_secrets(&bytes).err(),
        Some(RingError::Malformed)
    );
    // Over the limit, before parsing.
    let big = vec![0u8; MAX_RING_SECRETS_LEN + 1];
    assert_eq!(
        KeyRing::import_secrets(&big).err(),
        Some(RingError::TooLarge)
    );
}

#[test]
fn retire_and_add_bump_the_version() {
    let (nsm, mut ring) = ring(6, 0);
    let v1 = ring.current().key_id().to_owned();
    assert_eq!(ring.ring_version(), 1);
    let v2 = ring.add_version(&nsm).unwrap();
    assert_eq!(ring.ring_version(), 2);
    assert!(v2.starts_with("v2:"));
    assert_eq!(
        ring.retire(std::slice::from_ref(&v2)).err(),
        Some(crate::ring::KeyRingError::RetireCurrent)
    );
    assert_eq!(ring.ring_version(), 2);
    assert_eq!(ring.retire(&["v9:nothing".to_owned()]).unwrap(), 0);
    assert_eq!(ring.ring_version(), 2, "a no-op retire keeps the version");
    assert_eq!(ring.retire(std::slice::from_ref(&v1)).unwrap(), 1);
    assert_eq!(ring.ring_version(), 3);
    assert_eq!(ring.key_ids(), std::slice::from_ref(&v2));
    assert!(ring.get(&v1).is_none());
    // The next version number keeps counting after a retire.
    let v3 = ring.add_version(&nsm).unwrap();
    assert!(v3.starts_with("v3:"));
    let opened = open(&seal(&ring, &nsm).unwrap(), ring.data_key()).unwrap();
    same_ring(&ring, &opened);
}

#[test]
fn too_many_versions_are_refused() {
    let (nsm, mut ring) = ring(7, 0);
    for _ in 1..MAX_KEY_VERSIONS {
        ring.add_version(&nsm).unwrap();
    }
    assert_eq!(
        ring.add_version(&nsm).err(),
        Some(crate::ring::KeyRingError::TooManyVersions)
    );
    let sealed = seal(&ring, &nsm).unwrap();
    assert!(sealed.ciphertext.len() < MAX_RING_SECRETS_LEN);
    same_ring(&ring, &open(&sealed, ring.data_key()).unwrap());
}

#[test]
fn debug_shows_no_secrets() {
    let (_, ring) = ring(8, 0);
    let text = format!("{ring:?}");
    let key_hex = hex::encode(ring.data_key());
    assert!(!text.contains(&key_hex));
    assert!(!text.contains(&hex::encode(ring.current().scalar())));
    let secrets = SecretBytes(Zeroizing::new(vec![0xab; 32]));
    assert_eq!(format!("{secrets:?}"), "SecretBytes { .. }");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn round_trip_any_ring(seed in any::<u64>(), adds in 0usize..6, retire_first in any::<bool>(),
                           blob in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..300))) {
        let nsm = TestNsm::new(seed);
        let meta = RingMeta::generate(&nsm, None, blob).unwrap();
        let mut ring = KeyRing::generate_with(&nsm, meta).unwrap();
        for _ in 0..adds {
            ring.add_version(&nsm).unwrap();
        }
        if retire_first && adds > 0 {
            let first = ring.key_ids()[0].clone();
            ring.retire(&[first]).unwrap();
        }
        let bytes = ring.export_secrets().unwrap();
        same_ring(&ring, &KeyRing::import_secrets(&bytes).unwrap());
        let sealed = seal(&ring, &nsm).unwrap();
        same_ring(&ring, &open(&sealed, ring.data_key()).unwrap());
    }
}

/// The history key (`crate::history`) is derived from the signing scalar:
/// an HPKE rotation, and the ring's round trip through its sealed form (what
/// a restart or a peer sync gives), keep segments readable; another ring
/// does not open them.
#[test]
fn the_history_key_survives_rotation_and_reload() {
    use crate::history::{self, HistoryKey, NONCE_LEN};
    let (nsm, mut ring) = ring(41, 0);
    let page = br#"[{"symbol":"BTCUSDT","id":1,"orderId":1,"price":"1","qty":"1","quoteQty":"1","commission":"0","commissionAsset":"BTC","time":1,"isBuyer":true,"isMaker":false}]"#;
    let trades = crate::aggregate::parse_trades_page(page).unwrap();
    let info = crate::aggregate::SymbolInfo {
        base: "BTC".into(),
        quote: "USDT".into(),
    };
    let segment = history::segments_of("BTCUSDT", &info, (0, 2), &trades, 0).remove(0);
    let account = "ab".repeat(32);
    let sealed = history::seal(&HistoryKey::of(&ring), &account, &segment, [1; NONCE_LEN]).unwrap();
    ring.add_version(&nsm).unwrap();
    let reloaded = open(&seal(&ring, &nsm).unwrap(), ring.data_key()).unwrap();
    for r in [&ring, &reloaded] {
        assert_eq!(
            history::open(&HistoryKey::of(r), &account, &sealed).unwrap(),
            segment
        );
    }
    let (_, other) = self::ring(42, 0);
    assert!(history::open(&HistoryKey::of(&other), &account, &sealed).is_err());
}
