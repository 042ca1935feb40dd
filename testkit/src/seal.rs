//! Sealing a credential to the enclave's key exactly as a client does
//! (HPKE base mode, DESIGN.md suite: P-256, HKDF-SHA256, AES-256-GCM).

use base64::Engine as _;
use hpke::{Deserializable, OpModeS, Serializable};

type Kem = hpke::kem::DhP256HkdfSha256;

/// The HPKE `info` of a version 1 credential.
pub const HPKE_INFO: &[u8] = b"strongroom/credential/v1";
/// The HPKE `info` of a version 2 credential (owner key and policy).
pub const HPKE_INFO_V2: &[u8] = b"strongroom/credential/v2";

/// The policy [`submission`] seals: any window, a choice of symbols, no
/// interval, private. Tests of other things than the policy use it so
/// that they can ask for windows and symbols freely.
pub fn open_policy() -> serde_json::Value {
    serde_json::json!({"windows": "any", "symbols": "choice", "min_interval_seconds": 0, "publish": false})
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}

/// HPKE base-mode seal of a version 1 credential: (enc, ciphertext, tag).
pub fn seal(pk: &[u8], plaintext: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    seal_with_info(pk, HPKE_INFO, plaintext)
}

/// HPKE base-mode seal under `info`: (enc, ciphertext, tag).
pub fn seal_with_info(pk: &[u8], info: &[u8], plaintext: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(pk).expect("a P-256 public key");
    let (enc, ct) = hpke::single_shot_seal::<hpke::aead::AesGcm256, hpke::kdf::HkdfSha256, Kem>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        b"",
    )
    .expect("HPKE seal");
    let (body, tag) = ct.split_at(ct.len() - 16);
    (enc.to_bytes().to_vec(), body.to_vec(), tag.to_vec())
}

/// A `submit_key` body sealed to `quote`'s key exactly as a client does it
/// (valid for an hour, ttl 3600 s): a version 2 credential under
/// [`open_policy`], without an owner key.
pub fn submission(quote: &serde_json::Value, api_key: &str, secret: &str, label: &str) -> String {
    submission_with(quote, api_key, secret, label, Some(open_policy()), None)
}

/// The hex credential id (SHA-256 of enc ‖ ciphertext ‖ tag) of a
/// `submit_key` body.
pub fn credential_id(body: &str) -> String {
    use sha2::Digest as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let v: serde_json::Value = serde_json::from_str(body).expect("a submit_key body");
    let mut h = sha2::Sha256::new();
    for f in ["ephemeral_pub", "ciphertext", "tag"] {
        h.update(b64.decode(v[f].as_str().expect(f)).expect("base64"));
    }
    hex::encode(h.finalize())
}

/// A `submit_key` body: version 2 with `policy` (and `owner`, a 65-byte
/// SEC1 key), or version 1 when `policy` is `None`.
pub fn submission_with(
    quote: &serde_json::Value,
    api_key: &str,
    secret: &str,
    label: &str,
    policy: Option<serde_json::Value>,
    owner: Option<&[u8]>,
) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let pk = quote["enclave_pubkey"].as_str().expect("enclave_pubkey");
    let pk = b64.decode(pk).expect("base64 enclave_pubkey");
    let mut plaintext = serde_json::json!({
        "exchange": "binance", "api_key": api_key, "api_secret": secret,
        "label": label, "not_after": unix_now() + 3600,
    });
    let info = match policy {
        Some(policy) => {
            plaintext["policy"] = policy;
            if let Some(owner) = owner {
                plaintext["owner"] = b64.encode(owner).into();
            }
            HPKE_INFO_V2
        }
        None => HPKE_INFO,
    };
    let (enc, ct, tag) = seal_with_info(&pk, info, plaintext.to_string().as_bytes());
    serde_json::json!({
        "key_id": quote["key_id"],
        "ephemeral_pub": b64.encode(enc),
        "ciphertext": b64.encode(ct),
        "tag": b64.encode(tag),
        "metadata": {"exchange": "binance", "label": label, "ttl": 3600}
    })
    .to_string()
}
