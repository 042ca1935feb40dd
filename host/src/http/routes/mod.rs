//! One file per route (or per group of one route's variants). Each adds its
//! handler to [`App`]; `http::App::dispatch` picks it by path. Shared here:
//! the audit row of a request and the session check that several routes make.

mod checkpoint;
pub(crate) mod health;
pub(in crate::http) mod jobs;
mod metrics;
mod public_result;
mod publish;
mod quote;
pub(in crate::http) mod request_aggregates;
mod revoke;
mod stored;
mod submit_key;
mod tiles;
mod transparency;
mod verify_page;

use uuid::Uuid;

use super::Ctx;
use super::error::{ApiError, Code};
use crate::store::{self, audit::AuditEntry};

/// The audit row of a request about `session`.
pub(in crate::http) fn entry<'a>(
    ctx: &'a Ctx,
    tenant: Uuid,
    action: &'a str,
    session: Uuid,
    outcome: &'a str,
) -> AuditEntry<'a> {
    AuditEntry {
        tenant: Some(tenant),
        action,
        session: Some(session),
        outcome,
        request_id: Some(&ctx.request_id),
        client: Some(&ctx.client),
        detail: None,
    }
}

/// Locks the session row and checks that it is active. Row-level security hides
/// other tenants' sessions, so they are simply not found.
pub(in crate::http) async fn session_state(
    tx: &deadpool_postgres::Transaction<'_>,
    session: Uuid,
) -> Result<(), ApiError> {
    let (state, expired) = store::sessions::lock_state(tx, session)
        .await?
        .ok_or_else(|| ApiError::new(Code::SessionNotFound))?;
    match state.as_str() {
        "revoked" => Err(ApiError::new(Code::SessionRevoked)),
        "expired" => Err(ApiError::new(Code::SessionExpired)),
        _ if expired => Err(ApiError::new(Code::SessionExpired)),
        _ => Ok(()),
    }
}
