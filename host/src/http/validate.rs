//! Request bodies and their validation. Every limit is a named constant checked
//! before decoding; messages name the field, never echo its value.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use uuid::Uuid;

use super::error::{ApiError, Code};

/// Largest request body accepted.
pub const MAX_BODY_LEN: usize = 64 * 1024;
// The sealed credential's limits and rules are the shared contract
// (`strongroom_formats::credential`, SPEC.md "Sealed credential"): the
// client, this host and the enclave accept and refuse the same inputs.
use strongroom_formats::credential::{ContractError, SealedCredential};
pub use strongroom_formats::credential::{
    ENC_LEN, MAX_CIPHERTEXT_LEN, MAX_EXCHANGE_LEN, MAX_KEY_ID_LEN, MAX_LABEL_LEN, TAG_LEN,
};
/// Longest attestation nonce (decoded).
pub const MAX_NONCE_LEN: usize = 64;
/// Longest symbol list in an aggregates request.
pub const MAX_SYMBOLS: usize = 200;
/// Longest symbol.
pub const MAX_SYMBOL_LEN: usize = 32;
/// Longest owner authorization (decoded): a COSE_Sign1 around a small map.
pub use strongroom_verifier::owner::MAX_AUTHORIZATION_LEN as MAX_OWNER_AUTHORIZATION_LEN;

/// `POST /enclave/submit_key`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitKey {
    /// HPKE key the credential was sealed to.
    pub key_id: String,
    /// HPKE `enc`, base64.
    pub ephemeral_pub: String,
    /// AEAD ciphertext without tag, base64.
    pub ciphertext: String,
    /// AEAD tag, base64.
    pub tag: String,
    /// What the credential is for.
    pub metadata: SubmitMetadata,
}

/// `metadata` of a submission.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitMetadata {
    /// Exchange name.
    pub exchange: String,
    /// Client label.
    pub label: String,
    /// Requested lifetime, seconds.
    pub ttl: u64,
}

/// `POST /enclave/request_aggregates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestAggregates {
    /// Session.
    pub session_id: String,
    /// Window start, RFC 3339.
    pub from: Option<String>,
    /// Window end, RFC 3339.
    pub to: Option<String>,
    /// Symbols.
    pub symbols: Option<Vec<String>>,
    /// The owner's COSE_Sign1 `aggregates` action, base64: needed when the
    /// credential's policy does not allow the request by itself.
    pub owner_authorization: Option<String>,
}

/// `POST /enclave/revoke` and `POST /enclave/publish`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRequest {
    /// Session.
    pub session_id: String,
    /// The owner's COSE_Sign1 `revoke` / `publish` action, base64.
    pub owner_authorization: Option<String>,
}

impl OwnerRequest {
    /// The session and the decoded, bounded authorization.
    pub fn validate(self) -> Result<(Uuid, Option<Vec<u8>>), ApiError> {
        let session = session_id(&self.session_id)?;
        Ok((session, owner_authorization(self.owner_authorization)?))
    }
}

/// Decodes an `owner_authorization`, at most [`MAX_OWNER_AUTHORIZATION_LEN`] bytes.
pub fn owner_authorization(value: Option<String>) -> Result<Option<Vec<u8>>, ApiError> {
    value
        .map(|v| b64("owner_authorization", &v, MAX_OWNER_AUTHORIZATION_LEN))
        .transpose()
}

/// A validated submission.
#[derive(Debug)]
pub struct ValidSubmission {
    /// The sealed credential (key id, `enc`, `ciphertext ‖ tag`).
    pub sealed: SealedCredential,
    /// Exchange.
    pub exchange: String,
    /// Label.
    pub label: String,
    /// TTL seconds.
    pub ttl: u64,
}

