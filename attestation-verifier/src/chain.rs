//! X.509 path validation from the pinned root through `cabundle` to the leaf
//! (checks 10–20). Only what NSM chains need, all of it strictly.

use crate::cache::VerifierCache;
use crate::error::{CertPosition, VerifyError};
use crate::root::TrustRoot;
use crate::sig::{Curve, EcPublicKey, Encoding};
use der::asn1::ObjectIdentifier;
use der::oid::AssociatedOid;
use der::{Decode, Reader, SliceReader, asn1::AnyRef};
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// One decoded certificate with its TBS bytes as received.
struct Parsed<'a> {
    position: CertPosition,
    der: &'a [u8],
    cert: Certificate,
    tbs: &'a [u8],
    key: EcPublicKey,
}

/// What the rest of verification needs from a valid chain.
#[derive(Debug, Clone)]
pub struct ValidChain {
    /// The leaf's P-384 key, which must sign the document.
    pub leaf_key: EcPublicKey,
    /// Leaf notBefore, unix seconds.
    pub leaf_not_before: u64,
    /// Leaf notAfter, unix seconds.
    pub leaf_not_after: u64,
}

/// Validates `root == cabundle[0] -> cabundle[1..] -> leaf` at `now`.
/// With a cache, certificate signatures verified before are not verified
/// again; every other check runs regardless.
pub fn verify_chain(
    root: &TrustRoot,
    cabundle: &[Vec<u8>],
    leaf: &[u8],
    now: Duration,
    cache: Option<&VerifierCache>,
) -> Result<ValidChain, VerifyError> {
    if cabundle.first().map(Vec::as_slice) != Some(root.der()) {
        return Err(VerifyError::RootMismatch);
    }
    let mut certs = Vec::with_capacity(cabundle.len() + 1);
    for (i, der) in cabundle.iter().enumerate() {
        certs.push(parse(der, CertPosition::Bundle(i))?);
    }
    certs.push(parse(leaf, CertPosition::Leaf)?);
    let issuers = certs.len() - 1;
    for (i, cert) in certs.iter().enumerate() {
        check_validity(cert, now)?;
        check_extensions(cert, issuers - i)?;
        if let Some(parent) = i.checked_sub(1).and_then(|p| certs.get(p)) {
            check_issued_by(cert, parent, cache)?;
        }
    }
    leaf_info(certs.pop())
}

fn leaf_info(leaf: Option<Parsed<'_>>) -> Result<ValidChain, VerifyError> {
    let leaf = leaf.ok_or(VerifyError::CertificateDecode(CertPosition::Leaf))?;
    if leaf.key.curve() != Curve::P384 {
        return Err(VerifyError::CertificateKey(CertPosition::Leaf));
    }
    let validity = leaf.cert.tbs_certificate().validity();
    Ok(ValidChain {
        leaf_key: leaf.key,
        leaf_not_before: validity.not_before.to_unix_duration().as_secs(),
        leaf_not_after: validity.not_after.to_unix_duration().as_secs(),
    })
}

fn parse(der: &[u8], position: CertPosition) -> Result<Parsed<'_>, VerifyError> {
    let decode_err = VerifyError::CertificateDecode(position);
    // Strict DER decode of the whole certificate, trailing bytes rejected.
    let cert = Certificate::from_der(der).map_err(|_| decode_err.clone())?;
    if cert.tbs_certificate().version() != Version::V3 {
        return Err(decode_err);
    }
    let tbs = tbs_bytes(der).ok_or_else(|| decode_err.clone())?;
    let key = public_key(&cert).ok_or(VerifyError::CertificateKey(position))?;
    check_algorithm(&cert, position)?;
    Ok(Parsed {
        position,
        der,
        cert,
        tbs,
        key,
    })
}

/// The TBSCertificate TLV exactly as received (what the issuer signed).
fn tbs_bytes(der: &[u8]) -> Option<&[u8]> {
    let mut outer = SliceReader::new(der).ok()?;
    let header = der::Header::decode(&mut outer).ok()?;
    let body_start = usize::try_from(u32::from(outer.position())).ok()?;
    let body_len = usize::try_from(u32::from(header.length())).ok()?;
    let body = der.get(body_start..body_start.checked_add(body_len)?)?;
    let mut inner = SliceReader::new(body).ok()?;
    let _tbs: AnyRef<'_> = inner.decode().ok()?;
    let tbs_len = usize::try_from(u32::from(inner.position())).ok()?;
    body.get(..tbs_len)
}

/// Check 13: id-ecPublicKey on one of the two curves, a valid point.
fn public_key(cert: &Certificate) -> Option<EcPublicKey> {
    let spki = cert.tbs_certificate().subject_public_key_info();
    if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
        return None;
    }
    let curve: ObjectIdentifier = spki.algorithm.parameters.as_ref()?.decode_as().ok()?;
    let point = spki.subject_public_key.as_bytes()?;
    let curve = match curve {
        SECP384R1 => Curve::P384,
        SECP256R1 => Curve::P256,
        _ => return None,
    };
    EcPublicKey::from_sec1(curve, point)
}

