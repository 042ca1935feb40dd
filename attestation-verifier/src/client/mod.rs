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
use wire::{check_base_url, clean_message, is_code, percent_encode_b64};
use zeroize::Zeroizing;

pub mod log;
mod wire;

/// Largest challenge the host accepts in `GET /attestation/quote`.
pub const MAX_QUOTE_NONCE_LEN: usize = 64;
/// Largest error body read from a refusing host.
pub const MAX_ERROR_BODY_LEN: u64 = 16 * 1024;
/// Largest small answer (submit, revoke, transparency head).
pub const MAX_SMALL_ANSWER_LEN: u64 = 64 * 1024;
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
    /// Base64 owner COSE_Sign1 `aggregates` action for exactly this
    /// request (credential v2), when the policy does not allow it by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_authorization: Option<String>,
}

/// `GET /transparency/head`. Only the signed bytes count: check them with
/// [`crate::verify_tree_head`] (the size is repeated inside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransparencyHead {
    /// Size of the current tree (unauthenticated copy).
    pub tree_size: u64,
    /// Base64 COSE_Sign1 ES256 over the CBOR tree head.
    pub tree_head: String,
}

/// `GET /transparency/inclusion?leaf_index=..&tree_size=..`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionAnswer {
    /// Leaf index.
    pub leaf_index: u64,
    /// Tree size the proof is for.
    pub tree_size: u64,
    /// Base64 leaf hash (recompute it from the entry; never trust this copy).
    pub leaf_hash: String,
    /// Base64 RFC 9162 audit path.
    pub inclusion_proof: Vec<String>,
    /// Base64 signed head of that size.
    pub tree_head: String,
}

/// `GET /transparency/consistency?first=..&second=..`; check with
/// [`crate::verify_consistency_heads`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyAnswer {
    /// Older size.
    pub first: u64,
    /// Newer size.
    pub second: u64,
    /// Base64 RFC 9162 consistency proof.
    pub consistency_proof: Vec<String>,
    /// Base64 signed head of size `first`.
    pub first_head: String,
    /// Base64 signed head of size `second`.
    pub second_head: String,
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

/// Progress of a computation job (`GET /enclave/jobs/{id}`): a
/// `request_aggregates` that needs more exchange weight than one minute
/// allows continues as a job on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct JobProgress {
    /// Symbols brought up to date.
    pub symbols_done: u64,
    /// Symbols the computation covers.
    pub symbols_total: u64,
    /// Exchange request weight used so far.
    pub weight_used: u64,
}

#[derive(Deserialize)]
struct JobInfo {
    id: String,
    state: String,
    #[serde(default)]
    progress: JobProgress,
}

#[derive(Deserialize)]
struct JobAnswer {
    job: JobInfo,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<ErrorDetail>,
}

/// How often a job is polled (the host's `Retry-After` aside).
pub const JOB_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How long a job is followed before giving up (it keeps running on the
/// host; `GET /enclave/jobs/{id}` still shows it).
pub const MAX_JOB_WAIT: Duration = Duration::from_secs(3600);

#[derive(Serialize)]
struct SessionBody<'a> {
    session_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner_authorization: Option<String>,
}

/// Answer of `POST /enclave/revoke`. Version 1 hosts answer
/// `{"revoked": true}` only.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RevokeAnswer {
    /// Always true in a success answer.
    pub revoked: bool,
    /// Whether the enclave revoked the credential and the log holds the
    /// revocation entry (an owner-signed revoke).
    #[serde(default)]
    pub logged: bool,
    /// Hex credential id (logged revocations).
    #[serde(default)]
    pub credential: Option<String>,
    /// Base64 revocation entry (COSE_Sign1 by the enclave), the log leaf.
    #[serde(default)]
    pub entry: Option<String>,
    /// Where the log holds it: `leaf_index`, `tree_size`, `tree_head`,
    /// `inclusion_proof`, `checkpoint`, `tlog_proof`.
    #[serde(default)]
    pub log: Option<serde_json::Value>,
}

