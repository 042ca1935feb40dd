//! AWS credentials for the enclave's KMS calls: fixed ones from the
//! environment, or the instance role's temporary ones from the EC2 instance
//! metadata service (IMDSv2), cached and refreshed ahead of their expiry.
//!
//! IMDSv2 is three plain-HTTP requests to the link-local metadata address:
//! `PUT /latest/api/token` (header `X-aws-ec2-metadata-token-ttl-seconds`)
//! gives a session token; with it (header `X-aws-ec2-metadata-token`), `GET
//! /latest/meta-data/iam/security-credentials/` names the role and `GET
//! …/security-credentials/<role>` answers the JSON credentials. Every answer
//! is bounded ([`MAX_IMDS_BODY_LEN`]) and every request has a deadline
//! ([`IMDS_TIMEOUT`]). Errors say which step failed and how, never a token,
//! key or body.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpStream;
use zeroize::Zeroizing;

/// Default `AWS_IMDS_ENDPOINT`.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// Largest IMDS answer read (the credentials JSON is about 1.5 KiB).
pub const MAX_IMDS_BODY_LEN: usize = 64 * 1024;
/// Deadline of one IMDS request, connection included.
pub const IMDS_TIMEOUT: Duration = Duration::from_secs(2);
/// Lifetime asked for the IMDSv2 session token: it is used for the two GETs
/// right after and then dropped.
pub const IMDS_TOKEN_TTL_SECONDS: u32 = 60;
/// Cached credentials are replaced once they expire within this.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);
/// Credentials that expire within this are never handed out (the enclave's
/// KMS call must finish under them).
pub const MIN_VALIDITY: Duration = Duration::from_secs(60);
/// Longest accepted access key id.
pub const MAX_ACCESS_KEY_ID_LEN: usize = 128;
/// Longest accepted secret access key.
pub const MAX_SECRET_ACCESS_KEY_LEN: usize = 512;
/// Longest accepted session token.
pub const MAX_SESSION_TOKEN_LEN: usize = 8192;
/// Longest accepted IMDSv2 session token.
const MAX_IMDS_TOKEN_LEN: usize = 1024;
/// Longest IAM role name (IAM's own limit).
const MAX_ROLE_NAME_LEN: usize = 64;

const TOKEN_PATH: &str = "/latest/api/token";
const ROLES_PATH: &str = "/latest/meta-data/iam/security-credentials/";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";

/// Why credentials could not be obtained. Messages name the IMDS step and
/// what went wrong, never a token, key or answer body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// No TCP connection to the metadata service (not on EC2, IMDS disabled,
    /// or a wrong `AWS_IMDS_ENDPOINT`).
    #[error("instance metadata service unreachable at {endpoint} ({reason})")]
    Unreachable {
        /// `AWS_IMDS_ENDPOINT`.
        endpoint: String,
        /// What failed, e.g. the I/O error kind.
        reason: String,
    },
    /// A request took longer than [`IMDS_TIMEOUT`] (with IMDSv2 on an instance
    /// whose `HttpPutResponseHopLimit` is too low, the token PUT never answers).
    #[error("instance metadata service: {step} timed out after {}s", IMDS_TIMEOUT.as_secs())]
    Timeout {
        /// Which request.
        step: &'static str,
    },
    /// The metadata service answered an unexpected status.
    #[error("instance metadata service: {step} answered {status}{hint}")]
    Status {
        /// Which request.
        step: &'static str,
        /// The HTTP status.
        status: u16,
        /// A hint for the operator, possibly empty.
        hint: &'static str,
    },
    /// The instance has no IAM role (instance profile) attached.
    #[error("instance metadata service: no IAM role is attached to this instance")]
    NoRole,
    /// An answer was malformed, too large or unusable.
    #[error("instance metadata service: {step}: {reason}")]
    BadAnswer {
        /// Which request.
        step: &'static str,
        /// What is wrong, without the value.
        reason: &'static str,
    },
    /// The credentials answered are expired or about to be.
    #[error("instance metadata service answered credentials that expire within {}s", MIN_VALIDITY.as_secs())]
    Expired,
}

