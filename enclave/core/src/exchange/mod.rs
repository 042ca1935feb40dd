//! The exchange, from inside the enclave: the [`Exchange`] port (what
//! `ComputeAggregates` needs: a session's trade history), the measured
//! allowlist, and the Binance protocol logic ([`binance::Binance`]: request
//! signing, clock offset, paging, retries, parsing) over a smaller port,
//! [`ExchangeTransport`] (one HTTPS GET at a time).
//!
//! The enclave has no network: the binary crate implements the transport
//! through the host's egress proxy with TLS that terminates *in the
//! enclave*, verified against trust roots built into the image. The host
//! relays ciphertext it cannot read or alter undetected.

pub mod binance;
pub mod budget;
mod progress;
pub mod wallet;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use strongroom_protocol::ErrorCode;

use crate::aggregate::{SymbolInfo, Trade};
use crate::history::{Segment, Stored};
use crate::intake::Credential;

/// Most trades fetched for one request, across all symbols (bounds memory).
pub(crate) const MAX_TRADES_PER_REQUEST: usize = 2_000_000;

/// Largest response body accepted from the exchange (exchangeInfo is the big one).
pub const MAX_RESPONSE_BYTES: usize = 32 << 20;

/// Most symbols one request may name (discovery is never truncated).
pub(crate) const MAX_SYMBOLS_PER_REQUEST: usize = 200;

/// A host and port the enclave may reach: the measured allowlist's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// DNS name; also the TLS server name checked against the certificate.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// Parses `https://HOST:PORT` (a trailing `/` allowed; no path, query,
    /// user info or IPv6 literal), as the mock exchange prints its URL.
    pub fn from_https_url(url: &str) -> Option<Endpoint> {
        let rest = url.strip_prefix("https://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = rest.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let plain = host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if port == 0 || !plain || !strongroom_protocol::egress::valid_host(host) {
            return None;
        }
        Some(Endpoint {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The production exchange endpoint (the first production allowlist entry).
    pub fn binance_production() -> Endpoint {
        Endpoint {
            host: PRODUCTION_ALLOWLIST[0].0.to_owned(),
            port: PRODUCTION_ALLOWLIST[0].1,
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// The production allowlist, part of the measured image: nothing else is ever
/// asked of the egress proxy in a release build.
pub(crate) const PRODUCTION_ALLOWLIST: &[(&str, u16)] = &[("api.binance.com", 443)];

/// The enclave's own egress allowlist, enforced before the host is asked.
#[derive(Debug, Clone)]
pub struct Allowlist(Vec<Endpoint>);

impl Allowlist {
    /// The measured production list.
    pub fn production() -> Self {
        Allowlist(
            PRODUCTION_ALLOWLIST
                .iter()
                .map(|(h, p)| Endpoint {
                    host: (*h).to_owned(),
                    port: *p,
                })
                .collect(),
        )
    }

    /// Adds an endpoint (dev simulator only: the mock exchange).
    pub fn with_dev_endpoint(mut self, endpoint: Endpoint) -> Self {
        self.0.push(endpoint);
        self
    }

    /// Whether `endpoint` may be reached.
    pub fn allows(&self, endpoint: &Endpoint) -> bool {
        self.0.contains(endpoint)
    }
}

/// Default attempts per REST call.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Default longest `Retry-After` honoured (one Binance weight window).
pub const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// Default `recvWindow`, ms (Binance's default).
pub const DEFAULT_RECV_WINDOW_MS: u64 = 5_000;

/// Retry budget and request settings of an exchange client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per REST call (transport failures and 429/418 included).
    pub max_attempts: u32,
    /// Longest `Retry-After` honoured; a longer one fails the call.
    pub max_retry_wait: Duration,
    /// `recvWindow` sent with signed requests, ms.
    pub recv_window_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_retry_wait: DEFAULT_MAX_RETRY_WAIT,
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
        }
    }
}

/// An exchange's answer: status, `Retry-After` seconds if any, body (at most
/// [`MAX_RESPONSE_BYTES`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, seconds.
    pub retry_after: Option<u64>,
    /// `X-MBX-USED-WEIGHT-1M`: the weight the exchange counts for the
    /// egress address this minute, everyone behind it included.
    pub used_weight: Option<u32>,
    /// The body.
    pub body: Vec<u8>,
}

/// Port: HTTPS GETs to one exchange endpoint. The binary implements it as
/// egress stream -> TLS (in the enclave) -> HTTP/1.1, checking the
/// enclave's allowlist before the host is asked for anything. Plain
/// `std::future`s: the core names no runtime.
pub trait ExchangeTransport: Send + Sync {
    /// An open connection, kept alive across the calls of one request.
    type Connection: Send;

    /// Opens a connection to the configured endpoint.
    fn connect(&self) -> impl Future<Output = Result<Self::Connection, ExchangeError>> + Send;

    /// One GET of `path_and_query` (with `X-MBX-APIKEY` when `api_key` is
    /// given). A transport failure is `Err` (the caller reconnects).
    fn get(
        &self,
        connection: &mut Self::Connection,
        path_and_query: &str,
        api_key: Option<&str>,
    ) -> impl Future<Output = Result<Answer, ExchangeError>> + Send;

    /// Waits `duration` (retry back-off, `Retry-After`).
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// A session's trade history as fetched from the exchange.
#[derive(Debug, Default)]
pub struct History {
    /// Base/quote of every symbol that has trades.
    pub symbols: BTreeMap<String, SymbolInfo>,
    /// Every trade of those symbols.
    pub trades: Vec<Trade>,
    /// Exchange time learned over TLS, unix ms (for the trusted-time cross-check).
    pub exchange_time_ms: i64,
    /// The exchange's own id of the account (Binance `uid`), from which
    /// the v2 `account` pseudonym is derived.
    pub account_id: Option<String>,
    /// The API key's restrictions as the exchange reported them.
    pub permissions: Option<strongroom_formats::aggregates::Permissions>,
    /// Every symbol queried, sorted.
    pub considered: Vec<String>,
    /// Whether `considered` is every symbol discovery called for (the
    /// Binance client never truncates: always true; a history past the
    /// enclave's limits fails instead).
    pub complete: bool,
    /// What daily equity is built from (snapshots, closes, flows); `None`
    /// when the exchange client fetches none.
    pub daily: Option<crate::equity::DailyInputs>,
    /// The trades fetched by this computation (not those of stored
    /// segments), cut into segments to seal and hand to the host.
    pub segments: Vec<Segment>,
}

/// What a computation starts from besides the exchange: the stored
/// segments the host handed in (opened), and the symbols the same job
/// already brought up to date (symbol -> cursor reached).
#[derive(Debug, Clone, Copy)]
pub struct Resume<'a> {
    /// Opened segments, of any account: only those of the account the
    /// exchange reports are used.
    pub stored: &'a Stored,
    /// Symbols not to query again when the stored chain reaches the cursor.
    pub done: &'a BTreeMap<String, u64>,
}

impl Resume<'static> {
    /// Nothing stored, no job: a full fetch.
    pub fn none() -> Self {
        static STORED: Stored = Stored::new();
        static DONE: BTreeMap<String, u64> = BTreeMap::new();
        Resume {
            stored: &STORED,
            done: &DONE,
        }
    }
}

