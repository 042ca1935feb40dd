//! ring (what `verify` uses) against RustCrypto (what the verifier used
//! before, kept as the reference): on random keys, messages and signatures,
//! valid and tampered, both give the same answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use p256::elliptic_curve::ff::PrimeField;
use p384::ecdsa::signature::Signer;
use proptest::prelude::*;

/// One signed message on one curve, in every encoding the verifier meets.
struct Case {
    curve: Curve,
    /// Uncompressed SEC1 point of the signer.
    public_key: Vec<u8>,
    /// The same point, compressed.
    compressed: Vec<u8>,
    /// Another key's uncompressed point.
    other_key: Vec<u8>,
    message: Vec<u8>,
    der: Vec<u8>,
    fixed: Vec<u8>,
    /// The same signature with s replaced by n - s (also valid ECDSA).
    der_high_s: Vec<u8>,
    fixed_high_s: Vec<u8>,
}

macro_rules! case_fn {
    ($name:ident, $krate:ident, $curve:expr) => {
        fn $name(seed: &[u8], other: &[u8], message: &[u8]) -> Option<Case> {
            use $krate::ecdsa::{Signature, SigningKey};
            let key = SigningKey::from_slice(seed).ok()?;
            let other = SigningKey::from_slice(other).ok()?;
            let sig: Signature = key.sign(message);
            let (r, s) = sig.split_scalars();
            let neg_s: $krate::Scalar = -*s;
            let high = Signature::from_scalars(r.to_repr(), neg_s.to_repr()).ok()?;
            let point = |k: &SigningKey, c| k.verifying_key().to_sec1_point(c).as_bytes().to_vec();
            Some(Case {
                curve: $curve,
                public_key: point(&key, false),
                compressed: point(&key, true),
                other_key: point(&other, false),
                message: message.to_vec(),
                der: sig.to_der().as_bytes().to_vec(),
                fixed: sig.to_bytes().to_vec(),
                der_high_s: high.to_der().as_bytes().to_vec(),
                fixed_high_s: high.to_bytes().to_vec(),
            })
        }
    };
}
case_fn!(p256_case, p256, Curve::P256);
case_fn!(p384_case, p384, Curve::P384);

/// The pre-ring verification, exactly as chain.rs / envelope.rs / cose.rs did
/// it (and as the browser build still does).
fn rustcrypto(curve: Curve, enc: Encoding, key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    rustcrypto_verify(curve, enc, key, msg, sig)
}

/// Both verifiers agree; returns the common answer.
fn agree(curve: Curve, enc: Encoding, key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let ours = verify(curve, enc, key, msg, sig);
    assert_eq!(
        ours,
        rustcrypto(curve, enc, key, msg, sig),
        "ring and RustCrypto disagree: {curve:?} {enc:?} key {} msg {} sig {}",
        hex::encode(key),
        hex::encode(msg),
        hex::encode(sig)
    );
    ours
}

/// `bytes` with one bit flipped: always different from `bytes`. The
/// generators never draw an empty input (flipping a bit of nothing would
/// leave it unchanged, and the "tampered" signature would verify: that
/// made this test fail about one run in ten).
fn flip(bytes: &[u8], at: usize, bit: u8) -> Vec<u8> {
    assert!(!bytes.is_empty(), "flip needs at least one byte");
    let mut out = bytes.to_vec();
    out[at % bytes.len()] ^= 1 << (bit % 8);
    out
}