/// A set of AWS credentials. The secret access key and session token never
/// appear in `Debug`; both are zeroized on drop.
#[derive(Clone)]
pub struct AwsCredentials {
    /// Access key id (not secret: it names the key).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<Zeroizing<String>>,
    /// When temporary credentials expire; `None` for fixed ones.
    pub expiration: Option<OffsetDateTime>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl AwsCredentials {
    /// Whether these can still be handed out at `now`: at least
    /// [`MIN_VALIDITY`] left.
    pub fn usable_at(&self, now: OffsetDateTime) -> bool {
        self.expiration.is_none_or(|e| e - now > MIN_VALIDITY)
    }

    /// Whether these should be replaced at `now`: within
    /// [`REFRESH_BEFORE_EXPIRY`] of expiring.
    pub fn stale_at(&self, now: OffsetDateTime) -> bool {
        self.expiration
            .is_some_and(|e| e - now <= REFRESH_BEFORE_EXPIRY)
    }
}

/// `AWS_IMDS_ENDPOINT`: `http://HOST[:PORT]`, HOST an IPv4 address, a DNS
/// name or a bracketed IPv6 address; no path, no query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImdsEndpoint {
    /// `HOST:PORT` to connect to.
    connect: String,
    /// `HOST[:PORT]` as given, for the `Host` header.
    authority: String,
}

impl ImdsEndpoint {
    /// Parses `http://HOST[:PORT]` (a trailing `/` is allowed).
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("http://")?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.len() > 255 {
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, Some(p)),
            _ => (authority, None),
        };
        let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => {
                !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            }
        };
        let port = match port {
            None => 80,
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0)?,
        };
        host_ok.then(|| Self {
            connect: format!("{host}:{port}"),
            authority: authority.to_owned(),
        })
    }

    /// `http://HOST[:PORT]`, as configured.
    pub fn url(&self) -> String {
        format!("http://{}", self.authority)
    }
}

impl Default for ImdsEndpoint {
    fn default() -> Self {
        Self {
            connect: "169.254.169.254:80".into(),
            authority: "169.254.169.254".into(),
        }
    }
}

/// The instance role's credentials from IMDSv2, cached until
/// [`REFRESH_BEFORE_EXPIRY`] before they expire. Shared (clones of the
/// [`CredentialSource`] share one cache); concurrent callers wait for one fetch.
pub struct ImdsProvider {
    endpoint: ImdsEndpoint,
    cache: tokio::sync::Mutex<Option<AwsCredentials>>,
}

impl std::fmt::Debug for ImdsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImdsProvider")
            .field("endpoint", &self.endpoint.url())
            .finish_non_exhaustive()
    }
}

impl ImdsProvider {
    /// A provider asking `endpoint`, with an empty cache.
    pub fn new(endpoint: ImdsEndpoint) -> Self {
        Self {
            endpoint,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// The metadata service asked.
    pub fn endpoint(&self) -> &ImdsEndpoint {
        &self.endpoint
    }

    /// Credentials valid at `now` for at least [`MIN_VALIDITY`]: the cached
    /// ones unless they are within [`REFRESH_BEFORE_EXPIRY`] of expiring, else
    /// fresh ones. When a refresh fails while the cached ones are still
    /// usable, those are returned (IMDS rotates role credentials well before
    /// they expire, so a hiccup must not stop a KMS call) and the failure is
    /// logged.
    pub async fn credentials_at(
        &self,
        now: OffsetDateTime,
    ) -> Result<AwsCredentials, CredentialsError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref().filter(|c| !c.stale_at(now)) {
            return Ok(c.clone());
        }
        match fetch(&self.endpoint, now).await {
            Ok(fresh) => {
                tracing::info!(
                    access_key_id = %fresh.access_key_id,
                    expiration = ?fresh.expiration,
                    "fetched instance role credentials from IMDS"
                );
                *cache = Some(fresh.clone());
                Ok(fresh)
            }
            Err(e) => match cache.as_ref().filter(|c| c.usable_at(now)) {
                Some(c) => {
                    tracing::warn!(error = %e, "IMDS credential refresh failed; using the cached ones until they expire");
                    Ok(c.clone())
                }
                None => Err(e),
            },
        }
    }
}

/// Where the enclave's AWS credentials come from (`AWS_CREDENTIALS`).
#[derive(Clone)]
pub enum CredentialSource {
    /// `env`: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, read once at start.
    Env(AwsCredentials),
    /// `imds`: the instance role, through IMDSv2.
    Imds(Arc<ImdsProvider>),
}

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env(c) => f.debug_tuple("Env").field(c).finish(),
            Self::Imds(p) => f.debug_tuple("Imds").field(p).finish(),
        }
    }
}

