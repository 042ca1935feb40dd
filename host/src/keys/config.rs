//! Key-ring settings of `serve`: KMS access, the peer listener, the instance
//! identity and the timing of the keys task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use strongroom_protocol::messages::KmsAccess;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::imds::{
    self, AwsCredentials, CredentialSource, CredentialsError, ImdsEndpoint, ImdsProvider,
};
use crate::config::source::{ConfigError, ConfigSource, non_empty, parse_num};

pub use super::peer::MAX_PEER_URL_LEN;

/// AWS KMS access handed to the enclave (`KMS_*`, `AWS_*`). The secret access
/// key and session token never appear in `Debug`, logs or errors.
#[derive(Clone)]
pub struct KmsConfig {
    /// `KMS_KEY_ID`: key id, alias or ARN.
    pub key_id: String,
    /// `KMS_REGION`.
    pub region: String,
    /// `KMS_ENDPOINT` (`host[:port]`), default `kms.<region>.amazonaws.com`.
    pub endpoint: String,
    /// `AWS_CREDENTIALS`: fixed credentials from the environment, or the
    /// instance role's through IMDSv2 (clones share one cache).
    pub credentials: CredentialSource,
}

impl std::fmt::Debug for KmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsConfig")
            .field("key_id", &self.key_id)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials.kind())
            .finish_non_exhaustive()
    }
}

impl KmsConfig {
    /// What the enclave's KMS calls need (it signs with SigV4 itself), with
    /// credentials valid for at least [`imds::MIN_VALIDITY`] from now.
    pub async fn access(&self) -> Result<KmsAccess, CredentialsError> {
        self.access_at(OffsetDateTime::now_utc()).await
    }

    /// [`KmsConfig::access`] at `now`.
    pub async fn access_at(&self, now: OffsetDateTime) -> Result<KmsAccess, CredentialsError> {
        let c = self.credentials.credentials_at(now).await?;
        Ok(KmsAccess {
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            key_id: self.key_id.clone(),
            access_key_id: c.access_key_id.clone(),
            secret_access_key: c.secret_access_key.as_str().to_owned(),
            session_token: c.session_token.as_ref().map(|t| t.as_str().to_owned()),
        })
    }
}

/// Settings of the keys task and the peer listener.
#[derive(Debug)]
pub struct KeysConfig {
    /// KMS, when `KMS_KEY_ID` is set.
    pub kms: Option<KmsConfig>,
    /// `PEER_LISTEN`: address of the key-sync listener (off when unset).
    pub peer_listen: Option<SocketAddr>,
    /// `PEER_URL`: what other instances use to reach the listener. When unset
    /// with a listener, `serve` advertises `http://<bound PEER_LISTEN address>`.
    pub peer_url: Option<String>,
    /// `INSTANCE_ID` (UUID), default random at every start.
    pub instance_id: Uuid,
    /// `KEYS_TICK_MS` (default 1000): how often the keys task looks at the enclave.
    pub tick: Duration,
    /// `HEARTBEAT_MS` (default 2000): how often this instance's row is refreshed.
    pub heartbeat: Duration,
    /// `PEER_LIVE_MS` (default 15000): an instance seen within this is live.
    pub peer_live: Duration,
    /// `PEER_RATE_LIMIT` (default 60): key-sync requests per minute and client address.
    pub peer_rate_limit: u32,
}

fn invalid(name: &'static str, reason: &'static str) -> ConfigError {
    ConfigError::Invalid { name, reason }
}

/// `host` or `host:port`, host a DNS name or IPv4 address.
fn valid_endpoint(v: &str) -> bool {
    let (host, port) = match v.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (v, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

fn parse_kms(src: &dyn ConfigSource) -> Result<Option<KmsConfig>, ConfigError> {
    let Some(key_id) = non_empty(src, "KMS_KEY_ID") else {
        return Ok(None);
    };
    let key_id = key_id.trim().to_owned();
    if key_id.len() > 2048 || key_id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("KMS_KEY_ID", "expected a key id, alias or ARN"));
    }
    let region = non_empty(src, "KMS_REGION")
        .ok_or(ConfigError::Missing("KMS_REGION"))?
        .trim()
        .to_owned();
    let region_ok = (1..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(invalid("KMS_REGION", "expected a region like eu-central-1"));
    }
    let endpoint = match non_empty(src, "KMS_ENDPOINT") {
        Some(e) => e.trim().to_owned(),
        None => format!("kms.{region}.amazonaws.com"),
    };
    if !valid_endpoint(&endpoint) {
        return Err(invalid("KMS_ENDPOINT", "expected host or host:port"));
    }
    Ok(Some(KmsConfig {
        key_id,
        region,
        endpoint,
        credentials: parse_credentials(src)?,
    }))
}

/// `AWS_CREDENTIALS` (`env` or `imds`). Unset: `env` when `AWS_ACCESS_KEY_ID`
/// is set, else `imds` (an EC2 instance with an instance role needs no
/// configuration; explicit keys, as in development, win).
fn credential_kind(src: &dyn ConfigSource) -> Result<Option<&'static str>, ConfigError> {
    match non_empty(src, "AWS_CREDENTIALS").as_deref().map(str::trim) {
        None => Ok(None),
        Some("env") => Ok(Some("env")),
        Some("imds") => Ok(Some("imds")),
        Some(_) => Err(invalid("AWS_CREDENTIALS", "expected env or imds")),
    }
}

