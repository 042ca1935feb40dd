//! Bearer-key authentication and the cross-instance lockout kept in PostgreSQL.

use std::time::Duration;

use http::HeaderMap;
use tokio_postgres::GenericClient;
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

/// The tenant owning `key`, or None. The lookup is by SHA-256 of the key through a
/// narrow SECURITY DEFINER function; `app_service` cannot read `api_keys`. An index
/// lookup's timing can only reveal something about the hash of a guess, which does
/// not help to find a 256-bit random key.
pub async fn tenant_for_key<C: GenericClient + Sync>(
    db: &C,
    key: &str,
) -> Result<Option<Uuid>, ApiError> {
    let hash = hash_api_key(key);
    let row = db
        .query_one("SELECT strongroom_authenticate($1)", &[&hash.as_slice()])
        .await?;
    Ok(row.get(0))
}

/// Remaining lockout of `client`, if any.
pub async fn locked_for<C: GenericClient + Sync>(
    db: &C,
    client: &str,
) -> Result<Option<Duration>, ApiError> {
    let row = db
        .query_opt(
            "SELECT EXTRACT(EPOCH FROM locked_until - now())::float8 FROM auth_failures \
             WHERE client = $1 AND locked_until > now()",
            &[&client],
        )
        .await?;
    Ok(row.map(|r| Duration::from_secs_f64(r.get::<_, f64>(0).max(0.0))))
}

/// Counts a failed authentication; locks the client out once `max_failures` fall
/// within `window`. Returns whether the client is now locked out.
pub async fn record_failure<C: GenericClient + Sync>(
    db: &C,
    client: &str,
    max_failures: u32,
    window: Duration,
) -> Result<bool, ApiError> {
    let secs = window.as_secs_f64();
    let max = i32::try_from(max_failures).unwrap_or(i32::MAX);
    let row = db
        .query_one(
            "INSERT INTO auth_failures AS a (client, failures, window_start) VALUES ($1, 1, now()) \
             ON CONFLICT (client) DO UPDATE SET \
               failures = CASE WHEN a.window_start <= now() - make_interval(secs => $2) \
                               THEN 1 ELSE a.failures + 1 END, \
               window_start = CASE WHEN a.window_start <= now() - make_interval(secs => $2) \
                                   THEN now() ELSE a.window_start END \
             RETURNING failures",
            &[&client, &secs],
        )
        .await?;
    let failures: i32 = row.get(0);
    if failures < max {
        return Ok(false);
    }
    db.execute(
        "UPDATE auth_failures SET locked_until = now() + make_interval(secs => $2), \
                failures = 0, window_start = now() WHERE client = $1",
        &[&client, &secs],
    )
    .await?;
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
