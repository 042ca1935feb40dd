//! Transport addresses and the two transports: `vsock://CID:PORT` (production,
//! between the parent instance and the enclave) and `unix:///path` (development and
//! tests; many machines have no vsock loopback). Everything above returns a
//! [`Stream`], so the rest of the code is the same on both.

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest address string accepted.
pub const MAX_ADDRESS_LEN: usize = 512;

/// Where to listen or connect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// An AF_VSOCK address.
    Vsock {
        /// Context id (on Nitro the parent instance is 3; enclaves get 4 and up).
        cid: u32,
        /// Port.
        port: u32,
    },
    /// A unix domain socket path (absolute).
    Unix(PathBuf),
}

/// An address string that is not `vsock://CID:PORT` or `unix:///abs/path`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid transport address (expected vsock://CID:PORT or unix:///absolute/path): {0}")]
pub struct AddressError(&'static str);

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_ADDRESS_LEN {
            return Err(AddressError("too long"));
        }
        if let Some(rest) = s.strip_prefix("vsock://") {
            let (cid, port) = rest.split_once(':').ok_or(AddressError("missing port"))?;
            let cid = cid.parse().map_err(|_| AddressError("bad CID"))?;
            let port = port.parse().map_err(|_| AddressError("bad port"))?;
            return Ok(Address::Vsock { cid, port });
        }
        if let Some(path) = s.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(AddressError("unix path must be absolute"));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        Err(AddressError("unknown scheme"))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Vsock { cid, port } => write!(f, "vsock://{cid}:{port}"),
            Address::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// A connected byte stream on either transport.
pub enum Stream {
    /// Unix domain socket.
    Unix(tokio::net::UnixStream),
    /// vsock.
    Vsock(tokio_vsock::VsockStream),
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stream::Unix(_) => f.write_str("Stream::Unix"),
            Stream::Vsock(_) => f.write_str("Stream::Vsock"),
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Unix($s) => {
                let $s = Pin::new($s);
                $e
            }
            Stream::Vsock($s) => {
                let $s = Pin::new($s);
                $e
            }
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        delegate!(self, s => s.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_shutdown(cx))
    }
}

/// Connects to `addr`.
pub async fn connect(addr: &Address) -> std::io::Result<Stream> {
    match addr {
        Address::Unix(path) => Ok(Stream::Unix(tokio::net::UnixStream::connect(path).await?)),
        Address::Vsock { cid, port } => Ok(Stream::Vsock(
            tokio_vsock::VsockStream::connect(tokio_vsock::VsockAddr::new(*cid, *port)).await?,
        )),
    }
}

/// A bound listener on either transport.
pub enum Listener {
    /// Unix domain socket listener (the socket file is removed on drop).
    Unix(tokio::net::UnixListener, PathBuf),
    /// vsock listener.
    Vsock(tokio_vsock::VsockListener),
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listener::Unix(_, p) => write!(f, "Listener::Unix({})", p.display()),
            Listener::Vsock(_) => f.write_str("Listener::Vsock"),
        }
    }
}

impl Listener {
    /// Binds `addr`. A stale unix socket file left by a crashed process is replaced.
    pub fn bind(addr: &Address) -> std::io::Result<Listener> {
        match addr {
            Address::Unix(path) => {
                if path.exists() {
                    std::fs::remove_file(path)?;
                }
                Ok(Listener::Unix(
                    tokio::net::UnixListener::bind(path)?,
                    path.clone(),
                ))
            }
            Address::Vsock { cid, port } => Ok(Listener::Vsock(tokio_vsock::VsockListener::bind(
                tokio_vsock::VsockAddr::new(*cid, *port),
            )?)),
        }
    }

    /// Accepts the next connection.
    pub async fn accept(&self) -> std::io::Result<Stream> {
        match self {
            Listener::Unix(l, _) => Ok(Stream::Unix(l.accept().await?.0)),
            Listener::Vsock(l) => Ok(Stream::Vsock(l.accept().await?.0)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_and_prints_addresses() {
        let v: Address = "vsock://16:5000".parse().unwrap();
        assert_eq!(
            v,
            Address::Vsock {
                cid: 16,
                port: 5000
            }
        );
        assert_eq!(v.to_string(), "vsock://16:5000");
        let u: Address = "unix:///tmp/x.sock".parse().unwrap();
        assert_eq!(u, Address::Unix("/tmp/x.sock".into()));
        assert_eq!(u.to_string(), "unix:///tmp/x.sock");
        for bad in [
            "",
            "tcp://1:2",
            "vsock://16",
            "vsock://a:1",
            "vsock://1:99999999999",
            "unix://relative",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
        assert!("unix:///".repeat(200).parse::<Address>().is_err());
    }
}
