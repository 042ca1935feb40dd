//! The audit log: one row per state change, client addresses pseudonymised.

use std::net::IpAddr;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;
use uuid::Uuid;
use zeroize::Zeroizing;

/// Keyed hash of client addresses: rows can be correlated per address without
/// storing the address. The key lives in memory only as long as the process.
pub struct Pseudonymizer {
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer")
    }
}

impl Pseudonymizer {
    /// Takes ownership of the key bytes.
    pub fn new(key: Zeroizing<Vec<u8>>) -> Self {
        Self { key }
    }

    /// `hex(HMAC-SHA256(key, "strongroom/client/v1" || 0 || ip))`, first 16 bytes.
    pub fn client(&self, ip: IpAddr) -> String {
        // HMAC accepts keys of any length, so this cannot fail; fall back to a
        // constant pseudonym rather than panicking should that ever change.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) else {
            return "0".repeat(32);
        };
        mac.update(b"strongroom/client/v1\0");
        mac.update(ip.to_string().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let a = Pseudonymizer::new(Zeroizing::new(vec![1; 32]));
        let b = Pseudonymizer::new(Zeroizing::new(vec![2; 32]));
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(a.client(ip), a.client(ip));
        assert_ne!(a.client(ip), b.client(ip));
        assert!(!a.client(ip).contains("203"));
        assert_eq!(format!("{a:?}"), "Pseudonymizer");
    }
}
