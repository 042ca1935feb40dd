//! `sessions` and `credentials`: what a submission stores, a revocation
//! removes, and an aggregates request loads.

use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::audit::{self, AuditEntry};

const INSERT_SESSION: &str = "INSERT INTO sessions (id, tenant_id, exchange, label, key_id, expires_at) \
     VALUES ($1, $2, $3, $4, $5, to_timestamp($6))";
const INSERT_CREDENTIAL: &str =
    "INSERT INTO credentials (session_id, key_id, sealed) VALUES ($1, $2, $3)";
const DELETE_CREDENTIAL: &str = "DELETE FROM credentials WHERE session_id = $1";
const REVOKE_SESSION: &str =
    "UPDATE sessions SET state = 'revoked', ended_at = now() WHERE id = $1";
const SESSION_STATE: &str =
    "SELECT state, expires_at <= now() FROM sessions WHERE id = $1 FOR UPDATE";
const LOAD: &str = "SELECT s.exchange, s.label, c.key_id, c.sealed, \
        GREATEST(1, ceil(EXTRACT(EPOCH FROM s.expires_at - now())))::bigint \
     FROM sessions s JOIN credentials c ON c.session_id = s.id WHERE s.id = $1";

/// What a submission stores.
#[derive(Debug)]
pub struct NewSession<'a> {
    /// Session id.
    pub session: Uuid,
    /// Its tenant.
    pub tenant: Uuid,
    /// Exchange named in the metadata.
    pub exchange: &'a str,
    /// Label named in the metadata.
    pub label: &'a str,
    /// Key id the client sealed to.
    pub submitted_key_id: &'a str,
    /// Expiry, unix seconds (the enclave's answer).
    pub expires_at: u64,
    /// Key id of the stored credential (the current one when the enclave re-sealed).
    pub stored_key_id: &'a str,
    /// The stored credential (`SealedCredential::to_stored`).
    pub sealed: &'a [u8],
}

/// One transaction, one commit: the session row, its credential and the audit
/// row exist together or not at all. The statements come from the
/// connection's statement cache and are pipelined (sent together, executed in
/// order: tenant scope, session, credential, audit); the commit is sent only
/// once each of them has succeeded.
pub async fn insert(
    client: &mut deadpool_postgres::Object,
    new: &NewSession<'_>,
    audit_entry: &AuditEntry<'_>,
) -> Result<(), tokio_postgres::Error> {
    let (set_tenant, insert_session, insert_credential, insert_audit) = tokio::try_join!(
        client.prepare_cached(super::SET_TENANT),
        client.prepare_cached(INSERT_SESSION),
        client.prepare_cached(INSERT_CREDENTIAL),
        audit::prepare(&*client),
    )?;
    #[allow(clippy::cast_precision_loss)] // unix seconds fit f64 exactly for millennia
    let expires = new.expires_at as f64;
    let tenant_text = new.tenant.to_string();
    let tenant_params: [&(dyn ToSql + Sync); 1] = [&tenant_text];
    let session_params: [&(dyn ToSql + Sync); 6] = [
        &new.session,
        &new.tenant,
        &new.exchange,
        &new.label,
        &new.submitted_key_id,
        &expires,
    ];
    let credential_params: [&(dyn ToSql + Sync); 3] =
        [&new.session, &new.stored_key_id, &new.sealed];
    let tx = client.transaction().await?;
    tokio::try_join!(
        tx.execute(&set_tenant, &tenant_params),
        tx.execute(&insert_session, &session_params),
        tx.execute(&insert_credential, &credential_params),
        audit::execute(&tx, &insert_audit, audit_entry),
    )?;
    tx.commit().await
}

/// `(state, expired)` of the session, row-locked; None when row-level
/// security hides it or it does not exist.
pub async fn lock_state(
    tx: &Transaction<'_>,
    session: Uuid,
) -> Result<Option<(String, bool)>, tokio_postgres::Error> {
    let stmt = tx.prepare_cached(SESSION_STATE).await?;
    Ok(tx
        .query_opt(&stmt, &[&session])
        .await?
        .map(|row| (row.get(0), row.get(1))))
}

/// Deletes the credential, ends the session and writes the audit row, pipelined
/// in `tx` (the caller has locked the session and commits).
pub async fn revoke(
    tx: &Transaction<'_>,
    session: Uuid,
    audit_entry: &AuditEntry<'_>,
) -> Result<(), tokio_postgres::Error> {
    let (delete_credential, end_session, insert_audit) = tokio::try_join!(
        tx.prepare_cached(DELETE_CREDENTIAL),
        tx.prepare_cached(REVOKE_SESSION),
        audit::prepare(tx),
    )?;
    let params: [&(dyn ToSql + Sync); 1] = [&session];
    tokio::try_join!(
        tx.execute(&delete_credential, &params),
        tx.execute(&end_session, &params),
        audit::execute(tx, &insert_audit, audit_entry),
    )?;
    Ok(())
}

/// A stored session with its credential, as an aggregates request needs it.
#[derive(Debug)]
pub struct Loaded {
    /// Exchange.
    pub exchange: String,
    /// Label.
    pub label: String,
    /// Key id of the stored credential.
    pub key_id: String,
    /// The stored credential.
    pub sealed: Vec<u8>,
    /// Seconds of life left, at least 1.
    pub ttl_seconds: i64,
}

/// The session and its credential.
pub async fn load(
    tx: &Transaction<'_>,
    session: Uuid,
) -> Result<Option<Loaded>, tokio_postgres::Error> {
    let stmt = tx.prepare_cached(LOAD).await?;
    Ok(tx.query_opt(&stmt, &[&session]).await?.map(|row| Loaded {
        exchange: row.get(0),
        label: row.get(1),
        key_id: row.get(2),
        sealed: row.get(3),
        ttl_seconds: row.get(4),
    }))
}
