#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::c2sp::checkpoint::Checkpoint;
use crate::c2sp::cosignature::CosignatureSigner;
use crate::c2sp::note::NoteSigner;
use crate::merkle;

/// The request body example of tlog-witness.md, "add-checkpoint".
const SPEC_BODY: &str = "old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
";

#[test]
fn parses_the_spec_example_and_formats_it_back() {
    let req = AddCheckpoint::parse(SPEC_BODY.as_bytes()).unwrap();
    assert_eq!(req.old_size, 20_852_014);
    assert_eq!(req.proof.len(), 4);
    assert_eq!(req.checkpoint.checkpoint().size(), 20_852_163);
    assert_eq!(
        req.checkpoint.checkpoint().origin(),
        "example.com/behind-the-sofa"
    );
    assert_eq!(req.checkpoint.note().signatures().len(), 2);
    assert_eq!(req.format(), SPEC_BODY);
}

fn signed(size: u8) -> SignedCheckpoint {
    let leaves: Vec<_> = (0..size).map(|i| merkle::leaf_hash(&[i])).collect();
    let cp = Checkpoint::new(
        "example.com/log",
        u64::from(size),
        merkle::root(&leaves),
        vec![],
    )
    .unwrap();
    let mut s = SignedCheckpoint::new(cp).unwrap();
    NoteSigner::from_seed("example.com/log", &[1; 32])
        .unwrap()
        .sign(s.note_mut())
        .unwrap();
    s
}

#[test]
fn refuses_what_the_spec_calls_malformed() {
    let good = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        checkpoint: signed(3),
    }
    .format();
    AddCheckpoint::parse(good.as_bytes()).unwrap();
    let cp = signed(3).format();
    for bad in [
        format!("old 01\n\n{cp}"),
        format!("old -1\n\n{cp}"),
        format!("old 1\n{cp}"),
        format!("new 0\n\n{cp}"),
        format!("old 0\nnot-a-hash\n\n{cp}"),
        format!("old 0\r\n\n{cp}"),
        format!("old 0\n\n{cp}trailing\n"),
        format!("old 0\n\n{cp}\n"),
    ] {
        assert!(AddCheckpoint::parse(bad.as_bytes()).is_err(), "{bad:?}");
    }
    let line = format!("{}\n", B64.encode([7u8; 32]));
    let at_limit = format!("old 0\n{}\n{cp}", line.repeat(MAX_CONSISTENCY_LINES));
    assert_eq!(
        AddCheckpoint::parse(at_limit.as_bytes())
            .unwrap()
            .proof
            .len(),
        63
    );
    let over = format!("old 0\n{}\n{cp}", line.repeat(MAX_CONSISTENCY_LINES + 1));
    assert_eq!(
        AddCheckpoint::parse(over.as_bytes()),
        Err(WitnessMessageError::TooManyProofLines)
    );
    let huge = vec![b'a'; MAX_ADD_CHECKPOINT_LEN + 1];
    assert_eq!(
        AddCheckpoint::parse(&huge),
        Err(WitnessMessageError::TooLong)
    );
}

#[test]
fn answers_round_trip() {
    let w = CosignatureSigner::from_seed("w.example", &[2; 32]).unwrap();
    let line = w.cosign(signed(3).checkpoint(), 1_700_000_000).unwrap();
    let body = format_cosignatures(&[line.clone(), line.clone()]);
    assert!(body.starts_with('\u{2014}') && body.ends_with('\n'));
    assert_eq!(
        parse_cosignatures(body.as_bytes()).unwrap(),
        vec![line.clone(), line]
    );
    assert!(parse_cosignatures(b"").is_err());
    assert!(parse_cosignatures(body.trim_end().as_bytes()).is_err());
    assert_eq!(parse_tlog_size(b"42\n"), Ok(42));
    for bad in [
        &b"42"[..],
        b"042\n",
        b"\n",
        b"4 2\n",
        b"99999999999999999999999\n",
    ] {
        assert!(parse_tlog_size(bad).is_err(), "{bad:?}");
    }
}