fn imds_endpoint(src: &dyn ConfigSource) -> Result<ImdsEndpoint, ConfigError> {
    match non_empty(src, "AWS_IMDS_ENDPOINT") {
        None => Ok(ImdsEndpoint::default()),
        Some(v) => ImdsEndpoint::parse(v.trim())
            .ok_or_else(|| invalid("AWS_IMDS_ENDPOINT", "expected http://HOST[:PORT]")),
    }
}

fn parse_credentials(src: &dyn ConfigSource) -> Result<CredentialSource, ConfigError> {
    let has_keys = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ]
    .into_iter()
    .any(|name| non_empty(src, name).is_some());
    match credential_kind(src)? {
        Some("env") => env_credentials(src).map(CredentialSource::Env),
        None if has_keys => env_credentials(src).map(CredentialSource::Env),
        // Two sources configured would leave one silently unused.
        Some(_) if has_keys => Err(invalid(
            "AWS_CREDENTIALS",
            "is imds but AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN \
             is set too (unset them, or set AWS_CREDENTIALS=env)",
        )),
        _ => Ok(CredentialSource::Imds(Arc::new(ImdsProvider::new(
            imds_endpoint(src)?,
        )))),
    }
}

fn env_credentials(src: &dyn ConfigSource) -> Result<AwsCredentials, ConfigError> {
    let access_key_id = non_empty(src, "AWS_ACCESS_KEY_ID")
        .ok_or(ConfigError::Missing("AWS_ACCESS_KEY_ID"))?
        .trim()
        .to_owned();
    if access_key_id.len() > imds::MAX_ACCESS_KEY_ID_LEN
        || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(invalid("AWS_ACCESS_KEY_ID", "expected an access key id"));
    }
    let secret = Zeroizing::new(
        non_empty(src, "AWS_SECRET_ACCESS_KEY")
            .ok_or(ConfigError::Missing("AWS_SECRET_ACCESS_KEY"))?,
    );
    let secret_ok = secret.len() <= imds::MAX_SECRET_ACCESS_KEY_LEN
        && secret.bytes().all(|b| b.is_ascii_graphic());
    if !secret_ok {
        return Err(invalid("AWS_SECRET_ACCESS_KEY", "not a secret access key"));
    }
    let token = non_empty(src, "AWS_SESSION_TOKEN").map(Zeroizing::new);
    if token.as_ref().is_some_and(|t| {
        t.len() > imds::MAX_SESSION_TOKEN_LEN || !t.bytes().all(|b| b.is_ascii_graphic())
    }) {
        return Err(invalid("AWS_SESSION_TOKEN", "not a session token"));
    }
    Ok(AwsCredentials {
        access_key_id,
        secret_access_key: Zeroizing::new(secret.trim().to_owned()),
        session_token: token.map(|t| Zeroizing::new(t.trim().to_owned())),
        expiration: None,
    })
}

fn parse_peer(src: &dyn ConfigSource) -> Result<(Option<SocketAddr>, Option<String>), ConfigError> {
    let listen = match non_empty(src, "PEER_LISTEN") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<SocketAddr>()
                .map_err(|_| invalid("PEER_LISTEN", "expected IP:PORT"))?,
        ),
    };
    let url = match (non_empty(src, "PEER_URL"), listen) {
        (Some(_), None) => {
            return Err(invalid(
                "PEER_URL",
                "set PEER_LISTEN too (nothing would answer)",
            ));
        }
        (Some(u), Some(_)) => Some(u.trim().to_owned()),
        (None, Some(addr)) if addr.ip().is_unspecified() => {
            return Err(invalid(
                "PEER_URL",
                "required when PEER_LISTEN is a wildcard address (peers need a reachable one)",
            ));
        }
        // Default http://<PEER_LISTEN>, filled in once bound (port 0 picks one).
        (None, _) => None,
    };
    if let Some(u) = &url
        && super::peer::client::PeerUrl::parse(u).is_err()
    {
        return Err(invalid("PEER_URL", "expected http://HOST:PORT (no path)"));
    }
    Ok((listen, url))
}

impl KeysConfig {
    /// Reads the `KMS_*`, `AWS_*`, `PEER_*`, `INSTANCE_ID` and timing variables.
    pub fn from_source(src: &dyn ConfigSource) -> Result<Self, ConfigError> {
        // Checked even with KMS off, so a typo does not wait for KMS to be turned on.
        credential_kind(src)?;
        imds_endpoint(src)?;
        let ms = |name, default: u64, min: u64, max: u64| {
            parse_num(src, name, default, min, max).map(Duration::from_millis)
        };
        let (peer_listen, peer_url) = parse_peer(src)?;
        let instance_id = match non_empty(src, "INSTANCE_ID") {
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| invalid("INSTANCE_ID", "expected a UUID"))?,
            None => Uuid::new_v4(),
        };
        let cfg = Self {
            kms: parse_kms(src)?,
            peer_listen,
            peer_url,
            instance_id,
            tick: ms("KEYS_TICK_MS", 1000, 50, 60_000)?,
            heartbeat: ms("HEARTBEAT_MS", 2000, 50, 60_000)?,
            peer_live: ms("PEER_LIVE_MS", 15_000, 100, 3_600_000)?,
            peer_rate_limit: parse_num(src, "PEER_RATE_LIMIT", 60, 1, 1_000_000)?,
        };
        if cfg.peer_live <= cfg.heartbeat {
            return Err(invalid("PEER_LIVE_MS", "must exceed HEARTBEAT_MS"));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
