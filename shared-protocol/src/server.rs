//! The RPC server loop: accept, handshake, then read requests and answer each one
//! as soon as its handler finishes (responses may overtake each other; ids match
//! them up). A bad frame ends only the connection it came on.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};

use crate::codec::{decode, encode};
use crate::error::{ErrorCode, RpcError};
use crate::frame::{DEFAULT_MAX_FRAME_LEN, FrameError, read_frame, write_frame};
use crate::messages::{
    Cancelled, ClientHello, Request, RequestBody, Response, ResponseBody, SUPPORTED_VERSIONS,
    ServerHello,
};
use crate::transport::{Listener, Stream};

/// What the server does with each request: bytes-in/bytes-out processing lives
/// behind this, apart from the sockets.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, request: RequestBody) -> impl Future<Output = ResponseBody> + Send;
}

/// Server limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest frame accepted or sent.
    pub max_frame_len: usize,
    /// Connections served at once; more wait in the accept queue.
    pub max_connections: usize,
    /// Requests handled at once on one connection; the reader pauses beyond it.
    pub max_in_flight_per_connection: usize,
    /// Time a new connection has to send its hello.
    pub handshake_timeout: Duration,
    /// Name and version sent in the hello.
    pub agent: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_connections: 256,
            max_in_flight_per_connection: 128,
            handshake_timeout: Duration::from_secs(5),
            agent: concat!("strongroom-protocol/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Serves `listener` until `shutdown` completes; connections in progress are
/// left to finish on their own tasks.
pub async fn serve<H: Handler>(
    listener: Listener,
    handler: Arc<H>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let config = Arc::new(config);
    let permits = Arc::new(Semaphore::new(config.max_connections));
    tokio::pin!(shutdown);
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(stream) => stream,
                Err(err) => {
                    warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let handler = handler.clone();
        let config = config.clone();
        tokio::spawn(async move {
            if let Err(reason) = serve_connection(stream, handler, &config).await {
                debug!(%reason, "connection ended");
            }
            drop(permit);
        });
    }
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionEnd {
    /// The peer closed it.
    #[error("peer closed the connection")]
    Closed,
    /// The hello did not arrive in time.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// No common version.
    #[error("no common protocol version")]
    NoCommonVersion,
    /// Framing failed (oversized frame, I/O error).
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// A frame that is not a valid message.
    #[error("malformed message")]
    Malformed,
}

/// The abort handles of a connection's requests in flight, by request id.
type Running = Arc<std::sync::Mutex<std::collections::HashMap<u64, tokio::task::AbortHandle>>>;

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Largest `ClientHello` frame read before the handshake (protocol 5: the
/// frame limit after it is 64 MiB).
pub const MAX_HELLO_LEN: usize = 4096;

/// Serves one connection to its end.
pub async fn serve_connection<H: Handler>(
    mut stream: Stream,
    handler: Arc<H>,
    config: &ServerConfig,
) -> Result<(), ConnectionEnd> {
    let max = config.max_frame_len;
    // A hello is a few dozen bytes: nothing larger is read before the
    // handshake, whatever the frame limit after it.
    let hello_max = max.min(MAX_HELLO_LEN);
    let hello = tokio::time::timeout(config.handshake_timeout, read_frame(&mut stream, hello_max))
        .await
        .map_err(|_| ConnectionEnd::HandshakeTimeout)??;
    let reply = negotiate(&hello, &config.agent);
    let accepted = matches!(reply, ServerHello::Accept { .. });
    write_frame(
        &mut stream,
        &encode(&reply).map_err(|_| ConnectionEnd::Malformed)?,
        max,
    )
    .await?;
    if !accepted {
        let _ = stream.shutdown().await;
        return Err(ConnectionEnd::NoCommonVersion);
    }
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(config.max_in_flight_per_connection);
    let write_task = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if write_frame(&mut writer, &frame, max).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    let in_flight = Arc::new(Semaphore::new(config.max_in_flight_per_connection));
    // Requests in flight by id (at most `max_in_flight_per_connection`).
    let running: Running = Arc::default();
    let end = loop {
        let request = match read_frame(&mut reader, max).await {
            Ok(bytes) => match decode::<Request>(&bytes) {
                Ok(request) => request,
                Err(_) => {
                    send_error(&tx, ErrorCode::MalformedRequest).await;
                    break ConnectionEnd::Malformed;
                }
            },
            Err(FrameError::Closed) => break ConnectionEnd::Closed,
            Err(err @ FrameError::TooLarge { .. }) => {
                send_error(&tx, ErrorCode::FrameTooLarge).await;
                break ConnectionEnd::Frame(err);
            }
            Err(err) => break ConnectionEnd::Frame(err),
        };
        if let RequestBody::Cancel(c) = &request.body {
            // The caller abandoned request `c.id`: drop its work (the
            // handler's future, its permit and whatever it holds).
            let running = lock(&running).remove(&c.id).is_some_and(|h| {
                let alive = !h.is_finished();
                h.abort();
                alive
            });
            let body = ResponseBody::Cancelled(Cancelled { id: c.id, running });
            if let Ok(bytes) = encode(&Response {
                id: request.id,
                body,
            }) {
                let _ = tx.send(bytes).await;
            }
            continue;
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break ConnectionEnd::Closed;
        };
        let handler = handler.clone();
        let tx = tx.clone();
        let id = request.id;
        let done = running.clone();
        let task = tokio::spawn(async move {
            let body = handler.handle(request.body).await;
            lock(&done).remove(&id);
            let response = Response { id, body };
            if let Ok(bytes) = encode(&response) {
                let _ = tx.send(bytes).await;
            }
            drop(permit);
        });
        let mut map = lock(&running);
        // A task that already ended removed itself before this insert.
        if !task.is_finished() {
            map.insert(id, task.abort_handle());
        }
    };
    // The connection is gone: nobody waits for its answers any more.
    for (_, h) in lock(&running).drain() {
        h.abort();
    }
    drop(tx);
    let _ = write_task.await;
    match end {
        ConnectionEnd::Closed => Ok(()),
        other => Err(other),
    }
}

/// Picks the highest version both sides speak.
fn negotiate(hello: &[u8], agent: &str) -> ServerHello {
    let Ok(hello) = decode::<ClientHello>(hello) else {
        return ServerHello::Reject(RpcError::new(ErrorCode::MalformedRequest));
    };
    match SUPPORTED_VERSIONS
        .iter()
        .rev()
        .find(|v| hello.versions.contains(v))
    {
        Some(&version) => ServerHello::Accept {
            version,
            agent: agent.to_owned(),
        },
        None => ServerHello::Reject(RpcError::new(ErrorCode::UnsupportedVersion)),
    }
}

async fn send_error(tx: &mpsc::Sender<Vec<u8>>, code: ErrorCode) {
    let response = Response {
        id: 0,
        body: ResponseBody::Error(RpcError::new(code)),
    };
    if let Ok(bytes) = encode(&response) {
        let _ = tx.send(bytes).await;
    }
}
