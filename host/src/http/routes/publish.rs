//! `POST /enclave/publish`: the owner's signed consent to make a
//! credential's results public (DESIGN.md "Public results").
//!
//! The host checks the `publish` action itself
//! ([`strongroom_verifier::owner`]): the signature under the owner key it
//! carries, the credential (the session's), a time within 300 s of the
//! host's clock, and that the key's hash is the `owner` the credential's
//! stored results name. Every result of the credential naming that owner is
//! then published, and so is every later one; the authorization is kept so
//! that the result bundle can carry it (a verifier checks it again: the host
//! is not trusted with consent either).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::json;
use strongroom_verifier::owner::{Action, verify_action};
use uuid::Uuid;

use super::entry;
use crate::http::error::{ApiError, Code, owner_code};
use crate::http::validate::{self, OwnerRequest};
use crate::http::{App, Ctx, Resp, json};
use crate::store::{self, audit, public};

impl App {
    pub(in crate::http) async fn publish(
        &self,
        body: &[u8],
        tenant: Uuid,
        ctx: &Ctx,
    ) -> Result<Resp, ApiError> {
        let (session, authorization) = validate::parse_json::<OwnerRequest>(body)?.validate()?;
        let authorization = authorization.ok_or_else(|| {
            ApiError::with(Code::InvalidJson, "missing field `owner_authorization`")
        })?;
        let mut client = self.pool.get().await?;
        let tx = store::tenant_tx(&mut client, tenant).await?;
        let credential = match store::sessions::credential_of(&tx, session).await? {
            None => return Err(ApiError::new(Code::SessionNotFound)),
            Some(None) => {
                return Err(ApiError::with(
                    Code::InvalidField,
                    "the session was stored before credential ids; submit the credential again",
                ));
            }
            Some(Some(id)) => hex::encode(id),
        };
        let verified =
            verify_action(&authorization, None).map_err(|e| ApiError::new(owner_code(e)))?;
        verified
            .check(Action::Publish, &credential, now_s())
            .map_err(|e| ApiError::new(owner_code(e)))?;
        let owner = verified.owner_id();
        // The results already stored say whose credential it is.
        match public::owner_of_credential(&*tx, &credential).await? {
            Some(None) => return Err(ApiError::new(Code::NoOwnerKey)),
            Some(Some(named)) if named != owner => {
                return Err(ApiError::new(Code::OwnerSignatureInvalid));
            }
            _ => {}
        }
        let published = public::publish(&*tx, &credential, &owner, &authorization).await?;
        let mut e = entry(ctx, tenant, "publish", session, "ok");
        e.detail = Some(published);
        audit::write_cached(&tx, &e).await?;
        tx.commit().await?;
        Ok(json(
            StatusCode::OK,
            &json!({
                "published": true,
                "credential": credential,
                "owner": owner,
                "results": published,
                "owner_authorization": STANDARD.encode(&authorization),
            }),
        ))
    }
}

/// The host's clock, unix seconds (the host checks a consent it stores; the
/// enclave and every verifier check the signature again with their own clocks).
fn now_s() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    now.unix_timestamp()
}
