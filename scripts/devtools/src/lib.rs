#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod bench;
pub mod binance;
pub mod fixture;
pub mod generate;
pub mod generate_large;
pub mod klines;
pub mod kms_double;
pub mod limiter;
pub mod loadgen;
pub mod output;
pub mod query;
pub mod server;
pub mod stack;
pub mod stats;
pub mod tls;
pub mod wallet;
