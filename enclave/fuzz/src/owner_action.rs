//! Owner authorizations (credential v2), which the host relays and the
//! enclave checks on every request outside a policy and on every revoke:
//! `strongroom_verifier::owner::verify_action` over the COSE_Sign1, and the
//! strict decoders of the signed map and of the log's revocation entries.
//! Never panics; whatever decodes re-encodes to the same bytes; a verified
//! action's owner key is a 65-byte key.

use strongroom_formats::owner::{Action, OwnerAction, RevocationEntry};
use strongroom_verifier::owner::{sign_action, verify_action};

/// One input, as an authorization and as each signed map.
pub fn run(data: &[u8]) {
    if let Ok(v) = verify_action(data, None) {
        assert_eq!(v.owner_key.len(), 65);
        assert!(verify_action(data, Some(&v.owner_key)).is_ok());
    }
    if let Ok(a) = OwnerAction::from_cbor(data) {
        assert_eq!(a.to_cbor().expect("re-encodes"), data);
    }
    if let Ok(e) = RevocationEntry::from_cbor(data) {
        assert_eq!(e.to_cbor().expect("re-encodes"), data);
    }
}

/// Seeds: a signed revoke and a signed aggregates action, and their maps.
pub fn seeds() -> Vec<Vec<u8>> {
    let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("a scalar");
    let mut action = OwnerAction {
        action: Action::Revoke,
        credential: "ab".repeat(32),
        from: None,
        to: None,
        symbols: None,
        time: "2026-12-07T00:00:00Z".into(),
    };
    let revoke = sign_action(&action, &key).expect("signs");
    action.action = Action::Aggregates;
    action.from = Some("2026-01-01T00:00:00Z".into());
    action.symbols = Some(vec!["BTCUSDT".into()]);
    let aggregates = sign_action(&action, &key).expect("signs");
    let entry = RevocationEntry::new(&"cd".repeat(32), "2026-12-07T00:00:00Z")
        .to_cbor()
        .expect("encodes");
    vec![
        revoke,
        aggregates,
        action.to_cbor().expect("encodes"),
        entry,
    ]
}
