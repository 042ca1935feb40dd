//! The API's listener: [`accept_loop`] with optional TLS, header timeouts and
//! a head size limit per connection.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::App;
use crate::accept::{Limits, Watcher, WhenFull, accept_loop};

/// Time allowed for a TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest buffered request head (headers included).
const MAX_HEAD_LEN: usize = 16 * 1024;

/// Errors loading the TLS configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or parsed (path named, content never shown).
    #[error("cannot load {0}")]
    Load(&'static str),
    /// rustls refused the certificate/key pair.
    #[error("invalid certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Builds a TLS acceptor from PEM files (TLS 1.2 and 1.3, HTTP/1.1 via ALPN).
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<TlsAcceptor, TlsError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|_| TlsError::Load("TLS_CERT_PATH"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::Load("TLS_CERT_PATH"))?;
    if certs.is_empty() {
        return Err(TlsError::Load("TLS_CERT_PATH"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|_| TlsError::Load("TLS_KEY_PATH"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// Serves until `shutdown` completes, then stops accepting and drains open
/// connections for at most `cfg.shutdown_grace` ([`accept_loop`]).
pub async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) {
    let limits = Limits {
        max: app.cfg.max_connections,
        when_full: WhenFull::Wait,
        drain: app.cfg.shutdown_grace,
    };
    let handler = {
        let app = app.clone();
        move |(mut stream, peer): (TcpStream, SocketAddr), watcher: Watcher| {
            let (app, tls) = (app.clone(), tls.clone());
            async move {
                let peer = match app.cfg.proxy_protocol {
                    false => peer,
                    true => match proxied_peer(&mut stream, peer, &app).await {
                        Some(p) => p,
                        None => return,
                    },
                };
                match tls {
                    None => serve(stream, peer, app, watcher).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(s)) => serve(s, peer, app, watcher).await,
                            _ => tracing::debug!("TLS handshake failed or timed out"),
                        }
                    }
                }
            }
        }
    };
    if !accept_loop(listener, shutdown, limits, "api", handler).await {
        tracing::warn!("drain timed out; closing remaining connections");
    }
}

/// With `PROXY_PROTOCOL=1`: reads the PROXY v2 header that starts the
/// connection (within the header timeout) and answers the client address it
/// names (the balancer's own address for `LOCAL`); `None` closes the
/// connection: no header, a malformed one, or one from a peer that is not a
/// trusted proxy (anyone else could claim any address).
async fn proxied_peer(stream: &mut TcpStream, peer: SocketAddr, app: &App) -> Option<SocketAddr> {
    use strongroom_formats::proxy::{PROXY_V2_FIXED_LEN, parse_fixed, source};
    use tokio::io::AsyncReadExt;
    if !app.cfg.trusted_proxies.trusts(peer.ip()) {
        tracing::debug!("PROXY protocol: connection from an untrusted peer closed");
        return None;
    }
    let read = async {
        let mut fixed = [0u8; PROXY_V2_FIXED_LEN];
        stream.read_exact(&mut fixed).await.ok()?;
        let f = parse_fixed(&fixed).ok()?;
        let mut rest = vec![0u8; f.len];
        stream.read_exact(&mut rest).await.ok()?;
        source(&f, &rest).ok().map(|s| s.unwrap_or(peer))
    };
    let got = tokio::time::timeout(app.cfg.header_read_timeout, read)
        .await
        .ok()
        .flatten();
    if got.is_none() {
        tracing::debug!("PROXY protocol: no valid v2 header; connection closed");
    }
    got
}

async fn serve<S>(stream: S, peer: SocketAddr, app: Arc<App>, watcher: Watcher)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let timeout = app.cfg.header_read_timeout;
    let svc = service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(app.handle(req, peer.ip()).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .max_buf_size(MAX_HEAD_LEN)
        .serve_connection(TokioIo::new(stream), svc);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
