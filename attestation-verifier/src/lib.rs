#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod binding;
pub mod bundle;
pub mod cache;
pub mod cbor;
mod chain;
#[cfg(feature = "client")]
pub mod client;
pub mod cose;
pub mod document;
mod envelope;
pub mod error;
/// RFC 9162 hashing and proofs: one definition, in the protocol crate, shared
/// by the enclave (appends), the host (proof generation) and clients (verification).
pub use strongroom_formats::merkle;
pub mod owner;
pub mod policy;
pub mod quote;
pub mod result;
pub mod root;
#[cfg(feature = "seal")]
pub mod seal;
mod sig;
mod verify;
pub mod witnessed;

pub use binding::{BindingError, KeyBinding};
pub use bundle::{BUNDLE_FORMAT, ResultBundle, result_id, verify_bundle};
pub use cache::VerifierCache;
#[cfg(feature = "client")]
pub use client::{Client, ClientError};
pub use document::{
    MAX_CABUNDLE_LEN, MAX_CERT_LEN, MAX_DOCUMENT_LEN, MAX_MODULE_ID_LEN, MAX_USER_FIELD_LEN,
};
pub use error::{CertPosition, SchemaError, VerifyError};
pub use policy::{PcrSet, PcrsFileError, Policy};
pub use quote::{QuoteError, QuoteResponse, VerifiedQuote, verify_quote_json};
pub use result::{
    AggregatesAnswer, ConsistentHeads, LogEntry, ResultError, VerifiedResult, parse_answer,
    verify_consistency_heads, verify_result, verify_result_cached, verify_tree_head,
};
pub use root::{AWS_NITRO_ROOT_G1_SHA256, TrustRoot, TrustRootError};
#[cfg(feature = "seal")]
pub use seal::{
    CredentialMetadata, CredentialPlaintext, SealError, SealRecipient, SubmitKeyBody,
    seal_credential, seal_credential_with_rng,
};
pub use verify::{VerifiedDocument, inspect_unverified, verify, verify_cached};
