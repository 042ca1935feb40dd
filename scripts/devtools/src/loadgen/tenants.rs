//! Tenants for a load run, created with the host's own ops command
//! (`strongroom-host tenant create NAME`, which prints the key last).

use std::path::Path;
use std::process::Command;

use zeroize::Zeroizing;

/// Longest tenant key accepted from the ops command.
pub const MAX_KEY_LEN: usize = 512;

/// Why a tenant could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TenantError {
    /// The host binary could not be run.
    #[error("cannot run {0}: {1}")]
    Spawn(String, std::io::Error),
    /// It exited unsuccessfully.
    #[error("`strongroom-host tenant create` failed: {0}")]
    Failed(String),
    /// It printed no plausible key.
    #[error("`strongroom-host tenant create` printed no key")]
    NoKey,
}

/// Creates `n` tenants named `{prefix}-{i}` and returns their keys.
pub fn create(
    host_bin: &Path,
    database_url: &str,
    prefix: &str,
    n: usize,
) -> Result<Vec<Zeroizing<String>>, TenantError> {
    (0..n)
        .map(|i| create_one(host_bin, database_url, &format!("{prefix}-{i}")))
        .collect()
}

fn create_one(
    host_bin: &Path,
    database_url: &str,
    name: &str,
) -> Result<Zeroizing<String>, TenantError> {
    let out = Command::new(host_bin)
        .args(["tenant", "create", name])
        .env("DATABASE_URL", database_url)
        .output()
        .map_err(|e| TenantError::Spawn(host_bin.display().to_string(), e))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or_default().to_owned();
        return Err(TenantError::Failed(last));
    }
    let stdout = Zeroizing::new(String::from_utf8_lossy(&out.stdout).into_owned());
    let key = stdout.lines().rev().find(|l| !l.trim().is_empty());
    match key.map(str::trim) {
        Some(k) if k.len() <= MAX_KEY_LEN && !k.contains(' ') => Ok(Zeroizing::new(k.to_owned())),
        _ => Err(TenantError::NoKey),
    }
}
