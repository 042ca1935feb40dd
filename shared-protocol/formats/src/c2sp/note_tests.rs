#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;

const SEED: [u8; 32] = [1; 32];

fn signed(text: &str, name: &str, seed: &[u8; 32]) -> (Note, VerifierKey) {
    let signer = NoteSigner::from_seed(name, seed).unwrap();
    let mut note = Note::new(text).unwrap();
    signer.sign(&mut note).unwrap();
    (note, signer.verifier_key())
}

/// A note of exactly `len` bytes (one fake 64-byte signature line).
fn note_of_len(len: usize) -> String {
    let sig = format!("\u{2014} k {}\n", B64.encode([0u8; 68]));
    let text_len = len - sig.len() - 1;
    format!("{}\n\n{sig}", "a".repeat(text_len - 1))
}

#[test]
fn size_limit_exact_and_one_over() {
    let at = note_of_len(MAX_NOTE_LEN);
    assert_eq!(at.len(), MAX_NOTE_LEN);
    assert!(Note::parse(at.as_bytes()).is_ok());
    let over = note_of_len(MAX_NOTE_LEN + 1);
    assert_eq!(Note::parse(over.as_bytes()), Err(NoteError::TooLong));
}

#[test]
fn signature_count_limit() {
    let line = format!("\u{2014} k {}\n", B64.encode([0u8; 68]));
    let at = format!("t\n\n{}", line.repeat(MAX_SIGNATURES));
    assert_eq!(
        Note::parse(at.as_bytes()).unwrap().signatures().len(),
        MAX_SIGNATURES
    );
    let over = format!("t\n\n{}", line.repeat(MAX_SIGNATURES + 1));
    assert_eq!(
        Note::parse(over.as_bytes()),
        Err(NoteError::TooManySignatures)
    );
    let mut note = Note::parse(at.as_bytes()).unwrap();
    let extra = note.signatures()[0].clone();
    assert_eq!(note.add_signature(extra), Err(NoteError::TooManySignatures));
}

#[test]
fn malformed_notes_refused() {
    let sig = format!("\u{2014} k {}\n", B64.encode([0u8; 68]));
    let cases = [
        "no signatures\n".to_owned(),
        format!("text\n{sig}"),                             // no blank line
        format!("text\n\n{sig}\n"),                         // trailing blank line
        format!("text\n\n{}", sig.trim_end()),              // no final newline
        format!("text\n\n{sig}trailing"),                   // trailing data
        format!("te\rxt\n\n{sig}"),                         // control character
        format!("text\n\n{}", sig.replace(" k ", "  ")),    // empty name
        format!("text\n\n{}", sig.replace(" k ", " a+b ")), // plus in name
        format!("text\n\n{}", sig.replace(" k ", " a\u{a0}b ")), // Unicode space
        format!("text\n\n{}", sig.replace("\u{2014}", "-")), // not an em dash
        format!("text\n\n{}", sig.replace('=', "")),        // unpadded base64
        "text\n\n\u{2014} k AAAAAA==\n".to_owned(),         // 4 bytes: key ID only
        format!("text\n\n{} extra\n", sig.trim_end()),      // extra field
    ];
    for case in &cases {
        assert!(Note::parse(case.as_bytes()).is_err(), "accepted {case:?}");
    }
    assert!(
        Note::parse(b"t\n\n\xe2\x80\x94 k \xff\n").is_err(),
        "not UTF-8"
    );
}

#[test]
fn text_may_hold_blank_lines() {
    let (note, vkey) = signed("a\n\nb\n\n", "example.com/k", &SEED);
    let again = Note::parse(note.format().as_bytes()).unwrap();
    assert_eq!(again.text(), "a\n\nb\n\n");
    assert!(again.verify(&[vkey]).is_ok());
}

#[test]
fn unknown_keys_ignored_known_must_verify() {
    let (mut note, vkey) = signed("hello\n", "example.com/k", &SEED);
    let other = NoteSigner::from_seed("example.com/other", &[2; 32]).unwrap();
    other.sign(&mut note).unwrap();
    // Same name, other ID; same ID, other name: both unknown, ignored.
    let sig = note.signatures()[0].clone();
    let renamed = NoteSignature::new("example.com/x", sig.key_id(), vec![0; 64]).unwrap();
    let reid = NoteSignature::new(sig.name(), sig.key_id() ^ 1, vec![0; 64]).unwrap();
    note.add_signature(renamed).unwrap();
    note.add_signature(reid).unwrap();
    assert_eq!(
        note.verify(std::slice::from_ref(&vkey)).unwrap(),
        vec![&vkey]
    );
    // No known key at all: refused.
    let stranger = NoteSigner::from_seed("example.com/s", &[3; 32])
        .unwrap()
        .verifier_key();
    assert_eq!(note.verify(&[stranger]), Err(NoteError::VerificationFailed));
    // A known key's signature that fails refuses the whole note.
    let bad = NoteSignature::new(sig.name(), sig.key_id(), vec![0; 64]).unwrap();
    note.add_signature(bad).unwrap();
    assert_eq!(note.verify(&[vkey]), Err(NoteError::VerificationFailed));
}

