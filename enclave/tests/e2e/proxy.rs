//! A small egress proxy, speaking `strongroom_protocol::egress` on a unix
//! socket: allowlist check, TCP connect, then raw bytes both ways. Knobs for
//! tests: count what it is asked, refuse, or cut one connection mid-response.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use strongroom_protocol::egress::{EgressReply, read_open, write_reply};
use strongroom_protocol::transport::{Address, Listener, Stream};
use strongroom_protocol::{ErrorCode, RpcError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the proxy has seen and how it behaves.
#[derive(Default)]
pub struct ProxyState {
    /// Destinations it connects (host, port).
    pub allow: Mutex<Vec<(String, u16)>>,
    /// Streams opened to it (before the preamble is read).
    pub accepted: AtomicUsize,
    /// Destinations refused.
    pub refused: AtomicUsize,
    /// Connections relayed.
    pub connected: AtomicUsize,
    /// When set, the next relayed connection is cut after this many bytes
    /// from the exchange to the enclave (then the knob clears itself).
    pub cut_next_after: Mutex<Option<usize>>,
    /// Connections cut.
    pub cuts: AtomicUsize,
}

impl ProxyState {
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
    pub fn connected(&self) -> usize {
        self.connected.load(Ordering::SeqCst)
    }
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

/// A proxy serving on a unix socket until dropped.
pub struct Proxy {
    pub addr: Address,
    pub state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Binds `path` and serves in the current runtime.
    pub fn start(path: &Path, allow: Vec<(String, u16)>) -> Proxy {
        let addr: Address = format!("unix://{}", path.display()).parse().unwrap();
        let listener = Listener::bind(&addr).unwrap();
        let state = Arc::new(ProxyState {
            allow: Mutex::new(allow),
            ..ProxyState::default()
        });
        let s = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok(stream) = listener.accept().await else {
                    continue;
                };
                s.accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(relay(stream, s.clone()));
            }
        });
        Proxy { addr, state, task }
    }
}

async fn relay(mut enclave: Stream, state: Arc<ProxyState>) {
    let Ok(open) = read_open(&mut enclave).await else {
        return;
    };
    let allowed = state
        .allow
        .lock()
        .unwrap()
        .contains(&(open.host.clone(), open.port));
    if !allowed {
        state.refused.fetch_add(1, Ordering::SeqCst);
        let reply = EgressReply::Refused(RpcError::new(ErrorCode::EgressRefused));
        let _ = write_reply(&mut enclave, &reply).await;
        return;
    }
    let Ok(mut exchange) = TcpStream::connect((open.host.as_str(), open.port)).await else {
        let reply = EgressReply::Refused(RpcError::new(ErrorCode::ExchangeUnreachable));
        let _ = write_reply(&mut enclave, &reply).await;
        return;
    };
    if write_reply(&mut enclave, &EgressReply::Connected)
        .await
        .is_err()
    {
        return;
    }
    state.connected.fetch_add(1, Ordering::SeqCst);
    let cut = state.cut_next_after.lock().unwrap().take();
    match cut {
        None => {
            let _ = tokio::io::copy_bidirectional(&mut enclave, &mut exchange).await;
        }
        Some(limit) => {
            cut_after(enclave, exchange, limit).await;
            state.cuts.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Relays until `limit` bytes went from the exchange to the enclave, then
/// drops both sides (mid TLS record, mid HTTP response).
async fn cut_after(enclave: Stream, exchange: TcpStream, limit: usize) {
    let (mut enc_r, mut enc_w) = tokio::io::split(enclave);
    let (mut ex_r, mut ex_w) = exchange.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut enc_r, &mut ex_w).await;
    });
    let mut sent = 0usize;
    let mut buf = vec![0u8; 4096];
    while sent < limit {
        let n = match ex_r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n.min(limit - sent),
        };
        if enc_w.write_all(&buf[..n]).await.is_err() {
            break;
        }
        sent += n;
    }
    upstream.abort();
    let _ = enc_w.shutdown().await;
}
