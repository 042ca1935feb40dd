//! Server-side SigV4 check, written independently of the enclave's signer:
//! the canonical request is rebuilt from the headers *as received* (every
//! value of each signed name, in arrival order), so a signer that signs
//! something other than what it sends is caught.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

/// How far `x-amz-date` may lie from the double's clock (AWS allows 15 min).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// Why a signature was refused, named like AWS's JSON error `__type`s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigError {
    /// No or unparsable `Authorization`.
    #[error("MissingAuthenticationTokenException")]
    Missing,
    /// Unknown access key id.
    #[error("UnrecognizedClientException")]
    UnknownKey,
    /// Scope, signed headers, date or signature wrong.
    #[error("InvalidSignatureException: {0}")]
    Invalid(&'static str),
}

impl SigError {
    /// The AWS error type.
    pub fn kind(&self) -> &'static str {
        match self {
            SigError::Missing => "MissingAuthenticationTokenException",
            SigError::UnknownKey => "UnrecognizedClientException",
            SigError::Invalid(_) => "InvalidSignatureException",
        }
    }
}

/// What the double accepts.
pub struct Verifier {
    /// The one access key id.
    pub access_key: String,
    /// Its secret.
    pub secret: String,
    /// The region of the credential scope.
    pub region: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier { .. }")
    }
}

/// A received request, as the verifier needs it.
#[derive(Debug)]
pub struct Received<'a> {
    /// Method.
    pub method: &'a str,
    /// Raw path.
    pub path: &'a str,
    /// Raw query ('' when none).
    pub query: &'a str,
    /// Every header (lower-case names) in arrival order.
    pub headers: &'a [(String, String)],
    /// Body bytes.
    pub body: &'a [u8],
}

fn mac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("any key length"));
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn parse_auth(v: &str) -> Option<(Vec<&str>, Vec<&str>, &str)> {
    let rest = v.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut it = rest.split(", ");
    let cred = it.next()?.strip_prefix("Credential=")?;
    let signed = it.next()?.strip_prefix("SignedHeaders=")?;
    let sig = it.next()?.strip_prefix("Signature=")?;
    if it.next().is_some() {
        return None;
    }
    Some((cred.split('/').collect(), signed.split(';').collect(), sig))
}

fn header_values(headers: &[(String, String)], name: &str) -> Option<String> {
    let vals: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    (!vals.is_empty()).then(|| vals.join(","))
}

fn date_secs(amz: &str) -> Option<u64> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(amz, &fmt).ok()?;
    u64::try_from(t.assume_utc().unix_timestamp()).ok()
}

impl Verifier {
    /// Checks the request's SigV4 signature at time `now`.
    pub fn check(&self, r: &Received<'_>, now: SystemTime) -> Result<(), SigError> {
        let auth = header_values(r.headers, "authorization").ok_or(SigError::Missing)?;
        let (cred, signed, sig) = parse_auth(&auth).ok_or(SigError::Missing)?;
        let [ak, date, region, service, "aws4_request"] = cred[..] else {
            return Err(SigError::Invalid("credential scope"));
        };
        if ak != self.access_key {
            return Err(SigError::UnknownKey);
        }
        if region != self.region || service != "kms" {
            return Err(SigError::Invalid("credential scope"));
        }
        let amz =
            header_values(r.headers, "x-amz-date").ok_or(SigError::Invalid("no x-amz-date"))?;
        if !amz.starts_with(date) || date.len() != 8 {
            return Err(SigError::Invalid("scope date"));
        }
        let at = date_secs(&amz).ok_or(SigError::Invalid("x-amz-date"))?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if at.abs_diff(now) > MAX_CLOCK_SKEW.as_secs() {
            return Err(SigError::Invalid("signature expired"));
        }
        let sorted = signed.windows(2).all(|w| w[0] < w[1]);
        if !sorted || !signed.contains(&"host") || !signed.contains(&"x-amz-date") {
            return Err(SigError::Invalid("signed headers"));
        }
        if r.headers
            .iter()
            .any(|(n, _)| n.starts_with("x-amz-") && !signed.contains(&n.as_str()))
        {
            return Err(SigError::Invalid("unsigned x-amz header"));
        }
        let mut canonical = format!("{}\n{}\n{}\n", r.method, r.path, r.query);
        for name in &signed {
            let v =
                header_values(r.headers, name).ok_or(SigError::Invalid("signed header missing"))?;
            canonical.push_str(&format!("{name}:{v}\n"));
        }
        canonical.push_str(&format!(
            "\n{}\n{}",
            signed.join(";"),
            hex::encode(Sha256::digest(r.body))
        ));
        let scope = format!("{date}/{region}/{service}/aws4_request");
        let sts = format!(
            "AWS4-HMAC-SHA256\n{amz}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let k = mac(format!("AWS4{}", self.secret).as_bytes(), date);
        let k = mac(&k, region);
        let k = mac(&k, service);
        let k = mac(&k, "aws4_request");
        let expected = hex::encode(mac(&k, &sts));
        let diff = expected
            .bytes()
            .zip(sig.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y));
        if diff != 0 || expected.len() != sig.len() {
            return Err(SigError::Invalid("signature mismatch"));
        }
        Ok(())
    }
}
