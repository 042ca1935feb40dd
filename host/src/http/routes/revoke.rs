//! `POST /enclave/revoke`: the ciphertext is deleted and the session ended in
//! one transaction; the enclave is then told to drop its cache.

use std::sync::atomic::Ordering;

use http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use super::{entry, session_state};
use crate::enclave::EnclaveError;
use crate::http::error::ApiError;
use crate::http::validate::{self, Revoke};
use crate::http::{App, Ctx, Resp, json};
use crate::store;

impl App {
    pub(in crate::http) async fn revoke(
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
