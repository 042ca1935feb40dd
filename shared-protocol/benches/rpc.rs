//! RPC round trips over a real unix socket, next to a bare length-prefixed echo
//! over the same kind of socket (the ceiling: no CBOR, no ids, no tasks).
//!
//! `cargo bench -p strongroom-protocol --bench rpc [-- --json]` prints
//! requests/s and p50/p99 latency for 1 and 64 calls in flight.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use strongroom_protocol::client::{ClientConfig, RpcClient};
use strongroom_protocol::frame::{read_frame, write_frame};
use strongroom_protocol::messages::{HealthInfo, Phase, RequestBody, ResponseBody};
use strongroom_protocol::server::{Handler, ServerConfig, serve};
use strongroom_protocol::transport::{Address, Listener};

struct Health;
impl Handler for Health {
    async fn handle(&self, _: RequestBody) -> ResponseBody {
        ResponseBody::Health(HealthInfo {
            phase: Phase::Ready,
            version: "bench".into(),
            simulator: true,
        })
    }
}

struct Stats {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
}

fn stats(mut lat: Vec<Duration>, elapsed: Duration) -> Stats {
    lat.sort();
    let at = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e6;
    Stats {
        rps: lat.len() as f64 / elapsed.as_secs_f64(),
        p50_us: at(0.5),
        p99_us: at(0.99),
    }
}

async fn rpc_run(addr: &Address, in_flight: usize, total: usize) -> Stats {
    let client = Arc::new(RpcClient::new(addr.clone(), ClientConfig::default()));
    client.call(RequestBody::Health).await.unwrap();
    let start = Instant::now();
    let per = total / in_flight;
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    c.call(RequestBody::Health).await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    stats(lat, start.elapsed())
}

/// Echo ceiling: `in_flight` connections, each sending a frame and waiting for it back.
async fn echo_run(path: &std::path::Path, in_flight: usize, total: usize) -> Stats {
    let per = total / in_flight;
    let start = Instant::now();
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            let path = path.to_owned();
            tokio::spawn(async move {
                let mut s = tokio::net::UnixStream::connect(path).await.unwrap();
                let msg = vec![0xA5u8; 40];
                let mut lat = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    write_frame(&mut s, &msg, 1 << 20).await.unwrap();
                    read_frame(&mut s, 1 << 20).await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    stats(lat, start.elapsed())
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let quick = std::env::args().any(|a| a == "--quick");
    let total = if quick { 20_000 } else { 100_000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let addr = Address::Unix(dir.path().join("rpc.sock"));
        let listener = Listener::bind(&addr).unwrap();
        tokio::spawn(serve(listener, Arc::new(Health), ServerConfig::default(), std::future::pending()));
        let echo_path = dir.path().join("echo.sock");
        let echo = tokio::net::UnixListener::bind(&echo_path).unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = echo.accept().await.unwrap();
                tokio::spawn(async move {
                    while let Ok(f) = read_frame(&mut s, 1 << 20).await {
                        if write_frame(&mut s, &f, 1 << 20).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let mut rows = Vec::new();
        for in_flight in [1usize, 64] {
            let n = if in_flight == 1 { total / 4 } else { total };
            let echo = echo_run(&echo_path, in_flight, n).await;
            let rpc = rpc_run(&addr, in_flight, n).await;
            rows.push((in_flight, rpc, echo));
        }
        if json {
            let items: Vec<String> = rows
                .iter()
                .map(|(k, r, e)| {
                    format!(
                        "{{\"in_flight\":{k},\"rpc_rps\":{:.0},\"rpc_p50_us\":{:.1},\"rpc_p99_us\":{:.1},\"echo_rps\":{:.0},\"echo_p50_us\":{:.1},\"echo_p99_us\":{:.1}}}",
                        r.rps, r.p50_us, r.p99_us, e.rps, e.p50_us, e.p99_us
                    )
                })
                .collect();
            println!("[{}]", items.join(","));
        } else {
            println!("| in flight | RPC req/s | RPC p50 µs | RPC p99 µs | echo req/s | echo p50 µs | echo p99 µs | ratio |");
            println!("|---|---|---|---|---|---|---|---|");
            for (k, r, e) in rows {
                println!(
                    "| {k} | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {:.2} |",
                    r.rps, r.p50_us, r.p99_us, e.rps, e.p50_us, e.p99_us, r.rps / e.rps
                );
            }
        }
    });
}
