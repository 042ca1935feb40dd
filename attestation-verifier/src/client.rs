//! Blocking HTTP client for the host API (feature `client`): the calls of
//! DESIGN.md "HTTP API", typed. It only moves bytes: every answer is
//! untrusted until the caller verifies it ([`crate::verify_quote_json`],
//! [`crate::verify_result`]).
//!
//! [`Client`] is cheap to clone (the connection pool and key are shared
//! behind `Arc`s) and `Send + Sync`, so a load generator can hand one to
//! each thread. TLS is rustls with the ring provider and the webpki roots.
//! Plain `http://` is accepted only for loopback hosts unless the caller
//! opts in with [`Client::danger_allow_plain_http`]: the bearer key would
//! travel in clear.

use crate::quote::{MAX_QUOTE_JSON_LEN, QuoteResponse};
use crate::result::{AggregatesAnswer, MAX_ANSWER_JSON_LEN};
use crate::seal::SubmitKeyBody;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use zeroize::Zeroizing;

/// Largest challenge the host accepts in `GET /attestation/quote`.
pub const MAX_QUOTE_NONCE_LEN: usize = 64;
/// Largest error body read from a refusing host.
pub const MAX_ERROR_BODY_LEN: u64 = 16 * 1024;
/// Largest small answer (submit, revoke, transparency head).
pub const MAX_SMALL_ANSWER_LEN: u64 = 64 * 1024;
/// Longest server error code / message kept (the rest is cut).
const MAX_SERVER_CODE_LEN: usize = 64;
const MAX_SERVER_MESSAGE_LEN: usize = 512;
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default whole-call timeout (aggregates over long histories take a while).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The base URL is not `http(s)://host[:port][/prefix]`.
    #[error("invalid host URL: {0}")]
    InvalidUrl(String),
    /// `http://` to a non-loopback host without the explicit opt-in.
    #[error("refusing plain http to a non-loopback host (the API key would travel in clear)")]
    PlainHttp,
    /// A request argument the host would refuse anyway.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// Connection, TLS, timeout or protocol failure: no answer.
    #[error("transport: {0}")]
    Transport(String),
    /// The host refused with its JSON error body.
    #[error("host refused ({status} {code}): {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The server's snake_case `error.code`.
        code: String,
        /// The server's `error.message` (control characters removed, cut).
        message: String,
    },
    /// A non-success status without a valid error body.
    #[error("host answered HTTP {status} without an error body")]
    Status {
        /// HTTP status.
        status: u16,
    },
    /// A success answer that is larger than allowed.
    #[error("answer larger than {0} bytes")]
    TooLarge(u64),
    /// A success answer that is not the expected JSON.
    #[error("answer is not the expected JSON: {0}")]
    Answer(String),
}

impl ClientError {
    /// A stable code: the server's own code for [`ClientError::Api`].
    pub fn code(&self) -> &str {
        match self {
            ClientError::InvalidUrl(_) => "invalid_url",
            ClientError::PlainHttp => "plain_http",
            ClientError::InvalidRequest(_) => "invalid_request",
            ClientError::Transport(_) => "transport",
            ClientError::Api { code, .. } => code,
            ClientError::Status { .. } => "http_status",
            ClientError::TooLarge(_) => "answer_too_large",
            ClientError::Answer(_) => "answer_json",
        }
    }

    /// The HTTP status, when the host answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Status { status } => Some(*status),
            _ => None,
        }
    }
}

/// `201` answer of `POST /enclave/submit_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitAnswer {
    /// The session (UUID text).
    pub session_id: String,
    /// When the enclave stops using the credential, RFC 3339.
    pub expires_at: String,
}

/// Body of `POST /enclave/request_aggregates`; absent bounds are omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatesRequest {
    /// The session.
    pub session_id: String,
    /// Window start (inclusive), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Window end (exclusive), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Symbols; when absent the enclave discovers them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols: Option<Vec<String>>,
}

