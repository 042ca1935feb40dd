//! One small HTTP/1.1 client over raw TCP, one request per connection
//! (`Connection: close`): tests see exactly the bytes the host answers,
//! including answers to malformed requests. [`http`] panics when no answer
//! comes; [`try_http`] and [`Client`] return `Err` (a server may be dead).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A parsed HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (panics otherwise).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The error code of a `{"error": {...}}` body (panics without one).
    pub fn code(&self) -> String {
        let v = self.json();
        v["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {v}"))
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// The error code of an answer, or "" when it has none.
pub fn code_of(r: &Reply) -> String {
    serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The body as (lossy) text, for failure messages.
pub fn body_text(r: &Reply) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The bytes of one request with `content-length` and `connection: close`.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("content-length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    bytes
}

/// One request on a fresh connection; panics when no parseable answer comes.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let bytes = request(addr, method, path, headers, body);
    raw(addr, &bytes).await.expect("a parseable HTTP answer")
}

/// Sends raw bytes (a failed write is ignored: the server may answer early and
/// close) and parses whatever answer comes back within 20 s (None if none).
pub async fn raw(addr: &str, bytes: &[u8]) -> Option<Reply> {
    let mut s = TcpStream::connect(addr).await.expect("connect to the host");
    let _ = s.write_all(bytes).await;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    parse_reply(&buf)
}

/// One request on a fresh connection; `Err` when the server is gone or silent
/// for `limit`.
pub async fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    limit: Duration,
) -> Result<Reply, String> {
    let bytes = request(addr, method, path, headers, body);
    tokio::time::timeout(limit, exchange(addr, &bytes))
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
}

async fn exchange(addr: &str, bytes: &[u8]) -> Result<Reply, String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    s.write_all(bytes)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)
        .await
        .map_err(|e| format!("read: {e}"))?;
    parse_reply(&buf).ok_or_else(|| format!("no HTTP answer ({} bytes)", buf.len()))
}

/// Parses a raw HTTP/1.1 answer (status line, headers, body).
pub fn parse_reply(buf: &[u8]) -> Option<Reply> {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Reply {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    })
}

/// A client of one host address with one tenant key; every call bounded by `limit`.
#[derive(Clone)]
pub struct Client {
    pub addr: String,
    pub key: String,
    pub limit: Duration,
}

impl Client {
    pub async fn get(&self, path: &str) -> Result<Reply, String> {
        try_http(&self.addr, "GET", path, &[], None, self.limit).await
    }

    /// GET with the tenant key.
    pub async fn get_auth(&self, path: &str) -> Result<Reply, String> {
        let auth = format!("Bearer {}", self.key);
        let headers = [("authorization", auth.as_str())];
        try_http(&self.addr, "GET", path, &headers, None, self.limit).await
    }

    /// POST a JSON body with the tenant key.
    pub async fn post(&self, path: &str, body: &str) -> Result<Reply, String> {
        self.post_with(path, body, &[]).await
    }

    /// [`Client::post`] with `extra` headers.
    pub async fn post_with(
        &self,
        path: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let auth = format!("Bearer {}", self.key);
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        let body = Some(body.as_bytes());
        try_http(&self.addr, "POST", path, &headers, body, self.limit).await
    }

    pub async fn quote(&self) -> Result<Reply, String> {
        self.get("/attestation/quote").await
    }

    pub async fn submit(&self, body: &str) -> Result<Reply, String> {
        self.post("/enclave/submit_key", body).await
    }

    pub async fn aggregates(&self, session: &str) -> Result<Reply, String> {
        let body = json!({"session_id": session}).to_string();
        self.post("/enclave/request_aggregates", &body).await
    }

    pub async fn revoke(&self, session: &str) -> Result<Reply, String> {
        let body = json!({"session_id": session}).to_string();
        self.post("/enclave/revoke", &body).await
    }
}

#[cfg(test)]
mod tests {
    use super::{code_of, parse_reply, request};

    #[test]
    fn parses_status_headers_and_body() {
        let raw = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\r\n\
                    {\"error\":{\"code\":\"enclave_unavailable\"}}";
        let r = parse_reply(raw).expect("an answer");
        assert_eq!(r.status, 503);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(code_of(&r), "enclave_unavailable");
        assert!(
            parse_reply(b"HTTP/1.1 200 OK\r\n").is_none(),
            "no end of head"
        );
    }

    #[test]
    fn a_request_has_its_length_and_closes() {
        let bytes = request("h:1", "POST", "/x", &[("a", "b")], Some(b"hey"));
        let text = String::from_utf8(bytes).expect("ASCII");
        assert_eq!(
            text,
            "POST /x HTTP/1.1\r\nhost: h:1\r\nconnection: close\r\na: b\r\ncontent-length: 3\r\n\r\nhey"
        );
    }
}
