//! Test helpers of the enclave's integration tests: a deterministic NSM, a
//! sealing client, test data paths. One copy: the core's tests use it as
//! `mod common`, the binary's tests (`enclave/tests/common`) include it by
//! path beside their process start-up helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hpke::kem::Kem as KemTrait;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable, OpModeS, Serializable};
use sha2::{Digest, Sha256};
use strongroom_enclave_core::intake::HPKE_INFO;
use strongroom_enclave_core::nsm::{Nsm, NsmError};
use strongroom_enclave_core::ring::{Aead, Kdf, Kem};
use zeroize::Zeroizing;

/// The repository's copy of the shared test data (`../shared/testdata`
/// beside the checkout: real Nitro documents, RFC 9180 and COSE vectors),
/// kept in `attestation-verifier/tests/data` so a clone alone runs the tests.
pub fn testdata() -> PathBuf {
    let dir = repo_root().join("attestation-verifier/tests/data");
    assert!(dir.is_dir(), "test data missing at {}", dir.display());
    dir
}

/// Repository root: the nearest folder above the test's crate that holds
/// `Cargo.lock` (`enclave/` and `enclave/core/` alike).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|d| d.join("Cargo.lock").is_file() && d.join("attestation-verifier").is_dir())
        .expect("the repository root above CARGO_MANIFEST_DIR")
        .to_path_buf()
}

/// The (public_key, user_data, nonce) of the last attestation request.
pub type AttestFields = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

/// An NSM whose randomness is a SHA-256 counter stream (deterministic per seed).
pub struct FakeNsm {
    seed: u64,
    counter: AtomicU64,
    pub last_attest: Mutex<Option<AttestFields>>,
}

impl FakeNsm {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            counter: AtomicU64::new(0),
            last_attest: Mutex::new(None),
        }
    }
}

impl Nsm for FakeNsm {
    fn attest(
        &self,
        public_key: Option<&[u8]>,
        user_data: Option<&[u8]>,
        nonce: Option<&[u8]>,
    ) -> Result<Vec<u8>, NsmError> {
        *self.last_attest.lock().unwrap() = Some((
            public_key.map(<[u8]>::to_vec),
            user_data.map(<[u8]>::to_vec),
            nonce.map(<[u8]>::to_vec),
        ));
        Ok(b"fake-document".to_vec())
    }

    fn random(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, NsmError> {
        let mut out = Zeroizing::new(Vec::new());
        while out.len() < n {
            let c = self.counter.fetch_add(1, Ordering::SeqCst);
            let block = Sha256::new()
                .chain_update(self.seed.to_be_bytes())
                .chain_update(c.to_be_bytes())
                .finalize();
            out.extend_from_slice(&block);
        }
        out.truncate(n);
        Ok(out)
    }

    fn describe_pcr(&self, index: u16) -> Result<Vec<u8>, NsmError> {
        Ok(vec![index as u8; 48])
    }

    fn is_simulator(&self) -> bool {
        false
    }
}

/// An RNG that replays fixed bytes (RFC 9180 ikmE), for deterministic sealing.
pub struct ReplayRng(pub Vec<u8>);

impl TryRng for ReplayRng {
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
        assert!(dst.len() <= self.0.len(), "ReplayRng exhausted");
        let rest = self.0.split_off(dst.len());
        dst.copy_from_slice(&self.0);
        self.0 = rest;
        Ok(())
    }
}
impl TryCryptoRng for ReplayRng {}

/// Seals `plaintext` to a 65-byte SEC1 public key as a Strongroom client
/// would (info "strongroom/credential/v1", empty aad). Returns (enc, ct||tag).
pub fn seal(public_sec1: &[u8], plaintext: &[u8]) -> (Vec<u8>, Vec<u8>) {
    seal_with(public_sec1, HPKE_INFO, plaintext, b"")
}

/// The v2 policy tests of other things than the policy seal: any window,
/// a choice of symbols, no interval, private.
pub const OPEN_POLICY: &str =
    r#"{"windows":"any","symbols":"choice","min_interval_seconds":0,"publish":false}"#;

/// Seals a version 2 `plaintext` (info "strongroom/credential/v2").
pub fn seal_v2(public_sec1: &[u8], plaintext: &[u8]) -> (Vec<u8>, Vec<u8>) {
    seal_with(public_sec1, b"strongroom/credential/v2", plaintext, b"")
}

/// Seal with arbitrary info and aad.
pub fn seal_with(
    public_sec1: &[u8],
    info: &[u8],
    plaintext: &[u8],
    aad: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let pk = <Kem as KemTrait>::PublicKey::from_bytes(public_sec1).unwrap();
    let (enc, ct) =
        hpke::single_shot_seal::<Aead, Kdf, Kem>(&OpModeS::Base, &pk, info, plaintext, aad)
            .unwrap();
    (enc.to_bytes().to_vec(), ct)
}

/// A credential plaintext JSON.
pub fn credential_json(exchange: &str, label: &str, not_after: u64) -> Vec<u8> {
    format!(
        r#"{{"exchange":"{exchange}","api_key":"KEY-abcdef0123456789","api_secret":"SECRET-9876543210fedcba","label":"{label}","not_after":{not_after}}}"#
    )
    .into_bytes()
}

/// Boots `e` as the host does (it starts with no key ring): `NewKeyRing`
/// without KMS. Returns the sealed ring (version 1).
pub fn new_key_ring(
    e: &strongroom_enclave_core::state::Enclave,
) -> strongroom_protocol::messages::SealedKeyRing {
    use strongroom_protocol::messages::{NewKeyRingRequest, Phase, RequestBody, ResponseBody};
    assert_eq!(e.phase(), Phase::Booting);
    match e.handle(RequestBody::NewKeyRing(NewKeyRingRequest { kms: None })) {
        ResponseBody::KeyRingSealed(sealed) => {
            assert_eq!(sealed.ring_version, 1);
            assert_eq!(e.phase(), Phase::Ready);
            sealed
        }
        other => panic!("NewKeyRing answered {other:?}"),
    }
}
