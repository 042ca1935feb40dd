//! `POST /enclave/request_aggregates`: the session's sealed credential goes to
//! the enclave, which fetches the trade history through the egress proxy and
//! signs the aggregates; the host stores the signed result, has the enclave
//! append it to the transparency log, and answers with everything a client
//! needs to verify it offline.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use strongroom_formats::cose::Sign1;
use strongroom_protocol::ErrorCode;
use strongroom_protocol::aggregates::AggregatePayload;
use strongroom_protocol::messages::{
    AggregatesResult, ComputeAggregatesRequest, ComputePending, SealedHistory,
};
use uuid::Uuid;

use super::stored::StoredSession;
use super::{entry, session_state};
use crate::enclave::{Computed, EnclaveError};
use crate::http::error::{ApiError, Code};
use crate::http::validate::{self, RequestAggregates, ValidAggregatesRequest};
use crate::http::{App, Ctx, Resp, json};
use crate::store::{self, audit};
use crate::tlog::{self, Appended, TlogError, Witnessed};

const ACTION: &str = "request_aggregates";

impl From<TlogError> for ApiError {
    fn from(e: TlogError) -> Self {
        tracing::warn!(error = %e, "transparency log");
        match e {
            TlogError::Db(_) => Self::new(Code::DatabaseUnavailable),
            TlogError::Mismatch => Self::new(Code::LogStateInvalid),
            TlogError::NotCosigned { .. } => Self::new(Code::WitnessUnavailable),
            _ => Self::new(Code::InternalError),
        }
    }
}

/// What one computation attempt came to.
pub(in crate::http) enum Attempt {
    /// Signed and logged: the 200 body.
    Done(serde_json::Value),
    /// The exchange's weight ran out first (protocol 5): its history so
    /// far is stored; the progress, for the job.
    Pending(ComputePending),
}