impl CredentialSource {
    /// Credentials to hand to the enclave at `now`.
    pub async fn credentials_at(
        &self,
        now: OffsetDateTime,
    ) -> Result<AwsCredentials, CredentialsError> {
        match self {
            Self::Env(c) => Ok(c.clone()),
            Self::Imds(p) => p.credentials_at(now).await,
        }
    }

    /// `env` or `imds`, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Env(_) => "env",
            Self::Imds(_) => "imds",
        }
    }
}

/// The credentials document of `GET …/security-credentials/<role>`. Unknown
/// fields are ignored on purpose: AWS documents this answer as open to new
/// fields, and none could change the meaning of the ones used. Duplicate or
/// mistyped fields, trailing data and a `Code` other than `Success` are refused.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialsDocument {
    code: String,
    #[serde(rename = "Type")]
    kind: Option<String>,
    access_key_id: String,
    #[serde(deserialize_with = "zeroizing")]
    secret_access_key: Zeroizing<String>,
    #[serde(deserialize_with = "zeroizing")]
    token: Zeroizing<String>,
    expiration: String,
}

fn zeroizing<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Zeroizing<String>, D::Error> {
    String::deserialize(d).map(Zeroizing::new)
}

const STEP_TOKEN: &str = "token request (PUT /latest/api/token)";
const STEP_ROLE: &str = "role lookup (GET /latest/meta-data/iam/security-credentials/)";
const STEP_CREDS: &str =
    "credentials request (GET /latest/meta-data/iam/security-credentials/<role>)";

/// The three IMDSv2 requests, then strict checks of the answer.
pub async fn fetch(
    endpoint: &ImdsEndpoint,
    now: OffsetDateTime,
) -> Result<AwsCredentials, CredentialsError> {
    let token = request(endpoint, STEP_TOKEN, Method::PUT, TOKEN_PATH, None).await?;
    let token = Zeroizing::new(printable(STEP_TOKEN, &token, MAX_IMDS_TOKEN_LEN)?);
    let roles = match request(endpoint, STEP_ROLE, Method::GET, ROLES_PATH, Some(&token)).await {
        Err(CredentialsError::Status { status: 404, .. }) => return Err(CredentialsError::NoRole),
        other => other?,
    };
    let role = role_name(&roles)?;
    let path = format!("{ROLES_PATH}{role}");
    let body = request(endpoint, STEP_CREDS, Method::GET, &path, Some(&token)).await?;
    parse_credentials(&body, now)
}

fn printable(step: &'static str, body: &[u8], max: usize) -> Result<String, CredentialsError> {
    let bad = |reason| CredentialsError::BadAnswer { step, reason };
    let text = std::str::from_utf8(body)
        .map_err(|_| bad("not UTF-8"))?
        .trim();
    if text.is_empty() {
        return Err(bad("empty"));
    }
    if text.len() > max || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("not a token"));
    }
    Ok(text.to_owned())
}

/// The first line of the role list, which must be a valid IAM role name (an
/// instance profile holds one role).
fn role_name(body: &[u8]) -> Result<String, CredentialsError> {
    let bad = |reason| CredentialsError::BadAnswer {
        step: STEP_ROLE,
        reason,
    };
    let text = std::str::from_utf8(body).map_err(|_| bad("not UTF-8"))?;
    let Some(role) = text.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Err(CredentialsError::NoRole);
    };
    let ok = role.len() <= MAX_ROLE_NAME_LEN
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if !ok {
        return Err(bad("not an IAM role name"));
    }
    Ok(role.to_owned())
}

