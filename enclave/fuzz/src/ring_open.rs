//! `ring::open`: a `SealedKeyRing` from the host, opened with a fixed data
//! key. Byte 0 selects the mode (mod 3), the rest feeds it:
//!
//! - 0, raw: `rest` = nonce (12 bytes) || ciphertext under the fixed ring's
//!   id and version. Nothing may open (the GCM tag cannot be forged).
//! - 1, honest: `rest` is AES-256-GCM-sealed as the plaintext under the fixed
//!   key, nonce and aad, so it reaches the secrets decoder. Whatever opens
//!   must be exactly what `import_secrets` of `rest` gives, name the clear
//!   ring id and version, and seal and open again.
//! - 2, tampered: a genuine sealed ring (with a KMS blob) whose clear fields
//!   `rest` edits (see [`tamper`]). It must open exactly when the
//!   authenticated fields (id, version, nonce, ciphertext) are untouched and
//!   the clear KMS blob is absent or the sealed one.

use std::sync::OnceLock;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use strongroom_enclave_core::ring::{self, NONCE_LEN, ring_aad};
use strongroom_enclave_core::ring::{KeyRing, RingMeta};
use strongroom_protocol::messages::SealedKeyRing;
use zeroize::Zeroizing;

use crate::fixtures::{FIXED_DATA_KEY, FIXED_RING_ID, FIXED_RING_VERSION, sim};

/// The clear KMS blob of the tampered-mode seed.
pub const SEED_KMS_BLOB: &[u8] = b"kms blob of the fuzz seed ring";

fn sealed_fixed(nonce: &[u8], ciphertext: Vec<u8>) -> SealedKeyRing {
    SealedKeyRing {
        ring_id: FIXED_RING_ID.to_vec(),
        ring_version: FIXED_RING_VERSION,
        kms_blob: None,
        nonce: nonce.to_vec(),
        ciphertext,
        key_ids: Vec::new(),
        current_key_id: String::new(),
        signing_public_key: Vec::new(),
    }
}

/// A genuine ring with a KMS blob, sealed under [`FIXED_DATA_KEY`].
pub fn seed() -> &'static SealedKeyRing {
    static SEED: OnceLock<SealedKeyRing> = OnceLock::new();
    SEED.get_or_init(|| {
        let nsm = &sim().nsm;
        let key = Zeroizing::new(FIXED_DATA_KEY);
        let meta = RingMeta::with_id(nsm, FIXED_RING_ID, Some(key), Some(SEED_KMS_BLOB.to_vec()))
            .expect("ring meta");
        let ring = KeyRing::generate_with(nsm, meta).expect("ring");
        ring::seal_with_nonce(&ring, [3u8; NONCE_LEN]).expect("seal")
    })
}

/// One input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => raw(rest),
        1 => honest(rest),
        _ => tampered(rest),
    }
}

fn raw(rest: &[u8]) {
    let (nonce, ciphertext) = rest.split_at(rest.len().min(NONCE_LEN));
    let sealed = sealed_fixed(nonce, ciphertext.to_vec());
    assert!(
        ring::open(&sealed, &FIXED_DATA_KEY).is_err(),
        "arbitrary ciphertext opened"
    );
}

fn honest(plaintext: &[u8]) {
    let nonce = [2u8; NONCE_LEN];
    let cipher = Aes256Gcm::new_from_slice(&FIXED_DATA_KEY).expect("32-byte key");
    let aad = ring_aad(&FIXED_RING_ID, FIXED_RING_VERSION);
    // Fixed test key and fuzz bytes only: nothing here needs zeroizing.
    let mut buf = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&nonce.into(), &aad, buf.as_mut_slice().into())
        .expect("GCM seals any fuzz-sized input");
    buf.extend_from_slice(&tag);
    let opened = ring::open(&sealed_fixed(&nonce, buf), &FIXED_DATA_KEY);
    let Ok(ring) = opened else {
        return;
    };
    let imported = KeyRing::import_secrets(plaintext).expect("opened, so the secrets decode");
    assert_eq!(ring.ring_id(), &FIXED_RING_ID);
    assert_eq!(ring.ring_version(), FIXED_RING_VERSION);
    assert_eq!(ring.key_ids(), imported.key_ids());
    let resealed = ring::seal_with_nonce(&ring, [4u8; NONCE_LEN]).expect("reseal");
    let again = ring::open(&resealed, &FIXED_DATA_KEY).expect("a resealed ring opens");
    assert_eq!(again.key_ids(), ring.key_ids());
    assert_eq!(resealed.key_ids, ring.key_ids());
}

/// Edits `sealed` by `ops`, two bytes per edit: (what, value).
pub fn tamper(sealed: &mut SealedKeyRing, ops: &[u8]) {
    for op in ops.chunks(2) {
        let (what, v) = (op[0], op.get(1).copied().unwrap_or(0));
        let i = usize::from(v);
        match what % 9 {
            0 => sealed.ring_version = sealed.ring_version.wrapping_add(u64::from(v)),
            1 => sealed.ring_id[i % 16] ^= v,
            2 => sealed.kms_blob = None,
            3 => sealed.kms_blob = Some(vec![v; i % 40 + 1]),
            4 => xor_at(&mut sealed.nonce, i, v),
            5 => xor_at(&mut sealed.ciphertext, i * 7, v),
            6 => sealed
                .ciphertext
                .truncate(sealed.ciphertext.len().saturating_sub(i)),
            7 => sealed.nonce.push(v),
            // Informational clear fields: never decisive.
            _ => {
                sealed.key_ids.push(format!("k{v}"));
                sealed.current_key_id = format!("c{v}");
                sealed.signing_public_key.push(v);
            }
        }
    }
}

fn xor_at(bytes: &mut [u8], i: usize, v: u8) {
    if !bytes.is_empty() {
        let n = bytes.len();
        bytes[i % n] ^= v;
    }
}

fn tampered(ops: &[u8]) {
    let seed = seed();
    let mut sealed = seed.clone();
    tamper(&mut sealed, ops);
    let authentic = sealed.ring_id == seed.ring_id
        && sealed.ring_version == seed.ring_version
        && sealed.nonce == seed.nonce
        && sealed.ciphertext == seed.ciphertext
        && sealed
            .kms_blob
            .as_ref()
            .is_none_or(|b| Some(b) == seed.kms_blob.as_ref());
    let opened = ring::open(&sealed, &FIXED_DATA_KEY);
    assert_eq!(
        opened.is_ok(),
        authentic,
        "open disagrees with the tampering"
    );
    if let Ok(ring) = opened {
        assert_eq!(ring.kms_blob(), Some(SEED_KMS_BLOB));
        assert_eq!(ring.key_ids(), seed.key_ids.as_slice());
    }
}
