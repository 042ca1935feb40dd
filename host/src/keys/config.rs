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
use crate::config::{ConfigError, ConfigSource, non_empty, parse_num};

/// Longest `PEER_URL`.
pub const MAX_PEER_URL_LEN: usize = 512;

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
        && crate::keys::peer_client::PeerUrl::parse(u).is_err()
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
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const KMS: &[(&str, &str)] = &[
        (
            "KMS_KEY_ID",
            "arn:aws:kms:eu-central-1:111122223333:key/abc",
        ),
        ("KMS_REGION", "eu-central-1"),
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY",
        ),
        ("AWS_SESSION_TOKEN", "TOKENtokenTOKEN"),
    ];

    #[test]
    fn defaults_are_off_with_a_random_instance_id() {
        let a = KeysConfig::from_source(&map(&[])).unwrap();
        let b = KeysConfig::from_source(&map(&[])).unwrap();
        assert!(a.kms.is_none() && a.peer_listen.is_none() && a.peer_url.is_none());
        assert_ne!(a.instance_id, b.instance_id);
        assert_eq!(a.tick, Duration::from_secs(1));
        assert_eq!(a.heartbeat, Duration::from_secs(2));
        assert_eq!(a.peer_live, Duration::from_secs(15));
    }

    #[tokio::test]
    async fn kms_defaults_the_endpoint_and_never_shows_the_secret() {
        let c = KeysConfig::from_source(&map(KMS)).unwrap();
        let kms = c.kms.as_ref().unwrap();
        assert_eq!(kms.endpoint, "kms.eu-central-1.amazonaws.com");
        assert_eq!(kms.credentials.kind(), "env");
        let access = kms.access().await.unwrap();
        let text = format!("{c:?} {kms:?} {access:?}");
        assert!(
            !text.contains("wJalr") && !text.contains("TOKENtoken"),
            "{text}"
        );
        assert_eq!(
            access.secret_access_key,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY"
        );
        assert_eq!(access.session_token.as_deref(), Some("TOKENtokenTOKEN"));
        let mut m = map(KMS);
        m.insert("KMS_ENDPOINT".into(), "localhost:4443".into());
        m.insert("AWS_CREDENTIALS".into(), "env".into());
        let c = KeysConfig::from_source(&m).unwrap();
        assert_eq!(c.kms.unwrap().endpoint, "localhost:4443");
    }

    #[test]
    fn kms_errors_name_the_variable_not_the_value() {
        for missing in ["KMS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let mut m = map(KMS);
            m.remove(missing);
            assert_eq!(
                KeysConfig::from_source(&m).unwrap_err(),
                ConfigError::Missing(missing)
            );
        }
        let mut m = map(KMS);
        m.insert(
            "AWS_SECRET_ACCESS_KEY".into(),
            "has space secretvalue".into(),
        );
        let e = KeysConfig::from_source(&m).unwrap_err().to_string();
        assert!(
            e.contains("AWS_SECRET_ACCESS_KEY") && !e.contains("secretvalue"),
            "{e}"
        );
        for (k, v) in [
            ("KMS_REGION", "EU Central"),
            ("KMS_ENDPOINT", "https://kms.example.com/"),
            ("KMS_ENDPOINT", "host:0"),
            ("AWS_CREDENTIALS", "instance-role"),
            ("AWS_IMDS_ENDPOINT", "https://169.254.169.254"),
        ] {
            let mut m = map(KMS);
            m.insert(k.into(), v.into());
            assert!(
                KeysConfig::from_source(&m)
                    .unwrap_err()
                    .to_string()
                    .contains(k),
                "{k}={v}"
            );
        }
    }

    #[test]
    fn credential_source_selection() {
        let kms_only = &KMS[..2];
        // No keys given: the instance role, at the default IMDS address.
        let c = KeysConfig::from_source(&map(kms_only)).unwrap();
        let CredentialSource::Imds(p) = &c.kms.as_ref().unwrap().credentials else {
            panic!("expected imds");
        };
        assert_eq!(p.endpoint().url(), "http://169.254.169.254");
        let mut m = map(kms_only);
        m.insert("AWS_CREDENTIALS".into(), "imds".into());
        m.insert("AWS_IMDS_ENDPOINT".into(), "http://127.0.0.1:9999".into());
        let c = KeysConfig::from_source(&m).unwrap();
        let kms = c.kms.unwrap();
        assert_eq!(kms.credentials.kind(), "imds");
        assert!(format!("{kms:?}").contains("imds"));
        // imds and keys at once is a mistake, named without values.
        for extra in ["AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"] {
            let mut m = map(KMS);
            m.insert("AWS_CREDENTIALS".into(), "imds".into());
            m.retain(|k, _| k.starts_with("KMS_") || k == extra || k == "AWS_CREDENTIALS");
            let e = KeysConfig::from_source(&m).unwrap_err().to_string();
            assert!(
                e.contains("AWS_CREDENTIALS") && !e.contains("TOKENtoken"),
                "{e}"
            );
        }
        // env insists on the keys; a lone secret means env, missing the id.
        let mut m = map(kms_only);
        m.insert("AWS_CREDENTIALS".into(), "env".into());
        assert_eq!(
            KeysConfig::from_source(&m).unwrap_err(),
            ConfigError::Missing("AWS_ACCESS_KEY_ID")
        );
        let mut m = map(kms_only);
        m.insert("AWS_SECRET_ACCESS_KEY".into(), "x".into());
        assert_eq!(
            KeysConfig::from_source(&m).unwrap_err(),
            ConfigError::Missing("AWS_ACCESS_KEY_ID")
        );
        // A bad value is reported even with KMS off.
        let e = KeysConfig::from_source(&map(&[("AWS_CREDENTIALS", "yes")])).unwrap_err();
        assert!(e.to_string().contains("AWS_CREDENTIALS"), "{e}");
    }

    #[test]
    fn peer_settings_are_checked() {
        let c = KeysConfig::from_source(&map(&[("PEER_LISTEN", "10.0.0.5:7000")])).unwrap();
        assert_eq!(c.peer_listen, Some("10.0.0.5:7000".parse().unwrap()));
        assert_eq!(
            c.peer_url, None,
            "filled in by serve from the bound address"
        );
        let c = KeysConfig::from_source(&map(&[
            ("PEER_LISTEN", "0.0.0.0:7000"),
            ("PEER_URL", "http://10.0.0.5:7000"),
            ("INSTANCE_ID", "6f1c9a4e-93f5-4c61-a6c4-5c3b1a0f2d11"),
        ]))
        .unwrap();
        assert_eq!(c.peer_url.as_deref(), Some("http://10.0.0.5:7000"));
        assert_eq!(
            c.instance_id.to_string(),
            "6f1c9a4e-93f5-4c61-a6c4-5c3b1a0f2d11"
        );
        for (pairs, name) in [
            (&[("PEER_LISTEN", "0.0.0.0:7000")][..], "PEER_URL"),
            (&[("PEER_URL", "http://10.0.0.5:7000")][..], "PEER_URL"),
            (
                &[
                    ("PEER_LISTEN", "10.0.0.5:7000"),
                    ("PEER_URL", "https://x:1"),
                ][..],
                "PEER_URL",
            ),
            (
                &[
                    ("PEER_LISTEN", "10.0.0.5:7000"),
                    ("PEER_URL", "http://x:1/path"),
                ][..],
                "PEER_URL",
            ),
            (&[("PEER_LISTEN", "nope")][..], "PEER_LISTEN"),
            (&[("INSTANCE_ID", "nope")][..], "INSTANCE_ID"),
            (&[("HEARTBEAT_MS", "20000")][..], "PEER_LIVE_MS"),
        ] {
            let e = KeysConfig::from_source(&map(pairs))
                .unwrap_err()
                .to_string();
            assert!(e.contains(name), "{pairs:?}: {e}");
        }
    }
}