/// Strict parse of the credentials JSON of `GET …/security-credentials/<role>`
/// at `now`: unknown fields ignored, everything else checked.
pub fn parse_credentials(
    body: &[u8],
    now: OffsetDateTime,
) -> Result<AwsCredentials, CredentialsError> {
    let bad = |reason| CredentialsError::BadAnswer {
        step: STEP_CREDS,
        reason,
    };
    if body.len() > MAX_IMDS_BODY_LEN {
        return Err(bad("answer too large"));
    }
    // serde_json's messages can quote the input: only a fixed text leaves here.
    let doc: CredentialsDocument =
        serde_json::from_slice(body).map_err(|_| bad("not the expected JSON document"))?;
    if doc.code != "Success" {
        return Err(bad("Code is not Success"));
    }
    if doc.kind.as_deref().is_some_and(|k| k != "AWS-HMAC") {
        return Err(bad("Type is not AWS-HMAC"));
    }
    let id_ok = (16..=MAX_ACCESS_KEY_ID_LEN).contains(&doc.access_key_id.len())
        && doc.access_key_id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !id_ok {
        return Err(bad("AccessKeyId is not an access key id"));
    }
    if !graphic(&doc.secret_access_key, MAX_SECRET_ACCESS_KEY_LEN) {
        return Err(bad("SecretAccessKey is not a secret access key"));
    }
    if !graphic(&doc.token, MAX_SESSION_TOKEN_LEN) {
        return Err(bad("Token is not a session token"));
    }
    let expiration = OffsetDateTime::parse(&doc.expiration, &Rfc3339)
        .map_err(|_| bad("Expiration is not an RFC 3339 time"))?;
    let creds = AwsCredentials {
        access_key_id: doc.access_key_id,
        secret_access_key: doc.secret_access_key,
        session_token: Some(doc.token),
        expiration: Some(expiration),
    };
    if !creds.usable_at(now) {
        return Err(CredentialsError::Expired);
    }
    Ok(creds)
}

fn graphic(v: &str, max: usize) -> bool {
    !v.is_empty() && v.len() <= max && v.bytes().all(|b| b.is_ascii_graphic())
}

/// One request with a deadline of [`IMDS_TIMEOUT`]; the body of a 200 answer.
async fn request(
    endpoint: &ImdsEndpoint,
    step: &'static str,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> Result<Bytes, CredentialsError> {
    tokio::time::timeout(IMDS_TIMEOUT, exchange(endpoint, step, method, path, token))
        .await
        .map_err(|_| CredentialsError::Timeout { step })?
}

async fn exchange(
    endpoint: &ImdsEndpoint,
    step: &'static str,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> Result<Bytes, CredentialsError> {
    let unreachable = |reason: String| CredentialsError::Unreachable {
        endpoint: endpoint.url(),
        reason,
    };
    let stream = TcpStream::connect(&endpoint.connect)
        .await
        .map_err(|e| unreachable(format!("connect: {}", e.kind())))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| unreachable("HTTP handshake failed".into()))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, endpoint.authority.as_str());
    req = match token {
        Some(t) => req.header(TOKEN_HEADER, t),
        None => req.header(TTL_HEADER, IMDS_TOKEN_TTL_SECONDS),
    };
    let bad = |reason| CredentialsError::BadAnswer { step, reason };
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|_| bad("request could not be built"))?;
    let result = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|_| unreachable(format!("{step}: connection failed")))?;
        let status = resp.status();
        if status != StatusCode::OK {
            return Err(CredentialsError::Status {
                step,
                status: status.as_u16(),
                hint: hint(step, status),
            });
        }
        Ok(Limited::new(resp.into_body(), MAX_IMDS_BODY_LEN)
            .collect()
            .await
            .map_err(|_| bad("answer unreadable or over 64 KiB"))?
            .to_bytes())
    }
    .await;
    driver.abort();
    result
}

fn hint(step: &'static str, status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => " (IMDSv2 session token refused)",
        StatusCode::FORBIDDEN if step == STEP_TOKEN => {
            " (IMDS is disabled for this instance, or the token request was refused)"
        }
        StatusCode::FORBIDDEN => " (IMDS access denied)",
        _ => "",
    }
}

#[cfg(test)]
#[path = "imds_tests.rs"]
mod tests;
