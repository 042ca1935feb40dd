//! RFC 9162 hashing and proofs come from the protocol crate, the one definition
//! shared with the enclave (which extends the log) and clients (which verify it).
//! The host only generates proofs.

pub use strongroom_protocol::merkle::*;
