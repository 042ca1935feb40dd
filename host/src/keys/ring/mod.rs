//! The key ring's life: where it comes from at boot ([`boot`]), how it is
//! rotated ([`rotation`]), and the task that drives both and keeps the instance
//! registry current ([`task`]).

pub mod boot;
pub mod rotation;
pub mod task;
