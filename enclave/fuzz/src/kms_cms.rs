//! `kms::cms::Envelope::parse` (the BER reader under it included) and
//! `RecipientKey::decrypt`: KMS's `CiphertextForRecipient`. Never panics;
//! whatever parses is within the bounds decryption relies on; nothing
//! arbitrary decrypts under the enclave's recipient key.

use std::sync::OnceLock;

use strongroom_enclave_core::kms::cms::{CmsError, Envelope, MAX_ENVELOPE_LEN, RecipientKey};

use crate::fixtures::sim;

/// The enclave's recipient key (RSA-2048: generated once, it is slow).
pub fn recipient() -> &'static RecipientKey {
    static KEY: OnceLock<RecipientKey> = OnceLock::new();
    KEY.get_or_init(|| RecipientKey::generate(&sim().nsm).expect("RSA key"))
}

/// One input.
pub fn run(data: &[u8]) {
    let parsed = Envelope::parse(data);
    match &parsed {
        Ok(env) => {
            assert!(data.len() <= MAX_ENVELOPE_LEN);
            assert!(!env.encrypted_key.is_empty());
            let n = env.encrypted_content.len();
            assert!(n > 0 && n % 16 == 0, "content not whole AES blocks");
            assert_eq!(Envelope::parse(data).as_ref(), Ok(env), "not deterministic");
        }
        Err(e) if data.len() > MAX_ENVELOPE_LEN => assert_eq!(e, &CmsError::TooLarge),
        Err(_) => {}
    }
    let decrypted = recipient().decrypt(data, &sim().nsm);
    assert!(decrypted.is_err(), "an arbitrary envelope decrypted");
    if parsed.is_err() {
        assert_eq!(decrypted.err(), parsed.err(), "decrypt parses differently");
    }
}
