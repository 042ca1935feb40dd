//! The exchange client of the binary: the core's Binance logic
//! ([`strongroom_enclave_core::exchange::binance`]) over the enclave's one
//! HTTPS client (`crate::egress`). The enclave's own allowlist is checked
//! before the host's egress proxy is asked for anything.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use strongroom_enclave_core::clock::Clock;
use strongroom_enclave_core::exchange::binance::Binance as BinanceClient;
use strongroom_enclave_core::exchange::budget::WeightLimits;
use strongroom_enclave_core::exchange::{
    Allowlist, Answer, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_RETRY_WAIT, DEFAULT_RECV_WINDOW_MS,
    Endpoint, Exchange, ExchangeError, ExchangeTransport, Fetched, KeyCheck, MAX_RESPONSE_BYTES,
    Resume, RetryPolicy,
};
use strongroom_enclave_core::intake::Credential;
use strongroom_protocol::transport::Address;

use crate::clock::SystemClock;
use crate::egress::{HttpsConnection, HttpsError, HttpsRequest};

/// Default time for one connect or one HTTP exchange.
pub(crate) const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach an exchange.
#[derive(Clone)]
pub struct ExchangeConfig {
    /// The host's egress proxy.
    pub egress: Address,
    /// The exchange's REST endpoint.
    pub endpoint: Endpoint,
    /// The enclave's allowlist.
    pub allowlist: Allowlist,
    /// TLS client configuration with the image's trust roots.
    pub tls: Arc<rustls::ClientConfig>,
    /// Attempts per REST call (transport failures and 429/418 included).
    pub max_attempts: u32,
    /// Longest `Retry-After` honoured; a longer one fails the call.
    pub max_retry_wait: Duration,
    /// Time allowed for one HTTP exchange (connect or request).
    pub io_timeout: Duration,
    /// `recvWindow` sent with signed requests, ms.
    pub recv_window_ms: u64,
    /// The exchange's request-weight limit per minute and egress address,
    /// and the margin kept below it.
    pub weight_limits: WeightLimits,
}

impl ExchangeConfig {
    /// A configuration with the default retry budget and timeouts.
    pub fn new(
        egress: Address,
        endpoint: Endpoint,
        allowlist: Allowlist,
        tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        Self {
            egress,
            endpoint,
            allowlist,
            tls,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_retry_wait: DEFAULT_MAX_RETRY_WAIT,
            io_timeout: DEFAULT_IO_TIMEOUT,
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
            weight_limits: WeightLimits::default(),
        }
    }
}

impl std::fmt::Debug for ExchangeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeConfig")
            .field("egress", &self.egress)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The Binance spot client over egress HTTPS.
#[derive(Debug)]
pub struct Binance {
    client: BinanceClient<EgressGet>,
}

impl Binance {
    /// A client for `config.endpoint` (api.binance.com:443 in production),
    /// on the system clock.
    pub fn new(config: ExchangeConfig) -> Self {
        let policy = RetryPolicy {
            max_attempts: config.max_attempts,
            max_retry_wait: config.max_retry_wait,
            recv_window_ms: config.recv_window_ms,
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let limits = config.weight_limits;
        Self {
            client: BinanceClient::new(EgressGet { config }, clock, policy)
                .with_weight_limits(limits),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ExchangeConfig {
        &self.client.transport().config
    }
}

impl Exchange for Binance {
    fn name(&self) -> &'static str {
        self.client.name()
    }

    fn fetch(
        &self,
        credential: &Credential,
        symbols: Option<&[String]>,
        resume: Resume<'_>,
    ) -> impl Future<Output = Result<Fetched, ExchangeError>> + Send {
        self.client.fetch(credential, symbols, resume)
    }

    fn check_key(
        &self,
        credential: &Credential,
    ) -> impl Future<Output = Result<KeyCheck, ExchangeError>> + Send {
        self.client.check_key(credential)
    }
}

/// [`ExchangeTransport`] over [`crate::egress`]: one kept-alive connection
/// per aggregate request.
struct EgressGet {
    config: ExchangeConfig,
}

impl std::fmt::Debug for EgressGet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.config.fmt(f)
    }
}

fn exchange_error(e: HttpsError) -> ExchangeError {
    match e {
        HttpsError::EgressRefused | HttpsError::ServerName => ExchangeError::EgressRefused,
        _ => ExchangeError::Unreachable,
    }
}

impl ExchangeTransport for EgressGet {
    type Connection = HttpsConnection;

    async fn connect(&self) -> Result<HttpsConnection, ExchangeError> {
        let cfg = &self.config;
        if !cfg.allowlist.allows(&cfg.endpoint) {
            tracing::warn!(host = %cfg.endpoint.host, "destination not on the enclave's allowlist");
            return Err(ExchangeError::EgressRefused);
        }
        HttpsConnection::open(&cfg.egress, &cfg.endpoint, cfg.tls.clone(), cfg.io_timeout)
            .await
            .map_err(exchange_error)
    }

    async fn get(
        &self,
        connection: &mut HttpsConnection,
        path_and_query: &str,
        api_key: Option<&str>,
    ) -> Result<Answer, ExchangeError> {
        let authority = connection.authority().to_owned();
        let mut headers = vec![("host", authority.as_str()), ("accept", "application/json")];
        if let Some(key) = api_key {
            headers.push(("X-MBX-APIKEY", key));
        }
        let request = HttpsRequest {
            method: hyper::Method::GET,
            path_and_query,
            headers: &headers,
            body: Vec::new(),
        };
        let answer = connection
            .send(request, MAX_RESPONSE_BYTES, self.config.io_timeout)
            .await
            .map_err(|_| ExchangeError::Unreachable)?;
        Ok(Answer {
            status: answer.status,
            retry_after: answer.retry_after,
            used_weight: answer.used_weight,
            body: answer.body.to_vec(),
        })
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}
