#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod clock;
mod egress;
pub mod exchange;
pub mod kms;
pub mod nsm;
pub mod service;
pub mod tls;
