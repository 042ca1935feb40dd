//! Bearer-key authentication and the cross-instance lockout kept in PostgreSQL.

use std::time::Duration;

use http::HeaderMap;
use uuid::Uuid;

use super::error::{ApiError, Code};
use crate::tenants::hash_api_key;

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

/// What the lockout and the key say about a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The client is locked out for this long; the key was not looked up.
    LockedOut(Duration),
    /// The key belongs to this tenant.
    Tenant(Uuid),
    /// No key, or an unknown or revoked one.
    Unknown,
}

/// The lockout check and the key lookup, in one statement (one round trip):
/// the key is looked up only when `client` is not locked out. The lookup is by
/// SHA-256 of the key through a narrow SECURITY DEFINER function; `app_service`
/// cannot read `api_keys`. An index lookup's timing can only reveal something
/// about the hash of a guess, which does not help to find a 256-bit random key.
const CHECK: &str = "WITH lock AS ( \
         SELECT EXTRACT(EPOCH FROM locked_until - now())::float8 AS secs FROM auth_failures \
         WHERE client = $1 AND locked_until > now()) \
     SELECT (SELECT secs FROM lock), \
            CASE WHEN EXISTS (SELECT 1 FROM lock) THEN NULL \
                 ELSE strongroom_authenticate($2) END";

/// Checks the lockout of `client` and, when not locked out, the bearer `key`.
pub async fn check<C: deadpool_postgres::GenericClient>(
    db: &C,
    client: &str,
    key: Option<&str>,
) -> Result<Verdict, ApiError> {
    let hash = key.map(hash_api_key);
    let stmt = db.prepare_cached(CHECK).await?;
    let row = db
        .query_one(&stmt, &[&client, &hash.as_ref().map(<[u8; 32]>::as_slice)])
        .await?;
    if let Some(secs) = row.get::<_, Option<f64>>(0) {
        return Ok(Verdict::LockedOut(Duration::from_secs_f64(secs.max(0.0))));
    }
    Ok(row
        .get::<_, Option<Uuid>>(1)
        .map_or(Verdict::Unknown, Verdict::Tenant))
}

const COUNT_FAILURE: &str = "INSERT INTO auth_failures AS a (client, failures, window_start) VALUES ($1, 1, now()) \
     ON CONFLICT (client) DO UPDATE SET \
       failures = CASE WHEN a.window_start <= now() - make_interval(secs => $2) \
                       THEN 1 ELSE a.failures + 1 END, \
       window_start = CASE WHEN a.window_start <= now() - make_interval(secs => $2) \
                           THEN now() ELSE a.window_start END \
     RETURNING failures";

const LOCK_OUT: &str = "UPDATE auth_failures SET locked_until = now() + make_interval(secs => $2), \
        failures = 0, window_start = now() WHERE client = $1";

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
    let count = db.prepare_cached(COUNT_FAILURE).await?;
    let row = db.query_one(&count, &[&client, &secs]).await?;
    let failures: i32 = row.get(0);
    if failures < max {
        return Ok(false);
    }
    let lock = db.prepare_cached(LOCK_OUT).await?;
    db.execute(&lock, &[&client, &secs]).await?;
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