/// Answer of `POST /enclave/publish`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PublishAnswer {
    /// Always true in a success answer.
    pub published: bool,
    /// Hex credential id.
    pub credential: String,
    /// Hex owner id (SHA-256 of the owner key).
    pub owner: String,
    /// How many stored results it published now (later ones follow).
    pub results: u64,
    /// The stored authorization, base64.
    #[serde(default)]
    pub owner_authorization: Option<String>,
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
            return Err(ClientError::InvalidRequest(
                "API key is empty or not a token",
            ));
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
        let raw = self.request_aggregates_raw(session_id, from, to, symbols)?;
        serde_json::from_slice(&raw).map_err(|e| ClientError::Answer(e.to_string()))
    }

    /// [`Client::request_aggregates`], returning the answer bytes exactly as
    /// received (at most [`MAX_ANSWER_JSON_LEN`]): evidence to keep, parsed
    /// later with [`crate::parse_answer`].
    pub fn request_aggregates_raw(
        &self,
        session_id: &str,
        from: Option<&str>,
        to: Option<&str>,
        symbols: Option<&[String]>,
    ) -> Result<Vec<u8>, ClientError> {
        let body = AggregatesRequest {
            session_id: session_id.to_owned(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            symbols: symbols.map(<[String]>::to_vec),
            owner_authorization: None,
        };
        self.request_aggregates_body_raw(&body)
    }

    /// `POST /enclave/request_aggregates` with a whole body (an owner
    /// authorization included), answer bytes as received.
    pub fn request_aggregates_body_raw(
        &self,
        body: &AggregatesRequest,
    ) -> Result<Vec<u8>, ClientError> {
        self.request_aggregates_follow(body, |_| {})
    }

    /// [`Client::request_aggregates_body_raw`], following a job: when the
    /// host answers 202 (the computation needs more exchange weight than one
    /// minute allows), polls `GET /enclave/jobs/{id}`, calling `progress`
    /// with each report, until the job is done (its result is answered, as
    /// a 200 would carry it) or failed (its code), at most [`MAX_JOB_WAIT`].
    pub fn request_aggregates_follow(
        &self,
        body: &AggregatesRequest,
        mut progress: impl FnMut(&JobProgress),
    ) -> Result<Vec<u8>, ClientError> {
        let json = serde_json::to_vec(body).map_err(|e| ClientError::Answer(e.to_string()))?;
        let req = self
            .agent
            .post(&format!("{}/enclave/request_aggregates", self.base))
            .header("content-type", "application/json");
        let resp = self.authorize(req).send(&json[..]);
        let accepted = matches!(&resp, Ok(r) if r.status().as_u16() == 202);
        let bytes = read_bytes(resp, MAX_ANSWER_JSON_LEN as u64)?;
        if !accepted {
            return Ok(bytes);
        }
        let mut job: JobAnswer =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Answer(e.to_string()))?;
        // The id goes into a path: a UUID only.
        let id = job.job.id.clone();
        if id.len() != 36 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Err(ClientError::Answer("job id is not a UUID".into()));
        }
        let started = std::time::Instant::now();
        loop {
            progress(&job.job.progress);
            match (job.job.state.as_str(), job.result.take(), job.error.take()) {
                ("done", Some(result), _) => {
                    return serde_json::to_vec(&result)
                        .map_err(|e| ClientError::Answer(e.to_string()));
                }
                ("failed", _, Some(e)) if is_code(&e.code) => {
                    return Err(ClientError::Api {
                        status: 200,
                        code: e.code,
                        message: clean_message(&e.message),
                    });
                }
                ("running", _, _) => {}
                _ => return Err(ClientError::Answer("job answer without its outcome".into())),
            }
            if started.elapsed() > MAX_JOB_WAIT {
                return Err(ClientError::Transport(format!(
                    "job {id} still running after {} s",
                    MAX_JOB_WAIT.as_secs()
                )));
            }
            std::thread::sleep(JOB_POLL_INTERVAL);
            let req = self.agent.get(&format!("{}/enclave/jobs/{id}", self.base));
            job = read(self.authorize(req).call(), MAX_ANSWER_JSON_LEN as u64)?;
        }
    }

    /// `POST /enclave/revoke` without an owner signature (the host purges
    /// the ciphertext; not logged); succeeds only on `"revoked": true`.
    pub fn revoke(&self, session_id: &str) -> Result<(), ClientError> {
        self.revoke_with(session_id, None).map(|_| ())
    }

    /// `POST /enclave/revoke` with the owner's signed `revoke` action
    /// (`authorization`, COSE bytes): the enclave refuses the credential
    /// from then on and the log holds the revocation entry.
    pub fn revoke_with(
        &self,
        session_id: &str,
        authorization: Option<&[u8]>,
    ) -> Result<RevokeAnswer, ClientError> {
        let body = SessionBody {
            session_id,
            owner_authorization: authorization.map(|a| STANDARD.encode(a)),
        };
        let a: RevokeAnswer = self.post("/enclave/revoke", &body, MAX_SMALL_ANSWER_LEN)?;
        if !a.revoked || (authorization.is_some() && !a.logged) {
            return Err(ClientError::Answer(
                "host did not confirm the revocation".into(),
            ));
        }
        Ok(a)
    }

    /// `POST /enclave/publish` with the owner's signed `publish` action.
    pub fn publish(
        &self,
        session_id: &str,
        authorization: &[u8],
    ) -> Result<PublishAnswer, ClientError> {
        let body = SessionBody {
            session_id,
            owner_authorization: Some(STANDARD.encode(authorization)),
        };
        let a: PublishAnswer = self.post("/enclave/publish", &body, MAX_SMALL_ANSWER_LEN)?;
        if !a.published {
            return Err(ClientError::Answer("host answered published: false".into()));
        }
        Ok(a)
    }

    /// `GET /transparency/head`. Verify with [`crate::verify_tree_head`].
    /// The transparency reads are public: no API key is sent.
    pub fn transparency_head(&self) -> Result<TransparencyHead, ClientError> {
        self.public_get("/transparency/head")
    }

    /// `GET /transparency/inclusion` (the current size when `tree_size` is
    /// `None`). Verify with [`crate::merkle::verify_inclusion`] against a
    /// head checked by [`crate::verify_tree_head`].
    pub fn transparency_inclusion(
        &self,
        leaf_index: u64,
        tree_size: Option<u64>,
    ) -> Result<InclusionAnswer, ClientError> {
        let mut path = format!("/transparency/inclusion?leaf_index={leaf_index}");
        if let Some(size) = tree_size {
            path.push_str(&format!("&tree_size={size}"));
        }
        self.public_get(&path)
    }

    /// `GET /transparency/consistency?first=..&second=..`.
    pub fn transparency_consistency(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyAnswer, ClientError> {
        self.public_get(&format!(
            "/transparency/consistency?first={first}&second={second}"
        ))
    }

    fn public_get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let req = self.agent.get(&format!("{}{path}", self.base));
        read(req.call(), MAX_SMALL_ANSWER_LEN)
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
    let bytes = read_bytes(result, limit)?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Answer(e.to_string()))
}

/// Success: the body, bounded. Failure: the server's error body.
fn read_bytes(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    limit: u64,
) -> Result<Vec<u8>, ClientError> {
    let mut resp = result.map_err(transport)?;
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        return Err(api_error(status, resp.body_mut()));
    }
    resp.body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => ClientError::TooLarge(limit),
            e => transport(e),
        })
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let c = Client::new("https://x", "sk_live_secret").unwrap();
        assert!(!format!("{c:?}").contains("sk_live_secret"));
    }
}
