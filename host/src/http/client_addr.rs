//! Who the client is behind a load balancer. The shipped CloudFormation puts
//! an ALB in front of the hosts, so every connection comes from the
//! balancer; rate limits and the lockout keyed on that address would make
//! one client's failures everyone's. With `TRUSTED_PROXIES` (CIDRs) the
//! client address is read from `X-Forwarded-For`, from the right, past
//! trusted hops only: a client can prepend what it likes, but not what a
//! trusted proxy appended. A connection from anywhere else is its own client.

use std::net::IpAddr;

use http::HeaderMap;

/// Most `X-Forwarded-For` bytes read (all headers together).
pub const MAX_FORWARDED_LEN: usize = 4096;
/// Most CIDRs in `TRUSTED_PROXIES`.
pub const MAX_TRUSTED_PROXIES: usize = 64;

/// One CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Self> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a.parse::<IpAddr>().ok()?, b.parse::<u8>().ok()?),
            None => {
                let a = s.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (bits <= max).then_some(Self { net: addr, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let (a, b) = match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(i)) => (
                u128::from(u32::from(n)) << 96,
                u128::from(u32::from(i)) << 96,
            ),
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i)),
            _ => return false,
        };
        let mask = if self.bits == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.bits))
        };
        a & mask == b & mask
    }
}

/// The proxies whose `X-Forwarded-For` entries are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Comma-separated CIDRs or addresses; `None` for anything malformed.
    pub fn parse(s: &str) -> Option<Self> {
        let list: Option<Vec<Cidr>> = s
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(Cidr::parse)
            .collect();
        list.filter(|l| l.len() <= MAX_TRUSTED_PROXIES).map(Self)
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client's address: `peer` unless it is a trusted proxy; then the
    /// right-most `X-Forwarded-For` entry that is not a trusted proxy. An
    /// entry that does not parse ends the walk at the hop before it (the
    /// request counts as that proxy's), as does a header over the limit.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut chain = Vec::new();
        let mut len = 0;
        for v in headers.get_all("x-forwarded-for") {
            len += v.len();
            match v.to_str() {
                Ok(s) if len <= MAX_FORWARDED_LEN => chain.extend(s.split(',').map(str::trim)),
                _ => return peer,
            }
        }
        let mut client = peer;
        for hop in chain.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn reads_from_the_right_past_trusted_hops_only() {
        let t = TrustedProxies::parse("10.0.0.0/8, 192.168.1.5").unwrap();
        let lb = ip("10.1.2.3");
        // A client behind the balancer, spoofing an address on the left.
        assert_eq!(
            t.client(lb, &headers(&["6.6.6.6, 203.0.113.9"])),
            ip("203.0.113.9")
        );
        // Two trusted hops, two headers.
        let h = headers(&["203.0.113.9", "192.168.1.5, 10.9.9.9"]);
        assert_eq!(t.client(lb, &h), ip("203.0.113.9"));
        // From an untrusted peer the header is ignored.
        assert_eq!(
            t.client(ip("198.51.100.1"), &headers(&["203.0.113.9"])),
            ip("198.51.100.1")
        );
        // Garbage stops the walk at the last good hop; no header: the proxy.
        assert_eq!(
            t.client(lb, &headers(&["203.0.113.9, nonsense, 10.4.4.4"])),
            ip("10.4.4.4")
        );
        assert_eq!(t.client(lb, &HeaderMap::new()), lb);
        let big = "1.1.1.1,".repeat(600);
        assert_eq!(t.client(lb, &headers(&[&big])), lb);
        // IPv6 and v4-mapped peers.
        let t6 = TrustedProxies::parse("fd00::/8,127.0.0.1").unwrap();
        assert_eq!(
            t6.client(ip("fd00::1"), &headers(&["2001:db8::7"])),
            ip("2001:db8::7")
        );
        assert_eq!(
            t6.client(ip("::ffff:127.0.0.1"), &headers(&["203.0.113.9"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn malformed_lists_are_refused() {
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/8,", "::/129"] {
            let parsed = TrustedProxies::parse(bad);
            if bad == "10.0.0.0/8," {
                assert!(parsed.is_some(), "a trailing comma is tolerated");
            } else {
                assert!(parsed.is_none(), "{bad}");
            }
        }
        assert_eq!(TrustedProxies::parse(""), Some(TrustedProxies::default()));
    }
}
