//! The requester side of key sync over HTTP: `POST {peer_url}/v1/keysync/challenge`
//! and `POST {peer_url}/v1/keysync/export`. Plain HTTP/1.1: everything that
//! travels is an attestation document or HPKE ciphertext, checked by the enclaves.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use strongroom_protocol::messages::SyncExported;
use tokio::net::TcpStream;

use super::{MAX_DOCUMENT_LEN, MAX_PEER_BODY_LEN, MAX_PEER_URL_LEN, MAX_SYNC_CIPHERTEXT_LEN};
use crate::keys::error::KeysError;

/// Time to connect to a peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time for one whole request to a peer (its enclave calls included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// `http://HOST:PORT` of a peer's key-sync listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUrl {
    /// `HOST:PORT`, as given.
    pub authority: String,
}

impl PeerUrl {
    /// Accepts `http://HOST:PORT` with an optional trailing `/`, nothing else.
    pub fn parse(url: &str) -> Result<Self, KeysError> {
        let bad = || KeysError::Peer("peer_url is not http://HOST:PORT".into());
        if url.len() > MAX_PEER_URL_LEN {
            return Err(bad());
        }
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        let host_ok = !host.is_empty()
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':')
            });
        if !host_ok || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(bad());
        }
        Ok(Self {
            authority: authority.to_owned(),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeAnswer {
    nonce: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportAnswer {
    document: String,
    enc: String,
    ciphertext: String,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
}

fn b64(field: &'static str, v: &str, max: usize) -> Result<Vec<u8>, KeysError> {
    // Encoded length bound first: no allocation beyond the limit.
    if v.len() > max.div_ceil(3) * 4 {
        return Err(KeysError::Peer(format!("{field} too long")));
    }
    let out = STANDARD
        .decode(v)
        .map_err(|_| KeysError::Peer(format!("{field} is not base64")))?;
    if out.is_empty() || out.len() > max {
        return Err(KeysError::Peer(format!("{field} has a bad length")));
    }
    Ok(out)
}

/// A client for peers' key-sync listeners.
#[derive(Debug, Default, Clone)]
pub struct PeerClient;

impl PeerClient {
    /// Step 1: the holder's single-use challenge.
    pub async fn challenge(&self, peer_url: &str) -> Result<Vec<u8>, KeysError> {
        let body = self
            .post(peer_url, "/v1/keysync/challenge", "{}".into())
            .await?;
        let a: ChallengeAnswer = serde_json::from_slice(&body)
            .map_err(|_| KeysError::Peer("challenge answer is not the expected JSON".into()))?;
        let nonce = b64("nonce", &a.nonce, 64)?;
        if nonce.len() != 32 {
            return Err(KeysError::Peer("challenge nonce is not 32 bytes".into()));
        }
        Ok(nonce)
    }

    /// Step 3: our enclave's document in, the ring sealed to it out.
    pub async fn export(&self, peer_url: &str, document: &[u8]) -> Result<SyncExported, KeysError> {
        let req = serde_json::json!({"document": STANDARD.encode(document)}).to_string();
        let body = self.post(peer_url, "/v1/keysync/export", req).await?;
        let a: ExportAnswer = serde_json::from_slice(&body)
            .map_err(|_| KeysError::Peer("export answer is not the expected JSON".into()))?;
        Ok(SyncExported {
            document: b64("document", &a.document, MAX_DOCUMENT_LEN)?,
            enc: b64("enc", &a.enc, 65)?,
            ciphertext: b64("ciphertext", &a.ciphertext, MAX_SYNC_CIPHERTEXT_LEN)?,
        })
    }

    async fn post(&self, peer_url: &str, path: &str, body: String) -> Result<Bytes, KeysError> {
        let url = PeerUrl::parse(peer_url)?;
        tokio::time::timeout(REQUEST_TIMEOUT, exchange(&url, path, body))
            .await
            .map_err(|_| KeysError::Peer("timed out".into()))?
    }
}

async fn exchange(url: &PeerUrl, path: &str, body: String) -> Result<Bytes, KeysError> {
    let io = |e: std::io::Error| KeysError::Peer(format!("connect: {}", e.kind()));
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&url.authority))
        .await
        .map_err(|_| KeysError::Peer("connect timed out".into()))?
        .map_err(io)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| KeysError::Peer("HTTP handshake failed".into()))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = Request::post(path)
        .header(http::header::HOST, url.authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| KeysError::Peer("bad request".into()))?;
    let result = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|_| KeysError::Peer("request failed".into()))?;
        let status = resp.status();
        let bytes = Limited::new(resp.into_body(), MAX_PEER_BODY_LEN)
            .collect()
            .await
            .map_err(|_| KeysError::Peer("answer unreadable or too large".into()))?
            .to_bytes();
        if status != StatusCode::OK {
            let code = serde_json::from_slice::<ErrorAnswer>(&bytes)
                .map(|e| e.error.code)
                .unwrap_or_default();
            let code: String = code
                .chars()
                .filter(|c| c.is_ascii_lowercase() || *c == '_')
                .take(64)
                .collect();
            return Err(KeysError::Peer(format!("answered {status} {code}")));
        }
        Ok(bytes)
    }
    .await;
    driver.abort();
    result
}