#[test]
fn vkeys() {
    let vkey = NoteSigner::from_seed("example.com/k", &SEED)
        .unwrap()
        .verifier_key();
    let text = vkey.to_string();
    assert_eq!(VerifierKey::parse(&text).unwrap(), vkey);
    let (name, rest) = text.split_once('+').unwrap();
    let (id, key) = rest.split_once('+').unwrap();
    let bad_id = format!("{name}+{:08x}+{key}", vkey.key_id() ^ 1);
    // Hex must be lowercase (the spec example's ID has letters in it).
    let upper = "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k".to_owned();
    let cases = [
        bad_id,
        upper,
        format!("{text}+x"),
        format!("{name}+{id}"),
        format!("+{id}+{key}"),
    ];
    let mut raw = B64.decode(key).unwrap();
    raw[0] = 0x02;
    let ecdsa = format!("{name}+{id}+{}", B64.encode(&raw));
    for case in cases.iter().chain([&ecdsa]) {
        assert_eq!(
            VerifierKey::parse(case),
            Err(NoteError::InvalidVerifierKey),
            "{case}"
        );
    }
}

/// Standard base64 has `+` in its alphabet: a key whose encoding holds one
/// (as `witness.test/w1`'s in witness/tests did) still parses.
#[test]
fn vkeys_whose_base64_holds_a_plus() {
    let mut found = 0;
    for seed in 0..=255u8 {
        let vkey = NoteSigner::from_seed("example.com/k", &[seed; 32])
            .unwrap()
            .verifier_key();
        let text = vkey.to_string();
        if text.matches('+').count() > 2 {
            assert_eq!(VerifierKey::parse(&text).unwrap(), vkey, "{text}");
            found += 1;
        }
    }
    assert!(found > 0, "no seed gave a `+` in the base64");
}

#[test]
fn signer_debug_shows_no_key() {
    let signer = NoteSigner::from_seed("example.com/k", &SEED).unwrap();
    assert_eq!(format!("{signer:?}"), "NoteSigner");
}

fn text_strategy() -> impl Strategy<Value = String> {
    // Lines without control characters (newline included), some empty, some
    // non-ASCII; joined, each ending in a newline: always a valid text.
    prop::collection::vec("[ -~\u{e8}\u{2014}]{0,20}", 1..6).prop_map(|l| l.join("\n") + "\n")
}

proptest! {
    #[test]
    fn parse_format_round_trip(text in text_strategy(), name in "[a-z0-9./-]{1,20}", seed in any::<[u8; 32]>()) {
        let (note, vkey) = signed(&text, &name, &seed);
        let again = Note::parse(note.format().as_bytes()).unwrap();
        prop_assert_eq!(&again, &note);
        prop_assert!(again.verify(&[vkey]).is_ok());
    }

    #[test]
    fn any_signature_bit_flip_fails(text in text_strategy(), i in any::<usize>(), bit in 0u8..8) {
        let (note, vkey) = signed(&text, "example.com/k", &SEED);
        let sig = &note.signatures()[0];
        let mut bytes = sig.signature().to_vec();
        let at = i % bytes.len();
        bytes[at] ^= 1 << bit; // always a change
        let mut tampered = Note::new(note.text()).unwrap();
        tampered.add_signature(NoteSignature::new(sig.name(), sig.key_id(), bytes).unwrap()).unwrap();
        let got = tampered.verify(std::slice::from_ref(&vkey)).err();
        prop_assert_eq!(got, Some(NoteError::VerificationFailed));
    }

    #[test]
    fn any_text_change_fails(text in text_strategy()) {
        let (note, vkey) = signed(&text, "example.com/k", &SEED);
        // Appending a character before the final newline always changes the text.
        let changed = format!("{}x\n", &text[..text.len() - 1]);
        let mut tampered = Note::new(&changed).unwrap();
        tampered.add_signature(note.signatures()[0].clone()).unwrap();
        let got = tampered.verify(std::slice::from_ref(&vkey)).err();
        prop_assert_eq!(got, Some(NoteError::VerificationFailed));
    }

    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Note::parse(&bytes);
    }
}
