#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod aggregates;
pub mod codec;
pub mod merkle;
pub mod returns;
pub mod tlog;
