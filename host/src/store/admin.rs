//! Connection setup and locks: migrations, the serving role, host settings.

use tokio_postgres::GenericClient;

/// Arbitrary constant for `pg_advisory_lock`, so concurrent starts migrate one at a time.
const MIGRATION_LOCK_KEY: i64 = 0x5354_524f_4e47_0001;

/// Takes the session-level migration lock (waits for another migrating start).
pub async fn lock_migrations(c: &tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
    c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map(|_| ())
}

/// Releases the migration lock.
pub async fn unlock_migrations(c: &tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
    c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map(|_| ())
}

/// `SET ROLE app_service` on a new pooled connection.
pub async fn set_app_role(c: &tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
    c.batch_execute("SET ROLE app_service").await
}

/// The connection's role and whether it bypasses row-level security
/// (superuser, BYPASSRLS, or owner of a public table).
pub async fn role_bypasses_rls<C: GenericClient + Sync>(
    c: &C,
) -> Result<(String, bool), tokio_postgres::Error> {
    let row = c
        .query_one(
            "SELECT current_user::text, r.rolsuper OR r.rolbypassrls \
               OR EXISTS (SELECT 1 FROM pg_tables t WHERE t.tableowner = current_user AND t.schemaname = 'public') \
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// The audit pseudonym key in `host_settings`, storing `fresh` when there is none yet.
pub async fn audit_key<C: GenericClient + Sync>(
    c: &C,
    fresh: &[u8],
) -> Result<Vec<u8>, tokio_postgres::Error> {
    c.execute(
        "INSERT INTO host_settings (name, value) VALUES ('audit_hash_key', $1) \
         ON CONFLICT (name) DO NOTHING",
        &[&fresh],
    )
    .await?;
    let row = c
        .query_one(
            "SELECT value FROM host_settings WHERE name = 'audit_hash_key'",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// The readiness probe's statement.
pub async fn ping<C: deadpool_postgres::GenericClient>(c: &C) -> Result<(), tokio_postgres::Error> {
    c.query_one("SELECT 1", &[]).await.map(|_| ())
}

/// `pg_try_advisory_xact_lock(key)`: whether this transaction now holds `key`.
pub async fn try_xact_lock<C: GenericClient + Sync>(
    tx: &C,
    key: i64,
) -> Result<bool, tokio_postgres::Error> {
    Ok(tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&key])
        .await?
        .get(0))
}
