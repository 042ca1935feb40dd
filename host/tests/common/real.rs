//! Real processes for end-to-end tests (the enclave in simulator mode, the
//! mock exchange, the KMS double), HPKE sealing as a client does it, pg_dump:
//! all from the shared kit.
#![allow(unused_imports)]

pub use strongroom_testkit::enclave::{RealEnclave, start_enclave};
pub use strongroom_testkit::kms::{
    KMS_DOUBLE_ACCESS_KEY, KMS_DOUBLE_SECRET, KmsDouble, start_kms_double,
};
pub use strongroom_testkit::mock::{MockExchange, start_mock_exchange, start_mock_exchange_with};
pub use strongroom_testkit::pg::pg_dump;
pub use strongroom_testkit::seal::{seal, submission};
