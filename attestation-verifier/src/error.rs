//! Why a document was refused: one variant per check of CHECKLIST.md.

use crate::cbor::CborError;
use thiserror::Error;

/// Where in the chain a certificate sits: `cabundle[i]` or the leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertPosition {
    /// `cabundle[i]` (index 0 is the root).
    Bundle(usize),
    /// The `certificate` field (the document signer).
    Leaf,
}

impl core::fmt::Display for CertPosition {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CertPosition::Bundle(i) => write!(f, "cabundle[{i}]"),
            CertPosition::Leaf => f.write_str("leaf certificate"),
        }
    }
}

/// A refused attestation document. The numbers refer to CHECKLIST.md.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// 1. Document larger than [`crate::MAX_DOCUMENT_LEN`].
    #[error("document is {len} bytes, more than the {max} accepted")]
    DocumentTooLarge { len: usize, max: usize },
    /// 2. The document is not well-formed CBOR.
    #[error("document is not well-formed CBOR: {0}")]
    MalformedCbor(CborError),
    /// 3. Not a 4-element COSE_Sign1 array (optionally under tag 18).
    #[error("document is not a COSE_Sign1 structure")]
    NotCoseSign1,
    /// 4. The protected header is not a byte string holding exactly `{1: -35}`.
    #[error("protected header is not exactly {{alg: ES384}}")]
    ProtectedHeader,
    /// 5. The unprotected header is not a map, or it repeats `alg`.
    #[error("unprotected header is invalid")]
    UnprotectedHeader,
    /// 6. Payload absent (detached) or not a byte string.
    #[error("COSE payload is absent or not a byte string")]
    MissingPayload,
    /// 7. Signature is not a 96-byte ES384 r||s.
    #[error("signature is {0} bytes, ES384 needs 96")]
    SignatureLength(usize),
    /// 8. Payload is not a well-formed CBOR map.
    #[error("payload is not well-formed CBOR: {0}")]
    MalformedPayload(CborError),
    /// 9. Payload map violates the NSM schema.
    #[error("payload schema: {0}")]
    Schema(#[from] SchemaError),
    /// 10. `cabundle[0]` differs from the pinned root.
    #[error("cabundle[0] is not the pinned root certificate")]
    RootMismatch,
    /// 11. A certificate is not valid DER X.509.
    #[error("{0} is not a valid X.509 certificate")]
    CertificateDecode(CertPosition),
    /// 12. Signature algorithm is not ecdsa-with-SHA384/SHA256 or differs inside the TBS.
    #[error("{0} uses an unsupported or inconsistent signature algorithm")]
    CertificateAlgorithm(CertPosition),
    /// 13. Subject key is not an EC key on P-384 / P-256 (P-384 for the leaf).
    #[error("{0} has an unsupported public key")]
    CertificateKey(CertPosition),
    /// 14. Issuer name does not equal the parent's subject name.
    #[error("{0} issuer does not match its parent's subject")]
    IssuerMismatch(CertPosition),
    /// 15. Certificate signature does not verify under its parent's key.
    #[error("{0} signature does not verify under its issuer")]
    CertificateSignature(CertPosition),
    /// 16. `now` is before notBefore.
    #[error("{position} is not valid before {}", unix_text(*not_before_unix))]
    CertificateNotYetValid {
        position: CertPosition,
        not_before_unix: u64,
    },
    /// 16. `now` is after notAfter.
    #[error("{position} expired at {}", unix_text(*not_after_unix))]
    CertificateExpired {
        position: CertPosition,
        not_after_unix: u64,
    },
    /// 17. An issuing certificate lacks basicConstraints cA=true, or the leaf is a CA.
    #[error("{0} has wrong basicConstraints for its place in the chain")]
    BasicConstraints(CertPosition),
    /// 18. pathLenConstraint exceeded.
    #[error("{0} path length constraint exceeded")]
    PathLength(CertPosition),
    /// 19. keyUsage present but lacks keyCertSign (issuers) / digitalSignature (leaf).
    #[error("{0} keyUsage does not allow this use")]
    KeyUsage(CertPosition),
    /// 20. A critical extension this verifier does not understand.
    #[error("{0} has an unknown critical extension")]
    UnknownCriticalExtension(CertPosition),
    /// 21. The COSE signature does not verify under the leaf key.
    #[error("document signature does not verify")]
    DocumentSignature,
    /// 22. Debug-mode enclave (PCR0, PCR1, PCR2 all zero) and the policy refuses it.
    #[error("debug-mode enclave (PCR0/1/2 all zero) refused by policy")]
    DebugMode,
    /// 23. The PCRs match none of the policy's allowed sets.
    #[error("PCRs match none of the allowed measurement sets")]
    PcrsNotAllowed,
    /// 24. The nonce differs from the expected one (or is absent).
    #[error("nonce does not match the expected challenge")]
    NonceMismatch,
    /// 25. `public_key` differs from the expected one (or is absent).
    #[error("public_key does not match the expected key")]
    PublicKeyMismatch,
    /// 26. Document older than the policy's maximum age.
    #[error("document is {age_ms} ms old, more than the {max_ms} ms allowed")]
    TooOld { age_ms: u64, max_ms: u64 },
    /// 26. Document timestamp lies in the future beyond the allowed clock skew.
    #[error("document timestamp is {ahead_ms} ms in the future")]
    FromTheFuture { ahead_ms: u64 },
    /// `now` cannot be expressed as a unix time.
    #[error("verification time is before the unix epoch")]
    InvalidTime,
}

