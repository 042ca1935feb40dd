//! The RPC client: one multiplexed connection, many calls in flight, each matched
//! to its response by id, each with its own timeout. The connection is opened
//! lazily, and re-opened after it breaks, with a capped exponential backoff so a
//! dead enclave costs callers an immediate `Unavailable`, not a hang.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::Instant;

use crate::codec::{decode, encode};
use crate::error::{ErrorCode, RpcError};
use crate::frame::{DEFAULT_MAX_FRAME_LEN, FrameError, read_frame, write_frame};
use crate::messages::{
    CancelRequest, ClientHello, Request, RequestBody, Response, ResponseBody, SUPPORTED_VERSIONS,
    ServerHello,
};
use crate::transport::{Address, connect};

/// Client limits and timeouts.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Time allowed for one call, from sending to the answer.
    pub call_timeout: Duration,
    /// Time allowed to connect and complete the handshake.
    pub connect_timeout: Duration,
    /// Largest frame sent or accepted.
    pub max_frame_len: usize,
    /// First delay before reconnecting after a failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest delay between reconnection attempts.
    pub max_backoff: Duration,
    /// Name and version sent in the hello.
    pub agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(2),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            agent: concat!("strongroom-protocol/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The server could not be reached, or the connection broke before the answer.
    #[error("enclave unavailable")]
    Unavailable,
    /// No answer within the call timeout.
    #[error("enclave call timed out")]
    Timeout,
    /// The server answered with a typed refusal.
    #[error("enclave refused: {0}")]
    Remote(RpcError),
    /// The server spoke something other than the protocol.
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
}

type Pending = Arc<StdMutex<HashMap<u64, oneshot::Sender<ResponseBody>>>>;

struct Connection {
    frames: mpsc::Sender<Vec<u8>>,
    pending: Pending,
    alive: Arc<AtomicBool>,
}

struct Backoff {
    next_attempt: Option<Instant>,
    delay: Duration,
}

/// Cancels request `id` on the server unless disarmed: a call that timed
/// out, or whose caller dropped it, leaves no work behind in the enclave.
struct CancelOnDrop<'a> {
    id: u64,
    conn: &'a Connection,
    armed: bool,
}

/// The id of the `cancel` request for request `id` (calls count up from 1,
/// so the high bit never collides; its answer is ignored).
const CANCEL_ID_BIT: u64 = 1 << 63;

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        lock(&self.conn.pending).remove(&self.id);
        let cancel = Request {
            id: self.id | CANCEL_ID_BIT,
            body: RequestBody::Cancel(CancelRequest { id: self.id }),
        };
        if let Ok(frame) = encode(&cancel) {
            // Best effort: a full queue or a closed connection (which the
            // server treats as cancelling everything) needs nothing more.
            let _ = self.conn.frames.try_send(frame);
        }
    }
}

