//! `POST /enclave/revoke`.
//!
//! With `owner_authorization` (credential v2, an owner-signed `revoke`): the
//! enclave checks the signature against the owner key sealed in the
//! credential, adds the credential to its ring's revoked set and answers a
//! revocation entry and the changed ring. The ring is stored (as a rotation
//! stores one; the other instances reload it), then the entry is appended to
//! the transparency log, witnessed like a result, and the session purged in
//! the transaction of the append. From then on every enclave of the ring
//! refuses the credential, whatever ciphertext the host hands it.
//!
//! Without it: the host-side purge of version 1 (the ciphertext is deleted
//! and the session ended in one transaction; the enclave is told to drop its
//! cache), not logged, and the enclave is not bound by it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::{Value, json};
use strongroom_protocol::ErrorCode;
use strongroom_protocol::messages::{CredentialRevoked, RevokeCredentialRequest};
use uuid::Uuid;

use super::stored::StoredSession;
use super::{entry, session_state};
use crate::enclave::EnclaveError;
use crate::http::error::{ApiError, Code};
use crate::http::validate::{self, OwnerRequest};
use crate::http::{App, Ctx, Resp, json};
use crate::store;
use crate::tlog::{self, Appended};

impl App {
    pub(in crate::http) async fn revoke(
        self: &Arc<Self>,
        body: &[u8],
        tenant: Uuid,
        ctx: &Ctx,
    ) -> Result<Resp, ApiError> {
        let (session, authorization) = validate::parse_json::<OwnerRequest>(body)?.validate()?;
        let answer = match authorization {
            None => self.revoke_unlogged(session, tenant, ctx).await?,
            // Once the enclave has revoked, its new ring must be stored and
            // the entry logged even if the request deadline or a dropped
            // connection ends this future (a head the enclave signed but the
            // host never stored would leave the log behind the enclave): the
            // whole sequence runs as its own task, like an aggregates append.
            Some(a) => {
                let (app, ctx) = (self.clone(), ctx.clone());
                tokio::spawn(async move { app.revoke_logged(session, a, tenant, &ctx).await })
                    .await
                    .map_err(|_| ApiError::new(Code::InternalError))??
            }
        };
        self.metrics.revoked.fetch_add(1, Ordering::Relaxed);
        // The ciphertext is gone; dropping the enclave's cache is best effort
        // and does not change the answer.
        if let Err(e) = self.enclave.forget(session.to_string()).await
            && !matches!(e, EnclaveError::Refused(_))
        {
            tracing::warn!(error = %e, "enclave did not confirm forget");
        }
        Ok(json(StatusCode::OK, &answer))
    }

    async fn revoke_unlogged(
        &self,
        session: Uuid,
        tenant: Uuid,
        ctx: &Ctx,
    ) -> Result<Value, ApiError> {
        let mut client = self.pool.get().await?;
        let audit_entry = entry(ctx, tenant, "revoke", session, "ok");
        let tx = store::tenant_tx(&mut client, tenant).await?;
        session_state(&tx, session).await?;
        store::sessions::revoke(&tx, session, &audit_entry).await?;
        // The account's history goes with its last live credential.
        store::history::purge(&*tx).await?;
        tx.commit().await?;
        // Exactly the version 1 answer: version 1 clients refuse unknown
        // fields. An absent `logged` means false.
        Ok(json!({"revoked": true}))
    }

