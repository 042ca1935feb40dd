//! Every error the HTTP API can answer: one code table, one mapping to status.

use std::borrow::Cow;
use std::time::Duration;

use strongroom_protocol::ErrorCode;

use crate::enclave::EnclaveError;
use crate::store::DbError;

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident => $text:literal, $status:literal, $msg:literal; )*) => {
        /// A wire error code (`{"error": {"code": ...}}`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Code { $( $(#[$doc])* $variant, )* }

        impl Code {
            /// Every code, for documentation checks.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The snake_case wire text.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text,)* }
            }

            /// The HTTP status answered with this code.
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }

            /// The default, fixed message.
            pub fn message(self) -> &'static str {
                match self { $(Code::$variant => $msg,)* }
            }
        }
    };
}

codes! {
    /// Malformed JSON, wrong types, unknown or missing fields.
    InvalidJson => "invalid_json", 400, "the body is not valid JSON for this route";
    /// A binary field is not standard padded base64.
    InvalidBase64 => "invalid_base64", 400, "a field is not standard base64 with padding";
    /// A field has the wrong length.
    InvalidLength => "invalid_length", 400, "a field has an invalid length";
    /// A field's content is not acceptable.
    InvalidField => "invalid_field", 400, "a field is invalid";
    /// `metadata.ttl` outside 1..=MAX_TTL_SECONDS.
    InvalidTtl => "invalid_ttl", 400, "ttl must be between 1 and MAX_TTL_SECONDS";
    /// `session_id` is not a UUID.
    InvalidSessionId => "invalid_session_id", 400, "session_id is not a UUID";
    /// The enclave found an argument invalid (e.g. the time window).
    InvalidArgument => "invalid_argument", 400, "an argument is invalid";
    /// `owner_authorization` is not a well-formed owner action (COSE_Sign1
    /// ES256 with a 65-byte owner key as `kid` over an owner action map).
    MalformedOwnerAuthorization => "malformed_owner_authorization", 400, "the owner authorization is malformed";
    /// Attestation nonce over 64 bytes.
    NonceTooLong => "nonce_too_long", 400, "nonce longer than 64 bytes";
    /// Missing or unknown API key.
    Unauthorized => "unauthorized", 401, "missing or invalid API key";
    /// The credential's policy does not allow this window (whole UTC days,
    /// or from inception only): an owner-signed `aggregates` action can.
    PolicyWindow => "policy_window", 403, "the credential's policy does not allow this window (whole UTC days, or from inception only); the owner can authorize it";
    /// The credential's policy does not allow naming symbols.
    PolicySymbols => "policy_symbols", 403, "the credential's policy does not allow choosing symbols; the owner can authorize it";
    /// Too soon after the credential's previous computation (Retry-After
    /// when the enclave says how long).
    PolicyInterval => "policy_interval", 403, "the credential's policy allows no further computation yet; try again after Retry-After seconds";
    /// The credential was revoked by its owner (a logged revocation).
    CredentialRevoked => "credential_revoked", 403, "the credential was revoked by its owner";
    /// The owner signature is by another key than the credential's owner, or
    /// does not verify.
    OwnerSignatureInvalid => "owner_signature_invalid", 403, "the owner signature does not verify against the credential's owner key";
    /// The owner authorization's time is more than 300 s from the checker's clock.
    OwnerAuthorizationStale => "owner_authorization_stale", 403, "the owner authorization's time is more than 300 s away; sign it again";
    /// The owner authorization is for another action, credential or request.
    OwnerAuthorizationMismatch => "owner_authorization_mismatch", 403, "the owner authorization does not match this request";
    /// CORS preflight from an origin not in ALLOWED_ORIGINS.
    OriginNotAllowed => "origin_not_allowed", 403, "origin not allowed";
    /// No such route.
    NotFound => "not_found", 404, "no such route";
    /// No published result with this id (unpublished ones look the same).
    ResultNotFound => "result_not_found", 404, "no published result with this id";
    /// No such session for this tenant.
    SessionNotFound => "session_not_found", 404, "no such session";
    /// No job with this id (or another tenant's).
    JobNotFound => "job_not_found", 404, "no such job";
    /// The transparency log is empty: no head yet.
    LogEmpty => "log_empty", 404, "the transparency log is empty";
    /// A leaf index or tree size beyond the log.
    OutOfRange => "out_of_range", 404, "leaf index or tree size beyond the log";
    /// Route exists, method does not.
    MethodNotAllowed => "method_not_allowed", 405, "method not allowed on this route";
    /// The request took longer than REQUEST_TIMEOUT_MS.
    RequestTimeout => "request_timeout", 408, "the request took too long";
    /// The credential was sealed to a key the enclave no longer holds.
    UnknownKeyId => "unknown_key_id", 409, "the credential was sealed to an unknown key; fetch a new quote and seal again";
    /// The stored credential was sealed to a key version that has been retired
    /// (or a key ring that was reset): the session cannot be used any more.
    KeyVersionGone => "key_version_gone", 409, "the session's credential was sealed to a retired key version; submit the credential again (fetch a new quote first)";
    /// The session was revoked.
    SessionRevoked => "session_revoked", 410, "the session was revoked";
    /// The session expired.
    SessionExpired => "session_expired", 410, "the session expired";
    /// An entry bundle holds a leaf whose data was erased with its tenant.
    EntryErased => "entry_erased", 410, "an entry of this bundle was erased; its hash stays in the log";
    /// Body over the size limit.
    PayloadTooLarge => "payload_too_large", 413, "request body too large";
    /// POST without `Content-Type: application/json`.
    UnsupportedMediaType => "unsupported_media_type", 415, "use Content-Type: application/json";
    /// HPKE open failed in the enclave (no detail, on purpose).
    OpenFailed => "open_failed", 422, "the enclave could not open the credential";
    /// The sealed plaintext is not a credential.
    MalformedCredential => "malformed_credential", 422, "the sealed plaintext is not a valid credential";
    /// exchange/label differ from the sealed credential.
    MetadataMismatch => "metadata_mismatch", 422, "exchange or label differ from the sealed credential";
    /// The credential's not_after has passed.
    CredentialExpired => "credential_expired", 422, "the credential's not_after has passed";
    /// The credential's lifetime exceeds the enclave's maximum.
    TtlTooLong => "ttl_too_long", 422, "the credential's lifetime exceeds the maximum";
    /// The credential was sealed without an owner key: nobody can sign for it.
    NoOwnerKey => "no_owner_key", 422, "the credential was sealed without an owner key";
    /// The exchange refused the sealed API key or its signature.
    ExchangeRejectedCredentials => "exchange_rejected_credentials", 422, "the exchange rejected the API credentials";
    KeyNotReadOnly => "key_not_read_only", 422, "the API key can trade, withdraw, transfer or use margin or futures: create a read-only key and submit that";
    /// The exchange kept rate-limiting the enclave's requests.
    ExchangeRateLimited => "exchange_rate_limited", 429, "the exchange rate-limited the request; try again later";
    /// The next exchange request would pass the deployment's weight budget
    /// (the exchange counts per egress address, every tenant included).
    ExchangeBudget => "exchange_budget", 429, "the exchange's request budget for this minute is spent (it is shared by every client of this service); try again after Retry-After seconds";
    /// The enclave runs as many computations as it may, for this tenant or
    /// in total.
    TooManyComputations => "too_many_computations", 429, "too many aggregate computations in progress (for your tenant, or in total); try again after Retry-After seconds";
    /// Too many failed authentications from this address.
    LockedOut => "locked_out", 429, "too many failed authentications; try again later";
    /// Over RATE_LIMIT_MAX per RATE_LIMIT_WINDOW.
    RateLimited => "rate_limited", 429, "too many requests; try again later";
    /// Something failed in the host (details only in its logs).
    InternalError => "internal_error", 500, "internal error";
    /// Route planned but not yet available.
    NotImplemented => "not_implemented", 501, "not implemented yet";
    /// The enclave answered outside the protocol or failed internally.
    EnclaveError => "enclave_error", 502, "the enclave failed";
    /// The exchange could not be reached (or answered nonsense).
    ExchangeUnreachable => "exchange_unreachable", 502, "the exchange could not be reached";
    /// The egress proxy (or the enclave's own allowlist) refused the destination.
    EgressRefused => "egress_refused", 502, "the exchange destination is not allowed";
    /// The enclave refused the log state the host sent, or answered one that does not extend it.
    LogStateInvalid => "log_state_invalid", 500, "the transparency log state does not verify";
    /// The enclave cannot be reached.
    EnclaveUnavailable => "enclave_unavailable", 503, "the enclave is unavailable";
    /// The enclave is up but not ready (booting or busy).
    EnclaveNotReady => "enclave_not_ready", 503, "the enclave is not ready";
    /// The log's checkpoint did not get the enclave's witness quorum (a
    /// witness down, or the log forked): the log waits for it.
    WitnessUnavailable => "witness_unavailable", 503, "the transparency log's witnesses did not cosign; try again later";
    /// PostgreSQL cannot be reached.
    DatabaseUnavailable => "database_unavailable", 503, "the database is unavailable";
}

