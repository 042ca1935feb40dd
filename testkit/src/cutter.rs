//! A TCP relay that cuts connections on a plan: put between the host's egress
//! proxy and the mock exchange (`StackOpts::cutter`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP relay between the host's egress proxy and the mock exchange. Each new
/// connection takes the next entry of `plan`: `Some(k)` relays k bytes of the
/// exchange's answer stream (TLS records) and then closes both sides; `None`
/// (or an empty plan) relays everything.
pub struct Cutter {
    pub port: u16,
    pub plan: Arc<Mutex<VecDeque<Option<u64>>>>,
    /// Connections accepted.
    pub connections: Arc<AtomicUsize>,
    /// Connections cut.
    pub cuts: Arc<AtomicUsize>,
    /// Bytes relayed from the exchange, per connection, in accept order.
    pub down_bytes: Arc<Mutex<Vec<Arc<AtomicUsize>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Cutter {
    pub async fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let plan: Arc<Mutex<VecDeque<Option<u64>>>> = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let cuts = Arc::new(AtomicUsize::new(0));
        let down_bytes: Arc<Mutex<Vec<Arc<AtomicUsize>>>> = Arc::default();
        let (p, n, c, d) = (
            plan.clone(),
            connections.clone(),
            cuts.clone(),
            down_bytes.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                n.fetch_add(1, Ordering::SeqCst);
                let limit = p.lock().unwrap().pop_front().flatten();
                let counter = Arc::new(AtomicUsize::new(0));
                d.lock().unwrap().push(counter.clone());
                let cuts = c.clone();
                tokio::spawn(async move {
                    let Ok(up) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
                        return;
                    };
                    relay(client, up, limit, counter, cuts).await;
                });
            }
        });
        Cutter {
            port,
            plan,
            connections,
            cuts,
            down_bytes,
            task,
        }
    }

    pub fn set_plan(&self, plan: impl IntoIterator<Item = Option<u64>>) {
        *self.plan.lock().unwrap() = plan.into_iter().collect();
    }

    /// Bytes relayed from the exchange on connection `i` so far.
    pub fn bytes_of(&self, i: usize) -> usize {
        self.down_bytes.lock().unwrap()[i].load(Ordering::SeqCst)
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    client: TcpStream,
    up: TcpStream,
    limit: Option<u64>,
    counter: Arc<AtomicUsize>,
    cuts: Arc<AtomicUsize>,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = up.into_split();
    let upward = async {
        let _ = tokio::io::copy(&mut cr, &mut uw).await;
        let _ = uw.shutdown().await;
    };
    let downward = async {
        let mut buf = vec![0u8; 4096];
        let mut left = limit.unwrap_or(u64::MAX);
        loop {
            let n = match ur.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let take = usize::try_from(left.min(n as u64)).unwrap();
            if cw.write_all(&buf[..take]).await.is_err() {
                break;
            }
            counter.fetch_add(take, Ordering::SeqCst);
            left -= take as u64;
            if left == 0 {
                // Cut: both directions end here, mid-stream.
                cuts.fetch_add(1, Ordering::SeqCst);
                return true;
            }
        }
        let _ = cw.shutdown().await;
        false
    };
    // Whichever ends first (a cut, the exchange closing, the enclave closing)
    // ends the relay: dropping every half closes both sockets.
    tokio::select! {
        _ = downward => {}
        () = upward => {}
    }
}
