//! Configuration, read once at start from the environment into typed structs.
//!
//! Values come through [`ConfigSource`] so tests pass a map. Errors name the
//! variable and say what is wrong with it, but never echo the value: several
//! variables (database URLs, the audit key) are secrets.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use strongroom_protocol::transport::Address;
use zeroize::Zeroizing;

use crate::egress::{EgressConfig, parse_allowlist};

pub use crate::keys::config::{KeysConfig, KmsConfig};
pub use source::{ConfigError, ConfigSource, EnvSource};
use source::{non_empty, parse_num};

pub(crate) mod source;

/// Destinations the egress proxy allows when `EGRESS_ALLOWLIST` is unset.
pub const DEFAULT_EGRESS_ALLOWLIST: &str = "api.binance.com:443";

/// Database settings shared by every subcommand.
pub struct DbConfig {
    /// Owner connection (`DATABASE_URL`): migrations and tenant administration.
    /// `serve` may run without it when `APP_DATABASE_URL` is set (then it does not migrate).
    pub database_url: Option<Zeroizing<String>>,
    /// Optional separate login for `serve` (`APP_DATABASE_URL`), normally the
    /// `app_service` role. When unset, `serve` uses `DATABASE_URL` and switches
    /// every pooled connection to `app_service` with `SET ROLE`.
    pub app_database_url: Option<Zeroizing<String>>,
    /// Pool size (`DB_POOL_SIZE`).
    pub pool_size: usize,
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig")
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

/// TLS certificate chain and private key (PEM files).
#[derive(Debug, Clone)]
pub struct TlsPaths {
    /// `TLS_CERT_PATH`.
    pub cert: PathBuf,
    /// `TLS_KEY_PATH`.
    pub key: PathBuf,
}

/// Settings of `strongroom-host serve`.
pub struct ServeConfig {
    /// Database settings.
    pub db: DbConfig,
    /// `LISTEN_ADDR`, default `127.0.0.1:$ENCLAVE_PORT` (`ENCLAVE_PORT` default 3000).
    pub listen_addr: SocketAddr,
    /// `ENCLAVE_ADDR`: `vsock://CID:PORT` or `unix:///path`.
    pub enclave_addr: Address,
    /// `ENCLAVE_TIMEOUT_MS` (default 10000): one RPC call's deadline.
    pub enclave_timeout: Duration,
    /// `AGGREGATES_TIMEOUT_MS` (default 120000): deadline of a `ComputeAggregates`
    /// call (exchange paging and retries) and of the whole `request_aggregates` request.
    pub aggregates_timeout: Duration,
    /// `MAX_TTL_SECONDS` (default 604800).
    pub max_ttl_seconds: u64,
    /// `RATE_LIMIT_MAX` (default 100) requests per window, per tenant and per address.
    pub rate_limit_max: u32,
    /// `RATE_LIMIT_WINDOW` in ms (default 900000).
    pub rate_limit_window: Duration,
    /// `LOCKOUT_MAX_FAILURES` (default 5) failed authentications before a lockout.
    pub lockout_max_failures: u32,
    /// `LOCKOUT_SECONDS` (default 900): lockout length and failure-counting window.
    pub lockout_duration: Duration,
    /// `SUBMIT_AUTH_CACHE_SECONDS` (default 5, 0 = off): how long a successful
    /// authentication spares `submit_key` its separate key lookup (the store
    /// call authenticates again, so a revoked key stores nothing).
    pub submit_auth_cache: Duration,
    /// `SUBMIT_CHECK_KEY` (default 1): at `submit_key` the enclave checks the
    /// API key at the exchange (protocol 5's `check_key`: read-only, and
    /// which account) before anything is stored; 0 stores keys unchecked
    /// (they are still checked at every computation).
    pub submit_check_key: bool,
    /// `TRUSTED_PROXIES`: comma-separated CIDRs whose `X-Forwarded-For`
    /// entries are believed (default none: the peer address is the client).
    pub trusted_proxies: crate::http::client_addr::TrustedProxies,
    /// `WITNESS_URLS`: comma-separated `http://HOST:PORT[/PREFIX]` of the log's
    /// witnesses, and `WITNESS_TIMEOUT_MS` (default 5000) per exchange.
    pub witnesses: crate::witness::Witnesses,
    /// `PROXY_PROTOCOL=1`: every API connection starts with a PROXY protocol
    /// v2 header (an NLB's); it is believed only from `TRUSTED_PROXIES`, and
    /// a connection without one, or from anyone else, is closed.
    pub proxy_protocol: bool,
    /// `PUBLIC_LOG_ENTRIES=1`: serve the log's entry bundles
    /// (`/tile/entries/...`, every logged result) to anyone. Default off:
    /// results are disclosed only by the trader.
    pub public_log_entries: bool,
    /// `TLS_TERMINATED_UPSTREAM=1`: TLS ends at a load balancer in front;
    /// answers carry HSTS as if the host terminated TLS itself.
    pub tls_terminated_upstream: bool,
    /// `ALLOWED_ORIGINS`: comma-separated exact origins allowed by CORS (default none).
    pub allowed_origins: Vec<String>,
    /// `TLS_CERT_PATH` + `TLS_KEY_PATH`.
    pub tls: Option<TlsPaths>,
    /// `VERIFY_PCRS_JSON`: path of the release's `pcrs.json`, read at start
    /// and served at `/verify/pcrs.json` for the verification page (unset: 404,
    /// the user supplies one).
    pub verify_pcrs_json: Option<String>,
    /// `VERIFY_TLOG_POLICY`: path of a C2SP tlog-policy (the log's witnesses
    /// and quorum), served at `/verify/tlog-policy`: the page checks a
    /// result's tlog-proof under it (unset: 404, the user may supply one).
    pub verify_tlog_policy: Option<String>,
    /// `VERIFY_DEV_ROOT_PEM`: dev only, the NSM simulator's root served at
    /// `/verify/dev-root.pem`; the page then shows DEV/SIMULATOR loudly.
    pub verify_dev_root_pem: Option<String>,
    /// `DANGER_ALLOW_INSECURE_HTTP=1`: plain HTTP on a non-loopback address.
    pub danger_allow_insecure_http: bool,
    /// `JANITOR_INTERVAL_SECONDS` (default 60).
    pub janitor_interval: Duration,
    /// `DAILY_SNAPSHOT_CHECK_SECONDS` (default 600; 0: off): how often the
    /// daily-snapshot scheduler looks for accounts without a result today.
    pub daily_snapshot_check: Option<Duration>,
    /// `JOB_CHECK_SECONDS` (default 5): how often the job runner looks for
    /// computation jobs due for their next attempt.
    pub job_check: Duration,
    /// `AUDIT_HASH_KEY` (hex, at least 32 bytes). When unset a random key is
    /// generated once and kept in the database.
    pub audit_hash_key: Option<Zeroizing<Vec<u8>>>,
    /// `MAX_CONNECTIONS` (default 1024) concurrent client connections.
    pub max_connections: usize,
    /// `HEADER_READ_TIMEOUT_MS` (default 10000).
    pub header_read_timeout: Duration,
    /// `REQUEST_TIMEOUT_MS` (default 30000): whole request, body included.
    pub request_timeout: Duration,
    /// `SHUTDOWN_GRACE_SECONDS` (default 20): drain time after SIGTERM.
    pub shutdown_grace: Duration,
    /// The egress proxy, run when `EGRESS_LISTEN` is set.
    pub egress: Option<EgressConfig>,
    /// Key-ring boot, peer sync, heartbeat and rotation.
    pub keys: KeysConfig,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("listen_addr", &self.listen_addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

fn parse_flag(src: &dyn ConfigSource, name: &'static str) -> Result<bool, ConfigError> {
    parse_flag_or(src, name, false)
}

/// A flag that is `default` when unset or empty.
fn parse_flag_or(
    src: &dyn ConfigSource,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match src.get(name).as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some("0") | Some("false") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(_) => Err(ConfigError::Invalid {
            name,
            reason: "expected 1/true or 0/false",
        }),
    }
}

impl DbConfig {
    /// Reads `DATABASE_URL` (required), `APP_DATABASE_URL`, `DB_POOL_SIZE`.
    pub fn from_source(src: &dyn ConfigSource) -> Result<Self, ConfigError> {
        let cfg = Self::parse(src)?;
        if cfg.database_url.is_none() {
            return Err(ConfigError::Missing("DATABASE_URL"));
        }
        Ok(cfg)
    }