/// The code of an owner authorization the host itself refused
/// ([`strongroom_verifier::owner::OwnerError`]).
pub fn owner_code(e: strongroom_verifier::owner::OwnerError) -> Code {
    use strongroom_verifier::owner::OwnerError as E;
    match e {
        E::WrongOwner | E::BadSignature => Code::OwnerSignatureInvalid,
        E::Stale => Code::OwnerAuthorizationStale,
        E::Mismatch => Code::OwnerAuthorizationMismatch,
        _ => Code::MalformedOwnerAuthorization,
    }
}

/// Retry-After sent with `exchange_rate_limited` (Binance's weight window is one minute).
pub const EXCHANGE_RETRY_AFTER: Duration = Duration::from_secs(60);

/// An error answer: code, message, and for 429 the Retry-After delay.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The code.
    pub code: Code,
    /// Message shown to the client (never secret material).
    pub message: Cow<'static, str>,
    /// Retry-After, for 429.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// With the code's default message.
    pub fn new(code: Code) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.message()),
            retry_after: None,
        }
    }

    /// With a specific message (a field name, never a value).
    pub fn with(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429 with Retry-After.
    pub fn retry(code: Code, after: Duration) -> Self {
        Self {
            retry_after: Some(after),
            ..Self::new(code)
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        tracing::warn!(error = %e, "database error");
        Self::new(Code::DatabaseUnavailable)
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbError::Query(e).into()
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        DbError::from(e).into()
    }
}

/// The one mapping from enclave refusals to HTTP codes.
pub fn enclave_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::UnknownKeyId => Code::UnknownKeyId,
        ErrorCode::OpenFailed => Code::OpenFailed,
        ErrorCode::MalformedCredential => Code::MalformedCredential,
        ErrorCode::MetadataMismatch => Code::MetadataMismatch,
        ErrorCode::CredentialExpired => Code::CredentialExpired,
        ErrorCode::TtlTooLong => Code::TtlTooLong,
        ErrorCode::NonceTooLong => Code::NonceTooLong,
        ErrorCode::InvalidArgument => Code::InvalidArgument,
        ErrorCode::PolicyWindow => Code::PolicyWindow,
        ErrorCode::PolicySymbols => Code::PolicySymbols,
        ErrorCode::PolicyInterval => Code::PolicyInterval,
        ErrorCode::CredentialRevoked => Code::CredentialRevoked,
        ErrorCode::MalformedOwnerAuthorization => Code::MalformedOwnerAuthorization,
        ErrorCode::OwnerSignatureInvalid => Code::OwnerSignatureInvalid,
        ErrorCode::OwnerAuthorizationStale => Code::OwnerAuthorizationStale,
        ErrorCode::OwnerAuthorizationMismatch => Code::OwnerAuthorizationMismatch,
        ErrorCode::NoOwnerKey => Code::NoOwnerKey,
        ErrorCode::ExchangeRejectedCredentials => Code::ExchangeRejectedCredentials,
        ErrorCode::KeyNotReadOnly => Code::KeyNotReadOnly,
        ErrorCode::ExchangeRateLimited => Code::ExchangeRateLimited,
        ErrorCode::ExchangeBudget => Code::ExchangeBudget,
        ErrorCode::ComputeBusy => Code::TooManyComputations,
        ErrorCode::ExchangeUnreachable => Code::ExchangeUnreachable,
        ErrorCode::EgressRefused => Code::EgressRefused,
        ErrorCode::LogStateInvalid | ErrorCode::RingOutdated => Code::LogStateInvalid,
        ErrorCode::NotImplemented => Code::NotImplemented,
        ErrorCode::NotReady | ErrorCode::Busy => Code::EnclaveNotReady,
        _ => Code::EnclaveError,
    }
}

