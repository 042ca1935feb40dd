//! The egress proxy: the enclave's only way out. It listens on the enclave
//! transport (vsock in production, a unix socket in development), reads the
//! destination the enclave names, and connects it only when that destination is
//! on the host's allowlist. DNS is resolved afresh for every connection. What
//! flows afterwards is the enclave's TLS session: the host sees ciphertext only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use strongroom_protocol::egress::{EgressReply, read_open, write_reply};
use strongroom_protocol::transport::{Address, Listener, Stream};
use strongroom_protocol::{ErrorCode, RpcError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{info, warn};

use crate::accept::{Limits, WhenFull, accept_loop};

/// One allowed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Host name (lower case) or IP literal.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::str::FromStr for Destination {
    type Err = &'static str;

    /// Parses `host:port`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, port) = s.rsplit_once(':').ok_or("expected host:port")?;
        let port = port.parse().map_err(|_| "bad port")?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !strongroom_protocol::egress::valid_host(host) {
            return Err("bad host");
        }
        Ok(Destination {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// Parses a comma-separated `host:port` list.
pub fn parse_allowlist(s: &str) -> Result<Vec<Destination>, &'static str> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::parse)
        .collect()
}

/// Proxy settings.
#[derive(Debug, Clone)]
pub struct EgressConfig {
    /// Where the enclave connects.
    pub listen: Address,
    /// Destinations the host allows.
    pub allowlist: Vec<Destination>,
    /// Proxied connections at once.
    pub max_connections: usize,
    /// A connection with no bytes either way for this long is closed.
    pub idle_timeout: Duration,
    /// Time allowed to resolve and connect a destination.
    pub connect_timeout: Duration,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct EgressStats {
    /// Connections proxied.
    pub connected: AtomicU64,
    /// Destinations refused by the allowlist.
    pub refused: AtomicU64,
    /// Allowed destinations that could not be reached.
    pub unreachable: AtomicU64,
}

/// Binds `config.listen` and runs the proxy until `shutdown` completes.
pub async fn serve(
    config: EgressConfig,
    stats: Arc<EgressStats>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let listener = Listener::bind(&config.listen)?;
    run(listener, config, stats, shutdown).await
}

/// Runs the proxy on an already bound listener until `shutdown` completes
/// (`strongroom-host serve` binds first, so a bad address fails the start).
pub async fn run(
    listener: Listener,
    config: EgressConfig,
    stats: Arc<EgressStats>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    info!(listen = %config.listen, allowed = config.allowlist.len(), "egress proxy listening");
    let limits = Limits {
        max: config.max_connections,
        when_full: WhenFull::Refuse,
        drain: Duration::ZERO,
    };
    let config = Arc::new(config);
    accept_loop(listener, shutdown, limits, "egress", |stream, _watcher| {
        let (config, stats) = (config.clone(), stats.clone());
        async move { proxy_one(stream, &config, &stats).await }
    })
    .await;
    Ok(())
}

async fn proxy_one(mut stream: Stream, config: &EgressConfig, stats: &EgressStats) {
    let Ok(Ok(open)) = tokio::time::timeout(Duration::from_secs(5), read_open(&mut stream)).await
    else {
        return;
    };
    let host = open.host.to_ascii_lowercase();
    let allowed = config
        .allowlist
        .iter()
        .any(|d| d.host == host && d.port == open.port);
    if !allowed {
        stats.refused.fetch_add(1, Ordering::Relaxed);
        warn!(host = %host, port = open.port, "egress refused: destination not on the allowlist");
        let _ = write_reply(&mut stream, &refused(ErrorCode::EgressRefused)).await;
        return;
    }
    let upstream = match tokio::time::timeout(config.connect_timeout, dial(&host, open.port)).await
    {
        Ok(Ok(s)) => s,
        _ => {
            stats.unreachable.fetch_add(1, Ordering::Relaxed);
            warn!(host = %host, port = open.port, "egress destination unreachable");
            let _ = write_reply(&mut stream, &refused(ErrorCode::ExchangeUnreachable)).await;
            return;
        }
    };
    if write_reply(&mut stream, &EgressReply::Connected)
        .await
        .is_err()
    {
        return;
    }
    stats.connected.fetch_add(1, Ordering::Relaxed);
    pump(stream, upstream, config.idle_timeout).await;
}

fn refused(code: ErrorCode) -> EgressReply {
    EgressReply::Refused(RpcError::new(code))
}

/// Resolves afresh and connects to the first address that answers.
async fn dial(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::other("no address");
    for addr in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Copies bytes both ways until one side closes or nothing moves for `idle`.
async fn pump(a: Stream, b: TcpStream, idle: Duration) {
    let (mut ar, mut aw) = tokio::io::split(a);
    let (mut br, mut bw) = b.into_split();
    let activity = Arc::new(tokio::sync::Notify::new());
    let up = copy_half(&mut ar, &mut bw, &activity);
    let down = copy_half(&mut br, &mut aw, &activity);
    let watchdog = async {
        loop {
            if tokio::time::timeout(idle, activity.notified())
                .await
                .is_err()
            {
                return;
            }
        }
    };
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        _ = watchdog => {}
    }
}

async fn copy_half<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    r: &mut R,
    w: &mut W,
    activity: &tokio::sync::Notify,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if w.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                activity.notify_one();
            }
        }
    }
    let _ = w.shutdown().await;
}
