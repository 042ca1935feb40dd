//! `tenants` and `api_keys` (administration, as the database owner).

use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Inserts a tenant and its key hash; false when the name is taken.
pub async fn insert<C: GenericClient + Sync>(
    tx: &C,
    tenant: Uuid,
    name: &str,
    key_hash: &[u8],
) -> Result<bool, tokio_postgres::Error> {
    let inserted = tx
        .execute(
            "INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&tenant, &name],
        )
        .await?;
    if inserted == 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO api_keys (id, tenant_id, key_hash) VALUES ($1, $2, $3)",
        &[&Uuid::new_v4(), &tenant, &key_hash],
    )
    .await?;
    Ok(true)
}

/// `(name, id, created_at RFC 3339, active sessions)` of every tenant, by name.
pub async fn list<C: GenericClient + Sync>(
    c: &C,
) -> Result<Vec<(String, Uuid, String, i64)>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT t.name, t.id, to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                    (SELECT count(*) FROM sessions s WHERE s.tenant_id = t.id AND s.state = 'active') \
             FROM tenants t ORDER BY t.name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}

/// Erases the tenant named `name` (row-locked first) with its keys, sessions,
/// credentials and aggregates; returns its id and the number of sessions
/// erased, None when there is no such tenant.
pub async fn delete<C: GenericClient + Sync>(
    tx: &C,
    name: &str,
) -> Result<Option<(Uuid, i64)>, tokio_postgres::Error> {
    let Some(row) = tx
        .query_opt(
            "SELECT id FROM tenants WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await?
    else {
        return Ok(None);
    };
    let tenant: Uuid = row.get(0);
    let sessions: i64 = tx
        .query_one(
            "SELECT count(*) FROM sessions WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?
        .get(0);
    tx.execute("DELETE FROM aggregates WHERE tenant_id = $1", &[&tenant])
        .await?;
    tx.execute("DELETE FROM tenants WHERE id = $1", &[&tenant])
        .await?;
    Ok(Some((tenant, sessions)))
}
