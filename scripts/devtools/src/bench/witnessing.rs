//! The cost of witnessing per `request_aggregates` (issue 16): the host
//! counts its witness rounds (a new checkpoint sent to every witness in
//! parallel, cosignatures stored) and their time; this reads them, and the
//! `request_aggregates` latency, from the stack host's `/metrics` (loopback).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::figure::{Figure, Goal};
use super::figures::BoxError;
use super::tiles::authority;
use crate::stack::Stack;

/// `GET /metrics` of `host` (plain HTTP on loopback), the body.
fn metrics(host: &str) -> Result<String, BoxError> {
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())?;
    let mut text = String::new();
    s.take(4 << 20).read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP body")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("/metrics answered {}", head.lines().next().unwrap_or("")).into());
    }
    Ok(body.to_owned())
}

/// The value of the sample line starting with `name ` (labels included).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Mean witness round vs mean `request_aggregates`, in milliseconds.
pub fn witnessing_figure(stack: &Stack) -> Result<Vec<Figure>, BoxError> {
    let text = metrics(&authority(&stack.host_url)?)?;
    let rounds = sample(&text, "strongroom_witness_rounds_total").ok_or("no witness counter")?;
    let micros = sample(&text, "strongroom_witness_microseconds_total").unwrap_or(0.0);
    if rounds == 0.0 {
        return Err(
            "no witness round yet: run request_aggregates against a stack with witnesses first"
                .into(),
        );
    }
    let route = "{route=\"/enclave/request_aggregates\"}";
    let sum = sample(
        &text,
        &format!("strongroom_http_request_duration_seconds_sum{route}"),
    );
    let count = sample(
        &text,
        &format!("strongroom_http_request_duration_seconds_count{route}"),
    );
    let (Some(sum), Some(count)) = (sum, count) else {
        return Err("no request_aggregates latency in /metrics".into());
    };
    let witness_ms = micros / rounds / 1000.0;
    let request_ms = sum / count * 1000.0;
    let note = format!(
        "mean time the host spent getting a new checkpoint cosigned ({} witness(es) on loopback, in parallel; {rounds} rounds), against the mean request_aggregates latency of the same run ({count} requests) in the ceiling column",
        stack.witnesses.len()
    );
    Ok(vec![Figure::from_runs(
        "witnessing_per_aggregates",
        "ms",
        &[witness_ms],
        &[request_ms],
        Goal::None,
        note,
    )])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_read_by_exact_name() {
        let text = "# TYPE x counter\nstrongroom_witness_rounds_total 4\nstrongroom_witness_rounds_total_x 9\nm{route=\"/a\"} 0.5\n";
        assert_eq!(sample(text, "strongroom_witness_rounds_total"), Some(4.0));
        assert_eq!(sample(text, "m{route=\"/a\"}"), Some(0.5));
        assert_eq!(sample(text, "missing"), None);
    }
}
