#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod aggregates;
pub mod client;
pub mod codec;
pub mod egress;
pub mod error;
pub mod frame;
pub mod merkle;
pub mod messages;
pub mod server;
pub mod tlog;
pub mod transport;

pub use error::{ErrorCode, RpcError};
