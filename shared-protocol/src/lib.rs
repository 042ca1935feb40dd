#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use strongroom_formats::{aggregates, codec, merkle, tlog};
#[cfg(feature = "io")]
pub mod client;
pub mod egress;
pub mod error;
pub mod frame;
pub mod messages;
#[cfg(feature = "io")]
pub mod server;
#[cfg(feature = "io")]
pub mod transport;

pub use error::{ErrorCode, RpcError};
