//! A minimal HTTPS/1.1 client over an egress stream: hyper's connection-level
//! client on top of rustls on top of the proxy stream. One connection per
//! aggregate request, reused for every call of that request (keep-alive).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use strongroom_protocol::egress::{self, EgressError};

use super::{ExchangeConfig, ExchangeError};

/// An answer: status, `Retry-After` seconds if any, body.
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: Bytes,
}

/// An open HTTPS connection to the configured endpoint.
pub(crate) struct Connection {
    sender: SendRequest<Empty<Bytes>>,
    authority: String,
}

impl Connection {
    /// Opens egress -> TLS -> HTTP/1.1, checking the enclave's allowlist first.
    pub async fn open(cfg: &ExchangeConfig) -> Result<Self, ExchangeError> {
        if !cfg.allowlist.allows(&cfg.endpoint) {
            tracing::warn!(host = %cfg.endpoint.host, "destination not on the enclave's allowlist");
            return Err(ExchangeError::EgressRefused);
        }
        let ep = &cfg.endpoint;
        let stream = egress::open(&cfg.egress, &ep.host, ep.port, cfg.io_timeout)
            .await
            .map_err(|e| match e {
                EgressError::Refused(r)
                    if r.code == strongroom_protocol::ErrorCode::EgressRefused =>
                {
                    ExchangeError::EgressRefused
                }
                _ => ExchangeError::Unreachable,
            })?;
        let name =
            ServerName::try_from(ep.host.clone()).map_err(|_| ExchangeError::EgressRefused)?;
        let tls = tokio_rustls::TlsConnector::from(cfg.tls.clone());
        let tls = tokio::time::timeout(cfg.io_timeout, tls.connect(name, stream))
            .await
            .map_err(|_| ExchangeError::Unreachable)?
            .map_err(|_| ExchangeError::Unreachable)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|_| ExchangeError::Unreachable)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let authority = if ep.port == 443 {
            ep.host.clone()
        } else {
            format!("{}:{}", ep.host, ep.port)
        };
        Ok(Connection { sender, authority })
    }

    /// Sends one GET; transport failures are `Err` (the caller reconnects).
    pub async fn get(
        &mut self,
        path_and_query: &str,
        api_key: Option<&str>,
        timeout: Duration,
    ) -> Result<Answer, ExchangeError> {
        tokio::time::timeout(timeout, self.get_inner(path_and_query, api_key))
            .await
            .map_err(|_| ExchangeError::Unreachable)?
    }

    async fn get_inner(
        &mut self,
        path_and_query: &str,
        api_key: Option<&str>,
    ) -> Result<Answer, ExchangeError> {
        let mut req = hyper::Request::get(path_and_query)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::USER_AGENT, "strongroom-enclave")
            .header(hyper::header::ACCEPT, "application/json");
        if let Some(key) = api_key {
            req = req.header("X-MBX-APIKEY", key);
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|_| ExchangeError::Malformed)?;
        self.sender
            .ready()
            .await
            .map_err(|_| ExchangeError::Unreachable)?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|_| ExchangeError::Unreachable)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = Limited::new(resp.into_body(), super::MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|_| ExchangeError::Unreachable)?
            .to_bytes();
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }
}
