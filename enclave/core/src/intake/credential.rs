//! The credential plaintext (`{"exchange","api_key","api_secret","label",
//! "not_after"}`) and the [`Credential`] secret type handed to the exchange
//! client.

use std::fmt;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use strongroom_formats::credential::{Field, check_exchange, check_label, check_secret};
pub use strongroom_formats::credential::{
    MAX_EXCHANGE_LEN, MAX_LABEL_LEN, MAX_SECRET_LEN as MAX_API_FIELD_LEN,
};

/// Domain separator of the account pseudonym (DESIGN.md).
pub(crate) const ACCOUNT_DOMAIN: &[u8] = b"strongroom/account/v1";

/// The plaintext JSON, exactly. Lives only inside [`parse_plaintext`] and
/// zeroizes its strings on drop.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub(crate) struct Plaintext {
    pub(crate) exchange: String,
    pub(crate) api_key: String,
    pub(crate) api_secret: String,
    pub(crate) label: String,
    pub(crate) not_after: u64,
}

/// Parses and shape-checks the plaintext. `None` = malformed (one opaque
/// outcome: the caller reports `malformed_credential`).
///
/// Residual risk, stated: serde_json may copy string contents into its own
/// scratch buffer when they contain escapes; that buffer is not zeroized.
pub(crate) fn parse_plaintext(bytes: &[u8]) -> Option<Plaintext> {
    let plain: Plaintext = serde_json::from_slice(bytes).ok()?;
    let ok = check_exchange(&plain.exchange).is_ok()
        && check_label(&plain.label).is_ok()
        && check_secret(Field::ApiKey, &plain.api_key).is_ok()
        && check_secret(Field::ApiSecret, &plain.api_secret).is_ok();
    ok.then_some(plain)
}

/// hex SHA-256("strongroom/account/v1" || 0x00 || exchange || 0x00 || api_key).
pub fn account_pseudonym(exchange: &str, api_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(ACCOUNT_DOMAIN);
    h.update([0u8]);
    h.update(exchange.as_bytes());
    h.update([0u8]);
    h.update(api_key.as_bytes());
    hex::encode(h.finalize())
}

/// An opened, checked exchange credential. Secret: no `Clone`, no
/// `Serialize`, a `Debug` that prints nothing, zeroized on drop.
pub struct Credential {
    exchange: String,
    label: String,
    api_key: Zeroizing<String>,
    api_secret: Zeroizing<String>,
    account: String,
    not_after: u64,
    expires_at: u64,
}

impl Credential {
    /// Moves the secret fields out of a checked plaintext.
    pub(crate) fn from_plaintext(mut plain: Plaintext, expires_at: u64) -> Self {
        let account = account_pseudonym(&plain.exchange, &plain.api_key);
        Self {
            exchange: std::mem::take(&mut plain.exchange),
            label: std::mem::take(&mut plain.label),
            api_key: Zeroizing::new(std::mem::take(&mut plain.api_key)),
            api_secret: Zeroizing::new(std::mem::take(&mut plain.api_secret)),
            account,
            not_after: plain.not_after,
            expires_at,
        }
    }

    /// Exchange name (e.g. `binance`).
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    /// The client's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The exchange API key. Secret: never log it.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The exchange API secret. Secret: never log it.
    pub fn api_secret(&self) -> &str {
        &self.api_secret
    }

    /// The account pseudonym (`account` in signed aggregates).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// `not_after` from the plaintext, unix seconds.
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// End of the session, unix seconds: min(not_after, accepted_at + ttl).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential { .. }")
    }
}

impl ConstantTimeEq for Credential {
    /// Same account and same API secret, compared in constant time.
    fn ct_eq(&self, other: &Self) -> Choice {
        self.api_key.as_bytes().ct_eq(other.api_key.as_bytes())
            & self
                .api_secret
                .as_bytes()
                .ct_eq(other.api_secret.as_bytes())
            & self.exchange.as_bytes().ct_eq(other.exchange.as_bytes())
    }
}

impl Drop for Credential {
    fn drop(&mut self) {
        // api_key/api_secret zeroize themselves; the pseudonym is derived
        // from the key, so wipe it too.
        self.account.zeroize();
    }
}
