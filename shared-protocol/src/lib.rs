#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use strongroom_formats::{aggregates, codec, merkle, tlog};
pub mod client;
pub mod egress;
pub mod error;
pub mod frame;
pub mod messages;
pub mod server;
pub mod transport;

pub use error::{ErrorCode, RpcError};
