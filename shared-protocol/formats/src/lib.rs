#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod aggregates;
pub mod c2sp;
pub mod codec;
pub mod cose;
pub mod credential;
pub mod merkle;
pub mod proxy;
pub mod returns;
pub mod tlog;
