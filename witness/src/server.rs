//! The HTTP interface (tlog-witness): `POST /add-checkpoint`, and for
//! operators and monitors `GET /healthz`, `GET /vkey` (this witness's
//! verifier key) and `GET /checkpoint?origin=...` (the latest checkpoint
//! cosigned for a log). One accept loop with a connection limit, header
//! timeouts and a drain on shutdown.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use deadpool_postgres::Pool;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use strongroom_formats::c2sp::cosignature::CosignatureSigner;
use strongroom_formats::c2sp::note::VerifierKey;
use strongroom_formats::c2sp::witness::{
    AddCheckpoint, MAX_ADD_CHECKPOINT_LEN, TLOG_SIZE_CONTENT_TYPE, format_cosignatures,
};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::decide::{self, Refusal};
use crate::limiter::Limiter;
use crate::store;

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Time allowed to send the request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed to send the body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running witness's state.
pub struct Witness {
    signer: CosignatureSigner,
    vkey: VerifierKey,
    logs: std::sync::RwLock<BTreeMap<String, Vec<VerifierKey>>>,
    pool: Pool,
    limiter: Limiter,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("vkey", &self.vkey.to_string())
            .finish_non_exhaustive()
    }
}

impl Witness {
    /// A witness signing as `signer`, following `logs`, storing in `pool`.
    pub fn new(
        signer: CosignatureSigner,
        logs: BTreeMap<String, Vec<VerifierKey>>,
        pool: Pool,
        rate_per_sec: u32,
    ) -> Result<Self, strongroom_formats::c2sp::cosignature::CosignatureError> {
        let vkey = signer.verifier_key()?;
        Ok(Self {
            signer,
            vkey,
            logs: std::sync::RwLock::new(logs),
            pool,
            limiter: Limiter::new(rate_per_sec),
        })
    }

    /// Replaces the followed logs (SIGHUP re-reads `WITNESS_LOGS_FILE`):
    /// what was recorded for a log stays in the store, so a log removed and
    /// added again resumes from its recorded size.
    pub fn set_logs(&self, logs: BTreeMap<String, Vec<VerifierKey>>) {
        *self.logs.write().unwrap_or_else(|e| e.into_inner()) = logs;
    }

    fn log_keys(&self, origin: &str) -> Option<Vec<VerifierKey>> {
        let logs = self.logs.read().unwrap_or_else(|e| e.into_inner());
        logs.get(origin).cloned()
    }
}

/// Serves `listener` until `shutdown` completes, then drains open
/// connections (at most [`MAX_CONNECTIONS`] at once).
pub async fn run(listener: TcpListener, witness: Arc<Witness>, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let w = witness.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(w.clone(), peer, req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    // Drain: wait until every connection has given its slot back.
    let _ = slots.acquire_many(MAX_CONNECTIONS as u32).await;
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Answer {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn text(status: StatusCode, body: &str) -> Answer {
    answer(status, "text/plain; charset=utf-8", format!("{body}\n"))
}

async fn handle(
    w: Arc<Witness>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Answer, Infallible> {
    if !w.limiter.allow(peer.ip(), Instant::now()) {
        let mut r = text(StatusCode::TOO_MANY_REQUESTS, "rate limited");
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return Ok(r);
    }
    let path = req.uri().path().to_owned();
    let answer = match (req.method(), path.as_str()) {
        (&Method::POST, "/add-checkpoint") => add_checkpoint(&w, req).await,
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok"),
        (&Method::GET, "/vkey") => text(StatusCode::OK, &w.vkey.to_string()),
        (&Method::GET, "/checkpoint") => latest(&w, req.uri().query()).await,
        (_, "/add-checkpoint" | "/healthz" | "/vkey" | "/checkpoint") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    };
    Ok(answer)
}

async fn add_checkpoint(w: &Witness, req: Request<Incoming>) -> Answer {
    let body = Limited::new(req.into_body(), MAX_ADD_CHECKPOINT_LEN);
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, body.collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
        Err(_) => return text(StatusCode::REQUEST_TIMEOUT, "request body too slow"),
    };
    let Ok(req) = AddCheckpoint::parse(&bytes) else {
        return refusal(&Refusal::Malformed);
    };
    let origin = req.checkpoint.checkpoint().origin();
    if let Err(r) = decide::authenticate(&req, w.log_keys(origin).as_deref()) {
        return refusal(&r);
    }
    match store::add_checkpoint(&w.pool, &req).await {
        Ok(Ok(())) => cosign(w, &req),
        Ok(Err(r)) => {
            tracing::info!(origin, size = req.checkpoint.checkpoint().size(), refusal = %r, "refused");
            refusal(&r)
        }
        Err(e) => {
            tracing::error!(error = ?e.0, "store failure");
            text(StatusCode::SERVICE_UNAVAILABLE, "witness store unavailable")
        }
    }
}

fn cosign(w: &Witness, req: &AddCheckpoint) -> Answer {
    // A clock before 1970 would make timestamp 0, which the spec forbids.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match w.signer.cosign(req.checkpoint.checkpoint(), now.max(1)) {
        Ok(line) => {
            let cp = req.checkpoint.checkpoint();
            tracing::info!(origin = cp.origin(), size = cp.size(), "cosigned");
            answer(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                format_cosignatures(&[line]),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot cosign");
            text(StatusCode::SERVICE_UNAVAILABLE, "cannot cosign")
        }
    }
}

fn refusal(r: &Refusal) -> Answer {
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
    match r {
        Refusal::Conflict { recorded } => {
            answer(status, TLOG_SIZE_CONTENT_TYPE, format!("{recorded}\n"))
        }
        _ => text(status, &r.to_string()),
    }
}

async fn latest(w: &Witness, query: Option<&str>) -> Answer {
    let origin = query
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("origin=")))
        .map(percent_decode);
    let Some(Some(origin)) = origin else {
        return text(StatusCode::BAD_REQUEST, "origin=... is required");
    };
    if w.log_keys(&origin).is_none() {
        return text(StatusCode::NOT_FOUND, "unknown log origin");
    }
    match store::latest(&w.pool, &origin).await {
        Ok(Some(note)) => answer(StatusCode::OK, "text/plain; charset=utf-8", note),
        Ok(None) => text(StatusCode::NOT_FOUND, "no checkpoint cosigned yet"),
        Err(e) => {
            tracing::error!(error = ?e.0, "store failure");
            text(StatusCode::SERVICE_UNAVAILABLE, "witness store unavailable")
        }
    }
}

/// `%XX` decoding of a query value (origins hold `/`); None when invalid.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}