impl From<EnclaveError> for ApiError {
    fn from(e: EnclaveError) -> Self {
        match e {
            EnclaveError::Unavailable => Self::new(Code::EnclaveUnavailable),
            // The enclave names the exchange's next minute (1 to 60 s); bound
            // it anyway rather than trust any number.
            EnclaveError::ExchangeBudget(s) => Self::retry(
                Code::ExchangeBudget,
                Duration::from_secs(u64::from(s.clamp(1, 60))),
            ),
            // The enclave names the seconds left of the credential's
            // interval; bound it by the policy's maximum anyway.
            EnclaveError::PolicyInterval(s) => Self::retry(
                Code::PolicyInterval,
                Duration::from_secs(
                    u64::from(s).clamp(1, strongroom_formats::policy::MAX_MIN_INTERVAL_SECONDS),
                ),
            ),
            EnclaveError::Refused(c) => match enclave_code(c) {
                // The enclave already retried within its budget; its refusal
                // carries no delay, so the client waits a fixed time.
                code @ (Code::ExchangeRateLimited | Code::ExchangeBudget) => {
                    Self::retry(code, EXCHANGE_RETRY_AFTER)
                }
                Code::TooManyComputations => {
                    Self::retry(Code::TooManyComputations, Duration::from_secs(2))
                }
                code => Self::new(code),
            },
            _ => Self::new(Code::EnclaveError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_4xx_5xx() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{}", c.as_str());
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
            assert!((400..600).contains(&c.status()));
        }
    }

    #[test]
    fn policy_and_owner_refusals_keep_their_names_and_are_4xx() {
        let refusals = [
            ErrorCode::PolicyWindow,
            ErrorCode::PolicySymbols,
            ErrorCode::PolicyInterval,
            ErrorCode::CredentialRevoked,
            ErrorCode::MalformedOwnerAuthorization,
            ErrorCode::OwnerSignatureInvalid,
            ErrorCode::OwnerAuthorizationStale,
            ErrorCode::OwnerAuthorizationMismatch,
            ErrorCode::NoOwnerKey,
        ];
        for c in refusals {
            let mapped = enclave_code(c);
            assert_eq!(mapped.as_str(), c.as_str());
            let want = match c {
                ErrorCode::MalformedOwnerAuthorization => 400,
                ErrorCode::NoOwnerKey => 422,
                _ => 403,
            };
            assert_eq!(mapped.status(), want, "{}", c.as_str());
        }
        let e = ApiError::from(EnclaveError::PolicyInterval(1200));
        assert_eq!(e.code, Code::PolicyInterval);
        assert_eq!(e.retry_after, Some(Duration::from_secs(1200)));
        use strongroom_verifier::owner::OwnerError;
        for e in [
            OwnerError::Malformed,
            OwnerError::WrongOwner,
            OwnerError::BadSignature,
            OwnerError::BadPayload,
            OwnerError::Stale,
            OwnerError::Mismatch,
        ] {
            assert_eq!(owner_code(e).as_str(), e.code());
        }
    }

    #[test]
    fn credential_refusals_are_distinct_4xx() {
        let refusals = [
            ErrorCode::UnknownKeyId,
            ErrorCode::OpenFailed,
            ErrorCode::MalformedCredential,
            ErrorCode::MetadataMismatch,
            ErrorCode::CredentialExpired,
            ErrorCode::TtlTooLong,
        ];
        let mapped: std::collections::HashSet<_> =
            refusals.iter().map(|c| enclave_code(*c).as_str()).collect();
        assert_eq!(mapped.len(), refusals.len());
        assert!(
            refusals
                .iter()
                .all(|c| (400..500).contains(&enclave_code(*c).status()))
        );
    }
}
