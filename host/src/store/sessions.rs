//! `sessions` and `credentials`: what a submission stores, a revocation
//! removes, and an aggregates request loads.

use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::audit::{self, AuditEntry};

const SUBMIT: &str =
    "SELECT strongroom_submit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
const DELETE_CREDENTIAL: &str = "DELETE FROM credentials WHERE session_id = $1";
const REVOKE_SESSION: &str =
    "UPDATE sessions SET state = 'revoked', ended_at = now() WHERE id = $1";
const SESSION_STATE: &str =
    "SELECT state, expires_at <= now() FROM sessions WHERE id = $1 FOR UPDATE";
const LOAD: &str = "SELECT s.exchange, s.label, c.key_id, c.sealed, \
        GREATEST(1, ceil(EXTRACT(EPOCH FROM s.expires_at - now())))::bigint, s.credential \
     FROM sessions s JOIN credentials c ON c.session_id = s.id WHERE s.id = $1";

/// What a submission stores.
#[derive(Debug)]
pub struct NewSession<'a> {
    /// SHA-256 of the API key that asked: the store call authenticates it again.
    pub key_hash: &'a [u8],
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
    /// The credential's id: SHA-256 of the sealed bytes *as submitted*
    /// (the enclave keeps it across its re-seals; migration V14).
    pub credential: &'a [u8],
    /// The account pseudonym the enclave named when it checked the key at
    /// submission (migration V18), or `None` without the check.
    pub account: Option<&'a str>,
}

/// The session row, its credential and the audit row, together or not at all:
/// one call of `strongroom_submit` (migrations V8, V9, V14, V18: it first checks that
/// `key_hash` still belongs to the tenant, SQLSTATE 42501 otherwise), i.e. one round trip and one
/// implicit transaction, from the connection's statement cache; the function's
/// statements keep their plans per connection.
pub async fn insert<C: deadpool_postgres::GenericClient>(
    client: &C,
    new: &NewSession<'_>,
    audit_entry: &AuditEntry<'_>,
) -> Result<(), tokio_postgres::Error> {
    let submit = client.prepare_cached(SUBMIT).await?;
    #[allow(clippy::cast_precision_loss)] // unix seconds fit f64 exactly for millennia
    let expires = new.expires_at as f64;
    let params: [&(dyn ToSql + Sync); 15] = [
        &new.key_hash,
        &new.tenant,
        &new.session,
        &new.exchange,
        &new.label,
        &new.submitted_key_id,
        &expires,
        &new.stored_key_id,
        &new.sealed,
        &audit_entry.action,
        &audit_entry.outcome,
        &audit_entry.request_id,
        &audit_entry.client,
        &new.credential,
        &new.account,
    ];
    client.execute(&submit, &params).await.map(|_| ())
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

/// The credential id stored with the session, whatever its state (results
/// outlive a revocation): `None` when row-level security hides the session,
/// `Some(None)` for a session stored before migration V14.
pub async fn credential_of(
    tx: &Transaction<'_>,
    session: Uuid,
) -> Result<Option<Option<Vec<u8>>>, tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached("SELECT credential FROM sessions WHERE id = $1")
        .await?;
    Ok(tx.query_opt(&stmt, &[&session]).await?.map(|r| r.get(0)))
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
    /// The credential's id (None for sessions stored before migration V14).
    pub credential: Option<Vec<u8>>,
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
        credential: row.get(5),
    }))
}
