//! Scenario 5: Slowloris: slow request heads (raw sockets, here) do not starve other clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::*;

/// A connection that sends a request head one byte at a time, forever, and
/// reconnects when the host closes it. Counts how often the host closed it.
fn slowloris(addr: String, stop: Arc<AtomicBool>, closed: Arc<AtomicUsize>, gap: Duration) {
    tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            let Ok(mut sock) = TcpStream::connect(&addr).await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let head = format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n");
            let mut bytes = head.into_bytes();
            bytes.extend(std::iter::repeat_n(b'x', 1_000_000));
            for b in bytes {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                if sock.write_all(&[b]).await.is_err() {
                    closed.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                tokio::time::sleep(gap).await;
            }
        }
    });
}

async fn timed_healthz(addr: &str, n: usize, pause: Duration) -> Vec<Duration> {
    let mut out = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        let r = try_http(addr, "GET", "/healthz", &[], None, Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("a normal client starved: {e}"));
        assert_eq!(r.status, 200, "{}", body_text(&r));
        out.push(start.elapsed());
        tokio::time::sleep(pause).await;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_does_not_starve_other_clients() {
    bounded(async {
        // Header timeout 2 s; at most 48 connections at once.
        let s = Stack::start(StackOpts {
            host_env: vec![
                ("HEADER_READ_TIMEOUT_MS".into(), "2000".into()),
                ("MAX_CONNECTIONS".into(), "48".into()),
            ],
            ..StackOpts::default()
        })
        .await;
        let addr = s.host.addr.clone();

        // a) 40 slow connections, under the connection limit: others are
        //    served at once, and every slow one is cut by the header timeout
        //    although it keeps sending.
        let stop = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(AtomicUsize::new(0));
        for _ in 0..40 {
            slowloris(
                addr.clone(),
                stop.clone(),
                closed.clone(),
                Duration::from_millis(200),
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let lat = timed_healthz(&addr, 15, Duration::from_millis(200)).await;
        let worst = lat.iter().max().unwrap();
        assert!(*worst < Duration::from_secs(2), "served slowly: {lat:?}");
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert!(
            closed.load(Ordering::SeqCst) >= 40,
            "the header timeout did not cut the slow connections: {} closed",
            closed.load(Ordering::SeqCst)
        );
        stop.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;

        // b) 150 slow connections, three times the limit, reconnecting as soon
        //    as they are cut: a normal client waits in the accept queue at most
        //    about a header timeout per limit's worth of attackers ahead of it,
        //    and is always served.
        let stop = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(AtomicUsize::new(0));
        for _ in 0..150 {
            slowloris(
                addr.clone(),
                stop.clone(),
                closed.clone(),
                Duration::from_millis(200),
            );
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let lat = timed_healthz(&addr, 4, Duration::from_millis(300)).await;
        stop.store(true, Ordering::SeqCst);
        let worst = lat.iter().max().unwrap();
        eprintln!("normal client under 150 slow connections: {lat:?}");
        assert!(*worst < Duration::from_secs(10), "starved: {lat:?}");
        // The host is healthy afterwards.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let lat = timed_healthz(&addr, 3, Duration::from_millis(50)).await;
        assert!(
            *lat.iter().max().unwrap() < Duration::from_secs(1),
            "{lat:?}"
        );
        assert!(s.host.child.id().is_some());
    })
    .await;
}