    /// Like [`DbConfig::from_source`], but `APP_DATABASE_URL` alone is enough.
    pub fn for_serve(src: &dyn ConfigSource) -> Result<Self, ConfigError> {
        let cfg = Self::parse(src)?;
        if cfg.database_url.is_none() && cfg.app_database_url.is_none() {
            return Err(ConfigError::Missing("DATABASE_URL"));
        }
        Ok(cfg)
    }

    /// The owner connection string, if configured.
    pub fn owner_url(&self) -> Option<&str> {
        self.database_url.as_deref().map(String::as_str)
    }

    fn parse(src: &dyn ConfigSource) -> Result<Self, ConfigError> {
        let check = |name: &'static str| -> Result<Option<Zeroizing<String>>, ConfigError> {
            let Some(v) = non_empty(src, name) else {
                return Ok(None);
            };
            let v = Zeroizing::new(v);
            v.parse::<tokio_postgres::Config>()
                .map_err(|_| ConfigError::Invalid {
                    name,
                    reason: "not a PostgreSQL connection string",
                })?;
            Ok(Some(v))
        };
        Ok(Self {
            database_url: check("DATABASE_URL")?,
            app_database_url: check("APP_DATABASE_URL")?,
            pool_size: parse_num(src, "DB_POOL_SIZE", 16usize, 1, 512)?,
        })
    }
}

fn parse_trusted_proxies(
    src: &dyn ConfigSource,
) -> Result<crate::http::client_addr::TrustedProxies, ConfigError> {
    let text = src.get("TRUSTED_PROXIES").unwrap_or_default();
    crate::http::client_addr::TrustedProxies::parse(&text).ok_or(ConfigError::Invalid {
        name: "TRUSTED_PROXIES",
        reason: "expected comma-separated CIDRs like 10.0.0.0/16 (at most 64)",
    })
}

fn parse_witness_urls(
    src: &dyn ConfigSource,
) -> Result<Vec<crate::witness::WitnessUrl>, ConfigError> {
    let invalid = ConfigError::Invalid {
        name: "WITNESS_URLS",
        reason: "expected comma-separated http(s)://HOST:PORT[/PREFIX] (at most 16, no duplicates)",
    };
    let mut out: Vec<crate::witness::WitnessUrl> = Vec::new();
    for u in src.get("WITNESS_URLS").unwrap_or_default().split(',') {
        let u = u.trim();
        if u.is_empty() {
            continue;
        }
        let url = crate::witness::WitnessUrl::parse(u).ok_or_else(|| invalid.clone())?;
        if out.contains(&url) || out.len() == crate::witness::MAX_WITNESSES {
            return Err(invalid);
        }
        out.push(url);
    }
    Ok(out)
}

fn parse_origins(src: &dyn ConfigSource) -> Result<Vec<String>, ConfigError> {
    let invalid = ConfigError::Invalid {
        name: "ALLOWED_ORIGINS",
        reason: "expected comma-separated origins like https://app.example.com (no wildcard, no path)",
    };
    let mut out = Vec::new();
    for o in src.get("ALLOWED_ORIGINS").unwrap_or_default().split(',') {
        let o = o.trim();
        if o.is_empty() {
            continue;
        }
        let rest = o
            .strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
            .ok_or_else(|| invalid.clone())?;
        let ok = !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !ok {
            return Err(invalid);
        }
        out.push(o.to_owned());
    }
    Ok(out)
}

fn parse_listen(src: &dyn ConfigSource) -> Result<SocketAddr, ConfigError> {
    let port = parse_num(src, "ENCLAVE_PORT", 3000u16, 0, u16::MAX)?;
    match non_empty(src, "LISTEN_ADDR") {
        None => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            name: "LISTEN_ADDR",
            reason: "expected IP:PORT",
        }),
    }
}

