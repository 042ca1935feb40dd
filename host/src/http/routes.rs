//! Route handlers.

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::json;
use strongroom_protocol::ErrorCode;
use strongroom_protocol::messages::{
    CredentialAccepted, CredentialMetadata, OpenCredentialRequest, Phase, SealedCredential,
};
use uuid::Uuid;

use super::error::{ApiError, Code};
use super::validate::{self, Revoke, SubmitKey, ValidSubmission};
use super::{App, Ctx, Resp, json};
use crate::enclave::EnclaveError;
use crate::store::{self, audit, audit::AuditEntry};

/// Deadline of each readiness probe.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) fn entry<'a>(
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

fn rfc3339(unix: u64) -> Result<String, ApiError> {
    let t = i64::try_from(unix)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| ApiError::new(Code::EnclaveError))?;
    t.format(&time::format_description::well_known::Rfc3339)
        .map_err(|_| ApiError::new(Code::EnclaveError))
}

impl App {
    pub(super) async fn readyz(&self) -> Resp {
        let db = async {
            let c = self.pool.get().await.ok()?;
            store::admin::ping(&c).await.ok()
        };
        let (db, enclave) = tokio::join!(
            tokio::time::timeout(READY_PROBE_TIMEOUT, db),
            tokio::time::timeout(READY_PROBE_TIMEOUT, self.enclave.health()),
        );
        if !matches!(db, Ok(Some(_))) {
            return ApiError::new(Code::DatabaseUnavailable).into_response();
        }
        match enclave {
            Ok(Ok(h)) if h.phase == Phase::Ready => json(
                StatusCode::OK,
                &json!({"status": "ready", "database": "ok", "enclave": "ok", "enclave_simulator": h.simulator}),
            ),
            Ok(Ok(_)) => ApiError::new(Code::EnclaveNotReady).into_response(),
            _ => ApiError::new(Code::EnclaveUnavailable).into_response(),
        }
    }

    pub(super) async fn quote(&self, query: Option<&str>, _ctx: &Ctx) -> Result<Resp, ApiError> {
        let nonce = validate::quote_nonce(query)?;
        let a = self.enclave.attest(nonce).await?;
        Ok(json(
            StatusCode::OK,
            &json!({
                "quote": STANDARD.encode(&a.document),
                "enclave_pubkey": STANDARD.encode(&a.hpke_public_key),
                "signing_pubkey": STANDARD.encode(&a.signing_public_key),
                "key_id": a.key_id,
                "image_hash": hex::encode(&a.pcr0),
            }),
        ))
    }

    pub(super) async fn submit_key(
        &self,
        body: &[u8],
        tenant: Uuid,
        ctx: &Ctx,
    ) -> Result<Resp, ApiError> {
        let sub = validate::parse_json::<SubmitKey>(body)?.validate(self.cfg.max_ttl_seconds)?;
        let session = Uuid::new_v4();
        let accepted = match self.open_with_reload(session, &sub).await {
            Ok(a) => a,
            Err(e) => {
                let err = ApiError::from(e);
                self.audit_refusal(ctx, tenant, session, err.code).await;
                return Err(err);
            }
        };
        let expires_at = rfc3339(accepted.expires_at)?;
        // The enclave's re-sealing to the current key version, when it made
        // one (checked against the contract when the answer was decoded).
        let stored = accepted.resealed.as_ref().unwrap_or(&sub.sealed);
        if let Err(e) = self
            .store(&sub, stored, session, accepted.expires_at, tenant, ctx)
            .await
        {
            // Nothing stored: the enclave must not keep the session either.
            let _ = self.enclave.forget(session.to_string()).await;
            return Err(e);
        }
        self.metrics.accepted.fetch_add(1, Ordering::Relaxed);
        Ok(json(
            StatusCode::CREATED,
            &json!({"session_id": session.to_string(), "expires_at": expires_at}),
        ))
    }

    /// Opens the credential; on `unknown_key_id`, reloads the ring when the
    /// database holds a newer version (another instance rotated) and tries once more.
    async fn open_with_reload(
        &self,
        session: Uuid,
        sub: &ValidSubmission,
    ) -> Result<CredentialAccepted, EnclaveError> {
        match self.enclave.open(open_request(session, sub)).await {
            Err(EnclaveError::Refused(ErrorCode::UnknownKeyId)) if self.keys.refresh().await => {
                self.enclave.open(open_request(session, sub)).await
            }
            other => other,
        }
    }

    async fn audit_refusal(&self, ctx: &Ctx, tenant: Uuid, session: Uuid, code: Code) {
        let Ok(db) = self.pool.get().await else {
            return;
        };
        let e = entry(ctx, tenant, "submit_key", session, code.as_str());
        if let Err(err) = audit::write_cached(&db, &e).await {
            tracing::warn!(error = %err, "audit write failed");
        }
    }

    /// The session row, its credential and the audit row, together or not at
    /// all ([`store::sessions::insert`]).
    async fn store(
        &self,
        sub: &ValidSubmission,
        env: &SealedCredential,
        session: Uuid,
        expires_at: u64,
        tenant: Uuid,
        ctx: &Ctx,
    ) -> Result<(), ApiError> {
        let mut client = self.pool.get().await?;
        let stored = env.to_stored();
        let new = store::sessions::NewSession {
            session,
            tenant,
            exchange: &sub.exchange,
            label: &sub.label,
            submitted_key_id: sub.sealed.key_id(),
            expires_at,
            stored_key_id: env.key_id(),
            sealed: &stored,
        };
        let audit_entry = entry(ctx, tenant, "submit_key", session, "ok");
        store::sessions::insert(&mut client, &new, &audit_entry).await?;
        Ok(())
    }

    pub(super) async fn revoke(
        &self,
        body: &[u8],
        tenant: Uuid,
        ctx: &Ctx,
    ) -> Result<Resp, ApiError> {
        let session = validate::session_id(&validate::parse_json::<Revoke>(body)?.session_id)?;
        let mut client = self.pool.get().await?;
        let audit_entry = entry(ctx, tenant, "revoke", session, "ok");
        let tx = store::tenant_tx(&mut client, tenant).await?;
        session_state(&tx, session).await?;
        store::sessions::revoke(&tx, session, &audit_entry).await?;
        tx.commit().await?;
        self.metrics.revoked.fetch_add(1, Ordering::Relaxed);
        // The ciphertext is gone, so the enclave can never reopen it; dropping its
        // cache is best effort and does not change the answer.
        if let Err(e) = self.enclave.forget(session.to_string()).await
            && !matches!(e, EnclaveError::Refused(_))
        {
            tracing::warn!(error = %e, "enclave did not confirm forget");
        }
        Ok(json(StatusCode::OK, &json!({"revoked": true})))
    }
}

/// Locks the session row and checks that it is active. Row-level security hides
/// other tenants' sessions, so they are simply not found.
pub(super) async fn session_state(
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

fn open_request(session: Uuid, sub: &ValidSubmission) -> OpenCredentialRequest {
    OpenCredentialRequest {
        session_id: session.to_string(),
        sealed: sub.sealed.clone(),
        metadata: CredentialMetadata {
            exchange: sub.exchange.clone(),
            label: sub.label.clone(),
            ttl_seconds: sub.ttl,
        },
    }
}
