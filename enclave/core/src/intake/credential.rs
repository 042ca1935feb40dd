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
use strongroom_formats::owner::OWNER_KEY_LEN;
use strongroom_formats::policy::Policy;

/// Domain separator of the account pseudonym (DESIGN.md).
pub(crate) const ACCOUNT_DOMAIN: &[u8] = b"strongroom/account/v1";

/// The plaintext JSON, exactly. Lives only inside [`parse_plaintext`] and
/// zeroizes its strings on drop. Version 1 has the first five fields;
/// version 2 adds `policy` (required) and `owner` (optional, base64 of a
/// 65-byte SEC1 P-256 key).
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub(crate) struct Plaintext {
    pub(crate) exchange: String,
    pub(crate) api_key: String,
    pub(crate) api_secret: String,
    pub(crate) label: String,
    pub(crate) not_after: u64,
    #[serde(default)]
    pub(crate) owner: Option<String>,
    #[serde(default)]
    #[zeroize(skip)]
    pub(crate) policy: Option<Policy>,
}

/// Which credential version a plaintext was sealed as (its HPKE `info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialVersion {
    /// `strongroom/credential/v1`: no owner, [`Policy::STRICTEST`].
    V1,
    /// `strongroom/credential/v2`: owner and policy.
    V2,
}

/// Parses and shape-checks the plaintext of a `version` credential. `None`
/// = malformed (one opaque outcome: the caller reports
/// `malformed_credential`).
///
/// Residual risk, stated: serde_json may copy string contents into its own
/// scratch buffer when they contain escapes; that buffer is not zeroized.
pub(crate) fn parse_plaintext(bytes: &[u8], version: CredentialVersion) -> Option<Plaintext> {
    let plain: Plaintext = serde_json::from_slice(bytes).ok()?;
    let ok = check_exchange(&plain.exchange).is_ok()
        && check_label(&plain.label).is_ok()
        && check_secret(Field::ApiKey, &plain.api_key).is_ok()
        && check_secret(Field::ApiSecret, &plain.api_secret).is_ok();
    let versioned = match version {
        CredentialVersion::V1 => plain.owner.is_none() && plain.policy.is_none(),
        CredentialVersion::V2 => {
            plain.policy.is_some_and(|p| p.is_valid())
                && plain
                    .owner
                    .as_deref()
                    .is_none_or(|o| decode_owner(o).is_some())
        }
    };
    (ok && versioned).then_some(plain)
}

/// The owner key from its base64 text: 65 bytes, a valid P-256 point.
fn decode_owner(b64: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    (raw.len() == OWNER_KEY_LEN && p256::PublicKey::from_sec1_bytes(&raw).is_ok()).then_some(raw)
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
    id: String,
    version: CredentialVersion,
    owner: Option<Vec<u8>>,
    policy: Policy,
}

impl Credential {
    /// Moves the secret fields out of a checked plaintext; `id` is the
    /// credential's identity (hex SHA-256 of the sealed bytes as the client
    /// made them).
    pub(crate) fn from_plaintext(
        mut plain: Plaintext,
        expires_at: u64,
        id: String,
        version: CredentialVersion,
    ) -> Self {
        let account = account_pseudonym(&plain.exchange, &plain.api_key);
        let owner = plain.owner.as_deref().and_then(decode_owner);
        Self {
            exchange: std::mem::take(&mut plain.exchange),
            label: std::mem::take(&mut plain.label),
            api_key: Zeroizing::new(std::mem::take(&mut plain.api_key)),
            api_secret: Zeroizing::new(std::mem::take(&mut plain.api_secret)),
            account,
            not_after: plain.not_after,
            expires_at,
            id,
            version,
            policy: plain.policy.unwrap_or(Policy::STRICTEST),
            owner,
        }
    }

    /// Hex SHA-256 of the sealed credential as the client made it
    /// (`credential` in results and the log).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Which version it was sealed as.
    pub fn version(&self) -> CredentialVersion {
        self.version
    }

    /// The owner's public key (65-byte SEC1), if the trader sealed one.
    pub fn owner_key(&self) -> Option<&[u8]> {
        self.owner.as_deref()
    }

    /// `owner` in results: hex SHA-256 of the owner key, or `None`.
    pub fn owner_id(&self) -> Option<String> {
        self.owner
            .as_deref()
            .map(strongroom_formats::owner::owner_id)
    }

    /// The policy every computation is held to ([`Policy::STRICTEST`] for
    /// a version 1 credential).
    pub fn policy(&self) -> &Policy {
        &self.policy
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