/// Parses a JSON body strictly. Only the unknown field's name is reflected.
pub fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        let message = match text.strip_prefix("unknown field `") {
            Some(rest) => match rest.split_once('`') {
                Some((name, _)) if name.len() <= 64 => format!("unknown field `{name}`"),
                _ => "unknown field".to_owned(),
            },
            None if text.starts_with("missing field") => text
                .split(" at line")
                .next()
                .unwrap_or("missing field")
                .to_owned(),
            None => format!(
                "{} (line {}, column {})",
                Code::InvalidJson.message(),
                e.line(),
                e.column()
            ),
        };
        ApiError::with(Code::InvalidJson, message)
    })
}

/// Decodes standard padded base64 into at most `max` bytes (length checked first).
pub fn b64(field: &'static str, value: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    if value.len() > max.div_ceil(3) * 4 {
        return Err(ApiError::with(
            Code::InvalidLength,
            format!("{field} is too long"),
        ));
    }
    let bytes = STANDARD.decode(value).map_err(|_| {
        ApiError::with(
            Code::InvalidBase64,
            format!("{field} is not standard base64 with padding"),
        )
    })?;
    if bytes.len() > max {
        return Err(ApiError::with(
            Code::InvalidLength,
            format!("{field} is too long"),
        ));
    }
    Ok(bytes)
}

fn text(
    field: &'static str,
    value: &str,
    max: usize,
    ok: impl Fn(char) -> bool,
) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > max {
        return Err(ApiError::with(
            Code::InvalidLength,
            format!("{field} must be 1 to {max} bytes"),
        ));
    }
    if !value.chars().all(ok) {
        return Err(ApiError::with(
            Code::InvalidField,
            format!("{field} contains characters that are not allowed"),
        ));
    }
    Ok(())
}

/// A contract refusal as the API reports it: the field's name (under
/// `metadata.` for the metadata), never its value.
fn contract(e: ContractError, prefix: &str) -> ApiError {
    let field = e.field().name();
    match e {
        ContractError::Length(_) => ApiError::with(
            Code::InvalidLength,
            format!("{prefix}{field} has a length outside the limits (SPEC.md)"),
        ),
        _ => ApiError::with(
            Code::InvalidField,
            format!("{prefix}{field} contains characters or bytes that are not allowed"),
        ),
    }
}

impl SubmitKey {
    /// Checks every field against the sealed-credential contract. The
    /// base64 lengths are checked before decoding.
    pub fn validate(self, max_ttl: u64) -> Result<ValidSubmission, ApiError> {
        let enc = b64("ephemeral_pub", &self.ephemeral_pub, ENC_LEN)?;
        let ciphertext = b64("ciphertext", &self.ciphertext, MAX_CIPHERTEXT_LEN)?;
        let tag = b64("tag", &self.tag, TAG_LEN)?;
        let sealed = SealedCredential::from_parts(&self.key_id, &enc, &ciphertext, &tag)
            .map_err(|e| contract(e, ""))?;
        let m = self.metadata;
        strongroom_formats::credential::check_exchange(&m.exchange)
            .map_err(|e| contract(e, "metadata."))?;
        strongroom_formats::credential::check_label(&m.label)
            .map_err(|e| contract(e, "metadata."))?;
        if m.ttl == 0 || m.ttl > max_ttl {
            return Err(ApiError::new(Code::InvalidTtl));
        }
        Ok(ValidSubmission {
            sealed,
            exchange: m.exchange,
            label: m.label,
            ttl: m.ttl,
        })
    }
}

/// Parses a session id.
pub fn session_id(value: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(value).map_err(|_| ApiError::new(Code::InvalidSessionId))
}

/// A validated aggregates request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidAggregatesRequest {
    /// Session.
    pub session: Uuid,
    /// Window start, unix ms, inclusive.
    pub from_ms: Option<i64>,
    /// Window end, unix ms, exclusive.
    pub to_ms: Option<i64>,
    /// Symbols, or None to let the enclave discover them.
    pub symbols: Option<Vec<String>>,
    /// The owner's authorization, forwarded to the enclave as is.
    pub owner_authorization: Option<Vec<u8>>,
}

