//! Sealing a credential to the enclave's key exactly as a client does
//! (HPKE base mode, DESIGN.md suite: P-256, HKDF-SHA256, AES-256-GCM).

use base64::Engine as _;
use hpke::{Deserializable, OpModeS, Serializable};

type Kem = hpke::kem::DhP256HkdfSha256;

/// The HPKE `info` of a credential.
pub const HPKE_INFO: &[u8] = b"strongroom/credential/v1";

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}

/// HPKE base-mode seal to the enclave key: (enc, ciphertext, tag).
pub fn seal(pk: &[u8], plaintext: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(pk).expect("a P-256 public key");
    let (enc, ct) = hpke::single_shot_seal::<hpke::aead::AesGcm256, hpke::kdf::HkdfSha256, Kem>(
        &OpModeS::Base,
        &pk,
        HPKE_INFO,
        plaintext,
        b"",
    )
    .expect("HPKE seal");
    let (body, tag) = ct.split_at(ct.len() - 16);
    (enc.to_bytes().to_vec(), body.to_vec(), tag.to_vec())
}

/// A `submit_key` body sealed to `quote`'s key exactly as a client does it
/// (valid for an hour, ttl 3600 s).
pub fn submission(quote: &serde_json::Value, api_key: &str, secret: &str, label: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let pk = quote["enclave_pubkey"].as_str().expect("enclave_pubkey");
    let pk = b64.decode(pk).expect("base64 enclave_pubkey");
    let plaintext = serde_json::json!({
        "exchange": "binance", "api_key": api_key, "api_secret": secret,
        "label": label, "not_after": unix_now() + 3600,
    })
    .to_string();
    let (enc, ct, tag) = seal(&pk, plaintext.as_bytes());
    serde_json::json!({
        "key_id": quote["key_id"],
        "ephemeral_pub": b64.encode(enc),
        "ciphertext": b64.encode(ct),
        "tag": b64.encode(tag),
        "metadata": {"exchange": "binance", "label": label, "ttl": 3600}
    })
    .to_string()
}
