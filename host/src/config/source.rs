//! Where configuration comes from and how one value is read: the pieces the
//! serve settings and the keys settings share.

use std::collections::HashMap;

/// Where configuration values come from.
pub trait ConfigSource {
    /// The value of `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvSource;

impl ConfigSource for EnvSource {
    fn get(&self, name: &str) -> Option<String> {
        // A non-UTF-8 value is reported as invalid rather than ignored.
        std::env::var_os(name).map(|v| v.into_string().unwrap_or_else(|_| "\u{fffd}".into()))
    }
}

impl ConfigSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// A configuration error: which variable, and why (never its value).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{0} is required but not set")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// What is wrong, without the value.
        reason: &'static str,
    },
}

pub(crate) fn non_empty(src: &dyn ConfigSource, name: &'static str) -> Option<String> {
    src.get(name).filter(|v| !v.trim().is_empty())
}

pub(crate) fn parse_num<T: std::str::FromStr + PartialOrd>(
    src: &dyn ConfigSource,
    name: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    let Some(raw) = src.get(name) else {
        return Ok(default);
    };
    let v: T = raw.trim().parse().map_err(|_| ConfigError::Invalid {
        name,
        reason: "not a number",
    })?;
    if v < min || v > max {
        return Err(ConfigError::Invalid {
            name,
            reason: "out of range",
        });
    }
    Ok(v)
}
