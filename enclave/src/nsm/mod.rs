//! Implementations of the core's NSM port
//! ([`strongroom_enclave_core::nsm::Nsm`]): the real device
//! ([`real::DeviceNsm`], `/dev/nsm`) and the dev simulator ([`sim::SimNsm`],
//! feature `dev-simulator`, chosen only by `--dev-simulator`).

pub mod real;
#[cfg(feature = "dev-simulator")]
pub mod sim;

use strongroom_enclave_core::nsm::{MAX_RANDOM_LEN, NSM_DEVICE_PATH, Nsm, NsmError, check_fields};
#[cfg(feature = "dev-simulator")]
use strongroom_enclave_core::nsm::{PCR_COUNT, PCR_LEN};
