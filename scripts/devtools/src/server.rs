//! Sockets: TLS accept loop and hyper HTTP/1.1 around [`Exchange::handle`].

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::binance::{Exchange, Request};

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Concurrent connections; further ones are closed at once.
    pub max_connections: usize,
    /// Time allowed for the TLS handshake and for reading request headers.
    pub read_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 64,
            read_timeout: Duration::from_secs(10),
        }
    }
}

/// This machine's clock, unix ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn respond(
    exchange: &Exchange,
    req: &hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let api_key = req
        .headers()
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok());
    let r = Request {
        method: req.method().as_str(),
        path: req.uri().path(),
        query: req.uri().query().unwrap_or(""),
        api_key,
    };
    let out = exchange.handle(&r, now_ms());
    let used_weight = out
        .headers
        .iter()
        .find(|(h, _)| *h == crate::binance::USED_WEIGHT_HEADER)
        .map_or("-", |(_, v)| v.as_str());
    // Public request parameters only (never the key or the signature): the
    // tests read which symbol was asked from which `fromId`; and the
    // request's own weight, so a bench can sum what a computation spent.
    let param = |k: &str| {
        r.query
            .split('&')
            .find_map(|kv| kv.strip_prefix(k))
            .unwrap_or("-")
    };
    let weight = crate::binance::request_weight(r.path, r.query).unwrap_or(0);
    tracing::info!(
        path = r.path,
        symbol = param("symbol="),
        from_id = param("fromId="),
        status = out.status,
        used_weight,
        weight,
        "request"
    );
    let mut builder = hyper::Response::builder()
        .status(out.status)
        .header("content-type", "application/json;charset=UTF-8");
    for (k, v) in &out.headers {
        builder = builder.header(*k, v.as_str());
    }
    builder
        .body(Full::new(Bytes::from(out.body)))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

/// Serve until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    exchange: Arc<Exchange>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
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
        let (acceptor, exchange) = (acceptor.clone(), exchange.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(limits.read_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(t)) => t,
                _ => return,
            };
            let svc = service_fn(move |req| {
                let resp = respond(&exchange, &req);
                async move { Ok::<_, Infallible>(resp) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.read_timeout)
                .serve_connection(TokioIo::new(tls), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}
