//! Shared, built-once state: a fixed key ring and a simulated NSM with its
//! dev root, PCRs and a fixed "now".

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strongroom_enclave::nsm::sim::SimNsm;
use strongroom_enclave_core::clock::FixedClock;
use strongroom_enclave_core::nsm::PCR_LEN;
use strongroom_enclave_core::ring::{HpkeKeyPair, KeyRing, ResultSigningKey};
use strongroom_enclave_core::sync::own_pcrs;
use strongroom_verifier::TrustRoot;

/// The simulated time of every document (2025-06-15).
pub const T0_MS: u64 = 1_750_000_000_000;
/// The simulator's dev CA is made this long before [`T0_MS`].
const CREATED_BEFORE_MS: u64 = 20 * 60 * 1000;
/// PCR0 of the simulated image (non-zero: debug enclaves are refused).
const PCR0: [u8; PCR_LEN] = [0x11; PCR_LEN];

/// A valid uncompressed P-256 point (the generator).
pub const VALID_POINT: [u8; 65] = [
    0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
    0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2,
    0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
    0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51,
    0xf5,
];

/// [`KeyRing::with_keys`] gives a ring with this id, version and data key.
pub const FIXED_RING_ID: [u8; 16] = [0; 16];
/// See [`FIXED_RING_ID`].
pub const FIXED_RING_VERSION: u64 = 1;
/// See [`FIXED_RING_ID`].
pub const FIXED_DATA_KEY: [u8; 32] = [0; 32];

/// A ring from fixed keys: id [`FIXED_RING_ID`], version
/// [`FIXED_RING_VERSION`], data key [`FIXED_DATA_KEY`], no KMS blob.
pub fn fixed_ring() -> KeyRing {
    match ResultSigningKey::from_scalar(&[9u8; 32]) {
        Some(signing) => KeyRing::with_keys(HpkeKeyPair::derive(1, &[7u8; 32]), signing),
        None => panic!("fixed scalar is valid"),
    }
}

/// A simulated enclave: its NSM, the dev root it signs under, its PCR0..2
/// and the time to verify at.
pub struct Sim {
    /// The simulator (clock fixed at [`T0_MS`]).
    pub nsm: SimNsm,
    /// Its dev root.
    pub root: TrustRoot,
    /// Its PCR0, PCR1, PCR2.
    pub pcrs: [Vec<u8>; 3],
    /// [`T0_MS`] as a `SystemTime`.
    pub now: SystemTime,
}

/// The one simulator every target shares (its dev CA costs a key generation).
pub fn sim() -> &'static Sim {
    static SIM: OnceLock<Sim> = OnceLock::new();
    SIM.get_or_init(|| {
        let clock = Arc::new(FixedClock::new(T0_MS - CREATED_BEFORE_MS));
        let nsm = SimNsm::new(clock.clone(), PCR0).expect("simulator starts");
        clock.set(T0_MS);
        let root = TrustRoot::dev_from_der(nsm.root_der()).expect("dev root parses");
        let pcrs = own_pcrs(&nsm).expect("simulator PCRs");
        Sim {
            nsm,
            root,
            pcrs,
            now: UNIX_EPOCH + Duration::from_millis(T0_MS),
        }
    })
}
