//! The HAProxy PROXY protocol version 2 header (binary form), as a load
//! balancer such as AWS NLB sends it first on each connection: a 16-byte
//! fixed part (the 12-byte signature, version and command, address family
//! and protocol, the length of the rest), then the addresses and optional
//! TLVs. Only what the host needs is read: for `PROXY` over TCP/IPv4 or
//! TCP/IPv6 the client's source address; `LOCAL` (the balancer's own health
//! check) names none. Bounded: a header longer than [`MAX_PROXY_V2_LEN`] is
//! refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature.
pub const PROXY_V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Length of the fixed part.
pub const PROXY_V2_FIXED_LEN: usize = 16;
/// Largest variable part read (addresses and TLVs): AWS NLB's TLVs fit well.
pub const MAX_PROXY_V2_LEN: usize = 512;

/// Why a PROXY v2 header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// Not the v2 signature, or not version 2.
    #[error("not a PROXY protocol v2 header")]
    NotV2,
    /// A command other than LOCAL (0) or PROXY (1).
    #[error("unknown PROXY protocol command")]
    Command,
    /// Longer than [`MAX_PROXY_V2_LEN`].
    #[error("PROXY protocol header too long")]
    TooLong,
    /// The addresses do not fit the stated length for the family.
    #[error("PROXY protocol addresses truncated")]
    Truncated,
}

/// The fixed part, parsed: the command and family, and how many bytes follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyFixed {
    /// `true` for PROXY (addresses follow), `false` for LOCAL.
    pub proxied: bool,
    /// Address family and transport byte (0x11 TCP/IPv4, 0x21 TCP/IPv6, ...).
    pub family: u8,
    /// Bytes of addresses and TLVs that follow.
    pub len: usize,
}

/// Parses the 16-byte fixed part.
pub fn parse_fixed(fixed: &[u8; PROXY_V2_FIXED_LEN]) -> Result<ProxyFixed, ProxyError> {
    if fixed[..12] != PROXY_V2_SIGNATURE || fixed[12] >> 4 != 2 {
        return Err(ProxyError::NotV2);
    }
    let proxied = match fixed[12] & 0x0f {
        0 => false,
        1 => true,
        _ => return Err(ProxyError::Command),
    };
    let len = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if len > MAX_PROXY_V2_LEN {
        return Err(ProxyError::TooLong);
    }
    Ok(ProxyFixed {
        proxied,
        family: fixed[13],
        len,
    })
}

/// The client's address from the variable part (`rest`, exactly
/// `fixed.len` bytes): `None` for LOCAL and for families other than TCP
/// over IPv4/IPv6 (the connection's own peer then stands). TLVs after the
/// addresses are ignored.
pub fn source(fixed: &ProxyFixed, rest: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
    if rest.len() != fixed.len {
        return Err(ProxyError::Truncated);
    }
    if !fixed.proxied {
        return Ok(None);
    }
    match fixed.family {
        0x11 => {
            let a = rest.get(..12).ok_or(ProxyError::Truncated)?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            let port = u16::from_be_bytes([a[8], a[9]]);
            Ok(Some(SocketAddr::new(IpAddr::V4(ip), port)))
        }
        0x21 => {
            let a = rest.get(..36).ok_or(ProxyError::Truncated)?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&a[..16]);
            let port = u16::from_be_bytes([a[32], a[33]]);
            Ok(Some(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(octets)),
                port,
            )))
        }
        _ => Ok(None),
    }
}

/// A PROXY v2 header for `src` -> `dst` (tests and tools).
pub fn encode_v2(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let mut out = PROXY_V2_SIGNATURE.to_vec();
    out.push(0x21);
    match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            out.push(0x11);
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.ip().octets());
            out.extend_from_slice(&d.ip().octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
        (s, d) => {
            let v6 = |a: SocketAddr| match a.ip() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            out.push(0x21);
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&v6(s).octets());
            out.extend_from_slice(&v6(d).octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn split(h: &[u8]) -> ([u8; 16], &[u8]) {
        (h[..16].try_into().unwrap(), &h[16..])
    }

    #[test]
    fn round_trips_ipv4_and_ipv6_sources() {
        for (src, dst) in [
            ("203.0.113.7:40000", "10.40.0.5:443"),
            ("[2001:db8::7]:40000", "[2001:db8::1]:443"),
        ] {
            let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
            let h = encode_v2(src, dst);
            let (fixed, rest) = split(&h);
            let f = parse_fixed(&fixed).unwrap();
            assert!(f.proxied);
            assert_eq!(source(&f, rest).unwrap(), Some(src));
        }
    }

    #[test]
    fn refuses_v1_other_commands_lengths_and_truncation() {
        let h = encode_v2("1.2.3.4:5".parse().unwrap(), "5.6.7.8:9".parse().unwrap());
        let (mut fixed, rest) = split(&h);
        let mut v1 = fixed;
        v1[..6].copy_from_slice(b"PROXY ");
        assert_eq!(parse_fixed(&v1), Err(ProxyError::NotV2));
        let mut cmd = fixed;
        cmd[12] = 0x22;
        assert_eq!(parse_fixed(&cmd), Err(ProxyError::Command));
        let mut long = fixed;
        long[14..16].copy_from_slice(&600u16.to_be_bytes());
        assert_eq!(parse_fixed(&long), Err(ProxyError::TooLong));
        let f = parse_fixed(&fixed).unwrap();
        assert_eq!(source(&f, &rest[..11]), Err(ProxyError::Truncated));
        // LOCAL: no source; an unknown family: none either.
        fixed[12] = 0x20;
        assert_eq!(source(&parse_fixed(&fixed).unwrap(), rest), Ok(None));
        let mut unix = h.clone();
        unix[12] = 0x21;
        unix[13] = 0x31;
        let (fx, r) = split(&unix);
        assert_eq!(source(&parse_fixed(&fx).unwrap(), r), Ok(None));
    }
}
