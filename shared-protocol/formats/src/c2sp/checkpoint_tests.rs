#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;

const ROOT: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

#[test]
fn malformed_bodies_refused() {
    let cases = [
        "o\n1\n".to_owned(),                          // two lines
        format!("o\n1\n{ROOT}"),                      // no final newline
        format!("o\n1\n{ROOT}\n\n"),                  // trailing blank line
        format!("o\n1\n{ROOT}\n\next\n"),             // empty line before an extension
        format!("\n1\n{ROOT}\n"),                     // empty origin
        format!("o\n01\n{ROOT}\n"),                   // leading zero
        format!("o\n+1\n{ROOT}\n"),                   // sign
        format!("o\n18446744073709551616\n{ROOT}\n"), // 2^64
        format!("o\n1\n{}\n", &ROOT[..43]),           // short base64
        format!("o\n1\n{}\n", ROOT.replace('=', "")),
        "o\n1\nAAAA\n".to_owned(),   // 3 bytes
        format!("o\t\n1\n{ROOT}\n"), // control character
    ];
    for case in &cases {
        assert!(Checkpoint::parse(case).is_err(), "accepted {case:?}");
    }
    let zero = Checkpoint::parse(&format!("o\n0\n{ROOT}\nx y\n")).unwrap();
    assert_eq!(
        (zero.size(), zero.extensions()),
        (0, &["x y".to_owned()][..])
    );
}

#[test]
fn limits_exact_and_one_over() {
    let origin = "o".repeat(MAX_ORIGIN_LEN);
    assert!(Checkpoint::new(&origin, 1, [0; 32], vec![]).is_ok());
    let long = "o".repeat(MAX_ORIGIN_LEN + 1);
    assert_eq!(
        Checkpoint::new(&long, 1, [0; 32], vec![]),
        Err(CheckpointError::Origin)
    );
    let ext = |n| vec!["e".to_owned(); n];
    assert!(Checkpoint::new("o", 1, [0; 32], ext(MAX_EXTENSIONS)).is_ok());
    let over = Checkpoint::new("o", 1, [0; 32], ext(MAX_EXTENSIONS + 1));
    assert_eq!(over, Err(CheckpointError::TooManyExtensions));
    // Whole body: pad the last extension line to hit the limit exactly.
    let base = Checkpoint::new("o", 1, [0; 32], vec![])
        .unwrap()
        .format()
        .len();
    let fill = MAX_CHECKPOINT_LEN - base - 1;
    let at = Checkpoint::new("o", 1, [0; 32], vec!["e".repeat(fill)]).unwrap();
    assert_eq!(at.format().len(), MAX_CHECKPOINT_LEN);
    assert_eq!(Checkpoint::parse(&at.format()).unwrap(), at);
    let over = format!("{}e\n", at.format().trim_end());
    assert_eq!(Checkpoint::parse(&over), Err(CheckpointError::TooLong));
}

#[test]
fn signed_checkpoint_origin_and_key() {
    let cp = Checkpoint::new("example.com/log", 5, [9; 32], vec![]).unwrap();
    let signer = super::super::note::NoteSigner::from_seed("example.com/log", &[4; 32]).unwrap();
    let mut signed = SignedCheckpoint::new(cp.clone()).unwrap();
    signer.sign(signed.note_mut()).unwrap();
    let parsed = SignedCheckpoint::parse(signed.format().as_bytes()).unwrap();
    let vkey = signer.verifier_key();
    assert_eq!(parsed.verify_log("example.com/log", &vkey).unwrap(), &cp);
    let wrong = parsed.verify_log("example.com/other", &vkey);
    assert_eq!(wrong, Err(CheckpointError::WrongOrigin));
}

fn checkpoint_strategy() -> impl Strategy<Value = Checkpoint> {
    // Only valid inputs: origins and extension lines are non-empty and
    // hold no character below U+0020 (so no newline).
    let origin = "[a-z0-9./ +-]{1,40}";
    let ext = prop::collection::vec("[ -~\u{e8}]{1,30}", 0..4);
    (origin, any::<u64>(), any::<[u8; 32]>(), ext)
        .prop_map(|(o, s, r, e)| Checkpoint::new(&o, s, r, e).unwrap())
}

proptest! {
    #[test]
    fn parse_format_round_trip(cp in checkpoint_strategy()) {
        prop_assert_eq!(Checkpoint::parse(&cp.format()).unwrap(), cp);
    }

    #[test]
    fn parse_never_panics(s in "[\\PC\n]{0,200}") {
        if let Ok(cp) = Checkpoint::parse(&s) {
            prop_assert_eq!(cp.format(), s);
        }
    }
}
