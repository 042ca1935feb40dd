//! Typed error codes that cross the wire. A code and a fixed, non-secret message:
//! never key material, never plaintext, never detail of why a decryption failed.

use serde::{Deserialize, Serialize};

/// Refusal or failure carried in [`crate::messages::ResponseBody::Error`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(deny_unknown_fields)]
#[error("{code}: {message}")]
pub struct RpcError {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable, non-secret explanation.
    pub message: String,
    /// Seconds after which the same request may succeed (version 3; only
    /// with `exchange_budget`). Absent on the wire when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}

impl RpcError {
    /// An error with the code's default message.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.default_message().to_owned(),
            retry_after: None,
        }
    }

    /// The same error naming when to retry.
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// An error with a specific (non-secret!) message.
    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident => $text:literal, $msg:literal; )*) => {
        /// Every error code of the RPC. Serialized as snake_case text; a code this
        /// build does not know decodes as [`ErrorCode::Unknown`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
            /// A code from a newer peer.
            #[serde(other)]
            Unknown,
        }

        impl ErrorCode {
            /// Every known code (not [`ErrorCode::Unknown`]).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire text of the code.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// A fixed message for the code.
            pub fn default_message(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $msg,)*
                    ErrorCode::Unknown => "unknown error",
                }
            }
        }
    };
}

error_codes! {
    /// No protocol version in common.
    UnsupportedVersion => "unsupported_version", "no protocol version in common";
    /// A frame or message that could not be decoded.
    MalformedRequest => "malformed_request", "the request could not be decoded";
    /// A frame over the configured maximum.
    FrameTooLarge => "frame_too_large", "frame exceeds the maximum size";
    /// The enclave cannot serve this request in its current phase.
    NotReady => "not_ready", "the enclave is not ready for this request";
    /// The operation exists in the protocol but not in this build.
    NotImplemented => "not_implemented", "operation not implemented by this enclave";
    /// Too many requests in flight on this connection or overall.
    Busy => "busy", "the enclave is busy, retry later";
    /// Too many aggregate computations in flight, for the request's tenant
    /// or in total (version 3).
    ComputeBusy => "compute_busy", "too many computations in flight for this tenant or in total; retry shortly";
    /// An attestation nonce over the maximum length.
    NonceTooLong => "nonce_too_long", "nonce longer than 64 bytes";
    /// The credential was sealed to a key the ring does not hold.
    UnknownKeyId => "unknown_key_id", "the credential was sealed to an unknown key; fetch a new quote and resubmit";
    /// HPKE open failed (opaque on purpose).
    OpenFailed => "open_failed", "the credential could not be opened";
    /// The plaintext is not the credential JSON.
    MalformedCredential => "malformed_credential", "the sealed plaintext is not a valid credential";
    /// exchange/label inside the envelope differ from the forwarded metadata.
    MetadataMismatch => "metadata_mismatch", "exchange or label differ from the sealed credential";
    /// `not_after` has passed.
    CredentialExpired => "credential_expired", "the credential's not_after has passed";
    /// `not_after` or ttl lies too far ahead.
    TtlTooLong => "ttl_too_long", "the credential's lifetime exceeds the maximum";
    /// An invalid argument other than the credential itself.
    InvalidArgument => "invalid_argument", "an argument is invalid";
    /// Protocol 4: the API key can do more than read (the exchange's
    /// restrictions): never used.
    KeyNotReadOnly => "key_not_read_only", "the API key can trade, withdraw, transfer or use margin or futures: give a read-only key";
    /// Protocol 4: the credential's policy does not allow this window.
    PolicyWindow => "policy_window", "the credential's policy does not allow this window (whole UTC days, or from inception only)";
    /// Protocol 4: the credential's policy does not allow naming symbols.
    PolicySymbols => "policy_symbols", "the credential's policy does not allow choosing symbols";
    /// Protocol 4: too soon after the credential's previous computation.
    PolicyInterval => "policy_interval", "the credential's policy allows no further computation yet";
    /// Protocol 4: the credential was revoked by its owner.
    CredentialRevoked => "credential_revoked", "the credential was revoked by its owner";
    /// Protocol 4: the owner authorization is not a well-formed owner action.
    MalformedOwnerAuthorization => "malformed_owner_authorization", "the owner authorization is malformed";
    /// Protocol 4: signed by another key, or the signature does not verify.
    OwnerSignatureInvalid => "owner_signature_invalid", "the owner signature does not verify against the credential's owner key";
    /// Protocol 4: the owner authorization's time is too far from the enclave's.
    OwnerAuthorizationStale => "owner_authorization_stale", "the owner authorization's time is more than 300 s from the enclave's";
    /// Protocol 4: the owner authorization is for another action, credential or request.
    OwnerAuthorizationMismatch => "owner_authorization_mismatch", "the owner authorization does not match this request";
    /// Protocol 4: the credential has no owner key, so no owner can sign for it.
    NoOwnerKey => "no_owner_key", "the credential was sealed without an owner key";
    /// The exchange refused the API key or signature.
    ExchangeRejectedCredentials => "exchange_rejected_credentials", "the exchange rejected the API credentials";
    /// The exchange kept answering 429/418.
    ExchangeRateLimited => "exchange_rate_limited", "the exchange rate-limited the request";
    /// The next exchange request would pass the egress address's weight
    /// budget (limit minus margin): not sent; `retry_after` names the
    /// exchange's next minute.
    ExchangeBudget => "exchange_budget", "the exchange weight budget of this minute is spent; retry after the given seconds";
    /// The exchange could not be reached or answered nonsense.
    ExchangeUnreachable => "exchange_unreachable", "the exchange could not be reached";
    /// The egress destination is not on the allowlist.
    EgressRefused => "egress_refused", "the destination is not allowed";
    /// Transparency-log state from the host did not check out.
    LogStateInvalid => "log_state_invalid", "the transparency log state does not verify";
    /// Protocol 3: the log's cosigned checkpoint names a newer key-ring
    /// version than the enclave holds (reload the newer ring, then retry).
    RingOutdated => "ring_outdated", "the enclave's key ring is older than the log's";
    /// A key-sync peer's attestation, measurements, challenge or message did not check out.
    SyncRefused => "sync_refused", "key sync refused: the peer's attestation does not check out";
    /// KMS could not be reached, refused, or answered something unusable.
    KmsFailed => "kms_failed", "KMS could not unwrap or generate the data key";
    /// A sealed key ring does not open, is another ring, or is not newer.
    RingInvalid => "ring_invalid", "the sealed key ring does not open or is not a newer version of this ring";
    /// The enclave already holds a key ring.
    RingPresent => "ring_present", "the enclave already holds a key ring";
    /// Anything else; details stay in the enclave.
    Internal => "internal", "internal enclave error";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
