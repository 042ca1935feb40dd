#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod accept;
pub mod audit;
pub mod config;
pub mod db;
pub mod egress;
pub mod enclave;
pub mod http;
pub mod janitor;
pub mod keys;
pub mod metrics;
pub mod periodic;
pub mod ratelimit;
pub mod serve;
pub mod shared_limits;
pub mod store;
pub mod tenants;
pub mod tlog;
pub mod witness;