    async fn revoke_logged(
        &self,
        session: Uuid,
        authorization: Vec<u8>,
        tenant: Uuid,
        ctx: &Ctx,
    ) -> Result<Value, ApiError> {
        let stored = self.load_session(tenant, session, false).await?;
        let credential = stored.credential_id();
        let revoked = self
            .revoke_in_enclave(tenant, session, stored, authorization)
            .await?;
        if revoked.credential != credential {
            tracing::warn!("enclave revoked another credential than the session's");
            return Err(ApiError::new(Code::EnclaveError));
        }
        if let Some(ring) = revoked.ring.clone() {
            self.keys.store_changed_ring(ring).await.map_err(|e| {
                tracing::warn!(error = %e, "could not store the ring of a revocation");
                ApiError::new(Code::DatabaseUnavailable)
            })?;
        }
        let appended = match self.log_revocation(tenant, session, &revoked, ctx).await? {
            Some(a) => a,
            None => {
                self.cosign_newest().await?;
                self.log_revocation(tenant, session, &revoked, ctx)
                    .await?
                    .ok_or_else(|| ApiError::new(Code::WitnessUnavailable))?
            }
        };
        // Logged and purged: a witness that does not answer now leaves the
        // checkpoint for the next append to complete, not the revocation undone.
        let witnessed = self
            .witness(appended.leaf_index, appended.tree_size)
            .await
            .ok();
        Ok(json!({
            "revoked": true,
            "logged": true,
            "credential": credential,
            "entry": STANDARD.encode(&revoked.entry),
            "log": {
                "leaf_index": appended.leaf_index,
                "tree_size": appended.tree_size,
                "tree_head": STANDARD.encode(&appended.tree_head),
                "inclusion_proof": appended.inclusion_proof.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
                "checkpoint": witnessed.as_ref().map(|w| w.checkpoint.clone()),
                "tlog_proof": witnessed.map(|w| w.tlog_proof),
            },
        }))
    }

    /// `RevokeCredential`; on `unknown_key_id` once more after reloading a
    /// newer ring or the re-sealed envelope (as a computation does).
    async fn revoke_in_enclave(
        &self,
        tenant: Uuid,
        session: Uuid,
        stored: StoredSession,
        authorization: Vec<u8>,
    ) -> Result<CredentialRevoked, ApiError> {
        let request = |s: StoredSession| RevokeCredentialRequest {
            sealed: s.sealed,
            metadata: s.metadata,
            authorization: authorization.clone(),
        };
        match self.enclave.revoke_credential(request(stored)).await {
            Err(EnclaveError::Refused(ErrorCode::UnknownKeyId)) => {}
            other => return Ok(other?),
        }
        self.keys.refresh().await;
        let stored = self.load_session(tenant, session, false).await?;
        match self.enclave.revoke_credential(request(stored)).await {
            Err(EnclaveError::Refused(ErrorCode::UnknownKeyId)) => {
                Err(ApiError::new(Code::KeyVersionGone))
            }
            other => Ok(other?),
        }
    }

    /// One transaction: the revocation entry appended to the log (bytes kept
    /// in the log row), the credential recorded as revoked (no result naming
    /// it is appended after this), the session purged, the audit row
    /// written. `None` (nothing stored) when the newest checkpoint lacks its
    /// quorum.
    async fn log_revocation(
        &self,
        tenant: Uuid,
        session: Uuid,
        revoked: &CredentialRevoked,
        ctx: &Ctx,
    ) -> Result<Option<Appended>, ApiError> {
        let mut client = self.pool.get().await?;
        let tx = store::tenant_tx(&mut client, tenant).await?;
        session_state(&tx, session).await?;
        let state = tlog::lock_state(&tx).await?;
        if !state.cosigned {
            return Ok(None);
        }
        let answer = self.append_log(&state, &revoked.entry).await?;
        let appended = tlog::record_append(&tx, &state, &revoked.entry, None, answer).await?;
        let index =
            i64::try_from(appended.leaf_index).map_err(|_| ApiError::new(Code::InternalError))?;
        store::log::record_revocation(&*tx, &revoked.credential, index).await?;
        let mut e = entry(ctx, tenant, "revoke_logged", session, "ok");
        e.detail = i64::try_from(appended.leaf_index).ok();
        store::sessions::revoke(&tx, session, &e).await?;
        store::history::purge(&*tx).await?;
        tx.commit().await?;
        Ok(Some(appended))
    }
}
