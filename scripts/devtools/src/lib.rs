#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod binance;
pub mod fixture;
pub mod generate;
pub mod limiter;
pub mod query;
pub mod server;
pub mod tls;
