//! The audit log's client pseudonyms. The rows are written by
//! [`crate::store::audit`].

use std::net::IpAddr;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Keyed hash of client addresses: rows can be correlated per address without
/// storing the address. The key lives in memory only as long as the process.
pub struct Pseudonymizer {
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer")
    }
}

impl Pseudonymizer {
    /// Takes ownership of the key bytes.
    pub fn new(key: Zeroizing<Vec<u8>>) -> Self {
        Self { key }
    }

    /// `hex(HMAC-SHA256(key, "strongroom/client/v1" || 0 || ip))`, first 16 bytes.
    /// A keyed pseudonym of any short label (the lockout's key prefixes).
    pub fn label(&self, label: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) else {
            return "0".repeat(32);
        };
        mac.update(b"strongroom/label/v1\0");
        mac.update(label.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    pub fn client(&self, ip: IpAddr) -> String {
        // HMAC accepts keys of any length, so this cannot fail; fall back to a
        // constant pseudonym rather than panicking should that ever change.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) else {
            return "0".repeat(32);
        };
        mac.update(b"strongroom/client/v1\0");
        mac.update(ip.to_string().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let a = Pseudonymizer::new(Zeroizing::new(vec![1; 32]));
        let b = Pseudonymizer::new(Zeroizing::new(vec![2; 32]));
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(a.client(ip), a.client(ip));
        assert_ne!(a.client(ip), b.client(ip));
        assert!(!a.client(ip).contains("203"));
        assert_eq!(format!("{a:?}"), "Pseudonymizer");
    }
}
