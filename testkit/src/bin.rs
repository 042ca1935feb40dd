//! Where the built binaries are: `$STRONGROOM_BIN_DIR`, else the profile
//! directory of the running test executable (`target/debug/deps/<test>` ->
//! `target/debug`). A missing binary panics with what to run; never skipped.

use std::path::{Path, PathBuf};

/// The one variable that moves every binary (scripts/test sets it).
pub const BIN_DIR_VAR: &str = "STRONGROOM_BIN_DIR";

/// The directory the binaries are taken from.
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os(BIN_DIR_VAR).filter(|d| !d.is_empty()) {
        return d.into();
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("a test executable lives in target/<profile>/deps")
        .to_path_buf()
}

/// The binary `name`, which must exist.
pub fn path(name: &str) -> PathBuf {
    let p = dir().join(name);
    assert!(
        p.is_file(),
        "{name} not found at {}: run `cargo build --workspace --bins --features \
         strongroom-enclave/dev-simulator` first (scripts/test does), or set {BIN_DIR_VAR} \
         to the directory that holds it",
        p.display()
    );
    p
}

/// `strongroom-host`.
pub fn host() -> PathBuf {
    path("strongroom-host")
}

/// `strongroom-enclave`, built with the `dev-simulator` feature.
pub fn enclave() -> PathBuf {
    path("strongroom-enclave")
}

/// `strongroom-mock-exchange` (strongroom-devtools).
pub fn mock_exchange() -> PathBuf {
    path("strongroom-mock-exchange")
}

/// `strongroom-kms-double` (strongroom-devtools).
pub fn kms_double() -> PathBuf {
    path("strongroom-kms-double")
}

/// `strongroom-loadgen` (strongroom-devtools).
pub fn loadgen() -> PathBuf {
    path("strongroom-loadgen")
}

/// `strongroom`, the verifier's command line (feature `cli`).
pub fn verifier_cli() -> PathBuf {
    path("strongroom")
}

/// `strongroom-witness`.
pub fn witness() -> PathBuf {
    path("strongroom-witness")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_binary_names_the_variable_and_the_build() {
        let err = std::panic::catch_unwind(|| super::path("strongroom-no-such-binary"))
            .expect_err("a missing binary panics");
        let msg = err.downcast_ref::<String>().expect("a formatted message");
        assert!(msg.contains("STRONGROOM_BIN_DIR"), "{msg}");
        assert!(msg.contains("cargo build --workspace --bins"), "{msg}");
    }
}
