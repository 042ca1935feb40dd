//! The one accept loop of the host's listeners (the HTTP API, the key-sync
//! peer listener, the egress proxy): a bound listener, a connection limit, one
//! task per connection, and a drain bounded in time once `shutdown` completes.
//!
//! Each connection task gets a [`Watcher`]: an HTTP connection passes itself
//! through it so that, at shutdown, it finishes the request in flight and
//! closes instead of waiting for the next one; a raw stream ignores it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
pub use hyper_util::server::graceful::Watcher;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop
/// does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// A bound listener.
pub trait Accept: Send {
    /// One accepted connection.
    type Conn: Send + 'static;
    /// Accepts the next connection.
    fn accept(&self) -> impl Future<Output = std::io::Result<Self::Conn>> + Send;
}

impl Accept for TcpListener {
    type Conn = (TcpStream, SocketAddr);

    fn accept(&self) -> impl Future<Output = std::io::Result<Self::Conn>> + Send {
        TcpListener::accept(self)
    }
}

impl Accept for strongroom_protocol::transport::Listener {
    type Conn = strongroom_protocol::transport::Stream;

    fn accept(&self) -> impl Future<Output = std::io::Result<Self::Conn>> + Send {
        strongroom_protocol::transport::Listener::accept(self)
    }
}

/// What the loop does when all `max` connections are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Stop accepting until a connection closes (the kernel's backlog holds
    /// the rest): HTTP listeners.
    Wait,
    /// Accept and close the new connection at once, with a warning: the egress
    /// proxy, whose client (the enclave) retries.
    Refuse,
}

/// The connection limit and what happens at shutdown.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once.
    pub max: usize,
    /// Behaviour at the limit.
    pub when_full: WhenFull,
    /// How long open connections may take to finish after `shutdown`
    /// (zero: they are left to end on their own).
    pub drain: Duration,
}

/// Accepts connections on `listener` and runs `handler` for each in its own
/// task until `shutdown` completes; then stops accepting, closes the listener
/// and waits at most `limits.drain` for open connections. `name` labels the
/// log lines. Returns false when the drain timed out.
pub async fn accept_loop<L, H, F>(
    listener: L,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
    name: &'static str,
    handler: H,
) -> bool
where
    L: Accept,
    H: Fn(L::Conn, Watcher) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let waited = match limits.when_full {
            WhenFull::Wait => tokio::select! {
                () = &mut shutdown => break,
                p = slots.clone().acquire_owned() => match p { Ok(p) => Some(p), Err(_) => break },
            },
            WhenFull::Refuse => None,
        };
        let conn = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        let permit = match waited {
            Some(p) => p,
            None => match slots.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    tracing::warn!(
                        listener = name,
                        "connection limit reached; dropping a connection"
                    );
                    continue;
                }
            },
        };
        let work = handler(conn, graceful.watcher());
        tokio::spawn(async move {
            work.await;
            drop(permit);
        });
    }
    drop(listener);
    if limits.drain.is_zero() {
        return true;
    }
    tracing::info!(listener = name, "draining connections");
    tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_ok()
}
