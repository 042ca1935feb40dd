//! The KMS transport: `POST /` over the host's egress proxy, TLS terminating
//! here (webpki roots for AWS; the dev double's CA only with
//! `--dev-kms-url`/`--dev-kms-ca`), HTTP/1.1 through hyper. The enclave's own
//! allowlist is checked before the host is asked for anything:
//! `kms.<region>.amazonaws.com:443` and `kms-fips.<region>.amazonaws.com:443`
//! for the region the request is signed for, plus the dev double if
//! configured. Answers are bounded ([`MAX_RESPONSE_LEN`]) and time-limited.
//! Errors carry no KMS body text and no credential.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use strongroom_protocol::egress;
use strongroom_protocol::messages::KmsAccess;
use strongroom_protocol::transport::Address;
use zeroize::Zeroizing;

use super::request::{
    DecryptOutput, GenerateDataKeyOutput, KmsEndpoint, KmsError, KmsRequest, MAX_RESPONSE_LEN,
    Signer, parse_decrypt, parse_generate_data_key,
};
use super::sigv4::{AmzDate, Credentials};
use crate::exchange::Endpoint;

/// Encryption-context key binding a data key to its ring.
pub const CONTEXT_RING_ID: &str = "strongroom:ring_id";
/// Default time for the connect and for the whole HTTP exchange, each.
pub const DEFAULT_KMS_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest region name accepted (`ap-southeast-4`, `us-gov-west-1`, ...).
pub const MAX_REGION_LEN: usize = 32;

/// Why a KMS call failed. All of it maps to `kms_failed` on the wire; the
/// variant (and a refusal's AWS error type) goes to the enclave log only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KmsClientError {
    /// The endpoint is not on the enclave's KMS allowlist (or is malformed).
    #[error("KMS endpoint not allowed")]
    NotAllowed,
    /// No egress proxy configured.
    #[error("no egress configured for KMS")]
    NoEgress,
    /// The credentials are not acceptable (empty, too long, not printable).
    #[error("invalid KMS credentials")]
    Credentials,
    /// Proxy, TCP, TLS or HTTP failure, or a timeout.
    #[error("KMS unreachable")]
    Unreachable,
    /// KMS refused, or its answer did not parse (see [`KmsError`]).
    #[error("KMS: {0}")]
    Kms(#[from] KmsError),
}

/// How the enclave reaches KMS.
#[derive(Clone)]
pub struct KmsConfig {
    /// The host's egress proxy; `None`: KMS unavailable.
    pub egress: Option<Address>,
    /// Trust for AWS endpoints (webpki roots).
    pub production_tls: Arc<rustls::ClientConfig>,
    /// DEV ONLY: the KMS double and the CA it is trusted under.
    pub dev: Option<(Endpoint, Arc<rustls::ClientConfig>)>,
    /// Connect timeout and HTTP exchange timeout, each.
    pub timeout: Duration,
}

impl std::fmt::Debug for KmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsConfig")
            .field("egress", &self.egress)
            .field("dev", &self.dev.as_ref().map(|(e, _)| e.to_string()))
            .finish_non_exhaustive()
    }
}

/// A resolved, allowed destination.
struct Target {
    endpoint: Endpoint,
    kms: KmsEndpoint,
    tls: Arc<rustls::ClientConfig>,
}

fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= MAX_REGION_LEN
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Splits `host` or `host:port` (default 443).
fn parse_endpoint(s: &str) -> Option<Endpoint> {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok().filter(|p| *p != 0)?),
        None => (s, 443),
    };
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    (plain && egress::valid_host(host)).then(|| Endpoint {
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// The production names for `region`: only these may be reached in a release.
pub fn production_endpoints(region: &str) -> [Endpoint; 2] {
    [
        Endpoint {
            host: format!("kms.{region}.amazonaws.com"),
            port: 443,
        },
        Endpoint {
            host: format!("kms-fips.{region}.amazonaws.com"),
            port: 443,
        },
    ]
}

impl KmsConfig {
    /// Production: webpki roots, no dev endpoint.
    pub fn production(egress: Option<Address>, production_tls: Arc<rustls::ClientConfig>) -> Self {
        Self {
            egress,
            production_tls,
            dev: None,
            timeout: DEFAULT_KMS_TIMEOUT,
        }
    }

    /// Whether `access` names an allowed endpoint, and with which trust.
    fn resolve(&self, access: &KmsAccess) -> Result<Target, KmsClientError> {
        if !valid_region(&access.region) {
            return Err(KmsClientError::NotAllowed);
        }
        let endpoint = parse_endpoint(&access.endpoint).ok_or(KmsClientError::NotAllowed)?;
        let tls = if production_endpoints(&access.region).contains(&endpoint) {
            self.production_tls.clone()
        } else {
            match &self.dev {
                Some((dev, tls)) if *dev == endpoint => tls.clone(),
                _ => return Err(KmsClientError::NotAllowed),
            }
        };
        let host = if endpoint.port == 443 {
            endpoint.host.clone()
        } else {
            endpoint.to_string()
        };
        Ok(Target {
            kms: KmsEndpoint {
                host,
                region: access.region.clone(),
            },
            endpoint,
            tls,
        })
    }
}

/// `{"strongroom:ring_id": hex(ring_id)}`.
pub fn encryption_context(ring_id: &[u8]) -> BTreeMap<String, String> {
    BTreeMap::from([(CONTEXT_RING_ID.to_owned(), hex::encode(ring_id))])
}

fn credentials(access: &KmsAccess) -> Result<Credentials, KmsClientError> {
    Credentials::new(
        &access.access_key_id,
        Zeroizing::new(access.secret_access_key.clone()),
        access.session_token.clone().map(Zeroizing::new),
    )
    .map_err(|_| KmsClientError::Credentials)
}

fn amz_date(now_s: u64) -> Result<AmzDate, KmsClientError> {
    let secs = i64::try_from(now_s).map_err(|_| KmsClientError::Credentials)?;
    AmzDate::from_unix(secs).map_err(|_| KmsClientError::Credentials)
}

/// A KMS client over the egress path.
#[derive(Debug, Clone)]
pub struct KmsClient {
    cfg: KmsConfig,
}

impl KmsClient {
    /// A client with `cfg`.
    pub fn new(cfg: KmsConfig) -> Self {
        Self { cfg }
    }

    /// The configuration.
    pub fn config(&self) -> &KmsConfig {
        &self.cfg
    }

    /// `GenerateDataKey` (AES_256) bound to `ring_id`, answered to the
    /// recipient key in `attestation`. `now_s`: the enclave's clock.
    pub async fn generate_data_key(
        &self,
        access: &KmsAccess,
        ring_id: &[u8],
        attestation: &[u8],
        now_s: u64,
    ) -> Result<GenerateDataKeyOutput, KmsClientError> {
        let target = self.cfg.resolve(access)?;
        let req = {
            let creds = credentials(access)?;
            let date = amz_date(now_s)?;
            let signer = Signer {
                endpoint: &target.kms,
                credentials: &creds,
                date: &date,
            };
            signer.generate_data_key(&access.key_id, &encryption_context(ring_id), attestation)?
        };
        let (status, body) = self.post(&target, &req).await?;
        Ok(parse_generate_data_key(status, &body)?)
    }

    /// `Decrypt` of `blob` bound to `ring_id`, answered to `attestation`'s key.
    pub async fn decrypt(
        &self,
        access: &KmsAccess,
        ring_id: &[u8],
        blob: &[u8],
        attestation: &[u8],
        now_s: u64,
    ) -> Result<DecryptOutput, KmsClientError> {
        let target = self.cfg.resolve(access)?;
        let req = {
            let creds = credentials(access)?;
            let date = amz_date(now_s)?;
            let signer = Signer {
                endpoint: &target.kms,
                credentials: &creds,
                date: &date,
            };
            signer.decrypt(
                &access.key_id,
                &encryption_context(ring_id),
                blob,
                attestation,
            )?
        };
        let (status, body) = self.post(&target, &req).await?;
        Ok(parse_decrypt(status, &body)?)
    }

    async fn post(
        &self,
        target: &Target,
        req: &KmsRequest,
    ) -> Result<(u16, Bytes), KmsClientError> {
        let timeout = self.cfg.timeout;
        tokio::time::timeout(timeout.saturating_mul(2), self.post_inner(target, req))
            .await
            .map_err(|_| KmsClientError::Unreachable)?
    }

    async fn post_inner(
        &self,
        target: &Target,
        req: &KmsRequest,
    ) -> Result<(u16, Bytes), KmsClientError> {
        let proxy = self.cfg.egress.as_ref().ok_or(KmsClientError::NoEgress)?;
        let ep = &target.endpoint;
        let stream = egress::open(proxy, &ep.host, ep.port, self.cfg.timeout)
            .await
            .map_err(|e| {
                tracing::warn!(reason = %e, endpoint = %ep, "KMS egress failed");
                KmsClientError::Unreachable
            })?;
        let name = ServerName::try_from(ep.host.clone()).map_err(|_| KmsClientError::NotAllowed)?;
        let tls = tokio_rustls::TlsConnector::from(target.tls.clone())
            .connect(name, stream)
            .await
            .map_err(|_| KmsClientError::Unreachable)?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|_| KmsClientError::Unreachable)?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let result = send(&mut sender, req).await;
        driver.abort();
        result
    }
}

async fn send(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    req: &KmsRequest,
) -> Result<(u16, Bytes), KmsClientError> {
    let mut builder =
        hyper::Request::post("/").header(hyper::header::USER_AGENT, "strongroom-enclave");
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request = builder
        .body(Full::new(Bytes::from(req.body.clone())))
        .map_err(|_| KmsClientError::Unreachable)?;
    sender
        .ready()
        .await
        .map_err(|_| KmsClientError::Unreachable)?;
    let resp = sender
        .send_request(request)
        .await
        .map_err(|_| KmsClientError::Unreachable)?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), MAX_RESPONSE_LEN)
        .collect()
        .await
        .map_err(|_| KmsClientError::Kms(KmsError::TooLarge))?
        .to_bytes();
    Ok((status, body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn access(region: &str, endpoint: &str) -> KmsAccess {
        KmsAccess {
            region: region.into(),
            endpoint: endpoint.into(),
            key_id: "k".into(),
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        }
    }

    fn config(dev: Option<&str>) -> KmsConfig {
        let tls = crate::exchange::tls::production_config().unwrap();
        let mut cfg = KmsConfig::production(None, tls.clone());
        cfg.dev = dev.map(|d| (parse_endpoint(d).unwrap(), tls));
        cfg
    }

    #[test]
    fn production_allowlist() {
        let cfg = config(None);
        for ok in [
            "kms.eu-central-1.amazonaws.com",
            "kms.eu-central-1.amazonaws.com:443",
            "kms-fips.eu-central-1.amazonaws.com",
            "KMS.EU-CENTRAL-1.amazonaws.com",
        ] {
            let t = cfg.resolve(&access("eu-central-1", ok)).unwrap();
            assert_eq!(t.kms.host, ok.to_ascii_lowercase().trim_end_matches(":443"));
            assert_eq!(t.endpoint.port, 443);
        }
        for bad in [
            ("eu-central-1", "kms.us-east-1.amazonaws.com"),
            ("eu-central-1", "kms.eu-central-1.amazonaws.com:8443"),
            ("eu-central-1", "kms.eu-central-1.amazonaws.com.evil.com"),
            ("eu-central-1", "evil.com"),
            ("eu-central-1", "127.0.0.1:4443"),
            ("eu-central-1", ""),
            ("eu-central-1", "kms.eu-central-1.amazonaws.com:0"),
            ("eu-central-1/x", "kms.eu-central-1/x.amazonaws.com"),
            ("", "kms..amazonaws.com"),
        ] {
            assert_eq!(
                cfg.resolve(&access(bad.0, bad.1))
                    .err()
                    .map(|e| e.to_string()),
                Some(KmsClientError::NotAllowed.to_string()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn dev_endpoint_only_when_configured() {
        let a = access("us-east-1", "127.0.0.1:4443");
        assert!(config(None).resolve(&a).is_err());
        let cfg = config(Some("127.0.0.1:4443"));
        let t = cfg.resolve(&a).unwrap();
        assert_eq!(t.kms.host, "127.0.0.1:4443");
        assert!(cfg.resolve(&access("us-east-1", "127.0.0.1:4444")).is_err());
        // Production names stay allowed beside the double.
        assert!(
            cfg.resolve(&access("us-east-1", "kms.us-east-1.amazonaws.com"))
                .is_ok()
        );
    }

    #[test]
    fn context_binds_the_ring_id() {
        let ctx = encryption_context(&[0xab; 16]);
        assert_eq!(ctx.len(), 1);
        assert_eq!(ctx[CONTEXT_RING_ID], "ab".repeat(16));
    }
}
