#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod config;
pub mod decide;
mod limiter;
pub mod server;
pub mod store;
