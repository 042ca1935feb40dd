//! `SyncRequester::import`: the holder's answer (`SyncExported`) as relayed by
//! the host. Every input runs against a fresh pending request (a real
//! simulator document); byte 0 selects the mode:
//!
//! - even, raw: `rest` = doc_len (u16 BE) || document || enc (65) ||
//!   ciphertext, all fuzzer bytes. Never imports.
//! - odd, attested: `rest` = enc (65) || ciphertext, with a GENUINE holder
//!   document binding SHA-256(enc || ciphertext) to the pending request's
//!   nonce, so the input reaches the HPKE open. Never imports (the fuzzer
//!   cannot know the fresh ephemeral key), and with well-formed lengths the
//!   refusal is the opaque `OpenFailed`: proof the attestation passed.
//!
//! Either way the pending request is consumed (no second try of an answer).

use sha2::{Digest, Sha256};
use strongroom_enclave_core::nsm::Nsm;
use strongroom_enclave_core::sync::{
    ENC_LEN, MAX_CIPHERTEXT_LEN, NONCE_LEN, SyncError, SyncRequester, TAG_LEN, USER_DATA_PREFIX,
};
use strongroom_protocol::messages::SyncExported;
use strongroom_verifier::inspect_unverified;

use crate::fixtures::sim;

/// The holder's challenge the requester answers (any 32 bytes will do).
const CHALLENGE: [u8; NONCE_LEN] = [7; NONCE_LEN];

/// One input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let s = sim();
    let requester = SyncRequester::new();
    let request = requester.request(&s.nsm, &CHALLENGE).expect("request");
    let (exported, attested) = if mode % 2 == 0 {
        (raw(rest), false)
    } else {
        (attested(&request, rest), true)
    };
    let result = requester.import(&s.root, &s.pcrs, &exported, s.now);
    assert!(result.is_err(), "an arbitrary answer imported");
    assert!(!requester.has_pending(), "the pending request survived");
    let well_formed = exported.enc.len() == ENC_LEN
        && (TAG_LEN..=MAX_CIPHERTEXT_LEN).contains(&exported.ciphertext.len());
    if attested && well_formed {
        assert!(
            matches!(result, Err(SyncError::OpenFailed)),
            "a genuinely attested answer was refused before the HPKE open"
        );
    }
}

fn raw(rest: &[u8]) -> SyncExported {
    let (len, rest) = rest.split_at(rest.len().min(2));
    let doc_len = match len {
        [a, b] => usize::from(u16::from_be_bytes([*a, *b])),
        _ => 0,
    };
    let (document, rest) = rest.split_at(rest.len().min(doc_len));
    let (enc, ciphertext) = rest.split_at(rest.len().min(ENC_LEN));
    SyncExported {
        document: document.to_vec(),
        enc: enc.to_vec(),
        ciphertext: ciphertext.to_vec(),
    }
}

/// The requester nonce out of its own document's `user_data`.
fn requester_nonce(request: &[u8]) -> Vec<u8> {
    let payload = inspect_unverified(request).expect("own document parses");
    let user_data = payload.user_data.expect("request has user_data");
    user_data
        .strip_prefix(USER_DATA_PREFIX)
        .expect("user_data prefix")
        .to_vec()
}

fn attested(request: &[u8], rest: &[u8]) -> SyncExported {
    let (enc, ciphertext) = rest.split_at(rest.len().min(ENC_LEN));
    let mut hash = Sha256::new();
    hash.update(enc);
    hash.update(ciphertext);
    let binding = hash.finalize();
    let nonce = requester_nonce(request);
    let document = sim()
        .nsm
        .attest(None, Some(&binding), Some(&nonce))
        .expect("holder document");
    SyncExported {
        document,
        enc: enc.to_vec(),
        ciphertext: ciphertext.to_vec(),
    }
}
