//! `auth_failures` and the key lookup: the lockout kept across instances.

use uuid::Uuid;

/// The lockout check and the key lookup, in one statement (one round trip).
/// The key is always looked up: a valid key is never refused because of
/// failures by others from the same address (issue 15: behind a balancer,
/// every client shares one). The lookup is by
/// SHA-256 of the key through a narrow SECURITY DEFINER function; `app_service`
/// cannot read `api_keys`. An index lookup's timing can only reveal something
/// about the hash of a guess, which does not help to find a 256-bit random key.
const CHECK: &str = "SELECT (SELECT EXTRACT(EPOCH FROM locked_until - now())::float8 \
             FROM auth_failures WHERE client = $1 AND locked_until > now()), \
            strongroom_authenticate($2)";

/// `(seconds left of a lockout of client, tenant of the key hash)`.
pub async fn check<C: deadpool_postgres::GenericClient>(
    db: &C,
    client: &str,
    key_hash: Option<&[u8]>,
) -> Result<(Option<f64>, Option<Uuid>), tokio_postgres::Error> {
    let stmt = db.prepare_cached(CHECK).await?;
    let row = db.query_one(&stmt, &[&client, &key_hash]).await?;
    Ok((row.get(0), row.get(1)))
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

/// Counts a failure of `client` in a window of `window_secs`; returns the failures in it.
pub async fn count_failure<C: deadpool_postgres::GenericClient>(
    db: &C,
    client: &str,
    window_secs: f64,
) -> Result<i32, tokio_postgres::Error> {
    let count = db.prepare_cached(COUNT_FAILURE).await?;
    Ok(db.query_one(&count, &[&client, &window_secs]).await?.get(0))
}

/// Locks `client` out for `secs` and restarts its count.
pub async fn lock_out<C: deadpool_postgres::GenericClient>(
    db: &C,
    client: &str,
    secs: f64,
) -> Result<(), tokio_postgres::Error> {
    let lock = db.prepare_cached(LOCK_OUT).await?;
    db.execute(&lock, &[&client, &secs]).await.map(|_| ())
}
