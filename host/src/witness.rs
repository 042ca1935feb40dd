//! The host's side of C2SP tlog-witness: it relays the enclave's checkpoints
//! to the witnesses (`POST /add-checkpoint`) and brings back their
//! cosignature lines. The host trusts nothing a witness says: the enclave
//! verifies every cosignature against the witness keys in its measured
//! configuration before it extends the log, and so does every verifier.
//! A witness that is down, slow or refusing only delays the log.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use strongroom_formats::c2sp::note::NoteSignature;
use strongroom_formats::c2sp::witness::{
    AddCheckpoint, MAX_COSIGNATURE_ANSWER_LEN, parse_cosignatures,
};
use tokio::net::TcpStream;

/// Longest witness URL accepted.
pub const MAX_WITNESS_URL_LEN: usize = 256;
/// Most witnesses one host relays to.
pub const MAX_WITNESSES: usize = 16;
/// Time for one `add-checkpoint` exchange (connect included).
pub const DEFAULT_WITNESS_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a witness gave no cosignature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// Connection, HTTP or timeout failure.
    #[error("witness unreachable: {0}")]
    Unreachable(String),
    /// 409: the witness last cosigned another size (its answer).
    #[error("witness is at size {0}")]
    Conflict(u64),
    /// Any other refusal (status code only).
    #[error("witness refused with {0}")]
    Refused(u16),
    /// A 200 answer that is not cosignature lines.
    #[error("witness answer is malformed")]
    Malformed,
}

/// `http(s)://HOST:PORT[/PREFIX]` of one witness: `add-checkpoint` is posted
/// to `PREFIX/add-checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessUrl {
    url: String,
    authority: String,
    prefix: String,
    tls: bool,
}

impl WitnessUrl {
    /// Accepts `https://HOST:PORT` (TLS under the webpki roots) or
    /// `http://HOST:PORT` (a private network), with an optional path prefix;
    /// nothing else. The transport carries only public, signed data: a
    /// tampered answer is a cosignature the enclave refuses.
    pub fn parse(url: &str) -> Option<Self> {
        if url.len() > MAX_WITNESS_URL_LEN {
            return None;
        }
        let (tls, rest) = match url.strip_prefix("https://") {
            Some(rest) => (true, rest),
            None => (false, url.strip_prefix("http://")?),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = authority.rsplit_once(':')?;
        let host_ok = !host.is_empty()
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':')
            });
        let prefix_ok = prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_'));
        if !host_ok || !prefix_ok || port.parse::<u16>().map_or(true, |p| p == 0) {
            return None;
        }
        Some(Self {
            url: url.to_owned(),
            authority: authority.to_owned(),
            prefix: prefix.to_owned(),
            tls,
        })
    }

    /// The URL as configured (the key of its stored size).
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

/// The configured witnesses.
#[derive(Debug, Clone, Default)]
pub struct Witnesses {
    urls: Vec<WitnessUrl>,
    timeout: Duration,
}

impl Witnesses {
    /// Relays to `urls` with `timeout` per exchange.
    pub fn new(urls: Vec<WitnessUrl>, timeout: Duration) -> Self {
        Self { urls, timeout }
    }

    /// The witnesses.
    pub fn urls(&self) -> &[WitnessUrl] {
        &self.urls
    }

    /// Posts `req` to one witness: its cosignature lines, or why not.
    pub async fn add_checkpoint(
        &self,
        url: &WitnessUrl,
        req: &AddCheckpoint,
    ) -> Result<Vec<NoteSignature>, WitnessError> {
        let body = req.format();
        tokio::time::timeout(self.timeout, post(url, body))
            .await
            .map_err(|_| WitnessError::Unreachable("timed out".into()))?
    }
}

/// The TLS client for `https://` witnesses: the webpki roots, TLS 1.2/1.3;
/// built once per process (not per checkpoint relayed).
fn tls_connector() -> Result<tokio_rustls::TlsConnector, WitnessError> {
    static CONFIG: std::sync::OnceLock<Option<Arc<rustls::ClientConfig>>> =
        std::sync::OnceLock::new();
    let cfg = CONFIG.get_or_init(|| {
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .ok()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Some(Arc::new(cfg))
    });
    cfg.clone()
        .map(tokio_rustls::TlsConnector::from)
        .ok_or_else(|| WitnessError::Unreachable("TLS configuration".into()))
}

async fn post(url: &WitnessUrl, body: String) -> Result<Vec<NoteSignature>, WitnessError> {
    let stream = TcpStream::connect(&url.authority)
        .await
        .map_err(|e| WitnessError::Unreachable(format!("connect: {}", e.kind())))?;
    if !url.tls {
        return exchange(url, TokioIo::new(stream), body).await;
    }
    let host = url
        .authority
        .rsplit_once(':')
        .map_or(url.authority.as_str(), |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| WitnessError::Unreachable("not a TLS server name".into()))?;
    let tls = tls_connector()?
        .connect(name, stream)
        .await
        .map_err(|e| WitnessError::Unreachable(format!("TLS: {}", e.kind())))?;
    exchange(url, TokioIo::new(tls), body).await
}

async fn exchange<IO>(
    url: &WitnessUrl,
    io: IO,
    body: String,
) -> Result<Vec<NoteSignature>, WitnessError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let unreachable = |what: &str| WitnessError::Unreachable(what.to_owned());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|_| unreachable("HTTP handshake failed"))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = async {
        let req = Request::post(format!("{}/add-checkpoint", url.prefix))
            .header(http::header::HOST, url.authority.as_str())
            .header(http::header::CONTENT_TYPE, "text/plain")
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| unreachable("bad request"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|_| unreachable("request failed"))?;
        let status = resp.status();
        let bytes = Limited::new(resp.into_body(), MAX_COSIGNATURE_ANSWER_LEN)
            .collect()
            .await
            .map_err(|_| unreachable("answer unreadable or too large"))?
            .to_bytes();
        match status {
            StatusCode::OK => parse_cosignatures(&bytes).map_err(|_| WitnessError::Malformed),
            StatusCode::CONFLICT => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|s| s.strip_suffix('\n'))
                .and_then(|s| s.parse().ok())
                .map(WitnessError::Conflict)
                .ok_or(WitnessError::Malformed)
                .and_then(Err),
            other => Err(WitnessError::Refused(other.as_u16())),
        }
    }
    .await;
    driver.abort();
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn witness_urls_are_http_host_port_with_an_optional_prefix() {
        let u = WitnessUrl::parse("http://127.0.0.1:7380").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.prefix.as_str()),
            ("127.0.0.1:7380", "")
        );
        let u = WitnessUrl::parse("http://w.example:80/witness/").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.prefix.as_str()),
            ("w.example:80", "/witness")
        );
        let u = WitnessUrl::parse("https://w.example:443").unwrap();
        assert!(u.tls && !WitnessUrl::parse("http://w.example:1").unwrap().tls);
        for bad in [
            "https://w.example",
            "http://w.example",
            "http://:80",
            "http://w.example:0",
            "http://w.example:80/a b",
            "http://w.example:80/?q",
            "ftp://w.example:80",
        ] {
            assert_eq!(WitnessUrl::parse(bad), None, "{bad}");
        }
        assert_eq!(
            WitnessUrl::parse(&format!("http://a:1/{}", "x".repeat(300))),
            None
        );
    }
}
