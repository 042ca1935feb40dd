//! The one error of database work.

/// Database failures. Messages never include connection strings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// PostgreSQL is unreachable or the pool could not hand out a connection.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("database query failed: {0}")]
    Query(#[from] tokio_postgres::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
    /// The connection would bypass row-level security (superuser, BYPASSRLS, or table owner).
    #[error("refusing to serve as role {0}: it bypasses row-level security; use app_service")]
    PrivilegedRole(String),
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}
