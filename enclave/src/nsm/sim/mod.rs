//! The dev NSM simulator. It produces attestation documents byte-compatible
//! with real ones, signed by a dev PKI generated at start whose root (see
//! [`SimNsm::root_pem`]) must be trusted explicitly by a verifier: it never
//! chains to the AWS Nitro root. Selected only by `--dev-simulator`.

mod certs;
mod doc;

use std::sync::{Arc, Mutex};

use serde_bytes::Bytes;
use sha2::{Digest, Sha384};
use zeroize::Zeroizing;

use self::certs::{DevCa, Issued};
use self::doc::{DocPayload, pcr_map, sign_document};
use super::{MAX_RANDOM_LEN, Nsm, NsmError, PCR_COUNT, PCR_LEN, check_fields};
use strongroom_enclave_core::clock::Clock;

pub use self::certs::{DEV_MARKER, LEAF_LIFETIME, MAX_DEV_CA_FILE_LEN};
pub use self::doc::PROTECTED_ES384;

/// A leaf is re-issued when less than this remains of its validity, so every
/// document's timestamp lies well inside its leaf's validity.
const LEAF_RENEW_MARGIN_MS: u64 = 3600 * 1000;

/// Prefix of every simulated `module_id`.
pub const SIM_MODULE_PREFIX: &str = "sim-";

/// The simulator.
pub struct SimNsm {
    ca: DevCa,
    leaf: Mutex<Issued>,
    module_id: String,
    pcrs: [[u8; PCR_LEN]; PCR_COUNT as usize],
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SimNsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNsm")
            .field("module_id", &self.module_id)
            .finish_non_exhaustive()
    }
}

/// Entropy for the simulator (the OS generator; there is no NSM to ask).
pub(crate) fn os_random(n: usize) -> Result<Zeroizing<Vec<u8>>, NsmError> {
    if n > MAX_RANDOM_LEN {
        return Err(NsmError::InputTooLarge);
    }
    let mut out = Zeroizing::new(vec![0u8; n]);
    getrandom::fill(&mut out).map_err(|_| NsmError::Simulator("OS randomness unavailable"))?;
    Ok(out)
}

/// PCR0 of the simulator: SHA-384 of the running executable, so it changes
/// whenever the enclave code changes.
pub fn pcr0_of_current_exe() -> std::io::Result<[u8; PCR_LEN]> {
    let exe = std::env::current_exe()?;
    let bytes = std::fs::read(exe)?;
    Ok(Sha384::digest(&bytes).into())
}

fn labelled(label: &[u8]) -> [u8; PCR_LEN] {
    Sha384::digest(label).into()
}

impl SimNsm {
    /// A simulator whose PCR0 is `pcr0` (use [`pcr0_of_current_exe`]); PCR1
    /// and PCR2 are fixed, distinct, labelled values; PCR4 is derived from
    /// the simulated instance id as on real hardware; the rest are zero.
    pub fn new(clock: Arc<dyn Clock>, pcr0: [u8; PCR_LEN]) -> Result<Self, NsmError> {
        let ca = DevCa::generate(clock.now_unix_ms())?;
        Self::with_ca(clock, pcr0, ca)
    }

    /// Like [`SimNsm::new`], with the dev CA loaded from `path` or created
    /// there (mode 0600) when absent (`--dev-root-key`): several dev
    /// enclaves, and restarts, then share one dev root, as real enclaves
    /// share the AWS root (peer sync needs that).
    pub fn with_dev_ca_file(
        clock: Arc<dyn Clock>,
        pcr0: [u8; PCR_LEN],
        path: &std::path::Path,
    ) -> Result<Self, NsmError> {
        let ca = DevCa::load_or_create(path, clock.now_unix_ms())?;
        Self::with_ca(clock, pcr0, ca)
    }

    fn with_ca(clock: Arc<dyn Clock>, pcr0: [u8; PCR_LEN], ca: DevCa) -> Result<Self, NsmError> {
        let now = clock.now_unix_ms();
        let instance = format!("{SIM_MODULE_PREFIX}{}", hex::encode(&os_random(8)?[..]));
        let module_id = format!("{instance}-enc{}", hex::encode(&os_random(8)?[..]));
        let mut pcrs = [[0u8; PCR_LEN]; PCR_COUNT as usize];
        pcrs[0] = pcr0;
        pcrs[1] = labelled(b"STRONGROOM DEV SIMULATOR PCR1 (kernel and boot ramdisk)");
        pcrs[2] = labelled(b"STRONGROOM DEV SIMULATOR PCR2 (user applications)");
        let mut pcr4 = Sha384::new();
        pcr4.update([0u8; PCR_LEN]);
        pcr4.update(instance.as_bytes());
        pcrs[4] = pcr4.finalize().into();
        let leaf = ca.issue_leaf(&module_id, now)?;
        Ok(Self {
            ca,
            leaf: Mutex::new(leaf),
            module_id,
            pcrs,
            clock,
        })
    }

    /// The dev root certificate as PEM (what `--dev-root-out` writes).
    pub fn root_pem(&self) -> Result<String, NsmError> {
        self.ca.root_pem()
    }

    /// The dev root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        &self.ca.root.der
    }

    /// The simulated module id (`sim-...-enc...`).
    pub fn module_id(&self) -> &str {
        &self.module_id
    }

    /// The simulated PCR bank.
    pub fn pcrs(&self) -> &[[u8; PCR_LEN]; PCR_COUNT as usize] {
        &self.pcrs
    }
}

impl Nsm for SimNsm {
    fn attest(
        &self,
        public_key: Option<&[u8]>,
        user_data: Option<&[u8]>,
        nonce: Option<&[u8]>,
    ) -> Result<Vec<u8>, NsmError> {
        check_fields([public_key, user_data, nonce])?;
        let now = self.clock.now_unix_ms();
        let mut leaf = self
            .leaf
            .lock()
            .map_err(|_| NsmError::Simulator("leaf lock poisoned"))?;
        if leaf.not_after_ms.saturating_sub(LEAF_RENEW_MARGIN_MS) <= now {
            *leaf = self.ca.issue_leaf(&self.module_id, now)?;
        }
        let payload = DocPayload {
            module_id: &self.module_id,
            digest: "SHA384",
            timestamp: now,
            pcrs: pcr_map(&self.pcrs),
            certificate: Bytes::new(&leaf.der),
            cabundle: vec![
                Bytes::new(&self.ca.root.der),
                Bytes::new(&self.ca.intermediate.der),
            ],
            public_key: public_key.map(Bytes::new),
            user_data: user_data.map(Bytes::new),
            nonce: nonce.map(Bytes::new),
        };
        sign_document(&payload, &leaf.key)
    }

    fn random(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, NsmError> {
        os_random(n)
    }

    fn describe_pcr(&self, index: u16) -> Result<Vec<u8>, NsmError> {
        self.pcrs
            .get(usize::from(index))
            .map(|pcr| pcr.to_vec())
            .ok_or_else(|| NsmError::Device("InvalidIndex".to_owned()))
    }

    fn is_simulator(&self) -> bool {
        true
    }
}