/// A fetch that ran out of exchange weight part-way (something fetched).
#[derive(Debug)]
pub struct Interrupted {
    /// The exchange's id of the account.
    pub account_id: String,
    /// The trades fetched so far, as segments to seal.
    pub segments: Vec<Segment>,
    /// Symbols brought up to date (this attempt or, per [`Resume::done`],
    /// earlier ones) -> the cursor reached.
    pub done: BTreeMap<String, u64>,
    /// Symbols the computation covers (0 when refused before they were known).
    pub symbols_total: u32,
    /// Exchange weight this attempt used.
    pub weight_used: u64,
    /// Seconds until the budget allows more, 1 to 60.
    pub retry_after_s: u32,
}

/// The outcome of a fetch that did not fail.
#[derive(Debug)]
pub enum Fetched {
    /// Everything the computation needs.
    Complete(History),
    /// The weight budget ran out part-way (`pending`).
    Pending(Interrupted),
}

/// What a check of an API key at submit found (protocol 5's `check_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCheck {
    /// The exchange's own id of the account (Binance `uid`).
    pub account_id: String,
    /// The key's restrictions as the exchange reported them.
    pub permissions: strongroom_formats::aggregates::Permissions,
}

/// Why the history could not be fetched. Never carries the credential or a
/// response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The exchange refused the API key or its signature.
    #[error("the exchange rejected the credentials")]
    RejectedCredentials,
    /// 429/418 persisted past the retry budget.
    #[error("the exchange rate-limited the requests")]
    RateLimited,
    /// The next request would take the egress address's weight past the
    /// limit minus the margin ([`budget`]): not sent. Retry after this many
    /// seconds (the exchange's next minute).
    #[error("the exchange weight budget is spent for this minute")]
    WeightBudget {
        /// Seconds to the exchange's next minute, 1 to 60.
        retry_after_s: u32,
    },
    /// Connection, TLS or server failure.
    #[error("the exchange could not be reached")]
    Unreachable,
    /// The enclave's own allowlist, or the host's, refused the destination.
    #[error("egress to the exchange was refused")]
    EgressRefused,
    /// The exchange answered something that does not parse.
    #[error("the exchange sent a malformed answer")]
    Malformed,
    /// A requested symbol is unknown or invalid.
    #[error("unknown or invalid symbol")]
    UnknownSymbol,
    /// More data than the enclave's limits.
    #[error("the history exceeds the enclave's limits")]
    TooLarge,
    /// The API key can do more than read (trade, withdraw, transfer,
    /// margin, futures): it is not used.
    #[error("the API key can do more than read")]
    KeyNotReadOnly,
}

