//! Tenant administration (`strongroom-host tenant ...`), run as the database owner.

use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::store::DbError;
use crate::store::{self, audit, audit::AuditEntry};

/// Prefix of every API key, so leaked keys are easy to grep for.
pub const API_KEY_PREFIX: &str = "srk_";
/// Random bytes in an API key (256 bits: a plain SHA-256 is a sufficient hash).
const API_KEY_BYTES: usize = 32;

/// Errors of the tenant commands.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TenantError {
    /// Names are 1–64 characters of `A-Z a-z 0-9 . _ -`.
    #[error("invalid tenant name: use 1-64 characters of A-Z a-z 0-9 . _ -")]
    InvalidName,
    /// A tenant of that name exists already.
    #[error("a tenant with that name exists already")]
    Exists,
    /// No tenant of that name.
    #[error("no tenant with that name")]
    NotFound,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<tokio_postgres::Error> for TenantError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// SHA-256 of an API key: what the database stores and looks up.
pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Creates a tenant and returns its new API key (shown once, stored only as a hash).
pub async fn create(
    client: &mut tokio_postgres::Client,
    name: &str,
) -> Result<Zeroizing<String>, TenantError> {
    if !valid_name(name) {
        return Err(TenantError::InvalidName);
    }
    let mut raw = Zeroizing::new([0u8; API_KEY_BYTES]);
    getrandom::fill(raw.as_mut_slice())
        .map_err(|_| DbError::Unavailable("no randomness".into()))?;
    let key = Zeroizing::new(format!("{API_KEY_PREFIX}{}", hex::encode(raw.as_slice())));
    let tenant = Uuid::new_v4();
    let tx = client.transaction().await?;
    if !store::tenants::insert(&tx, tenant, name, &hash_api_key(&key)).await? {
        return Err(TenantError::Exists);
    }
    audit::write(&tx, &admin_entry(tenant, "tenant_create", None)).await?;
    tx.commit().await?;
    Ok(key)
}

fn admin_entry(tenant: Uuid, action: &str, detail: Option<i64>) -> AuditEntry<'_> {
    AuditEntry {
        tenant: Some(tenant),
        action,
        session: None,
        outcome: "ok",
        request_id: None,
        client: Some("cli"),
        detail,
    }
}

/// One line of `tenant list`.
#[derive(Debug, Clone)]
pub struct TenantRow {
    /// Name.
    pub name: String,
    /// Id.
    pub id: Uuid,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Sessions currently active.
    pub active_sessions: i64,
}

/// Lists tenants by name.
pub async fn list(client: &tokio_postgres::Client) -> Result<Vec<TenantRow>, TenantError> {
    Ok(store::tenants::list(client)
        .await?
        .into_iter()
        .map(|(name, id, created_at, active_sessions)| TenantRow {
            name,
            id,
            created_at,
            active_sessions,
        })
        .collect())
}

/// Erases a tenant: its keys, sessions, credentials and aggregates go. Transparency
/// log leaves keep only their hashes (the aggregate link becomes NULL), so proofs
/// over the log stay valid. Returns the number of sessions erased.
pub async fn delete(client: &mut tokio_postgres::Client, name: &str) -> Result<i64, TenantError> {
    let tx = client.transaction().await?;
    let (tenant, sessions) = store::tenants::delete(&tx, name)
        .await?
        .ok_or(TenantError::NotFound)?;
    audit::write(&tx, &admin_entry(tenant, "tenant_delete", Some(sessions))).await?;
    tx.commit().await?;
    Ok(sessions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("acme-1.prod_x"));
        for bad in ["", "a b", "ä", "x;drop", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn key_hash_is_sha256() {
        assert_eq!(
            hex::encode(hash_api_key("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
