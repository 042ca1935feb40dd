//! Port: the Nitro Secure Module behind a small trait. It is also the
//! enclave's one source of randomness. The implementations live in the
//! binary crate `strongroom-enclave`: the real device (`nsm::real::DeviceNsm`,
//! `/dev/nsm`) and the dev simulator (`nsm::sim::SimNsm`, feature
//! `dev-simulator`, chosen only by `--dev-simulator`).

use zeroize::Zeroizing;

/// Path of the NSM device inside a Nitro enclave.
pub const NSM_DEVICE_PATH: &str = "/dev/nsm";
/// Largest `public_key`, `user_data` or `nonce` the NSM accepts (per field).
pub const MAX_NSM_FIELD_LEN: usize = 1024;
/// Largest amount of randomness served by one [`Nsm::random`] call.
pub const MAX_RANDOM_LEN: usize = 4096;
/// Number of PCRs in a Nitro attestation document.
pub const PCR_COUNT: u16 = 16;
/// Length of one PCR (SHA-384).
pub const PCR_LEN: usize = 48;

/// Why an NSM call failed. Never carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NsmError {
    /// `/dev/nsm` is absent or could not be opened.
    #[error("the NSM device {NSM_DEVICE_PATH} is not available")]
    Unavailable,
    /// A field or request exceeds the NSM's limits.
    #[error("input too large for the NSM")]
    InputTooLarge,
    /// The NSM answered with an error or an unexpected response.
    #[error("NSM request failed: {0}")]
    Device(String),
    /// The simulator failed (certificate or signature generation).
    #[error("NSM simulator failure: {0}")]
    Simulator(&'static str),
}

/// What the enclave needs from the NSM.
pub trait Nsm: Send + Sync {
    /// Returns an attestation document (COSE_Sign1 bytes) binding the given
    /// optional fields. Each field is at most [`MAX_NSM_FIELD_LEN`] bytes.
    fn attest(
        &self,
        public_key: Option<&[u8]>,
        user_data: Option<&[u8]>,
        nonce: Option<&[u8]>,
    ) -> Result<Vec<u8>, NsmError>;

    /// Returns `n` (at most [`MAX_RANDOM_LEN`]) bytes of entropy.
    fn random(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, NsmError>;

    /// Returns the current value of PCR `index`.
    fn describe_pcr(&self, index: u16) -> Result<Vec<u8>, NsmError>;

    /// True for the dev simulator; shown in health answers and logs.
    fn is_simulator(&self) -> bool;
}

/// Checks the per-field limit; every implementation calls it first.
pub fn check_fields(fields: [Option<&[u8]>; 3]) -> Result<(), NsmError> {
    if fields
        .iter()
        .flatten()
        .any(|field| field.len() > MAX_NSM_FIELD_LEN)
    {
        return Err(NsmError::InputTooLarge);
    }
    Ok(())
}
