//! `target/strongroom-dev/stack.json` as `scripts/demo --serve` writes it
//! (DESIGN.md), and the loopback-only rule of the load tools.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Largest stack.json read.
pub const MAX_STACK_JSON_LEN: u64 = 64 * 1024;

/// Why a stack description is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// The file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// Over [`MAX_STACK_JSON_LEN`].
    #[error("{0} is larger than {MAX_STACK_JSON_LEN} bytes")]
    TooLarge(PathBuf),
    /// Not the expected JSON.
    #[error("{0} is not a stack description: {1}")]
    Json(PathBuf, serde_json::Error),
    /// The host URL does not point at this machine.
    #[error("refusing a non-loopback target: {0}")]
    NotLoopback(String),
}

/// The fields the load tools use (others are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct Stack {
    /// `http://127.0.0.1:PORT`.
    pub host_url: String,
    /// The stack's first tenant key.
    pub api_key: String,
    /// PostgreSQL of the stack.
    pub database_url: String,
    /// Simulator root certificate (PEM).
    pub dev_root_pem: PathBuf,
    /// PCR manifest of the running enclave.
    #[serde(default)]
    pub pcrs_json: Option<PathBuf>,
    /// Process ids.
    #[serde(default)]
    pub pids: serde_json::Value,
    /// The log's witnesses (`[{url, vkey}]`), when it has some.
    #[serde(default)]
    pub witnesses: Vec<serde_json::Value>,
}

impl Stack {
    /// Reads and checks a stack description (loopback host only).
    pub fn load(path: &Path) -> Result<Stack, StackError> {
        let meta = std::fs::metadata(path).map_err(|e| StackError::Read(path.into(), e))?;
        if meta.len() > MAX_STACK_JSON_LEN {
            return Err(StackError::TooLarge(path.into()));
        }
        let bytes = std::fs::read(path).map_err(|e| StackError::Read(path.into(), e))?;
        let stack: Stack =
            serde_json::from_slice(&bytes).map_err(|e| StackError::Json(path.into(), e))?;
        check_loopback(&stack.host_url)?;
        Ok(stack)
    }

    /// A process id from `pids`, if present.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.pids.get(name)?.as_u64()?.try_into().ok()
    }
}

/// Accepts only `http(s)://` URLs whose host is 127.0.0.0/8, `::1` or
/// `localhost`: the load tools must never hammer another machine.
pub fn check_loopback(url: &str) -> Result<(), StackError> {
    let bad = || StackError::NotLoopback(url.to_owned());
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(bad)?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad());
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let ok = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if ok { Ok(()) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::check_loopback;

    #[test]
    fn loopback_only() {
        for ok in [
            "http://127.0.0.1:3000",
            "http://localhost:1/x",
            "https://[::1]:8443",
            "http://127.9.9.9",
        ] {
            assert!(check_loopback(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:3000",
            "https://example.com",
            "http://user@127.0.0.1.evil:1",
            "http://127.0.0.1@evil.com",
            "ftp://127.0.0.1",
            "http://[2001:db8::1]:80",
        ] {
            assert!(check_loopback(bad).is_err(), "{bad}");
        }
    }
}
