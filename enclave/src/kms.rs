//! The KMS transport of the binary: `POST /` over the enclave's one HTTPS
//! client (`crate::egress`), TLS terminating here (webpki roots for AWS;
//! the dev double's CA only with `--dev-kms-url`/`--dev-kms-ca`). The
//! allowlist, signing and answer parsing are the core's
//! ([`strongroom_enclave_core::kms::client`]); this module only moves bytes,
//! bounded ([`MAX_RESPONSE_LEN`]) and time-limited.

use std::sync::Arc;
use std::time::Duration;

use strongroom_enclave_core::exchange::Endpoint;
use strongroom_enclave_core::kms::client::{KmsClientError, KmsTarget, KmsTransport};
use strongroom_enclave_core::kms::pin::KmsKeyPin;
use strongroom_enclave_core::kms::request::{KmsError, KmsRequest, MAX_RESPONSE_LEN};
use strongroom_protocol::transport::Address;

use crate::egress::{HttpsConnection, HttpsError, HttpsRequest};

/// Default time for the connect and for the whole HTTP exchange, each.
pub(crate) const DEFAULT_KMS_TIMEOUT: Duration = Duration::from_secs(20);

/// How the enclave reaches KMS.
#[derive(Clone)]
pub struct KmsConfig {
    /// The host's egress proxy; `None`: KMS unavailable.
    pub egress: Option<Address>,
    /// Trust for AWS endpoints (webpki roots).
    pub production_tls: Arc<rustls::ClientConfig>,
    /// DEV ONLY: the KMS double and the CA it is trusted under.
    pub dev: Option<(Endpoint, Arc<rustls::ClientConfig>)>,
    /// The one KMS key the image may use (`--kms-key-arn`, measured);
    /// `None`: KMS mode is off.
    pub pin: Option<KmsKeyPin>,
    /// Connect timeout and HTTP exchange timeout, each.
    pub timeout: Duration,
}

impl std::fmt::Debug for KmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsConfig")
            .field("egress", &self.egress)
            .field("dev", &self.dev.as_ref().map(|(e, _)| e.to_string()))
            .field("pin", &self.pin.as_ref().map(KmsKeyPin::arn))
            .finish_non_exhaustive()
    }
}

impl KmsConfig {
    /// Production: webpki roots, no dev endpoint.
    pub fn production(egress: Option<Address>, production_tls: Arc<rustls::ClientConfig>) -> Self {
        Self {
            egress,
            production_tls,
            dev: None,
            pin: None,
            timeout: DEFAULT_KMS_TIMEOUT,
        }
    }
}

/// A KMS client over the egress path: the core's [`KmsTransport`] port.
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

    async fn post_inner(
        &self,
        target: &KmsTarget,
        req: &KmsRequest,
    ) -> Result<(u16, Vec<u8>), KmsClientError> {
        let proxy = self.cfg.egress.as_ref().ok_or(KmsClientError::NoEgress)?;
        let tls = match (&self.cfg.dev, target.dev) {
            (_, false) => self.cfg.production_tls.clone(),
            (Some((dev, tls)), true) if *dev == target.endpoint => tls.clone(),
            (_, true) => return Err(KmsClientError::NotAllowed),
        };
        let ep = &target.endpoint;
        let mut conn = HttpsConnection::open(proxy, ep, tls, self.cfg.timeout)
            .await
            .map_err(|e| {
                tracing::warn!(reason = %e, endpoint = %ep, "KMS egress failed");
                match e {
                    HttpsError::ServerName => KmsClientError::NotAllowed,
                    _ => KmsClientError::Unreachable,
                }
            })?;
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let request = HttpsRequest {
            method: hyper::Method::POST,
            path_and_query: "/",
            headers: &headers,
            body: req.body.clone(),
        };
        let answer = conn
            .send(
                request,
                MAX_RESPONSE_LEN,
                self.cfg.timeout.saturating_mul(2),
            )
            .await
            .map_err(|e| match e {
                HttpsError::TooLarge => KmsClientError::Kms(KmsError::TooLarge),
                _ => KmsClientError::Unreachable,
            })?;
        Ok((answer.status, answer.body.to_vec()))
    }
}

impl KmsTransport for KmsClient {
    fn dev_endpoint(&self) -> Option<&Endpoint> {
        self.cfg.dev.as_ref().map(|(endpoint, _)| endpoint)
    }

    fn pinned_key(&self) -> Option<&KmsKeyPin> {
        self.cfg.pin.as_ref()
    }

    async fn post(
        &self,
        target: &KmsTarget,
        req: &KmsRequest,
    ) -> Result<(u16, Vec<u8>), KmsClientError> {
        let timeout = self.cfg.timeout.saturating_mul(2);
        tokio::time::timeout(timeout, self.post_inner(target, req))
            .await
            .map_err(|_| KmsClientError::Unreachable)?
    }
}