fn unix_ms(field: &'static str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(v, rfc3339)
        .map_err(|_| ApiError::with(Code::InvalidField, format!("{field} is not RFC 3339")))?;
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    if ms < 0 {
        return Err(ApiError::with(
            Code::InvalidField,
            format!("{field} is before 1970"),
        ));
    }
    i64::try_from(ms)
        .map(Some)
        .map_err(|_| ApiError::with(Code::InvalidField, format!("{field} is out of range")))
}

impl RequestAggregates {
    /// Checks every field: RFC 3339 bounds with `from < to`, 1 to
    /// [`MAX_SYMBOLS`] symbols of `[A-Z0-9]{1,32}`, a UUID session.
    pub fn validate(self) -> Result<ValidAggregatesRequest, ApiError> {
        let session = session_id(&self.session_id)?;
        let from_ms = unix_ms("from", self.from.as_deref())?;
        let to_ms = unix_ms("to", self.to.as_deref())?;
        if let (Some(f), Some(t)) = (from_ms, to_ms)
            && f >= t
        {
            return Err(ApiError::with(
                Code::InvalidField,
                "from must be earlier than to",
            ));
        }
        if let Some(symbols) = &self.symbols {
            if symbols.is_empty() || symbols.len() > MAX_SYMBOLS {
                return Err(ApiError::with(
                    Code::InvalidLength,
                    "symbols must hold 1 to 200 entries",
                ));
            }
            for s in symbols {
                text("symbols", s, MAX_SYMBOL_LEN, |c| {
                    c.is_ascii_uppercase() || c.is_ascii_digit()
                })?;
            }
        }
        Ok(ValidAggregatesRequest {
            session,
            from_ms,
            to_ms,
            symbols: self.symbols,
            owner_authorization: owner_authorization(self.owner_authorization)?,
        })
    }
}

/// Longest query string of the transparency routes.
pub const MAX_QUERY_LEN: usize = 256;

/// Parses `a=1&b=2` into the values of `names`: each at most once, no other
/// names, unsigned decimal digits only (at most 20).
pub fn query_u64<const N: usize>(
    query: Option<&str>,
    names: [&'static str; N],
) -> Result<[Option<u64>; N], ApiError> {
    let q = query.unwrap_or("");
    let bad = |m: &'static str| ApiError::with(Code::InvalidField, m);
    if q.len() > MAX_QUERY_LEN {
        return Err(bad("query string too long"));
    }
    let mut out = [None; N];
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| bad("expected name=value"))?;
        let i = names
            .iter()
            .position(|n| *n == k)
            .ok_or_else(|| bad("unknown query parameter"))?;
        if out[i].is_some() {
            return Err(bad("repeated query parameter"));
        }
        if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("parameters are unsigned decimal integers"));
        }
        out[i] = Some(v.parse().map_err(|_| bad("parameter out of range"))?);
    }
    Ok(out)
}

/// Decodes `nonce` from the query string of `GET /attestation/quote`.
pub fn quote_nonce(query: Option<&str>) -> Result<Option<Vec<u8>>, ApiError> {
    let mut nonce = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != "nonce" || nonce.is_some() {
            return Err(ApiError::with(
                Code::InvalidField,
                "the only query parameter is one nonce",
            ));
        }
        let v = percent_decode(v).ok_or_else(|| ApiError::new(Code::InvalidBase64))?;
        let bytes = b64("nonce", &v, MAX_NONCE_LEN).map_err(|e| match e.code {
            Code::InvalidLength => ApiError::new(Code::NonceTooLong),
            _ => e,
        })?;
        nonce = Some(bytes);
    }
    Ok(nonce)
}

/// Percent-decodes a query value (`+` stays `+`: base64 uses it).
fn percent_decode(v: &str) -> Option<String> {
    if v.len() > 1024 {
        return None;
    }
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
