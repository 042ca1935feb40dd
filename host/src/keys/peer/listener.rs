//! The key-sync listener's server side: the routes, their limits and the
//! accept loop (see the module above for what crosses it).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use serde_json::json;
use strongroom_protocol::ErrorCode;
use tokio::net::{TcpListener, TcpStream};

use super::{MAX_DOCUMENT_LEN, MAX_PEER_BODY_LEN};
use crate::accept::{Limits, Watcher, WhenFull, accept_loop};
use crate::enclave::{Enclave, EnclaveError};
use crate::ratelimit::RateLimiter;

/// Concurrent connections on the listener.
const MAX_PEER_CONNECTIONS: usize = 32;
/// Time to send a request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for a whole request, the enclave call included.
const PEER_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest request head.
const MAX_HEAD_LEN: usize = 16 * 1024;
/// Drain time at shutdown.
const DRAIN: Duration = Duration::from_secs(5);

type Resp = Response<Full<Bytes>>;

/// State of the listener.
pub struct PeerService {
    enclave: Arc<Enclave>,
    limits: RateLimiter,
}

impl std::fmt::Debug for PeerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerService").finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportBody {
    document: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

fn error(status: StatusCode, code: &str, message: &str) -> Resp {
    json_resp(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

fn json_resp(status: StatusCode, v: &serde_json::Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

fn enclave_error(e: &EnclaveError) -> Resp {
    match e {
        EnclaveError::Refused(ErrorCode::SyncRefused) => error(
            StatusCode::FORBIDDEN,
            "sync_refused",
            "key sync refused: the attestation does not check out",
        ),
        EnclaveError::Refused(ErrorCode::NotReady) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "enclave_not_ready",
            "this instance's enclave holds no key ring",
        ),
        EnclaveError::Refused(ErrorCode::Busy) | EnclaveError::Unavailable => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "enclave_unavailable",
            "the enclave is unavailable",
        ),
        EnclaveError::Refused(ErrorCode::MalformedRequest | ErrorCode::InvalidArgument) => error(
            StatusCode::BAD_REQUEST,
            "invalid_document",
            "the document is malformed",
        ),
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "enclave_error",
            "the enclave could not answer",
        ),
    }
}

impl PeerService {
    /// A listener service over `enclave`, `per_minute` requests per client address.
    pub fn new(enclave: Arc<Enclave>, per_minute: u32) -> Self {
        Self {
            enclave,
            limits: RateLimiter::new(per_minute, Duration::from_secs(60)),
        }
    }

    /// Answers one request; never fails.
    pub async fn handle<B>(&self, req: Request<B>, peer: IpAddr) -> Resp
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path().to_owned();
        let resp = match tokio::time::timeout(PEER_REQUEST_TIMEOUT, self.route(req, peer)).await {
            Ok(r) => r,
            Err(_) => error(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request took too long",
            ),
        };
        tracing::info!(%peer, path = %path, status = resp.status().as_u16(), "key-sync request");
        resp
    }

    async fn route<B>(&self, req: Request<B>, peer: IpAddr) -> Resp
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let known = matches!(
            req.uri().path(),
            "/v1/keysync/challenge" | "/v1/keysync/export"
        );
        if !known {
            return error(StatusCode::NOT_FOUND, "not_found", "no such route");
        }
        if req.method() != Method::POST {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "use POST",
            );
        }
        if let Err(after) = self.limits.check(&peer.to_string(), Instant::now()) {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many key-sync requests",
            );
            r.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(after.as_secs().max(1)),
            );
            return r;
        }
        let export = req.uri().path() == "/v1/keysync/export";
        let body = match read_body(req).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        if export {
            self.export(&body).await
        } else {
            self.challenge(&body).await
        }
    }

    async fn challenge(&self, body: &[u8]) -> Resp {
        if !body.is_empty() && serde_json::from_slice::<Empty>(body).is_err() {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "expected an empty body or {}",
            );
        }
        match self.enclave.sync_challenge().await {
            Ok(nonce) => json_resp(StatusCode::OK, &json!({"nonce": STANDARD.encode(nonce)})),
            Err(e) => enclave_error(&e),
        }
    }

    async fn export(&self, body: &[u8]) -> Resp {
        let Ok(b) = serde_json::from_slice::<ExportBody>(body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "expected {\"document\": base64}",
            );
        };
        let document = match STANDARD.decode(&b.document) {
            Ok(d) if !d.is_empty() && d.len() <= MAX_DOCUMENT_LEN => d,
            Ok(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_length",
                    "document has a bad length",
                );
            }
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_base64",
                    "document is not base64",
                );
            }
        };
        match self.enclave.sync_export(document).await {
            Ok(x) => json_resp(
                StatusCode::OK,
                &json!({
                    "document": STANDARD.encode(&x.document),
                    "enc": STANDARD.encode(&x.enc),
                    "ciphertext": STANDARD.encode(&x.ciphertext),
                }),
            ),
            Err(e) => enclave_error(&e),
        }
    }
}

async fn read_body<B>(req: Request<B>) -> Result<Bytes, Resp>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "body over 64 KiB",
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_PEER_BODY_LEN as u64) {
        return Err(too_large());
    }
    match Limited::new(req.into_body(), MAX_PEER_BODY_LEN)
        .collect()
        .await
    {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the body could not be read",
        )),
    }
}

/// Serves the key-sync routes on `listener` until `shutdown` completes.
pub async fn run(listener: TcpListener, svc: Arc<PeerService>, shutdown: impl Future<Output = ()>) {
    let limits = Limits {
        max: MAX_PEER_CONNECTIONS,
        when_full: WhenFull::Wait,
        drain: DRAIN,
    };
    let handler = move |(stream, peer): (TcpStream, SocketAddr), watcher: Watcher| {
        let svc = svc.clone();
        async move {
            let ip = peer.ip();
            let service = service_fn(move |req| {
                let svc = svc.clone();
                async move { Ok::<_, std::convert::Infallible>(svc.handle(req, ip).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD_LEN)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, "key-sync connection ended with an error");
            }
        }
    };
    accept_loop(listener, shutdown, limits, "key-sync", handler).await;
}
