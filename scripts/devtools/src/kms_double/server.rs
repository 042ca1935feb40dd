//! Sockets for the KMS double: TLS (dev CA) + hyper HTTP/1.1 around
//! [`KmsDouble::handle`]. Bodies are bounded; connections are limited.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use super::service::{KmsDouble, MAX_BODY};
use super::sigv4::Received;

/// Concurrent connections served.
const MAX_CONNECTIONS: usize = 64;
/// TLS handshake and header read timeout.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

async fn respond(
    kms: Arc<KmsDouble>,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let received = Received {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body: &body,
    };
    let out = kms.handle(&received, SystemTime::now());
    let target = headers
        .iter()
        .find(|(n, _)| n == "x-amz-target")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    tracing::info!(target, status = out.status, "kms request");
    hyper::Response::builder()
        .status(out.status)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(out.body)))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

/// Serves until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    kms: Arc<KmsDouble>,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => { tracing::warn!(error = %e, "accept failed"); continue; }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached");
            continue;
        };
        let (acceptor, kms) = (acceptor.clone(), kms.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let Ok(Ok(tls)) = tokio::time::timeout(READ_TIMEOUT, acceptor.accept(tcp)).await else {
                return;
            };
            let svc = service_fn(move |req| {
                let kms = kms.clone();
                async move { Ok::<_, Infallible>(respond(kms, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(READ_TIMEOUT)
                .serve_connection(TokioIo::new(tls), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}