/// Every variant of one case: the valid ones verify, the tampered ones do
/// not, and ring and RustCrypto agree on each.
fn check_case(c: &Case, at: usize, bit: u8, junk: &[u8]) {
    let (curve, pk, msg) = (c.curve, c.public_key.as_slice(), c.message.as_slice());
    for (enc, sig, high) in [
        (Encoding::Asn1, &c.der, &c.der_high_s),
        (Encoding::Fixed, &c.fixed, &c.fixed_high_s),
    ] {
        assert!(agree(curve, enc, pk, msg, sig), "valid {enc:?}");
        assert!(agree(curve, enc, pk, msg, high), "valid high-s {enc:?}");
        assert!(!agree(curve, enc, pk, &flip(msg, at, bit), sig));
        assert!(!agree(curve, enc, pk, msg, &flip(sig, at, bit)));
        assert!(!agree(curve, enc, &flip(pk, at, bit), msg, sig));
        assert!(!agree(curve, enc, &c.other_key, msg, sig));
        let mut longer = sig.clone();
        longer.push(0);
        assert!(!agree(curve, enc, pk, msg, &longer), "trailing byte");
        assert!(!agree(curve, enc, pk, msg, &sig[..sig.len() - 1]), "short");
        assert!(!agree(curve, enc, pk, msg, junk), "random signature");
    }
    // The other encoding, and the other curve, never verify.
    assert!(!agree(curve, Encoding::Asn1, pk, msg, &c.fixed));
    assert!(!agree(curve, Encoding::Fixed, pk, msg, &c.der));
    let other_curve = match curve {
        Curve::P256 => Curve::P384,
        Curve::P384 => Curve::P256,
    };
    assert!(!agree(other_curve, Encoding::Fixed, pk, msg, &c.fixed));
    // The key type decodes compressed points (as before) and hands ring
    // the uncompressed point.
    let key = EcPublicKey::from_sec1(curve, &c.compressed).unwrap();
    assert_eq!(key, EcPublicKey::from_sec1(curve, pk).unwrap());
    assert!(key.verifies(Encoding::Asn1, msg, &c.der));
    assert!(!key.verifies(Encoding::Asn1, &flip(msg, at, bit), &c.der));
    assert!(EcPublicKey::from_sec1(curve, &flip(pk, at, bit)).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ring_and_rustcrypto_agree_p384(
        seed in prop::collection::vec(any::<u8>(), 48),
        other in prop::collection::vec(1u8.., 48),
        message in prop::collection::vec(any::<u8>(), 1..600),
        at in any::<usize>(),
        bit in any::<u8>(),
        junk in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let case = p384_case(&seed, &other, &message);
        prop_assume!(case.is_some());
        check_case(&case.unwrap(), at, bit, &junk);
    }

    #[test]
    fn ring_and_rustcrypto_agree_p256(
        seed in prop::collection::vec(any::<u8>(), 32),
        other in prop::collection::vec(1u8.., 32),
        message in prop::collection::vec(any::<u8>(), 1..600),
        at in any::<usize>(),
        bit in any::<u8>(),
        junk in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let case = p256_case(&seed, &other, &message);
        prop_assume!(case.is_some());
        check_case(&case.unwrap(), at, bit, &junk);
    }

    /// Random bytes as key and signature: both refuse, never panic.
    #[test]
    fn random_inputs_never_verify(
        key in prop::collection::vec(any::<u8>(), 0..120),
        message in prop::collection::vec(any::<u8>(), 0..64),
        sig in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        for curve in [Curve::P256, Curve::P384] {
            for enc in [Encoding::Asn1, Encoding::Fixed] {
                prop_assert!(!agree(curve, enc, &key, &message, &sig));
            }
        }
    }
}

/// The empty message (which the property tests never draw, since they tamper
/// by flipping a bit of it) signs and verifies on both curves; one byte more
/// does not.
#[test]
fn empty_message_verifies_and_one_byte_more_does_not() {
    for case in [
        p256_case(&[7; 32], &[8; 32], b"").unwrap(),
        p384_case(&[7; 48], &[8; 48], b"").unwrap(),
    ] {
        for (enc, sig) in [(Encoding::Asn1, &case.der), (Encoding::Fixed, &case.fixed)] {
            assert!(agree(case.curve, enc, &case.public_key, b"", sig));
            assert!(!agree(case.curve, enc, &case.public_key, b"\0", sig));
        }
    }
}

/// The encoding and the curve are part of the check, not guessed.
#[test]
fn es384_fixed_and_asn1_are_not_interchangeable() {
    let c = p384_case(&[5; 48], &[6; 48], b"Signature1").unwrap();
    let key = EcPublicKey::from_sec1(Curve::P384, &c.public_key).unwrap();
    assert_eq!(key.curve(), Curve::P384);
    assert!(key.verifies(Encoding::Fixed, b"Signature1", &c.fixed));
    assert!(!key.verifies(Encoding::Asn1, b"Signature1", &c.fixed));
    assert!(EcPublicKey::from_sec1(Curve::P256, &c.public_key).is_none());
    assert!(
        EcPublicKey::from_sec1(Curve::P384, &[0]).is_none(),
        "identity"
    );
}