fn parse_tls(src: &dyn ConfigSource) -> Result<Option<TlsPaths>, ConfigError> {
    match (
        non_empty(src, "TLS_CERT_PATH"),
        non_empty(src, "TLS_KEY_PATH"),
    ) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some(TlsPaths {
            cert: cert.into(),
            key: key.into(),
        })),
        (None, Some(_)) => Err(ConfigError::Missing("TLS_CERT_PATH")),
        (Some(_), None) => Err(ConfigError::Missing("TLS_KEY_PATH")),
    }
}

/// Largest file named by `VERIFY_PCRS_JSON` / `VERIFY_DEV_ROOT_PEM`.
const MAX_VERIFY_FILE_LEN: u64 = 64 * 1024;

/// The UTF-8 text of a small public file named by `name`, read once at start.
fn read_small_file(
    src: &dyn ConfigSource,
    name: &'static str,
) -> Result<Option<String>, ConfigError> {
    let Some(path) = non_empty(src, name) else {
        return Ok(None);
    };
    let invalid = |reason| ConfigError::Invalid { name, reason };
    let len = std::fs::metadata(&path)
        .map_err(|_| invalid("cannot read the file"))?
        .len();
    if len > MAX_VERIFY_FILE_LEN {
        return Err(invalid("file larger than 64 KiB"));
    }
    let text =
        std::fs::read_to_string(&path).map_err(|_| invalid("cannot read the file as UTF-8"))?;
    Ok(Some(text))
}

