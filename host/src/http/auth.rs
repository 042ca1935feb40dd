//! Bearer-key authentication and the cross-instance lockout kept in PostgreSQL.

use std::time::Duration;

use http::HeaderMap;
use uuid::Uuid;

use super::error::{ApiError, Code};
use crate::store;

/// Longest Authorization header value considered.
const MAX_AUTH_HEADER_LEN: usize = 256;

/// The bearer token, if the header is well-formed.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(http::header::AUTHORIZATION)?;
    if v.len() > MAX_AUTH_HEADER_LEN {
        return None;
    }
    let v = v.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token.trim())
}

/// Characters of a presented key counted as its prefix for the lockout.
pub const KEY_PREFIX_LEN: usize = 12;

/// The prefix of a presented key the lockout counts failures under (besides
/// the address), so guessing at one key is limited wherever it comes from.
pub fn key_prefix(key: &str) -> String {
    key.chars().take(KEY_PREFIX_LEN).collect()
}

/// What the lockout and the key say about a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The client is locked out for this long (and the key is not valid).
    LockedOut(Duration),
    /// The key belongs to this tenant.
    Tenant(Uuid),
    /// No key, or an unknown or revoked one.
    Unknown,
}

/// Checks the lockout of `client` and, when not locked out, the bearer `key`
/// (one round trip: [`store::auth::check`]).
pub async fn check<C: deadpool_postgres::GenericClient>(
    db: &C,
    client: &str,
    key_hash: Option<&[u8; 32]>,
) -> Result<Verdict, ApiError> {
    let (locked, tenant) =
        store::auth::check(db, client, key_hash.map(<[u8; 32]>::as_slice)).await?;
    // A valid key passes whatever others did from the same address.
    if let Some(t) = tenant {
        return Ok(Verdict::Tenant(t));
    }
    Ok(locked.map_or(Verdict::Unknown, |secs| {
        Verdict::LockedOut(Duration::from_secs_f64(secs.max(0.0)))
    }))
}

/// Counts a failed authentication; locks the client out once `max_failures` fall
/// within `window`. Returns whether the client is now locked out.
pub async fn record_failure<C: deadpool_postgres::GenericClient>(
    db: &C,
    client: &str,
    max_failures: u32,
    window: Duration,
) -> Result<bool, ApiError> {
    let secs = window.as_secs_f64();
    let max = i32::try_from(max_failures).unwrap_or(i32::MAX);
    if store::auth::count_failure(db, client, secs).await? < max {
        return Ok(false);
    }
    store::auth::lock_out(db, client, secs).await?;
    Ok(true)
}

/// 401 with the standard code.
pub fn unauthorized() -> ApiError {
    ApiError::new(Code::Unauthorized)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            http::header::AUTHORIZATION,
            "Bearer srk_abc".parse().unwrap(),
        );
        assert_eq!(bearer(&h), Some("srk_abc"));
        h.insert(
            http::header::AUTHORIZATION,
            "Basic srk_abc".parse().unwrap(),
        );
        assert_eq!(bearer(&h), None);
        h.insert(
            http::header::AUTHORIZATION,
            "x".repeat(300).parse().unwrap(),
        );
        assert_eq!(bearer(&h), None);
    }
}
