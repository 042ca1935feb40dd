#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod aggregates;
pub mod c2sp;
pub mod codec;
pub mod cose;
pub mod credential;
pub mod merkle;
pub mod owner;
pub mod policy;
pub mod proxy;
pub mod returns;
pub mod tlog;
