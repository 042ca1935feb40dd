//! The C2SP specs' own examples (tests/data/c2sp/examples.json, copied
//! verbatim from the spec files beside it), looped over. Only the
//! signed-note example comes with a verifier key: it must verify. The other
//! examples carry no key (or truncated `[...]` signatures), so their parse
//! shape is checked instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use strongroom_formats::c2sp::checkpoint::{Checkpoint, SignedCheckpoint};
use strongroom_formats::c2sp::cosignature::{signed_message, split_timestamped};
use strongroom_formats::c2sp::note::{KeyType, Note, NoteError, VerifierKey};
use strongroom_formats::c2sp::proof::{ProofError, TlogProof};

fn examples() -> Value {
    serde_json::from_str(include_str!("data/c2sp/examples.json")).unwrap()
}

fn names(note: &Note) -> Vec<&str> {
    note.signatures().iter().map(|s| s.name()).collect()
}

#[test]
fn spec_notes() {
    let ex = examples();
    let notes = ex["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 4);
    for case in notes {
        let src = case["source"].as_str().unwrap();
        let text = case["note"].as_str().unwrap();
        let note = Note::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(note.format(), text, "{src}: format(parse(x)) == x");
        match case["kind"].as_str().unwrap() {
            "verify" => check_verify(case, &note),
            "shape" => {
                let lines = note.text().lines().count() as u64;
                assert_eq!(lines, case["text_lines"].as_u64().unwrap(), "{src}");
            }
            "checkpoint" => check_checkpoint(case, text),
            other => panic!("{src}: unknown example kind {other}"),
        }
        let signers: Vec<&str> = case["signers"].as_array().map_or_else(
            || vec!["example.com/foo"],
            |a| a.iter().map(|v| v.as_str().unwrap()).collect(),
        );
        assert_eq!(names(&note), signers, "{src}");
    }
}

fn check_verify(case: &Value, note: &Note) {
    let vkey_text = case["vkey"].as_str().unwrap();
    let vkey = VerifierKey::parse(vkey_text).unwrap();
    assert_eq!(vkey.to_string(), vkey_text);
    assert_eq!(vkey.kind(), KeyType::Ed25519);
    assert_eq!(vkey.key_id(), 0x530d_903a);
    let verified = note.verify(std::slice::from_ref(&vkey)).unwrap();
    assert_eq!(verified, vec![&vkey]);
    // The same note with one changed character of text no longer verifies.
    let tampered = note.format().replacen("example", "exbmple", 1);
    let tampered = Note::parse(tampered.as_bytes()).unwrap();
    assert_eq!(tampered.verify(&[vkey]), Err(NoteError::VerificationFailed));
}

fn check_checkpoint(case: &Value, text: &str) {
    let signed = SignedCheckpoint::parse(text.as_bytes()).unwrap();
    let cp = signed.checkpoint();
    assert_eq!(cp.origin(), case["origin"].as_str().unwrap());
    assert_eq!(cp.size(), case["size"].as_u64().unwrap());
    assert_eq!(B64.encode(cp.root_hash()), case["root"].as_str().unwrap());
    assert!(cp.extensions().is_empty());
    assert_eq!(Checkpoint::parse(&cp.format()).unwrap(), *cp);
    // A cosignature line, if any, is a well-formed timestamped_signature
    // whose time is the one of the spec's signed-message example.
    for sig in &signed.note().signatures()[1..] {
        let (time, _) = split_timestamped(sig.signature()).unwrap();
        assert_eq!(time, 1_679_315_147);
    }
}

#[test]
fn spec_cosignature_message() {
    let ex = examples();
    let m = &ex["cosignature_message"];
    let msg = signed_message(
        m["checkpoint"].as_str().unwrap(),
        m["timestamp"].as_u64().unwrap(),
    );
    assert_eq!(msg, m["message"].as_str().unwrap());
}

/// The tlog-proof example is illustrative: its signatures are truncated with
/// `[...]`, so the whole proof must be refused, while its head and its
/// checkpoint body parse with the values shown.
#[test]
fn spec_proof_shape() {
    let ex = examples();
    let p = &ex["proof"];
    let text = p["text"].as_str().unwrap();
    assert!(matches!(
        TlogProof::parse(text.as_bytes()),
        Err(ProofError::Checkpoint(_))
    ));
    let (head, checkpoint) = text.split_once("\n\n").unwrap();
    let body = &checkpoint[..checkpoint.find("\n\n").unwrap() + 1];
    let cp = Checkpoint::parse(body).unwrap();
    assert_eq!(cp.origin(), p["origin"].as_str().unwrap());
    assert_eq!(cp.size(), p["size"].as_u64().unwrap());
    // Rebuild the proof around a checkpoint with a real (throwaway) signature.
    let signer =
        strongroom_formats::c2sp::note::NoteSigner::from_seed(cp.origin(), &[7; 32]).unwrap();
    let mut signed = SignedCheckpoint::new(cp).unwrap();
    signer.sign(signed.note_mut()).unwrap();
    let whole = format!("{head}\n\n{}", signed.format());
    let proof = TlogProof::parse(whole.as_bytes()).unwrap();
    assert_eq!(proof.format(), whole);
    assert_eq!(proof.index(), p["index"].as_u64().unwrap());
    assert_eq!(
        proof.inclusion().len() as u64,
        p["hashes"].as_u64().unwrap()
    );
    let extra = B64.decode(p["extra"].as_str().unwrap()).unwrap();
    assert_eq!(proof.extra(), Some(extra.as_slice()));
}
