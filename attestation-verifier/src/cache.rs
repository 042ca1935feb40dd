//! [`VerifierCache`]: remembers certificate signatures that verified, so a
//! verifier that sees many documents from the same enclaves (a host, an
//! auditor replaying a log, a load generator) skips the P-384 ECDSA
//! verification of certificates it has already checked.
//!
//! Only the *signature* result is cached, keyed by SHA-256 over the exact
//! DER bytes of the issuer and the certificate. The bytes determine the
//! issuer key, the signed TBS and the signature, so a hit means "this exact
//! signature check passed before" and nothing else. Everything else —
//! pinned root, name linkage, validity at `now`, basicConstraints,
//! pathLen, keyUsage, critical extensions, the document's own signature
//! and the whole policy — is checked on every call. Failed checks are
//! never cached.

use sha2::{Digest, Sha256};
use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// Default number of remembered (issuer, certificate) pairs.
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

type Key = [u8; 32];

/// A bounded, thread-safe set of verified (issuer, certificate) signatures.
/// When full, the oldest entry is forgotten first.
#[derive(Debug)]
pub struct VerifierCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    set: HashSet<Key>,
    order: VecDeque<Key>,
}

impl Default for VerifierCache {
    fn default() -> Self {
        Self::new(DEFAULT_CACHE_CAPACITY)
    }
}

impl VerifierCache {
    /// A cache remembering at most `capacity` signatures (0 disables it).
    pub fn new(capacity: usize) -> Self {
        VerifierCache {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Number of remembered signatures.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.set.len()).unwrap_or(0)
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything.
    pub fn clear(&self) {
        if let Ok(mut i) = self.inner.lock() {
            i.set.clear();
            i.order.clear();
        }
    }

    /// Whether `cert`'s signature under `issuer` verified before.
    pub(crate) fn contains(&self, issuer_der: &[u8], cert_der: &[u8]) -> bool {
        let key = key(issuer_der, cert_der);
        // A poisoned lock only costs the optimisation: verify again.
        self.inner.lock().is_ok_and(|i| i.set.contains(&key))
    }

    /// Records that `cert`'s signature under `issuer` verified.
    pub(crate) fn insert(&self, issuer_der: &[u8], cert_der: &[u8]) {
        if self.capacity == 0 {
            return;
        }
        let key = key(issuer_der, cert_der);
        let Ok(mut i) = self.inner.lock() else {
            return;
        };
        if !i.set.insert(key) {
            return;
        }
        i.order.push_back(key);
        while i.order.len() > self.capacity {
            if let Some(old) = i.order.pop_front() {
                i.set.remove(&old);
            }
        }
    }
}

/// SHA-256(len(issuer) as u64 BE || issuer || cert): the length prefix
/// keeps (A, BC) and (AB, C) apart.
fn key(issuer_der: &[u8], cert_der: &[u8]) -> Key {
    let mut h = Sha256::new();
    h.update((issuer_der.len() as u64).to_be_bytes());
    h.update(issuer_der);
    h.update(cert_der);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_fifo_and_unambiguous_keys() {
        let c = VerifierCache::new(2);
        c.insert(b"a", b"1");
        c.insert(b"a", b"2");
        c.insert(b"a", b"2");
        assert_eq!(c.len(), 2);
        c.insert(b"a", b"3");
        assert_eq!(c.len(), 2);
        assert!(!c.contains(b"a", b"1"));
        assert!(c.contains(b"a", b"2") && c.contains(b"a", b"3"));
        assert!(!c.contains(b"a2", b""));
        c.clear();
        assert!(c.is_empty());
        let off = VerifierCache::new(0);
        off.insert(b"a", b"1");
        assert!(!off.contains(b"a", b"1"));
    }
}
