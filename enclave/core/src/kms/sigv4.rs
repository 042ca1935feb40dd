//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`, header form), written to
//! the AWS specification with the `hmac`/`sha2` crates the enclave already
//! trusts, and checked against AWS's published SigV4 test-suite vectors
//! (`tests/kms_sigv4.rs`). Why not the `aws-sigv4` crate: see `kms` docs.
//!
//! Scope is deliberately narrow: the caller gives the canonical URI and
//! query string (KMS uses `POST /` with no query) and the headers to sign;
//! this module canonicalizes header names and values, hashes the payload,
//! derives the signing key and renders the `Authorization` value.

use std::fmt;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The only algorithm produced.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Longest access key id accepted (AWS: 16..=128 characters).
pub const MAX_ACCESS_KEY_ID_LEN: usize = 128;
/// Longest secret access key accepted.
pub const MAX_SECRET_LEN: usize = 128;
/// Longest session token accepted (STS tokens run to a few KiB).
pub(crate) const MAX_SESSION_TOKEN_LEN: usize = 8192;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Why credentials or a signing date were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// Access key id, secret or token empty, too long or not printable ASCII.
    #[error("invalid AWS credentials")]
    InvalidCredentials,
    /// The time cannot be written as an `x-amz-date`.
    #[error("invalid signing time")]
    InvalidTime,
}

/// AWS credentials as the host passes them in (instance role or STS).
/// Secret type: no `Clone`, `Debug` shows nothing, secret and token zeroize.
pub struct Credentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
}

fn printable(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
}

impl Credentials {
    /// Checks and wraps credentials.
    pub fn new(
        access_key_id: &str,
        secret_access_key: Zeroizing<String>,
        session_token: Option<Zeroizing<String>>,
    ) -> Result<Self, SigV4Error> {
        let ok = printable(access_key_id, MAX_ACCESS_KEY_ID_LEN)
            && access_key_id.bytes().all(|b| b.is_ascii_alphanumeric())
            && printable(&secret_access_key, MAX_SECRET_LEN)
            && session_token
                .as_ref()
                .is_none_or(|t| printable(t, MAX_SESSION_TOKEN_LEN));
        if !ok {
            return Err(SigV4Error::InvalidCredentials);
        }
        Ok(Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key,
            session_token,
        })
    }

    /// The access key id (public: it appears in every `Authorization`).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The session token, sent as `x-amz-security-token` (and signed).
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_ref().map(|t| t.as_str())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

/// A signing time: `YYYYMMDD` and `YYYYMMDDTHHMMSSZ` (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmzDate {
    date: String,
    date_time: String,
}

impl AmzDate {
    /// From unix seconds (the enclave's clock; never the host's word).
    pub fn from_unix(secs: i64) -> Result<Self, SigV4Error> {
        let t = OffsetDateTime::from_unix_timestamp(secs).map_err(|_| SigV4Error::InvalidTime)?;
        if !(0..=9999).contains(&t.year()) {
            return Err(SigV4Error::InvalidTime);
        }
        let date = format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day());
        let date_time = format!("{date}T{:02}{:02}{:02}Z", t.hour(), t.minute(), t.second());
        Ok(Self { date, date_time })
    }

    /// Parses `YYYYMMDDTHHMMSSZ` (test vectors, the KMS double).
    pub fn parse(s: &str) -> Result<Self, SigV4Error> {
        let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let t = time::PrimitiveDateTime::parse(s, &fmt).map_err(|_| SigV4Error::InvalidTime)?;
        Self::from_unix(t.assume_utc().unix_timestamp())
    }

    /// `YYYYMMDDTHHMMSSZ`, the `x-amz-date` header value.
    pub fn date_time(&self) -> &str {
        &self.date_time
    }

    /// `YYYYMMDD`, the credential scope's date.
    pub fn date(&self) -> &str {
        &self.date
    }
}

/// What gets signed. `headers` must include `host` and `x-amz-date` (and
/// `x-amz-security-token` with session credentials); names are matched
/// case-insensitively, repeated names are joined with `,` in order.
#[derive(Debug, Clone, Copy)]
pub struct SignableRequest<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// Canonical (already URI-encoded) path, e.g. `/`.
    pub canonical_uri: &'a str,
    /// Canonical query string (sorted, encoded), empty when none.
    pub canonical_query: &'a str,
    /// Header names and values to sign.
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes.
    pub payload: &'a [u8],
}

/// Region and service of the credential scope.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// e.g. `eu-central-1`.
    pub region: &'a str,
    /// e.g. `kms`.
    pub service: &'a str,
}

/// Trims and collapses runs of spaces, as SigV4 canonical header values.
fn canonical_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for word in v.split(' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// (canonical headers block, signed header list).
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut merged: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in headers {
        merged
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(canonical_value(value.trim()));
    }
    let block = merged
        .iter()
        .map(|(n, vs)| format!("{n}:{}\n", vs.join(",")))
        .collect::<String>();
    let names = merged.keys().cloned().collect::<Vec<_>>().join(";");
    (block, names)
}

/// The canonical request (exposed for the KMS double and diagnostics).
pub(crate) fn canonical_request(req: &SignableRequest<'_>) -> (String, String) {
    let (block, signed) = canonical_headers(req.headers);
    let creq = format!(
        "{}\n{}\n{}\n{block}\n{signed}\n{}",
        req.method,
        req.canonical_uri,
        req.canonical_query,
        hex::encode(Sha256::digest(req.payload))
    );
    (creq, signed)
}

fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    // HMAC accepts keys of any length: this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// Signs `req`; returns the `Authorization` header value.
pub fn authorization(
    req: &SignableRequest<'_>,
    creds: &Credentials,
    date: &AmzDate,
    scope: Scope<'_>,
) -> String {
    let (creq, signed) = canonical_request(req);
    let scope_str = format!(
        "{}/{}/{}/aws4_request",
        date.date, scope.region, scope.service
    );
    let sts = format!(
        "{ALGORITHM}\n{}\n{scope_str}\n{}",
        date.date_time,
        hex::encode(Sha256::digest(creq.as_bytes()))
    );
    let k_secret = Zeroizing::new(format!("AWS4{}", creds.secret_access_key.as_str()));
    let k_date = hmac(k_secret.as_bytes(), date.date.as_bytes());
    let k_region = hmac(&k_date[..], scope.region.as_bytes());
    let k_service = hmac(&k_region[..], scope.service.as_bytes());
    let k_signing = hmac(&k_service[..], b"aws4_request");
    let signature = hex::encode(&hmac(&k_signing[..], sts.as_bytes())[..]);
    format!(
        "{ALGORITHM} Credential={}/{scope_str}, SignedHeaders={signed}, Signature={signature}",
        creds.access_key_id
    )
}