/// A client for one server address.
pub struct RpcClient {
    addr: Address,
    config: ClientConfig,
    conn: Mutex<Option<Arc<Connection>>>,
    backoff: StdMutex<Backoff>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RpcClient {
    /// A client that will connect to `addr` on first use.
    pub fn new(addr: Address, config: ClientConfig) -> Self {
        let delay = config.min_backoff;
        Self {
            addr,
            config,
            conn: Mutex::new(None),
            backoff: StdMutex::new(Backoff {
                next_attempt: None,
                delay,
            }),
            next_id: AtomicU64::new(1),
        }
    }

    /// The server address.
    pub fn address(&self) -> &Address {
        &self.addr
    }

    /// Makes one call. A [`ResponseBody::Error`] answer becomes [`CallError::Remote`].
    pub async fn call(&self, body: RequestBody) -> Result<ResponseBody, CallError> {
        let conn = self.connection().await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode(&Request { id, body }).map_err(|_| CallError::Protocol("encode"))?;
        if frame.len() > self.config.max_frame_len {
            return Err(CallError::Protocol(
                "request exceeds the maximum frame size",
            ));
        }
        let (tx, rx) = oneshot::channel();
        lock(&conn.pending).insert(id, tx);
        if conn.frames.send(frame).await.is_err() {
            lock(&conn.pending).remove(&id);
            return Err(CallError::Unavailable);
        }
        // From here until the answer, a timeout or the caller dropping this
        // future cancels the request on the server (its work is dropped).
        let mut guard = CancelOnDrop {
            id,
            conn: &conn,
            armed: true,
        };
        let answer = tokio::time::timeout(self.config.call_timeout, rx).await;
        if matches!(answer, Ok(Ok(_))) {
            guard.armed = false;
        }
        drop(guard);
        match answer {
            Ok(Ok(ResponseBody::Error(err))) => Err(CallError::Remote(err)),
            Ok(Ok(body)) => Ok(body),
            Ok(Err(_)) => Err(CallError::Unavailable),
            Err(_) => Err(CallError::Timeout),
        }
    }

    async fn connection(&self) -> Result<Arc<Connection>, CallError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| c.alive.load(Ordering::Acquire)) {
            return Ok(conn.clone());
        }
        *slot = None;
        {
            let backoff = lock(&self.backoff);
            if backoff.next_attempt.is_some_and(|t| Instant::now() < t) {
                return Err(CallError::Unavailable);
            }
        }
        match tokio::time::timeout(self.config.connect_timeout, self.open()).await {
            Ok(Ok(conn)) => {
                let mut backoff = lock(&self.backoff);
                backoff.next_attempt = None;
                backoff.delay = self.config.min_backoff;
                let conn = Arc::new(conn);
                *slot = Some(conn.clone());
                Ok(conn)
            }
            Ok(Err(err)) => {
                self.note_failure();
                Err(err)
            }
            Err(_) => {
                self.note_failure();
                Err(CallError::Unavailable)
            }
        }
    }

    fn note_failure(&self) {
        let mut backoff = lock(&self.backoff);
        backoff.next_attempt = Some(Instant::now() + backoff.delay);
        backoff.delay = (backoff.delay * 2).min(self.config.max_backoff);
    }

    async fn open(&self) -> Result<Connection, CallError> {
        let max = self.config.max_frame_len;
        let mut stream = connect(&self.addr)
            .await
            .map_err(|_| CallError::Unavailable)?;
        let hello = ClientHello {
            versions: SUPPORTED_VERSIONS.to_vec(),
            agent: self.config.agent.clone(),
        };
        let hello = encode(&hello).map_err(|_| CallError::Protocol("encode"))?;
        write_frame(&mut stream, &hello, max)
            .await
            .map_err(|_| CallError::Unavailable)?;
        let reply = read_frame(&mut stream, max)
            .await
            .map_err(|_| CallError::Unavailable)?;
        match decode::<ServerHello>(&reply).map_err(|_| CallError::Protocol("bad hello"))? {
            ServerHello::Accept { .. } => {}
            ServerHello::Reject(err) => return Err(CallError::Remote(err)),
        }
        let (mut reader, mut writer) = tokio::io::split(stream);
        let pending: Pending = Arc::default();
        let alive = Arc::new(AtomicBool::new(true));
        let (frames, mut rx) = mpsc::channel::<Vec<u8>>(1024);
        let writer_alive = alive.clone();
        tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                if write_frame(&mut writer, &frame, max).await.is_err() {
                    break;
                }
            }
            writer_alive.store(false, Ordering::Release);
            let _ = writer.shutdown().await;
        });
        let (reader_pending, reader_alive) = (pending.clone(), alive.clone());
        tokio::spawn(async move {
            let end = read_responses(&mut reader, max, &reader_pending).await;
            tracing::debug!(?end, "rpc connection ended");
            reader_alive.store(false, Ordering::Release);
            // Dropping the senders wakes every waiting call with `Unavailable`.
            lock(&reader_pending).clear();
        });
        Ok(Connection {
            frames,
            pending,
            alive,
        })
    }
}

async fn read_responses<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
    pending: &Pending,
) -> Result<(), FrameError> {
    loop {
        let bytes = read_frame(reader, max).await?;
        let Ok(response) = decode::<Response>(&bytes) else {
            return Ok(());
        };
        if response.id == 0 {
            // A connection-level error from the server: it is closing.
            if let ResponseBody::Error(err) = &response.body {
                tracing::warn!(code = %err.code, "server closed the rpc connection");
            }
            return Ok(());
        }
        if let Some(tx) = lock(pending).remove(&response.id) {
            let _ = tx.send(response.body);
        }
    }
}

/// Locks a std mutex, recovering from poisoning: the guarded maps stay
/// consistent because every critical section is a single insert/remove/clear.
fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Maps a remote error to its code, for callers that only care about the code.
pub fn error_code(err: &CallError) -> Option<ErrorCode> {
    match err {
        CallError::Remote(e) => Some(e.code),
        _ => None,
    }
}
