#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod aggregate;
pub mod attest;
pub mod clock;
pub mod compute;
pub mod equity;
pub mod exchange;
pub mod handle;
pub mod history;
pub mod intake;
mod jobs;
pub mod kms;
pub mod nsm;
mod results;
pub mod ring;
pub mod slots;
pub mod state;
pub mod sync;
mod terms;
pub mod tlog;
