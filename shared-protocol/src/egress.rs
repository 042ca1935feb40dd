//! Enclave egress through the host. The enclave has no network of its own: to
//! reach the exchange it opens a stream to the host's egress proxy (same
//! transports as the RPC), names a destination in one frame, and after the
//! proxy's one-frame answer the stream carries raw bytes — the enclave's TLS
//! session, which the host cannot read.
//!
//! ```text
//! enclave -> proxy   frame: EgressOpen {"version": 1, "host": text, "port": uint}
//! proxy   -> enclave frame: EgressReply "connected" | {"refused": RpcError}
//! then      raw bytes both ways until either side closes
//! ```
//!
//! Both sides enforce an allowlist: the proxy its own (host configuration), the
//! enclave its own (measured configuration) before it even asks.

#[cfg(feature = "io")]
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, RpcError};
#[cfg(feature = "io")]
use crate::{
    codec::{decode, encode},
    frame::{read_frame, write_frame},
    transport::{Address, Stream, connect},
};

/// Version of the egress preamble.
pub const EGRESS_VERSION: u32 = 1;

/// Largest preamble frame (a host name is at most 253 bytes).
pub const MAX_EGRESS_FRAME_LEN: usize = 1024;

/// Longest destination host name.
pub const MAX_HOST_LEN: usize = 253;

/// The enclave's request for a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressOpen {
    /// [`EGRESS_VERSION`].
    pub version: u32,
    /// DNS name or IP literal of the destination.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// The proxy's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EgressReply {
    /// The TCP connection is up; raw bytes follow.
    Connected,
    /// Not allowed (`egress_refused`) or not reachable (`exchange_unreachable`).
    Refused(RpcError),
}

/// Why an egress stream could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EgressError {
    /// The proxy itself could not be reached.
    #[error("egress proxy unreachable")]
    ProxyUnreachable,
    /// The proxy refused or could not connect.
    #[error("egress refused: {0}")]
    Refused(RpcError),
    /// No answer in time.
    #[error("egress timed out")]
    Timeout,
    /// The proxy did not speak the preamble.
    #[error("egress protocol violation")]
    Protocol,
}

impl EgressError {
    /// The RPC error code this failure maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            EgressError::Refused(e) => e.code,
            _ => ErrorCode::ExchangeUnreachable,
        }
    }
}

/// Whether `host` is a plausible destination name (letters, digits, `-`, `.`,
/// and `:` for IPv6 literals), so nothing odd reaches a resolver or a log line.
pub fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':')
}

/// Opens a stream to `host:port` through the proxy at `proxy`.
#[cfg(feature = "io")]
pub async fn open(
    proxy: &Address,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Stream, EgressError> {
    tokio::time::timeout(timeout, open_inner(proxy, host, port))
        .await
        .map_err(|_| EgressError::Timeout)?
}

#[cfg(feature = "io")]
async fn open_inner(proxy: &Address, host: &str, port: u16) -> Result<Stream, EgressError> {
    let mut stream = connect(proxy)
        .await
        .map_err(|_| EgressError::ProxyUnreachable)?;
    let open = EgressOpen {
        version: EGRESS_VERSION,
        host: host.to_owned(),
        port,
    };
    let bytes = encode(&open).map_err(|_| EgressError::Protocol)?;
    write_frame(&mut stream, &bytes, MAX_EGRESS_FRAME_LEN)
        .await
        .map_err(|_| EgressError::ProxyUnreachable)?;
    let reply = read_frame(&mut stream, MAX_EGRESS_FRAME_LEN)
        .await
        .map_err(|_| EgressError::Protocol)?;
    match decode::<EgressReply>(&reply).map_err(|_| EgressError::Protocol)? {
        EgressReply::Connected => Ok(stream),
        EgressReply::Refused(err) => Err(EgressError::Refused(err)),
    }
}

/// Reads the enclave's preamble (proxy side).
#[cfg(feature = "io")]
pub async fn read_open(stream: &mut Stream) -> Result<EgressOpen, EgressError> {
    let bytes = read_frame(stream, MAX_EGRESS_FRAME_LEN)
        .await
        .map_err(|_| EgressError::Protocol)?;
    let open = decode::<EgressOpen>(&bytes).map_err(|_| EgressError::Protocol)?;
    if open.version != EGRESS_VERSION || !valid_host(&open.host) {
        return Err(EgressError::Protocol);
    }
    Ok(open)
}

/// Writes the proxy's answer (proxy side).
#[cfg(feature = "io")]
pub async fn write_reply(stream: &mut Stream, reply: &EgressReply) -> Result<(), EgressError> {
    let bytes = encode(reply).map_err(|_| EgressError::Protocol)?;
    write_frame(stream, &bytes, MAX_EGRESS_FRAME_LEN)
        .await
        .map_err(|_| EgressError::ProxyUnreachable)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn host_names_are_checked() {
        for ok in [
            "api.binance.com",
            "localhost",
            "127.0.0.1",
            "::1",
            "kms.eu-west-1.amazonaws.com",
        ] {
            assert!(valid_host(ok), "{ok}");
        }
        for bad in ["", "a b", "evil.com/x", "x\n", &"a".repeat(254)] {
            assert!(!valid_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn preamble_golden_bytes() {
        let open = EgressOpen {
            version: 1,
            host: "localhost".into(),
            port: 443,
        };
        assert_eq!(
            hex::encode(encode(&open).unwrap()),
            "a36776657273696f6e0164686f7374696c6f63616c686f737464706f72741901bb"
        );
        assert_eq!(
            hex::encode(encode(&EgressReply::Connected).unwrap()),
            "69636f6e6e6563746564"
        );
    }
}
