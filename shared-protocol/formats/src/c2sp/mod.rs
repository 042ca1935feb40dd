//! C2SP transparency-log formats (DESIGN.md "Log v2: checkpoints,
//! witnesses, tiles"), implemented from the specs copied under
//! `tests/data/c2sp/`: signed notes, checkpoints, `cosignature/v1`
//! witness cosignatures, `tlog-proof@v1` proofs and tlog-tiles paths.
//! Merkle hashing and proof checks are [`crate::merkle`]'s.

pub mod checkpoint;
pub mod cosignature;
pub mod note;
pub mod policy;
pub mod proof;
pub mod tiles;
pub mod witness;
