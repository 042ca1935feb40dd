//! The verifier's one ECDSA verification primitive: every signature this
//! crate checks (certificate signatures, the document's ES384 signature,
//! ES256 results and tree heads) goes through [`verify`], which calls
//! `ring::signature`.
//!
//! Why ring: a cold `verify` checks five P-384 signatures (four certificates
//! and the document), and that arithmetic is nearly all of its cost. ring's
//! P-384 is faster than RustCrypto's generic constant-time Montgomery code
//! (about 0.8 against 0.9 ms per verification on the bench machine, which
//! put us ahead of the peer verifier instead of behind it; README), and ring
//! is already in the enclave's trusted base (rustls, rustls-webpki), so
//! using it adds no crate there.
//!
//! Public keys are still *decoded* with RustCrypto (`p256`/`p384`) when a
//! certificate is parsed: that keeps CHECKLIST.md 13 ("a valid point") a
//! parse-time check with its own error, and accepts what was accepted before
//! (compressed points are decompressed). ring gets the uncompressed point
//! and validates it again on every verification.

#[cfg(not(target_arch = "wasm32"))]
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_ASN1,
    ECDSA_P384_SHA384_FIXED, EcdsaVerificationAlgorithm, UnparsedPublicKey,
};

/// The two curves accepted, each with its own hash (P-256 with SHA-256,
/// P-384 with SHA-384); the mixed combinations are never used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
}

/// How the signature is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// DER `Ecdsa-Sig-Value` (X.509 certificate signatures).
    Asn1,
    /// Fixed-length `r || s` (COSE ES256 / ES384).
    Fixed,
}

/// Whether `signature` over `message` verifies under `public_key` (an
/// uncompressed SEC1 point on `curve`). Every failure, including a key that
/// is not a valid point, is `false`: callers map it to one opaque error.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn verify(
    curve: Curve,
    encoding: Encoding,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    let algorithm: &'static EcdsaVerificationAlgorithm = match (curve, encoding) {
        (Curve::P256, Encoding::Asn1) => &ECDSA_P256_SHA256_ASN1,
        (Curve::P256, Encoding::Fixed) => &ECDSA_P256_SHA256_FIXED,
        (Curve::P384, Encoding::Asn1) => &ECDSA_P384_SHA384_ASN1,
        (Curve::P384, Encoding::Fixed) => &ECDSA_P384_SHA384_FIXED,
    };
    UnparsedPublicKey::new(algorithm, public_key)
        .verify(message, signature)
        .is_ok()
}

/// A public key that decoded as a valid point: its curve and its
/// uncompressed SEC1 encoding (what ring takes).
/// The browser build (wasm32, where ring would need a C toolchain for the
/// target): RustCrypto's verification, which `sig_tests.rs` checks agrees
/// with ring's answer on random valid, high-s and tampered signatures.
#[cfg(target_arch = "wasm32")]
pub(crate) fn verify(
    curve: Curve,
    encoding: Encoding,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    rustcrypto_verify(curve, encoding, public_key, message, signature)
}

/// ECDSA verification with RustCrypto's p256/p384: the browser build's, and
/// the reference ring is compared with in tests.
#[cfg(any(target_arch = "wasm32", test))]
pub(crate) fn rustcrypto_verify(
    curve: Curve,
    encoding: Encoding,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    use p384::ecdsa::signature::Verifier;
    macro_rules! check {
        ($krate:ident) => {{
            use $krate::ecdsa::{DerSignature, Signature, VerifyingKey};
            let Ok(key) = VerifyingKey::from_sec1_bytes(public_key) else {
                return false;
            };
            match encoding {
                Encoding::Asn1 => DerSignature::from_bytes(signature)
                    .ok()
                    .is_some_and(|s| key.verify(message, &s).is_ok()),
                Encoding::Fixed => Signature::from_slice(signature)
                    .ok()
                    .is_some_and(|s| key.verify(message, &s).is_ok()),
            }
        }};
    }
    match curve {
        Curve::P256 => check!(p256),
        Curve::P384 => check!(p384),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EcPublicKey {
    curve: Curve,
    point: Box<[u8]>,
}

impl EcPublicKey {
    /// Decodes a SEC1 point (compressed or not) on `curve`; `None` unless it
    /// is a valid, non-identity point.
    pub(crate) fn from_sec1(curve: Curve, bytes: &[u8]) -> Option<Self> {
        let point = match curve {
            Curve::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .ok()?
                .to_sec1_point(false)
                .as_bytes()
                .into(),
            Curve::P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .ok()?
                .to_sec1_point(false)
                .as_bytes()
                .into(),
        };
        Some(EcPublicKey { curve, point })
    }

    /// The key of an ES256 signer (always a valid point).
    pub(crate) fn from_p256(key: &p256::ecdsa::VerifyingKey) -> Self {
        EcPublicKey {
            curve: Curve::P256,
            point: key.to_sec1_point(false).as_bytes().into(),
        }
    }

    pub(crate) fn curve(&self) -> Curve {
        self.curve
    }

    /// [`verify`] under this key.
    pub(crate) fn verifies(&self, encoding: Encoding, message: &[u8], signature: &[u8]) -> bool {
        verify(self.curve, encoding, &self.point, message, signature)
    }
}

#[cfg(test)]
#[path = "sig_tests.rs"]
mod tests;
