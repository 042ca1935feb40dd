//! Credential v2's disclosure policy (DESIGN.md "Credential v2"): what the
//! trader, sealing the credential, allows any computation over it to
//! reveal. The enclave enforces it on every request whatever the host
//! asks; the policy travels sealed, and is signed into every v2 result.
//!
//! A v1 credential carries no policy and gets [`Policy::STRICTEST`].

use serde::{Deserialize, Serialize};

/// Default `min_interval_seconds` of the client and of v1 credentials.
pub const DEFAULT_MIN_INTERVAL_SECONDS: u64 = 3600;

/// Largest `min_interval_seconds` accepted (one year).
pub const MAX_MIN_INTERVAL_SECONDS: u64 = 366 * 86_400;

/// One UTC day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Which windows a computation may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Windows {
    /// `from` and `to`, when given, fall on 00:00:00Z.
    Days,
    /// No window at all: the whole history from inception.
    Inception,
    /// Any window (millisecond bounds included).
    Any,
}

/// Which symbols a computation may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Symbols {
    /// None: the account's every symbol, always.
    All,
    /// The request may name a subset.
    Choice,
}

/// The sealed policy, exactly these four fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Window rule.
    pub windows: Windows,
    /// Symbol rule.
    pub symbols: Symbols,
    /// At most one computation per this many seconds per credential.
    pub min_interval_seconds: u64,
    /// Results may be published (`GET /r/{id}`) without a further owner
    /// signature.
    pub publish: bool,
}

impl Policy {
    /// The client's default: whole days, every symbol, hourly, private.
    pub const DEFAULT: Policy = Policy {
        windows: Windows::Days,
        symbols: Symbols::All,
        min_interval_seconds: DEFAULT_MIN_INTERVAL_SECONDS,
        publish: false,
    };

    /// What a v1 credential gets: from inception only, every symbol,
    /// hourly, private.
    pub const STRICTEST: Policy = Policy {
        windows: Windows::Inception,
        symbols: Symbols::All,
        min_interval_seconds: DEFAULT_MIN_INTERVAL_SECONDS,
        publish: false,
    };

    /// Whether the field values are within the contract.
    pub fn is_valid(&self) -> bool {
        self.min_interval_seconds <= MAX_MIN_INTERVAL_SECONDS
    }

    /// Checks a request's window and symbols against the window and symbol
    /// rules (the interval is the enclave's state, not the request's).
    pub fn check_request(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        symbols_named: bool,
    ) -> Result<(), PolicyViolation> {
        let on_day = |b: Option<i64>| b.is_none_or(|ms| ms.rem_euclid(DAY_MS) == 0);
        match self.windows {
            Windows::Any => {}
            Windows::Days if on_day(from_ms) && on_day(to_ms) => {}
            Windows::Inception if from_ms.is_none() && to_ms.is_none() => {}
            Windows::Days | Windows::Inception => return Err(PolicyViolation::Window),
        }
        if symbols_named && self.symbols == Symbols::All {
            return Err(PolicyViolation::Symbols);
        }
        Ok(())
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::DEFAULT
    }
}

/// The rule a request broke; each has its own wire code (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// The window is not allowed (`policy_window`).
    #[error("the credential's policy does not allow this window")]
    Window,
    /// Symbols were named under `all` (`policy_symbols`).
    #[error("the credential's policy does not allow choosing symbols")]
    Symbols,
    /// Too soon after the previous computation (`policy_interval`).
    #[error("the credential's policy allows no further computation yet")]
    Interval,
}

impl PolicyViolation {
    /// The wire code.
    pub fn code(self) -> &'static str {
        match self {
            PolicyViolation::Window => "policy_window",
            PolicyViolation::Symbols => "policy_symbols",
            PolicyViolation::Interval => "policy_interval",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DAY: i64 = DAY_MS;

    #[test]
    fn json_is_the_design_shape() {
        let j = serde_json::to_string(&Policy::DEFAULT).unwrap();
        assert_eq!(
            j,
            r#"{"windows":"days","symbols":"all","min_interval_seconds":3600,"publish":false}"#
        );
        let back: Policy = serde_json::from_str(&j).unwrap();
        assert_eq!(back, Policy::DEFAULT);
        assert!(serde_json::from_str::<Policy>(&j.replace("days", "weeks")).is_err());
        let extra = j.replace('}', r#","x":1}"#);
        assert!(serde_json::from_str::<Policy>(&extra).is_err());
    }

    #[test]
    fn days_allow_only_midnight_bounds() {
        let p = Policy::DEFAULT;
        assert!(p.check_request(None, None, false).is_ok());
        assert!(
            p.check_request(Some(20_000 * DAY), Some(20_001 * DAY), false)
                .is_ok()
        );
        assert!(p.check_request(None, Some(20_001 * DAY), false).is_ok());
        // The bisection attack: one-millisecond windows.
        assert_eq!(
            p.check_request(Some(20_000 * DAY + 1), Some(20_000 * DAY + 2), false),
            Err(PolicyViolation::Window)
        );
        assert_eq!(
            p.check_request(Some(20_000 * DAY), Some(20_000 * DAY + 3_600_000), false),
            Err(PolicyViolation::Window)
        );
        assert_eq!(
            p.check_request(Some(-1), None, false),
            Err(PolicyViolation::Window)
        );
    }

    #[test]
    fn inception_allows_no_window_and_all_no_subset() {
        let p = Policy::STRICTEST;
        assert!(p.check_request(None, None, false).is_ok());
        assert_eq!(
            p.check_request(Some(0), None, false),
            Err(PolicyViolation::Window)
        );
        assert_eq!(
            p.check_request(None, None, true),
            Err(PolicyViolation::Symbols)
        );
        let open = Policy {
            windows: Windows::Any,
            symbols: Symbols::Choice,
            ..Policy::DEFAULT
        };
        assert!(open.check_request(Some(1), Some(2), true).is_ok());
    }
}