/// Outer and TBS algorithm identical, ECDSA with SHA-256/384, no parameters.
fn check_algorithm(cert: &Certificate, position: CertPosition) -> Result<(), VerifyError> {
    let outer = cert.signature_algorithm();
    let ok = outer == cert.tbs_certificate().signature()
        && outer.parameters.is_none()
        && (outer.oid == ECDSA_WITH_SHA384 || outer.oid == ECDSA_WITH_SHA256);
    if ok {
        Ok(())
    } else {
        Err(VerifyError::CertificateAlgorithm(position))
    }
}

fn check_validity(cert: &Parsed<'_>, now: Duration) -> Result<(), VerifyError> {
    let validity = cert.cert.tbs_certificate().validity();
    let not_before = validity.not_before.to_unix_duration();
    let not_after = validity.not_after.to_unix_duration();
    if now < not_before {
        return Err(VerifyError::CertificateNotYetValid {
            position: cert.position,
            not_before_unix: not_before.as_secs(),
        });
    }
    // RFC 5280: notAfter is inclusive, to the second.
    if now >= not_after + Duration::from_secs(1) {
        return Err(VerifyError::CertificateExpired {
            position: cert.position,
            not_after_unix: not_after.as_secs(),
        });
    }
    Ok(())
}

/// basicConstraints, pathLenConstraint, keyUsage and unknown critical
/// extensions. `below` is how many certificates this one issues for (0 = leaf).
fn check_extensions(cert: &Parsed<'_>, below: usize) -> Result<(), VerifyError> {
    let pos = cert.position;
    let exts = cert
        .cert
        .tbs_certificate()
        .extensions()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut seen: Vec<&ObjectIdentifier> = Vec::with_capacity(exts.len());
    let (mut basic, mut usage) = (None, None);
    for ext in exts {
        if seen.contains(&&ext.extn_id) {
            return Err(VerifyError::CertificateDecode(pos));
        }
        seen.push(&ext.extn_id);
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == BasicConstraints::OID {
            basic = Some(
                BasicConstraints::from_der(value)
                    .map_err(|_| VerifyError::CertificateDecode(pos))?,
            );
        } else if ext.extn_id == KeyUsage::OID {
            usage =
                Some(KeyUsage::from_der(value).map_err(|_| VerifyError::CertificateDecode(pos))?);
        } else if ext.critical {
            return Err(VerifyError::UnknownCriticalExtension(pos));
        }
    }
    let is_ca = basic.as_ref().is_some_and(|b| b.ca);
    if below == 0 {
        // The leaf signs documents; it must not be a CA.
        if is_ca {
            return Err(VerifyError::BasicConstraints(pos));
        }
        if usage.is_some_and(|u| !u.digital_signature()) {
            return Err(VerifyError::KeyUsage(pos));
        }
        return Ok(());
    }
    if !is_ca {
        return Err(VerifyError::BasicConstraints(pos));
    }
    // Intermediates below this one: `below - 1` (the leaf does not count).
    if basic
        .and_then(|b| b.path_len_constraint)
        .is_some_and(|max| below - 1 > usize::from(max))
    {
        return Err(VerifyError::PathLength(pos));
    }
    if usage.is_some_and(|u| !u.key_cert_sign()) {
        return Err(VerifyError::KeyUsage(pos));
    }
    Ok(())
}

/// Name linkage and the parent's signature over the TBS bytes as received
/// (skipped when `cache` holds this exact parent/child pair).
fn check_issued_by(
    child: &Parsed<'_>,
    parent: &Parsed<'_>,
    cache: Option<&VerifierCache>,
) -> Result<(), VerifyError> {
    let pos = child.position;
    if child.cert.tbs_certificate().issuer() != parent.cert.tbs_certificate().subject() {
        return Err(VerifyError::IssuerMismatch(pos));
    }
    if cache.is_some_and(|c| c.contains(parent.der, child.der)) {
        return Ok(());
    }
    check_signature(child, parent)?;
    if let Some(c) = cache {
        c.insert(parent.der, child.der);
    }
    Ok(())
}

/// The parent's ECDSA signature over the child's TBS bytes as received.
fn check_signature(child: &Parsed<'_>, parent: &Parsed<'_>) -> Result<(), VerifyError> {
    let pos = child.position;
    let sig = child
        .cert
        .signature()
        .as_bytes()
        .ok_or(VerifyError::CertificateSignature(pos))?;
    // Each curve with its own hash only (as check 12 and 13 allow).
    let curve = match child.cert.signature_algorithm().oid {
        ECDSA_WITH_SHA384 => Curve::P384,
        ECDSA_WITH_SHA256 => Curve::P256,
        _ => return Err(VerifyError::CertificateAlgorithm(pos)),
    };
    if parent.key.curve() != curve {
        return Err(VerifyError::CertificateAlgorithm(pos));
    }
    let verified = parent.key.verifies(Encoding::Asn1, child.tbs, sig);
    if verified {
        Ok(())
    } else {
        Err(VerifyError::CertificateSignature(pos))
    }
}