impl App {
    pub(in crate::http) async fn request_aggregates(
        self: &Arc<Self>,
        body: &[u8],
        tenant: Uuid,
        ctx: &Ctx,
    ) -> Result<Resp, ApiError> {
        let req = validate::parse_json::<RequestAggregates>(body)?.validate()?;
        // The job's id is named from the first attempt, so the enclave
        // remembers what that attempt fetched and spent if it ends pending
        // (without it, the job's next attempt would ask again for every
        // symbol the first one completed).
        let job = Uuid::new_v4();
        let outcome = match self.attempt(tenant, &req, Some(job), ctx).await {
            Ok(Attempt::Done(answer)) => return Ok(json(StatusCode::OK, &answer)),
            Ok(Attempt::Pending(p)) => self.start_job(tenant, job, req.session, body, &p).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &outcome {
            self.audit_failure(ctx, tenant, req.session, e.code).await;
        }
        outcome
    }

    /// One computation: the enclave computes with the account's stored
    /// history (and `job`'s memory); new history segments are stored; a
    /// signed result is stored and logged and its 200 body answered.
    pub(in crate::http) async fn attempt(
        self: &Arc<Self>,
        tenant: Uuid,
        req: &ValidAggregatesRequest,
        job: Option<Uuid>,
        ctx: &Ctx,
    ) -> Result<Attempt, ApiError> {
        let (computed, credential) = self.compute_with_retry(tenant, req, job).await?;
        let result = match computed {
            Computed::Pending(p) => {
                self.store_history(tenant, &p.history).await?;
                return Ok(Attempt::Pending(p));
            }
            Computed::Done(result) => result,
        };
        let payload = decode_payload(&result.signed, req.session, &credential)?;
        self.store_history(tenant, &result.history).await?;
        // Once the enclave has signed a head, the commit must not be cut short by
        // the request deadline or a dropped connection (the enclave would then
        // refuse the stored, older state as a rollback): run it as its own task.
        let (app, stored, ctx2) = (self.clone(), result.clone(), ctx.clone());
        let (session, meta) = (req.session, ResultMeta::of(&payload));
        let (appended, witnessed) = tokio::spawn(async move {
            app.store_and_log(tenant, session, &stored, &meta, &ctx2)
                .await
        })
        .await
        .map_err(|_| ApiError::new(Code::InternalError))??;
        let aggregates =
            serde_json::to_value(&payload).map_err(|_| ApiError::new(Code::InternalError))?;
        Ok(Attempt::Done(json!({
            "aggregates": aggregates,
            "aggregates_signed": STANDARD.encode(&result.signed),
            "attestation": STANDARD.encode(&result.attestation),
            "log": {
                "leaf_index": appended.leaf_index,
                "tree_size": appended.tree_size,
                "tree_head": STANDARD.encode(&appended.tree_head),
                "inclusion_proof": appended.inclusion_proof.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
                "checkpoint": witnessed.checkpoint,
                "tlog_proof": witnessed.tlog_proof,
            },
        })))
    }

    /// Stores the enclave's new history segments (ciphertext) for the tenant.
    async fn store_history(
        &self,
        tenant: Uuid,
        segments: &[SealedHistory],
    ) -> Result<(), ApiError> {
        if segments.is_empty() {
            return Ok(());
        }
        let mut client = self.pool.get().await?;
        let tx = store::tenant_tx(&mut client, tenant).await?;
        store::history::store(&tx, tenant, segments).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Computes; on `unknown_key_id` retries once when the ring was reloaded
    /// (another instance rotated) or the stored envelope changed meanwhile
    /// (re-sealed by a rotation). Otherwise the key version is gone: 409
    /// `key_version_gone`, the client submits the credential again. Answers
    /// the enclave's answer and the session's credential id (hex).
    async fn compute_with_retry(
        &self,
        tenant: Uuid,
        req: &ValidAggregatesRequest,
        job: Option<Uuid>,
    ) -> Result<(Computed, String), ApiError> {
        let stored = self.load_session(tenant, req.session, true).await?;
        let credential = stored.credential_id();
        let history = self.load_history(tenant, &credential, job).await?;
        let call = compute_request(tenant, req, stored, history.clone(), job)?;
        let used = call.sealed.key_id().to_owned();
        match self.enclave.compute(call).await {
            Err(EnclaveError::Refused(ErrorCode::UnknownKeyId)) => {}
            other => return Ok((other?, credential)),
        }
        let reloaded = self.keys.refresh().await;
        let again = self.load_session(tenant, req.session, true).await?;
        let call = compute_request(tenant, req, again, history, job)?;
        if !reloaded && call.sealed.key_id() == used {
            return Err(ApiError::new(Code::KeyVersionGone));
        }
        match self.enclave.compute(call).await {
            Err(EnclaveError::Refused(ErrorCode::UnknownKeyId)) => {
                Err(ApiError::new(Code::KeyVersionGone))
            }
            other => Ok((other?, credential)),
        }
    }

    /// The stored history segments of the account this credential (or job)
    /// is known to compute; none before the host knows the account.
    async fn load_history(
        &self,
        tenant: Uuid,
        credential: &str,
        job: Option<Uuid>,
    ) -> Result<Vec<SealedHistory>, ApiError> {
        let mut client = self.pool.get().await?;
        let tx = store::tenant_tx(&mut client, tenant).await?;
        let account = store::history::account_of(&tx, Some(credential), job).await?;
        let segments = match account {
            Some(a) => store::history::load(&tx, &a).await?,
            None => Vec::new(),
        };
        tx.commit().await?;
        Ok(segments)
    }

    /// Up to three transactions, each holding the log's state row:
    /// 1. (only when step 2 finds it so) a newest checkpoint still short of
    ///    the witness quorum (a witness was down at the last append) is
    ///    brought to it first: the enclave extends the log only from a
    ///    cosigned state;
    /// 2. the signed result is stored, the enclave asked to append, the new
    ///    leaf/head/checkpoint/state stored, the audit row written; any
    ///    failure rolls all of it back;
    /// 3. the new checkpoint goes to the witnesses, their cosignatures are
    ///    stored, and the result's `tlog-proof` is made from it.
    ///
    /// The append is committed before any witness sees its checkpoint, so a
    /// crash between 2 and 3 loses nothing: step 1 of the next request
    /// completes it. Without the quorum at 3 the answer is 503
    /// `witness_unavailable` (the result is logged; no proof is handed out).
    async fn store_and_log(
        &self,
        tenant: Uuid,
        session: Uuid,
        result: &AggregatesResult,
        meta: &ResultMeta,
        ctx: &Ctx,
    ) -> Result<(Appended, Witnessed), ApiError> {
        // Step 1 only when step 2 finds the newest checkpoint short of its
        // quorum: a request pays no extra transaction when it is cosigned.
        let appended = match self.append(tenant, session, result, meta, ctx).await? {
            Some(appended) => appended,
            None => {
                self.cosign_newest().await?;
                self.append(tenant, session, result, meta, ctx)
                    .await?
                    .ok_or_else(|| ApiError::new(Code::WitnessUnavailable))?
            }
        };
        let witnessed = self
            .witness(appended.leaf_index, appended.tree_size)
            .await?;
        Ok((appended, witnessed))
    }

    /// Step 1 of [`Self::store_and_log`]; the cosignatures collected are kept
    /// even when the quorum is not met.
    pub(in crate::http) async fn cosign_newest(&self) -> Result<(), ApiError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut state = tlog::lock_state(&tx).await?;
        let cosigned = tlog::cosign(&*tx, &self.cfg.witnesses, &mut state).await;
        tx.commit().await?;
        Ok(cosigned?)
    }

    /// Step 3 of [`Self::store_and_log`] for the leaf `index` of the tree of
    /// `size`: its checkpoint cosigned (now, or already by a later request
    /// that needed it to append) and the leaf's proof in it.
    pub(in crate::http) async fn witness(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Witnessed, ApiError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut state = tlog::lock_state(&tx).await?;
        let checkpoint = if state.size == size {
            let start = std::time::Instant::now();
            let cosigned = tlog::cosign(&*tx, &self.cfg.witnesses, &mut state).await;
            if !self.cfg.witnesses.urls().is_empty() {
                self.metrics.witnessed(start.elapsed());
            }
            if cosigned.is_err() {
                tx.commit().await?;
                return Err(cosigned.map(|()| ApiError::new(Code::WitnessUnavailable))?);
            }
            state.checkpoint.clone()
        } else {
            tlog::checkpoint_at(&*tx, size).await?
        };
        let checkpoint = checkpoint.ok_or_else(|| ApiError::new(Code::InternalError))?;
        let tlog_proof = tlog::tlog_proof(&*tx, index, &checkpoint).await?;
        tx.commit().await?;
        Ok(Witnessed {
            checkpoint,
            tlog_proof,
        })
    }

    /// Step 2 of [`Self::store_and_log`]; `None` (nothing stored) when the
    /// newest checkpoint still lacks its quorum, so the enclave would refuse.
    async fn append(
        &self,
        tenant: Uuid,
        session: Uuid,
        result: &AggregatesResult,
        meta: &ResultMeta,
        ctx: &Ctx,
    ) -> Result<Option<Appended>, ApiError> {
        let mut client = self.pool.get().await?;
        let tx = store::tenant_tx(&mut client, tenant).await?;
        // Revoked while the enclave was computing: the result is not published.
        session_state(&tx, session).await?;
        let aggregate = Uuid::new_v4();
        let row = store::aggregates::NewAggregate {
            id: aggregate,
            tenant,
            session,
            cose: &result.signed,
            attestation: &result.attestation,
            account: &meta.account,
            credential: meta.credential.as_deref(),
            owner: meta.owner.as_deref(),
            policy_publish: meta.publish,
        };
        store::aggregates::insert(&tx, &row).await?;
        let state = tlog::lock_state(&tx).await?;
        if !state.cosigned {
            return Ok(None); // the transaction is dropped: nothing stored
        }
        // Revoked by its owner through another instance whose ring this
        // enclave has not reloaded yet: under the log's lock, the revocation
        // entry is either not logged yet (this result comes before it) or
        // recorded here, and then nothing is stored.
        if let Some(c) = &meta.credential
            && store::log::is_revoked(&*tx, c).await?
        {
            return Err(ApiError::new(Code::CredentialRevoked));
        }
        let answer = self.append_log(&state, &result.signed).await?;
        let appended =
            tlog::record_append(&tx, &state, &result.signed, Some(aggregate), answer).await?;
        if let Ok(index) = i64::try_from(appended.leaf_index) {
            store::log::set_leaf_account(&tx, index, &meta.account).await?;
        }
        let mut e = entry(ctx, tenant, ACTION, session, "ok");
        e.detail = i64::try_from(appended.leaf_index).ok();
        audit::write_cached(&tx, &e).await?;
        tx.commit().await?;
        Ok(Some(appended))
    }

    /// The enclave's `AppendLog` of `leaf` onto `state`. When another
    /// instance changed the ring (a rotation or a revocation) and logged
    /// under the new version, the ring is reloaded from the database and the
    /// append tried again.
    pub(in crate::http) async fn append_log(
        &self,
        state: &tlog::LogState,
        leaf: &[u8],
    ) -> Result<strongroom_protocol::messages::LogAppended, ApiError> {
        let request = state.append_request(leaf.to_vec());
        Ok(match self.enclave.append_log(request.clone()).await {
            Err(EnclaveError::Refused(ErrorCode::RingOutdated)) if self.keys.refresh().await => {
                self.enclave.append_log(request).await?
            }
            other => other?,
        })
    }

    async fn audit_failure(&self, ctx: &Ctx, tenant: Uuid, session: Uuid, code: Code) {
        let Ok(db) = self.pool.get().await else {
            return;
        };
        if let Err(err) =
            audit::write_cached(&db, &entry(ctx, tenant, ACTION, session, code.as_str())).await
        {
            tracing::warn!(error = %err, "audit write failed");
        }
    }
}

fn compute_request(
    tenant: Uuid,
    req: &ValidAggregatesRequest,
    stored: StoredSession,
    history: Vec<SealedHistory>,
    job: Option<Uuid>,
) -> Result<ComputeAggregatesRequest, ApiError> {
    Ok(ComputeAggregatesRequest {
        tenant: Some(tenant.to_string()),
        session_id: req.session.to_string(),
        sealed: stored.sealed,
        metadata: stored.metadata,
        from_ms: req.from_ms,
        to_ms: req.to_ms,
        symbols: req.symbols.clone(),
        owner_authorization: req.owner_authorization.clone(),
        previous: stored.previous,
        history,
        job: job.map(|j| j.to_string()),
    })
}

/// What the host stores beside a result, read from its payload.
#[derive(Debug, Clone)]
struct ResultMeta {
    account: String,
    credential: Option<String>,
    owner: Option<String>,
    publish: bool,
}

impl ResultMeta {
    fn of(p: &AggregatePayload) -> Self {
        ResultMeta {
            account: p.account.clone(),
            credential: p.credential.clone(),
            owner: p.owner.clone(),
            publish: p.policy.is_some_and(|p| p.publish),
        }
    }
}

/// The payload of the signed result, read without verifying (clients verify),
/// and checked to be about this session: v1 names the session, v2 the
/// session's credential.
fn decode_payload(
    signed: &[u8],
    session: Uuid,
    credential: &str,
) -> Result<AggregatePayload, ApiError> {
    let bad = || {
        tracing::warn!("enclave returned a signed result the host cannot read");
        ApiError::new(Code::EnclaveError)
    };
    let bytes = Sign1::payload_of(signed).map_err(|_| bad())?;
    let payload = AggregatePayload::from_cbor(&bytes).map_err(|_| bad())?;
    let about_this = match payload.version {
        1 => {
            payload.session.as_deref()
                == Some(hex::encode(Sha256::digest(session.to_string().as_bytes())).as_str())
        }
        _ => payload.credential.as_deref() == Some(credential),
    };
    if !about_this {
        return Err(bad());
    }
    Ok(payload)
}
