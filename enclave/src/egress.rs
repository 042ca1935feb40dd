//! The enclave's one HTTPS client, used by the exchange client and the KMS
//! client alike: an egress stream through the host's proxy
//! ([`strongroom_protocol::egress`]), rustls on top of it (TLS terminates
//! *here*, against trust roots the caller chooses from the image), and
//! hyper's connection-level HTTP/1.1 client on top of that. Bodies are
//! bounded (`Limited`) and every step is time-limited. Callers check their
//! own allowlist before calling [`HttpsConnection::open`]: nothing here
//! decides where the enclave may go.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use strongroom_enclave_core::exchange::Endpoint;
use strongroom_protocol::ErrorCode;
use strongroom_protocol::egress::{self, EgressError};
use strongroom_protocol::transport::Address;
use tokio::task::JoinHandle;

/// Why an HTTPS exchange failed. Carries no body and no header value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum HttpsError {
    /// The host's egress proxy refused the destination (`egress_refused`).
    #[error("egress refused the destination")]
    EgressRefused,
    /// Egress (proxy unreachable, destination unreachable, timeout).
    #[error("egress failed: {0}")]
    Egress(EgressError),
    /// The endpoint is not a valid TLS server name.
    #[error("not a TLS server name")]
    ServerName,
    /// TLS or HTTP failure, or a timeout.
    #[error("TLS or HTTP failure")]
    Unreachable,
    /// The answer's body is over the caller's limit.
    #[error("answer too large")]
    TooLarge,
}

/// An answer: status, `Retry-After` seconds if any, body.
pub(crate) struct HttpsAnswer {
    pub status: u16,
    pub retry_after: Option<u64>,
    /// `X-MBX-USED-WEIGHT-1M` (Binance's weight count of this minute).
    pub used_weight: Option<u32>,
    pub body: Bytes,
}

/// One open HTTPS connection (egress -> TLS -> HTTP/1.1), kept alive across
/// requests until dropped.
pub(crate) struct HttpsConnection {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
    driver: JoinHandle<()>,
}

impl Drop for HttpsConnection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl HttpsConnection {
    /// Opens a connection to `endpoint` through the proxy at `proxy`,
    /// trusting `tls`'s roots; each of the egress open and the TLS handshake
    /// gets `timeout`.
    pub async fn open(
        proxy: &Address,
        endpoint: &Endpoint,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Self, HttpsError> {
        let stream = egress::open(proxy, &endpoint.host, endpoint.port, timeout)
            .await
            .map_err(|e| match e {
                EgressError::Refused(r) if r.code == ErrorCode::EgressRefused => {
                    HttpsError::EgressRefused
                }
                other => HttpsError::Egress(other),
            })?;
        let name =
            ServerName::try_from(endpoint.host.clone()).map_err(|_| HttpsError::ServerName)?;
        let tls = tokio_rustls::TlsConnector::from(tls);
        let tls = tokio::time::timeout(timeout, tls.connect(name, stream))
            .await
            .map_err(|_| HttpsError::Unreachable)?
            .map_err(|_| HttpsError::Unreachable)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|_| HttpsError::Unreachable)?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let authority = if endpoint.port == 443 {
            endpoint.host.clone()
        } else {
            endpoint.to_string()
        };
        Ok(Self {
            sender,
            authority,
            driver,
        })
    }

    /// `Host` header value for this endpoint (`:port` only when not 443).
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Sends one request with `headers` (plus `User-Agent`) and `body`, and
    /// reads an answer of at most `max_body` bytes, all within `timeout`.
    /// Transport failures are `Err` (the caller may reconnect).
    pub async fn send(
        &mut self,
        request: HttpsRequest<'_>,
        max_body: usize,
        timeout: Duration,
    ) -> Result<HttpsAnswer, HttpsError> {
        tokio::time::timeout(timeout, self.send_inner(request, max_body))
            .await
            .map_err(|_| HttpsError::Unreachable)?
    }

    async fn send_inner(
        &mut self,
        request: HttpsRequest<'_>,
        max_body: usize,
    ) -> Result<HttpsAnswer, HttpsError> {
        let mut builder = hyper::Request::builder()
            .method(request.method)
            .uri(request.path_and_query)
            .header(hyper::header::USER_AGENT, "strongroom-enclave");
        for (name, value) in request.headers {
            builder = builder.header(*name, *value);
        }
        let req = builder
            .body(Full::new(Bytes::from(request.body)))
            .map_err(|_| HttpsError::Unreachable)?;
        self.sender
            .ready()
            .await
            .map_err(|_| HttpsError::Unreachable)?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|_| HttpsError::Unreachable)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let used_weight = resp
            .headers()
            .get("x-mbx-used-weight-1m")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = Limited::new(resp.into_body(), max_body)
            .collect()
            .await
            .map_err(
                |e| match e.downcast_ref::<http_body_util::LengthLimitError>() {
                    Some(_) => HttpsError::TooLarge,
                    None => HttpsError::Unreachable,
                },
            )?
            .to_bytes();
        Ok(HttpsAnswer {
            status,
            retry_after,
            used_weight,
            body,
        })
    }
}

/// One request: method, target, headers (in order), body.
pub(crate) struct HttpsRequest<'a> {
    pub method: hyper::Method,
    pub path_and_query: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Vec<u8>,
}