/// A payload that violates the NSM attestation document schema (check 9).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The payload is not a map.
    #[error("payload is not a map")]
    NotAMap,
    /// A map key that is not one of the nine NSM keys.
    #[error("unknown payload key")]
    UnknownKey,
    /// A required key is absent.
    #[error("missing `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong CBOR type.
    #[error("`{0}` has the wrong type")]
    WrongType(&'static str),
    /// A field is empty or longer than its named limit.
    #[error("`{field}` has length {len}, outside {min}..={max}")]
    Length {
        field: &'static str,
        len: usize,
        min: usize,
        max: usize,
    },
    /// `digest` is not "SHA384".
    #[error("digest is not SHA384")]
    Digest,
    /// A PCR index outside 0..=31.
    #[error("PCR index {0} outside 0..=31")]
    PcrIndex(u64),
    /// A PCR value not 32, 48 or 64 bytes long.
    #[error("PCR{index} is {len} bytes (32, 48 or 64 expected)")]
    PcrLength { index: u8, len: usize },
    /// PCR0, PCR1 or PCR2 is absent.
    #[error("PCR{0} is absent")]
    MissingPcr(u8),
    /// `timestamp` is zero.
    #[error("timestamp is zero")]
    ZeroTimestamp,
}

impl VerifyError {
    /// A stable snake_case code for machine output (`--json`, logs).
    pub fn code(&self) -> &'static str {
        use VerifyError::*;
        match self {
            DocumentTooLarge { .. } => "document_too_large",
            MalformedCbor(_) => "malformed_cbor",
            NotCoseSign1 => "not_cose_sign1",
            ProtectedHeader => "protected_header",
            UnprotectedHeader => "unprotected_header",
            MissingPayload => "missing_payload",
            SignatureLength(_) => "signature_length",
            MalformedPayload(_) => "malformed_payload",
            Schema(_) => "payload_schema",
            RootMismatch => "root_mismatch",
            CertificateDecode(_) => "certificate_decode",
            CertificateAlgorithm(_) => "certificate_algorithm",
            CertificateKey(_) => "certificate_key",
            IssuerMismatch(_) => "issuer_mismatch",
            CertificateSignature(_) => "certificate_signature",
            CertificateNotYetValid { .. } => "certificate_not_yet_valid",
            CertificateExpired { .. } => "certificate_expired",
            BasicConstraints(_) => "basic_constraints",
            PathLength(_) => "path_length",
            KeyUsage(_) => "key_usage",
            UnknownCriticalExtension(_) => "unknown_critical_extension",
            DocumentSignature => "document_signature",
            DebugMode => "debug_mode",
            PcrsNotAllowed => "pcrs_not_allowed",
            NonceMismatch => "nonce_mismatch",
            PublicKeyMismatch => "public_key_mismatch",
            TooOld { .. } => "too_old",
            FromTheFuture { .. } => "from_the_future",
            InvalidTime => "invalid_time",
        }
    }
}

/// RFC 3339 text of unix seconds, for messages.
fn unix_text(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} (unix seconds)"))
}