/// `GET /transparency/head`: the signed tree head (base64 COSE_Sign1),
/// checked with [`crate::verify_tree_head`]. Other fields the host adds are
/// ignored: only the signed bytes count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransparencyHead {
    /// Base64 COSE_Sign1 ES256 over the CBOR tree head.
    pub tree_head: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Serialize)]
struct SessionBody<'a> {
    session_id: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeAnswer {
    revoked: bool,
}

/// A tenant's connection to one host. Clone freely; share across threads.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: Arc<str>,
    /// `Bearer <tenant api key>`, never printed.
    authorization: Arc<Zeroizing<String>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `base_url` (`https://host[:port]`, or `http://` on
    /// loopback) authenticating with the tenant's Strongroom API key.
    pub fn new(base_url: &str, tenant_api_key: &str) -> Result<Self, ClientError> {
        Self::build(base_url, tenant_api_key, false, DEFAULT_CALL_TIMEOUT)
    }

    /// Like [`Client::new`] but allows `http://` to any host. Dangerous:
    /// the API key and every answer travel unprotected.
    pub fn danger_allow_plain_http(
        base_url: &str,
        tenant_api_key: &str,
    ) -> Result<Self, ClientError> {
        Self::build(base_url, tenant_api_key, true, DEFAULT_CALL_TIMEOUT)
    }

    /// The same client with another whole-call timeout.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Client {
            agent: agent(timeout),
            ..self
        }
    }

    fn build(
        base_url: &str,
        key: &str,
        plain_ok: bool,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        if key.is_empty() || key.chars().any(|c| c.is_control() || c == ' ') {
            return Err(ClientError::InvalidRequest("API key is empty or not a token"));
        }
        let base = check_base_url(base_url, plain_ok)?;
        Ok(Client {
            agent: agent(timeout),
            base: base.into(),
            authorization: Arc::new(Zeroizing::new(format!("Bearer {key}"))),
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /attestation/quote[?nonce=..]`. Verify the answer before use.
    pub fn quote(&self, nonce: Option<&[u8]>) -> Result<QuoteResponse, ClientError> {
        let mut url = format!("{}/attestation/quote", self.base);
        if let Some(n) = nonce {
            if n.len() > MAX_QUOTE_NONCE_LEN {
                return Err(ClientError::InvalidRequest("nonce longer than 64 bytes"));
            }
            url.push_str("?nonce=");
            url.push_str(&percent_encode_b64(&STANDARD.encode(n)));
        }
        let req = self.agent.get(&url);
        read(self.authorize(req).call(), MAX_QUOTE_JSON_LEN as u64)
    }

    /// `POST /enclave/submit_key` with a sealed credential.
    pub fn submit(&self, body: &SubmitKeyBody) -> Result<SubmitAnswer, ClientError> {
        self.post("/enclave/submit_key", body, MAX_SMALL_ANSWER_LEN)
    }

    /// `POST /enclave/request_aggregates`. Verify with [`crate::verify_result`].
    pub fn request_aggregates(
        &self,
        session_id: &str,
        from: Option<&str>,
        to: Option<&str>,
        symbols: Option<&[String]>,
    ) -> Result<AggregatesAnswer, ClientError> {
        let body = AggregatesRequest {
            session_id: session_id.to_owned(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            symbols: symbols.map(<[String]>::to_vec),
        };
        self.post(
            "/enclave/request_aggregates",
            &body,
            MAX_ANSWER_JSON_LEN as u64,
        )
    }

    /// `POST /enclave/revoke`; succeeds only on `{"revoked": true}`.
    pub fn revoke(&self, session_id: &str) -> Result<(), ClientError> {
        let a: RevokeAnswer = self.post(
            "/enclave/revoke",
            &SessionBody { session_id },
            MAX_SMALL_ANSWER_LEN,
        )?;
        if a.revoked {
            Ok(())
        } else {
            Err(ClientError::Answer("host answered revoked: false".into()))
        }
    }

    /// `GET /transparency/head`. Verify with [`crate::verify_tree_head`].
    pub fn transparency_head(&self) -> Result<TransparencyHead, ClientError> {
        let req = self.agent.get(&format!("{}/transparency/head", self.base));
        read(self.authorize(req).call(), MAX_SMALL_ANSWER_LEN)
    }

    fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        limit: u64,
    ) -> Result<T, ClientError> {
        let json = serde_json::to_vec(body).map_err(|e| ClientError::Answer(e.to_string()))?;
        let req = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("content-type", "application/json");
        read(self.authorize(req).send(&json[..]), limit)
    }

    fn authorize<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        req.header("authorization", self.authorization.as_str())
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(DEFAULT_CONNECT_TIMEOUT.min(timeout)))
        .timeout_global(Some(timeout))
        .user_agent(concat!("strongroom/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// Success: bounded JSON of type `T`. Failure: the server's error body.
fn read<T: DeserializeOwned>(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    limit: u64,
) -> Result<T, ClientError> {
    let mut resp = result.map_err(transport)?;
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        return Err(api_error(status, resp.body_mut()));
    }
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => ClientError::TooLarge(limit),
            e => transport(e),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Answer(e.to_string()))
}

fn transport(e: ureq::Error) -> ClientError {
    ClientError::Transport(e.to_string())
}

fn api_error(status: u16, body: &mut ureq::Body) -> ClientError {
    let parsed = body
        .with_config()
        .limit(MAX_ERROR_BODY_LEN)
        .read_to_vec()
        .ok()
        .and_then(|b| serde_json::from_slice::<ErrorBody>(&b).ok());
    match parsed {
        Some(ErrorBody { error }) if is_code(&error.code) => ClientError::Api {
            status,
            code: error.code,
            message: clean_message(&error.message),
        },
        _ => ClientError::Status { status },
    }
}

/// Server codes are snake_case; anything else is not trusted as a code.
fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_SERVER_CODE_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// One line, printable, bounded: server text ends up in terminals and logs.
fn clean_message(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_SERVER_MESSAGE_LEN)
        .collect()
}

/// Base64 uses `+`, `/`, `=`: reserved in a query string.
fn percent_encode_b64(b64: &str) -> String {
    b64.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// `scheme://authority[/prefix]` without a trailing slash, query or fragment.
fn check_base_url(url: &str, plain_ok: bool) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError::InvalidUrl(format!("{url}: {why}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("needs a host and no user info"));
    }
    if rest.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("no query, fragment or spaces"));
    }
    match scheme {
        "https" => {}
        "http" if plain_ok || is_loopback(authority) => {}
        "http" => return Err(ClientError::PlainHttp),
        _ => return Err(bad("scheme must be http or https")),
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let ok = |u: &str| check_base_url(u, false).unwrap();
        assert_eq!(ok("https://api.example.com/"), "https://api.example.com");
        assert_eq!(ok("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
        assert_eq!(ok("http://localhost:3000/v1/"), "http://localhost:3000/v1");
        assert_eq!(ok("http://[::1]:3000"), "http://[::1]:3000");
        assert_eq!(
            check_base_url("http://api.example.com", false),
            Err(ClientError::PlainHttp)
        );
        assert!(check_base_url("http://api.example.com", true).is_ok());
        for bad in [
            "api.example.com",
            "ftp://x",
            "https://",
            "https://u:p@x",
            "https://x/?a=1",
            "https://x y",
        ] {
            assert!(
                matches!(check_base_url(bad, true), Err(ClientError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn codes_and_messages_are_sanitized() {
        assert!(is_code("rate_limited"));
        assert!(!is_code("Rate Limited"));
        assert!(!is_code(&"a".repeat(65)));
        assert_eq!(clean_message("a\nb\x1b[31m"), "a b [31m");
        assert_eq!(percent_encode_b64("a+b/c=="), "a%2Bb%2Fc%3D%3D");
    }

    #[test]
    fn debug_hides_the_key() {
        let c = Client::new("https://x", "sk_live_secret").unwrap();
        assert!(!format!("{c:?}").contains("sk_live_secret"));
    }
}
