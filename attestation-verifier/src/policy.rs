//! What a caller accepts beyond "genuine": measurements, debug mode, nonce,
//! age and bound public key (checks 22–26).

use crate::document::{MAX_PCR_INDEX, Payload};
use crate::error::VerifyError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use thiserror::Error;

/// Largest `pcrs.json` accepted.
pub const MAX_PCRS_JSON_LEN: usize = 64 * 1024;
/// Default tolerance for a document timestamp ahead of the verifier's clock.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// A `pcrs.json` that cannot be used as a measurement set.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PcrsFileError {
    /// File larger than [`MAX_PCRS_JSON_LEN`].
    #[error("{source_name}: larger than {MAX_PCRS_JSON_LEN} bytes")]
    TooLarge { source_name: String },
    /// Not a JSON object of the expected shape.
    #[error("{source_name}: {reason}")]
    Invalid { source_name: String, reason: String },
    /// The file could not be read.
    #[error("{source_name}: {reason}")]
    Io { source_name: String, reason: String },
}

/// One accepted set of measurements (one release), from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrSet {
    /// Where it came from (file name), for reports.
    pub source: String,
    /// PCR index -> required value; at least one entry.
    pub pcrs: BTreeMap<u8, Vec<u8>>,
}

impl PcrSet {
    /// Parses `pcrs.json`, nitro-cli form (`{"Measurements": {"HashAlgorithm":
    /// "Sha384 { ... }", "PCR0": hex, ...}}`) or flat (`{"PCR0": hex, ...}`).
    pub fn from_json(source: &str, json: &[u8]) -> Result<Self, PcrsFileError> {
        let invalid = |reason: &str| PcrsFileError::Invalid {
            source_name: source.to_owned(),
            reason: reason.to_owned(),
        };
        if json.len() > MAX_PCRS_JSON_LEN {
            return Err(PcrsFileError::TooLarge {
                source_name: source.to_owned(),
            });
        }
        let value: Value = serde_json::from_slice(json).map_err(|e| invalid(&e.to_string()))?;
        let Value::Object(outer) = value else {
            return Err(invalid("not a JSON object"));
        };
        let map = match outer.get("Measurements") {
            Some(Value::Object(inner)) if outer.len() == 1 => inner,
            Some(_) => return Err(invalid("`Measurements` must be the only key and an object")),
            None => &outer,
        };
        let pcrs = measurements(map).map_err(|r| invalid(&r))?;
        Ok(PcrSet {
            source: source.to_owned(),
            pcrs,
        })
    }

    /// Reads and parses a `pcrs.json` file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, PcrsFileError> {
        let name = path.display().to_string();
        let io = |e: std::io::Error| PcrsFileError::Io {
            source_name: name.clone(),
            reason: e.to_string(),
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_PCRS_JSON_LEN as u64 {
            return Err(PcrsFileError::TooLarge { source_name: name });
        }
        Self::from_json(&name, &std::fs::read(path).map_err(io)?)
    }

    /// True when every PCR named here has exactly this value in `pcrs`.
    pub fn matches(&self, pcrs: &BTreeMap<u8, Vec<u8>>) -> bool {
        self.pcrs.iter().all(|(i, v)| pcrs.get(i) == Some(v))
    }
}

fn measurements(map: &Map<String, Value>) -> Result<BTreeMap<u8, Vec<u8>>, String> {
    let mut pcrs = BTreeMap::new();
    for (key, value) in map {
        let Value::String(s) = value else {
            return Err(format!("`{key}` is not a string"));
        };
        if key == "HashAlgorithm" {
            if !s.starts_with("Sha384") {
                return Err(format!("unsupported HashAlgorithm `{s}`"));
            }
            continue;
        }
        let index = key
            .strip_prefix("PCR")
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| *n <= MAX_PCR_INDEX && key == &format!("PCR{n}"))
            .ok_or_else(|| format!("unknown key `{key}`"))?;
        let bytes = hex::decode(s).map_err(|_| format!("`{key}` is not hex"))?;
        if ![32, 48, 64].contains(&bytes.len()) {
            return Err(format!(
                "`{key}` is {} bytes (32, 48 or 64 expected)",
                bytes.len()
            ));
        }
        pcrs.insert(index, bytes);
    }
    if pcrs.is_empty() {
        return Err("names no PCR".to_owned());
    }
    Ok(pcrs)
}

