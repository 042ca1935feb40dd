//! Tiles served per second (issue 15.5): `concurrency` threads, each on one
//! keep-alive HTTP/1.1 connection to the stack's (loopback, plain HTTP)
//! host, fetch the log's level-0 tile for a fixed time; the ceiling is
//! `/healthz` on the same connections (the host's request path without the
//! database). One hand-written request per exchange, so the client costs
//! next to nothing beside the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::figures::BoxError;

/// The stack's `host:port` (plain HTTP only: the bench stack serves on loopback).
pub fn authority(host_url: &str) -> Result<String, BoxError> {
    let rest = host_url
        .strip_prefix("http://")
        .ok_or("the tiles bench needs a plain-HTTP loopback host")?;
    Ok(rest.trim_end_matches('/').to_owned())
}

/// One keep-alive connection.
struct Conn {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Conn {
    fn open(host: &str) -> Result<Self, BoxError> {
        let s = TcpStream::connect(host)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self {
            reader: BufReader::new(s),
            host: host.to_owned(),
        })
    }

    /// GETs `path`; returns the status and the body.
    fn get(&mut self, path: &str) -> Result<(u16, Vec<u8>), BoxError> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.reader.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line.split(' ').nth(1).ok_or("no status")?.parse()?;
        let mut len = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse()?;
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok((status, body))
    }
}

/// The path of the log's first level-0 tile (partial under 256 leaves).
pub fn first_tile_path(host: &str) -> Result<String, BoxError> {
    let (status, body) = Conn::open(host)?.get("/transparency/head")?;
    if status != 200 {
        return Err(format!("/transparency/head answered {status}: the log is empty?").into());
    }
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let size = v["tree_size"].as_u64().ok_or("no tree_size")?;
    Ok(match size {
        0 => return Err("the log is empty".into()),
        1..=255 => format!("/tile/0/000.p/{size}"),
        _ => "/tile/0/000".to_owned(),
    })
}

/// Answers per second for `path` with `concurrency` connections over `dur`;
/// any answer but 200 fails the run.
pub fn rate(host: &str, path: &str, concurrency: usize, dur: Duration) -> Result<f64, BoxError> {
    let done = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1) {
            s.spawn(|| {
                let ok = (|| -> Result<(), BoxError> {
                    let mut c = Conn::open(host)?;
                    while t0.elapsed() < dur && !failed.load(Ordering::Relaxed) {
                        let (status, _) = c.get(path)?;
                        if status != 200 {
                            return Err(format!("{path} answered {status}").into());
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })();
                if let Err(e) = ok {
                    eprintln!("tiles bench: {e}");
                    failed.store(true, Ordering::Relaxed);
                }
            });
        }
    });
    if failed.load(Ordering::Relaxed) {
        return Err(format!("fetching {path} failed").into());
    }
    Ok(done.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64())
}
