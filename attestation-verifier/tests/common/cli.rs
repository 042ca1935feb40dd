//! Running the `strongroom` CLI from the CLI tests (included by path: only
//! test binaries of the `cli` feature have the binary).
#![allow(dead_code, clippy::unwrap_used)]

use std::process::{Command, Output};

/// Runs the CLI. Tests of other checks accept any measurements explicitly
/// (`--insecure-no-pcrs`) unless they pin with `--pcrs`; the refusal without
/// either is tested with [`strongroom_exact`].
pub fn strongroom(args: &[&str]) -> Output {
    let verifying = matches!(
        args.first(),
        Some(&("verify-attestation" | "verify-result"))
    );
    if verifying && !args.contains(&"--pcrs") {
        strongroom_exact(&[args, &["--insecure-no-pcrs"]].concat())
    } else {
        strongroom_exact(args)
    }
}

/// Runs the CLI with exactly `args`, without the exchange secrets' variables.
pub fn strongroom_exact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(args)
        .env_remove("EXCHANGE_API_KEY")
        .env_remove("EXCHANGE_API_SECRET")
        .output()
        .unwrap()
}
