//! `POST /enclave/submit_key`: the enclave opens and checks the sealed
//! credential (and, with `SUBMIT_CHECK_KEY`, the key itself at the exchange:
//! read-only, and which account); only then are the session, the
//! credential, the account and the audit row stored, together. A key the
//! check refuses (`key_not_read_only`, `exchange_rejected_credentials`) or
//! could not check now (`exchange_unreachable`, `exchange_budget`, ...)
//! stores nothing, with the same statuses as `request_aggregates`.

use std::sync::atomic::Ordering;

use http::StatusCode;
use serde_json::json;
use strongroom_protocol::ErrorCode;
use strongroom_protocol::messages::{
    CredentialAccepted, CredentialMetadata, OpenCredentialRequest, SealedCredential,
};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::entry;
use crate::enclave::EnclaveError;
use crate::http::error::{ApiError, Code};
use crate::http::validate::{self, SubmitKey, ValidSubmission};
use crate::http::{App, Ctx, Resp, json};
use crate::store::{self, audit};

fn rfc3339(unix: u64) -> Result<String, ApiError> {
    let t = i64::try_from(unix)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| ApiError::new(Code::EnclaveError))?;
    t.format(&time::format_description::well_known::Rfc3339)
        .map_err(|_| ApiError::new(Code::EnclaveError))
}

/// An account pseudonym: 64 lowercase hex digits.
fn pseudonym(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl App {
    pub(in crate::http) async fn submit_key(
        &self,
        body: &[u8],
        tenant: Uuid,
        key_hash: [u8; 32],
        ctx: &Ctx,
    ) -> Result<Resp, ApiError> {
        let sub = validate::parse_json::<SubmitKey>(body)?.validate(self.cfg.max_ttl_seconds)?;
        let session = Uuid::new_v4();
        let accepted = match self.open_with_reload(tenant, session, &sub).await {
            Ok(a) => a,
            Err(e) => {
                let err = ApiError::from(e);
                self.audit_refusal(ctx, tenant, session, err.code).await;
                return Err(err);
            }
        };
        // With the check the enclave names the account (hex SHA-256); an
        // answer without it is outside the protocol: nothing is stored.
        if self.cfg.submit_check_key && !accepted.account.as_deref().is_some_and(pseudonym) {
            let _ = self.enclave.forget(session.to_string()).await;
            let err = ApiError::new(Code::EnclaveError);
            self.audit_refusal(ctx, tenant, session, err.code).await;
            return Err(err);
        }
        let expires_at = rfc3339(accepted.expires_at)?;
        // The enclave's re-sealing to the current key version, when it made
        // one (checked against the contract when the answer was decoded).
        let stored = accepted.resealed.as_ref().unwrap_or(&sub.sealed);
        if let Err(e) = self
            .store(
                &sub,
                (stored, accepted.account.as_deref()),
                session,
                accepted.expires_at,
                (tenant, &key_hash),
                ctx,
            )
            .await
        {
            // Nothing stored: the enclave must not keep the session either.
            let _ = self.enclave.forget(session.to_string()).await;
            if e.code == Code::Unauthorized {
                self.submit_auth.forget(&key_hash);
            }
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
        tenant: Uuid,
        session: Uuid,
        sub: &ValidSubmission,
    ) -> Result<CredentialAccepted, EnclaveError> {
        let check = self.cfg.submit_check_key;
        match self
            .enclave
            .open(open_request(tenant, session, sub, check))
            .await
        {
            Err(EnclaveError::Refused(ErrorCode::UnknownKeyId)) if self.keys.refresh().await => {
                self.enclave
                    .open(open_request(tenant, session, sub, check))
                    .await
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
        (env, account): (&SealedCredential, Option<&str>),
        session: Uuid,
        expires_at: u64,
        (tenant, key_hash): (Uuid, &[u8; 32]),
        ctx: &Ctx,
    ) -> Result<(), ApiError> {
        let client = self.pool.get().await?;
        let stored = env.to_stored();
        // The id of the bytes the client sealed, not of a re-sealing: the
        // enclave names that id in results (DESIGN.md "Credential v2").
        let credential = sub.sealed.id();
        let new = store::sessions::NewSession {
            key_hash,
            session,
            tenant,
            exchange: &sub.exchange,
            label: &sub.label,
            submitted_key_id: sub.sealed.key_id(),
            expires_at,
            stored_key_id: env.key_id(),
            sealed: &stored,
            credential: &credential,
            account,
        };
        let audit_entry = entry(ctx, tenant, "submit_key", session, "ok");
        match store::sessions::insert(&client, &new, &audit_entry).await {
            Ok(()) => Ok(()),
            // The key was revoked (or its tenant deleted) since it authenticated.
            Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                Err(crate::http::auth::unauthorized())
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn open_request(
    tenant: Uuid,
    session: Uuid,
    sub: &ValidSubmission,
    check_key: bool,
) -> OpenCredentialRequest {
    OpenCredentialRequest {
        tenant: Some(tenant.to_string()),
        session_id: session.to_string(),
        sealed: sub.sealed.clone(),
        metadata: CredentialMetadata {
            exchange: sub.exchange.clone(),
            label: sub.label.clone(),
            ttl_seconds: sub.ttl,
        },
        check_key,
    }
}
