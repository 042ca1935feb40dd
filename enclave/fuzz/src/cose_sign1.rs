//! strongroom-formats' structural COSE_Sign1 reader, which the host runs on
//! bytes the enclave (or a hostile database) hands it. Never panics; within
//! the bound, whatever it reads re-encodes (untagged, canonical heads) to a
//! COSE_Sign1 it reads back to the same parts.

use strongroom_formats::cose::{MAX_SIGN1_LEN, Sign1};

/// One input.
pub fn run(data: &[u8]) {
    let Ok(s) = Sign1::parse(data) else {
        return;
    };
    assert!(data.len() <= MAX_SIGN1_LEN);
    assert!(s.payload.len() < data.len() && s.signature.len() < data.len());
    let again = encode(&s);
    assert_eq!(
        Sign1::parse(&again).ok(),
        Some(s),
        "parts survive re-encoding"
    );
}

fn encode(s: &Sign1) -> Vec<u8> {
    let mut out = vec![0x84];
    bstr(&mut out, &s.protected);
    out.push(0xa0);
    bstr(&mut out, &s.payload);
    bstr(&mut out, &s.signature);
    out
}

fn bstr(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len() as u64;
    match n {
        0..=23 => out.push(0x40 | n as u8),
        24..=0xff => out.extend([0x58, n as u8]),
        0x100..=0xffff => {
            out.push(0x59);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(0x5a);
            out.extend((n as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(b);
}

/// Seeds: untagged and tagged minimal messages, a cose-wg example.
pub fn seeds() -> Vec<Vec<u8>> {
    let minimal = vec![0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x43, 1, 2, 3, 0x41, 0];
    let mut tagged = vec![0xd2];
    tagged.extend(&minimal);
    let big = encode(&Sign1 {
        protected: vec![0xa1, 0x01, 0x26],
        payload: vec![0xa1; 300],
        signature: vec![9; 64],
    });
    vec![minimal, tagged, big]
}