fn parse_audit_key(src: &dyn ConfigSource) -> Result<Option<Zeroizing<Vec<u8>>>, ConfigError> {
    let Some(v) = non_empty(src, "AUDIT_HASH_KEY") else {
        return Ok(None);
    };
    let v = Zeroizing::new(v);
    let key = hex::decode(v.trim()).map_err(|_| ConfigError::Invalid {
        name: "AUDIT_HASH_KEY",
        reason: "expected hex",
    })?;
    if key.len() < 32 {
        return Err(ConfigError::Invalid {
            name: "AUDIT_HASH_KEY",
            reason: "needs at least 32 bytes (64 hex digits)",
        });
    }
    Ok(Some(Zeroizing::new(key)))
}

fn parse_enclave_addr(src: &dyn ConfigSource) -> Result<Address, ConfigError> {
    non_empty(src, "ENCLAVE_ADDR")
        .ok_or(ConfigError::Missing("ENCLAVE_ADDR"))?
        .trim()
        .parse()
        .map_err(|_| ConfigError::Invalid {
            name: "ENCLAVE_ADDR",
            reason: "expected vsock://CID:PORT or unix:///path",
        })
}

/// `EGRESS_LISTEN` (`unix:///path` or `vsock://CID:PORT`) turns the proxy on;
/// `EGRESS_ALLOWLIST`, `EGRESS_IDLE_TIMEOUT_MS`, `EGRESS_MAX_CONNECTIONS`,
/// `EGRESS_CONNECT_TIMEOUT_MS` tune it.
fn parse_egress(src: &dyn ConfigSource) -> Result<Option<EgressConfig>, ConfigError> {
    let Some(listen) = non_empty(src, "EGRESS_LISTEN") else {
        return Ok(None);
    };
    let listen: Address = listen.trim().parse().map_err(|_| ConfigError::Invalid {
        name: "EGRESS_LISTEN",
        reason: "expected vsock://CID:PORT or unix:///path",
    })?;
    let raw = non_empty(src, "EGRESS_ALLOWLIST").unwrap_or_else(|| DEFAULT_EGRESS_ALLOWLIST.into());
    let allowlist = parse_allowlist(&raw).map_err(|_| ConfigError::Invalid {
        name: "EGRESS_ALLOWLIST",
        reason: "expected comma-separated host:port",
    })?;
    if allowlist.is_empty() {
        return Err(ConfigError::Invalid {
            name: "EGRESS_ALLOWLIST",
            reason: "allows nothing",
        });
    }
    let ms =
        |name, default: u64| parse_num(src, name, default, 1, 3_600_000).map(Duration::from_millis);
    Ok(Some(EgressConfig {
        listen,
        allowlist,
        max_connections: parse_num(src, "EGRESS_MAX_CONNECTIONS", 64, 1, 65_536)?,
        idle_timeout: ms("EGRESS_IDLE_TIMEOUT_MS", 30_000)?,
        connect_timeout: ms("EGRESS_CONNECT_TIMEOUT_MS", 10_000)?,
    }))
}