/// The caller's acceptance rules. `Policy::default()` accepts any production
/// measurements and refuses debug-mode enclaves.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Accepted measurement sets; a document passes when it matches at least
    /// one. `None` accepts any measurements (report them; pin before trusting).
    pub allowed_pcrs: Option<Vec<PcrSet>>,
    /// Accept debug-mode enclaves (PCR0/1/2 all zero). Never in production.
    pub allow_debug: bool,
    /// Required `nonce` (the caller's challenge).
    pub expected_nonce: Option<Vec<u8>>,
    /// Required `public_key`.
    pub expected_public_key: Option<Vec<u8>>,
    /// Maximum age of the document's timestamp at `now`.
    pub max_age: Option<Duration>,
    /// How far the document timestamp may lie ahead of `now`.
    pub max_clock_skew: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allowed_pcrs: None,
            allow_debug: false,
            expected_nonce: None,
            expected_public_key: None,
            max_age: None,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
        }
    }
}

impl Policy {
    /// Adds an accepted measurement set (keeps earlier ones: rolling deploys).
    pub fn allow_pcrs(mut self, set: PcrSet) -> Self {
        self.allowed_pcrs.get_or_insert_with(Vec::new).push(set);
        self
    }
    /// Sets [`Policy::allow_debug`].
    pub fn with_allow_debug(mut self, allow: bool) -> Self {
        self.allow_debug = allow;
        self
    }
    /// Sets [`Policy::expected_nonce`].
    pub fn with_nonce(mut self, nonce: Vec<u8>) -> Self {
        self.expected_nonce = Some(nonce);
        self
    }
    /// Sets [`Policy::expected_public_key`].
    pub fn with_public_key(mut self, key: Vec<u8>) -> Self {
        self.expected_public_key = Some(key);
        self
    }
    /// Sets [`Policy::max_age`].
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Applies the policy; returns the source of the matching PCR set.
    pub(crate) fn check(&self, p: &Payload, now: Duration) -> Result<Option<String>, VerifyError> {
        if p.is_debug() && !self.allow_debug {
            return Err(VerifyError::DebugMode);
        }
        let matched = match &self.allowed_pcrs {
            None => None,
            Some(sets) => Some(
                sets.iter()
                    .find(|s| s.matches(&p.pcrs))
                    .map(|s| s.source.clone())
                    .ok_or(VerifyError::PcrsNotAllowed)?,
            ),
        };
        if self
            .expected_nonce
            .as_ref()
            .is_some_and(|n| p.nonce.as_ref() != Some(n))
        {
            return Err(VerifyError::NonceMismatch);
        }
        if self
            .expected_public_key
            .as_ref()
            .is_some_and(|k| p.public_key.as_ref() != Some(k))
        {
            return Err(VerifyError::PublicKeyMismatch);
        }
        self.check_time(p.timestamp_ms, now)?;
        Ok(matched)
    }

    fn check_time(&self, timestamp_ms: u64, now: Duration) -> Result<(), VerifyError> {
        let now_ms = u64::try_from(now.as_millis()).map_err(|_| VerifyError::InvalidTime)?;
        let skew_ms = u64::try_from(self.max_clock_skew.as_millis()).unwrap_or(u64::MAX);
        if timestamp_ms > now_ms.saturating_add(skew_ms) {
            return Err(VerifyError::FromTheFuture {
                ahead_ms: timestamp_ms - now_ms,
            });
        }
        if let Some(max) = self.max_age {
            let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
            let age_ms = now_ms.saturating_sub(timestamp_ms);
            if age_ms > max_ms {
                return Err(VerifyError::TooOld { age_ms, max_ms });
            }
        }
        Ok(())
    }
}
