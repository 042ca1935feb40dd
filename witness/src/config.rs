//! Configuration, read once at start from the environment (a source
//! function, so tests pass a map). Invalid configuration exits 64 before a
//! port is bound, naming the variable, never echoing the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use strongroom_formats::c2sp::note::{KeyType, VerifierKey, check_name};
use zeroize::Zeroizing;

/// Default listen address: loopback (put a reverse proxy in front to publish).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7380";
/// Default requests per second allowed per client address.
pub const DEFAULT_RATE_PER_SEC: u32 = 20;
/// Largest logs file read.
pub const MAX_LOGS_FILE_LEN: u64 = 256 * 1024;

/// A configuration error: the variable and what is wrong (no values).
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

fn bad(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

/// The witness's configuration.
pub struct Config {
    /// The witness key name (e.g. `witness.example/w1`).
    pub name: String,
    /// The Ed25519 seed of the cosignature/v1 key.
    pub seed: Zeroizing<[u8; 32]>,
    /// Followed logs: origin -> trusted Ed25519 note keys.
    pub logs: BTreeMap<String, Vec<VerifierKey>>,
    /// Where `logs` came from (re-read on SIGHUP).
    pub logs_file: PathBuf,
    /// PostgreSQL connection string.
    pub database_url: String,
    /// Listen address.
    pub listen: SocketAddr,
    /// Requests per second allowed per client address (burst: twice that).
    pub rate_per_sec: u32,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("logs", &self.logs.keys().collect::<Vec<_>>())
            .field("listen", &self.listen)
            .field("rate_per_sec", &self.rate_per_sec)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads `WITNESS_NAME`, `WITNESS_KEY_FILE`, `WITNESS_LOGS_FILE`,
    /// `DATABASE_URL`, `WITNESS_LISTEN` and `WITNESS_RATE_PER_SEC`.
    pub fn from_source(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let name = get("WITNESS_NAME").ok_or_else(|| bad("WITNESS_NAME", "is required"))?;
        check_name(&name).map_err(|_| bad("WITNESS_NAME", "is not a valid note key name"))?;
        let key_file =
            get("WITNESS_KEY_FILE").ok_or_else(|| bad("WITNESS_KEY_FILE", "is required"))?;
        let seed = read_seed(&PathBuf::from(key_file))?;
        let logs_file =
            get("WITNESS_LOGS_FILE").ok_or_else(|| bad("WITNESS_LOGS_FILE", "is required"))?;
        let logs_file = PathBuf::from(logs_file);
        let logs = read_logs(&logs_file)?;
        let database_url = get("DATABASE_URL").ok_or_else(|| bad("DATABASE_URL", "is required"))?;
        let listen = get("WITNESS_LISTEN")
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned())
            .parse()
            .map_err(|_| bad("WITNESS_LISTEN", "is not an address:port"))?;
        let rate_per_sec = match get("WITNESS_RATE_PER_SEC") {
            None => DEFAULT_RATE_PER_SEC,
            Some(v) => v
                .parse()
                .ok()
                .filter(|r| (1..=100_000).contains(r))
                .ok_or_else(|| bad("WITNESS_RATE_PER_SEC", "must be 1..=100000"))?,
        };
        Ok(Self {
            name,
            seed,
            logs,
            logs_file,
            database_url,
            listen,
            rate_per_sec,
        })
    }
}

/// The key file: 64 hex digits (the Ed25519 seed) and an optional newline.
pub fn read_seed(path: &std::path::Path) -> Result<Zeroizing<[u8; 32]>, ConfigError> {
    let var = "WITNESS_KEY_FILE";
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| bad(var, format!("cannot read: {e}")))?,
    );
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim_end_matches('\n'), seed.as_mut())
        .map_err(|_| bad(var, "must hold 64 hex digits"))?;
    Ok(seed)
}

/// The logs file: one `ORIGIN VKEY` line per trusted log key (a log may
/// have several); blank lines and `#` comments are skipped. Each VKEY is a
/// signed-note verifier key of type Ed25519 (0x01).
pub fn read_logs(
    path: &std::path::Path,
) -> Result<BTreeMap<String, Vec<VerifierKey>>, ConfigError> {
    let var = "WITNESS_LOGS_FILE";
    let meta = std::fs::metadata(path).map_err(|e| bad(var, format!("cannot read: {e}")))?;
    if meta.len() > MAX_LOGS_FILE_LEN {
        return Err(bad(var, format!("larger than {MAX_LOGS_FILE_LEN} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(var, format!("cannot read: {e}")))?;
    let mut logs: BTreeMap<String, Vec<VerifierKey>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |what: &str| bad(var, format!("line {}: {what}", n + 1));
        let (origin, vkey) = line
            .split_once(' ')
            .ok_or_else(|| at("expected `ORIGIN VKEY`"))?;
        let key = VerifierKey::parse(vkey.trim()).map_err(|_| at("not a verifier key"))?;
        if key.kind() != KeyType::Ed25519 {
            return Err(at("a log key must be Ed25519 (type 0x01)"));
        }
        logs.entry(origin.to_owned()).or_default().push(key);
    }
    if logs.is_empty() {
        tracing::warn!(
            "{var} names no log yet: every add-checkpoint is 404 until it does (SIGHUP re-reads it)"
        );
    }
    Ok(logs)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
