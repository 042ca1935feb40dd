//! `audit_log`: one row per state change.

use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// One audit row.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// Tenant, when known.
    pub tenant: Option<Uuid>,
    /// What happened, e.g. `submit_key`, `revoke`, `expire`, `tenant_delete`.
    pub action: &'a str,
    /// The session concerned.
    pub session: Option<Uuid>,
    /// `ok`, or an error code.
    pub outcome: &'a str,
    /// The request id (absent for background jobs).
    pub request_id: Option<&'a str>,
    /// Pseudonymised client address.
    pub client: Option<&'a str>,
    /// A count, for batch actions (e.g. rows purged).
    pub detail: Option<i64>,
}

const INSERT: &str = "INSERT INTO audit_log (tenant_id, action, session_id, outcome, request_id, client, detail) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl AuditEntry<'_> {
    /// The parameters of [`INSERT`], in order.
    fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.tenant,
            &self.action,
            &self.session,
            &self.outcome,
            &self.request_id,
            &self.client,
            &self.detail,
        ]
    }
}

/// Writes `entry` through any client or transaction (statement prepared per call;
/// for administration and background jobs).
pub async fn write<C: tokio_postgres::GenericClient + Sync>(
    db: &C,
    entry: &AuditEntry<'_>,
) -> Result<(), tokio_postgres::Error> {
    db.execute(INSERT, &entry.params()).await.map(|_| ())
}

/// The audit insert from the pooled connection's statement cache, for request
/// paths that pipeline it with other statements (see [`execute`]).
pub async fn prepare<C: deadpool_postgres::GenericClient>(
    db: &C,
) -> Result<Statement, tokio_postgres::Error> {
    db.prepare_cached(INSERT).await
}

/// Runs the prepared audit insert `stmt` (from [`prepare`]) for `entry`.
pub async fn execute<C: deadpool_postgres::GenericClient>(
    db: &C,
    stmt: &Statement,
    entry: &AuditEntry<'_>,
) -> Result<(), tokio_postgres::Error> {
    db.execute(stmt, &entry.params()).await.map(|_| ())
}

/// Writes `entry` through a pooled connection or transaction, with the
/// statement from the connection's cache (request paths).
pub async fn write_cached<C: deadpool_postgres::GenericClient>(
    db: &C,
    entry: &AuditEntry<'_>,
) -> Result<(), tokio_postgres::Error> {
    let stmt = prepare(db).await?;
    execute(db, &stmt, entry).await
}