impl ServeConfig {
    /// Reads and checks every variable `serve` uses.
    pub fn from_source(src: &dyn ConfigSource) -> Result<Self, ConfigError> {
        let ms = |name, default: u64, min: u64, max: u64| {
            parse_num(src, name, default, min, max).map(Duration::from_millis)
        };
        let secs = |name, default: u64, min: u64, max: u64| {
            parse_num(src, name, default, min, max).map(Duration::from_secs)
        };
        let cfg = Self {
            db: DbConfig::for_serve(src)?,
            listen_addr: parse_listen(src)?,
            enclave_addr: parse_enclave_addr(src)?,
            enclave_timeout: ms("ENCLAVE_TIMEOUT_MS", 10_000, 1, 600_000)?,
            aggregates_timeout: ms("AGGREGATES_TIMEOUT_MS", 120_000, 1, 3_600_000)?,
            max_ttl_seconds: parse_num(src, "MAX_TTL_SECONDS", 604_800, 1, 10 * 365 * 86_400)?,
            rate_limit_max: parse_num(src, "RATE_LIMIT_MAX", 100, 1, 100_000_000)?,
            rate_limit_window: ms("RATE_LIMIT_WINDOW", 900_000, 1, 30 * 86_400_000)?,
            lockout_max_failures: parse_num(src, "LOCKOUT_MAX_FAILURES", 5, 1, 1_000_000)?,
            lockout_duration: secs("LOCKOUT_SECONDS", 900, 1, 30 * 86_400)?,
            submit_auth_cache: secs("SUBMIT_AUTH_CACHE_SECONDS", 5, 0, 300)?,
            submit_check_key: parse_flag_or(src, "SUBMIT_CHECK_KEY", true)?,
            trusted_proxies: parse_trusted_proxies(src)?,
            witnesses: crate::witness::Witnesses::new(
                parse_witness_urls(src)?,
                ms("WITNESS_TIMEOUT_MS", 5_000, 1, 600_000)?,
            ),
            public_log_entries: parse_flag(src, "PUBLIC_LOG_ENTRIES")?,
            proxy_protocol: parse_flag(src, "PROXY_PROTOCOL")?,
            tls_terminated_upstream: parse_flag(src, "TLS_TERMINATED_UPSTREAM")?,
            allowed_origins: parse_origins(src)?,
            tls: parse_tls(src)?,
            verify_pcrs_json: read_small_file(src, "VERIFY_PCRS_JSON")?,
            verify_dev_root_pem: read_small_file(src, "VERIFY_DEV_ROOT_PEM")?,
            verify_tlog_policy: read_small_file(src, "VERIFY_TLOG_POLICY")?,
            danger_allow_insecure_http: parse_flag(src, "DANGER_ALLOW_INSECURE_HTTP")?,
            janitor_interval: secs("JANITOR_INTERVAL_SECONDS", 60, 1, 86_400)?,
            daily_snapshot_check: Some(secs("DAILY_SNAPSHOT_CHECK_SECONDS", 600, 0, 86_400)?)
                .filter(|d| !d.is_zero()),
            job_check: secs("JOB_CHECK_SECONDS", 5, 1, 3_600)?,
            audit_hash_key: parse_audit_key(src)?,
            max_connections: parse_num(src, "MAX_CONNECTIONS", 1024, 1, 1_000_000)?,
            header_read_timeout: ms("HEADER_READ_TIMEOUT_MS", 10_000, 1, 600_000)?,
            request_timeout: ms("REQUEST_TIMEOUT_MS", 30_000, 1, 600_000)?,
            shutdown_grace: secs("SHUTDOWN_GRACE_SECONDS", 20, 0, 3_600)?,
            egress: parse_egress(src)?,
            keys: KeysConfig::from_source(src)?,
        };
        if cfg.tls.is_none()
            && !cfg.listen_addr.ip().is_loopback()
            && !cfg.danger_allow_insecure_http
        {
            return Err(ConfigError::Invalid {
                name: "LISTEN_ADDR",
                reason: "plain HTTP off loopback needs TLS_CERT_PATH/TLS_KEY_PATH (or DANGER_ALLOW_INSECURE_HTTP=1)",
            });
        }
        Ok(cfg)
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