impl ExchangeError {
    /// The RPC code this error crosses the boundary as.
    pub fn code(&self) -> ErrorCode {
        match self {
            ExchangeError::RejectedCredentials => ErrorCode::ExchangeRejectedCredentials,
            ExchangeError::RateLimited => ErrorCode::ExchangeRateLimited,
            ExchangeError::WeightBudget { .. } => ErrorCode::ExchangeBudget,
            ExchangeError::EgressRefused => ErrorCode::EgressRefused,
            ExchangeError::UnknownSymbol => ErrorCode::InvalidArgument,
            ExchangeError::KeyNotReadOnly => ErrorCode::KeyNotReadOnly,
            ExchangeError::Unreachable | ExchangeError::Malformed | ExchangeError::TooLarge => {
                ErrorCode::ExchangeUnreachable
            }
        }
    }
}

/// One exchange's REST API, as far as Strongroom needs it.
pub trait Exchange: Send + Sync {
    /// The exchange's name as used in credentials (`binance`).
    fn name(&self) -> &'static str;

    /// Fetches the trade history of `symbols` (or of every symbol the account
    /// holds a balance in, when `None`), starting from the stored segments
    /// of `resume` for the account the exchange reports; a weight budget
    /// spent once a symbol is up to date or a trade page fetched is
    /// [`Fetched::Pending`] (before that, [`ExchangeError::WeightBudget`]).
    fn fetch(
        &self,
        credential: &Credential,
        symbols: Option<&[String]>,
        resume: Resume<'_>,
    ) -> impl Future<Output = Result<Fetched, ExchangeError>> + Send;

    /// [`Exchange::fetch`] of everything, nothing stored: a spent weight
    /// budget is [`ExchangeError::WeightBudget`].
    fn fetch_history(
        &self,
        credential: &Credential,
        symbols: Option<&[String]>,
    ) -> impl Future<Output = Result<History, ExchangeError>> + Send {
        async move {
            match self.fetch(credential, symbols, Resume::none()).await? {
                Fetched::Complete(h) => Ok(h),
                Fetched::Pending(p) => Err(ExchangeError::WeightBudget {
                    retry_after_s: p.retry_after_s,
                }),
            }
        }
    }

    /// Checks an API key without fetching any history: its restrictions and
    /// the account it belongs to (for `OpenCredential` with `check_key`).
    fn check_key(
        &self,
        credential: &Credential,
    ) -> impl Future<Output = Result<KeyCheck, ExchangeError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_urls_parse_strictly() {
        let ep = |h: &str, p| {
            Some(Endpoint {
                host: h.into(),
                port: p,
            })
        };
        assert_eq!(
            Endpoint::from_https_url("https://127.0.0.1:8443"),
            ep("127.0.0.1", 8443)
        );
        assert_eq!(
            Endpoint::from_https_url("https://LocalHost:1/"),
            ep("localhost", 1)
        );
        for bad in [
            "http://localhost:1",
            "https://localhost",
            "https://localhost:0",
            "https://localhost:70000",
            "https://localhost:1/api",
            "https://user@localhost:1",
            "https://[::1]:1",
            "https://:1",
        ] {
            assert_eq!(Endpoint::from_https_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn production_allowlist_is_binance_only() {
        let prod = Allowlist::production();
        assert!(prod.allows(&Endpoint::binance_production()));
        let mock = Endpoint {
            host: "localhost".into(),
            port: 8443,
        };
        assert!(!prod.allows(&mock));
        assert!(prod.with_dev_endpoint(mock.clone()).allows(&mock));
    }
}
