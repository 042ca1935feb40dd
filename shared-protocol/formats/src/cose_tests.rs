#![allow(clippy::unwrap_used)]

use super::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

// [h'a10126', {}, h'010203', h'00']
const MINIMAL: &str = "8443a10126a04301020341 00";

fn minimal() -> Vec<u8> {
    h(&MINIMAL.replace(' ', ""))
}

#[test]
fn reads_the_parts_untagged_and_under_tag_18() {
    let want = Sign1 {
        protected: h("a10126"),
        payload: vec![1, 2, 3],
        signature: vec![0],
    };
    assert_eq!(Sign1::parse(&minimal()).unwrap(), want);
    let mut tagged = vec![0xd2];
    tagged.extend(minimal());
    assert_eq!(Sign1::parse(&tagged).unwrap(), want);
    assert_eq!(Sign1::payload_of(&tagged).unwrap(), vec![1, 2, 3]);
}

#[test]
fn refuses_trailing_bytes_other_tags_and_other_shapes() {
    let mut trailing = minimal();
    trailing.push(0);
    assert_eq!(Sign1::parse(&trailing), Err(Sign1Error::Malformed));
    let mut other_tag = vec![0xd1]; // tag 17: COSE_Mac0
    other_tag.extend(minimal());
    assert_eq!(Sign1::parse(&other_tag), Err(Sign1Error::WrongTag));
    let mut long_tag = vec![0xd8, 0x12]; // tag 18 in the one-byte form is still not ours
    long_tag.extend(minimal());
    assert_eq!(Sign1::parse(&long_tag), Err(Sign1Error::WrongTag));
    // three elements
    assert_eq!(
        Sign1::parse(&h("8343a10126a0420102")),
        Err(Sign1Error::Malformed)
    );
    // unprotected is a bstr, not a map
    assert_eq!(
        Sign1::parse(&h("8443a1012640430102034100")),
        Err(Sign1Error::Malformed)
    );
    assert_eq!(Sign1::parse(&[]), Err(Sign1Error::Malformed));
    assert_eq!(Sign1::parse(&[0xff]), Err(Sign1Error::Malformed));
}

#[test]
fn refuses_a_detached_payload() {
    // [h'a10126', {}, nil, h'00']
    assert_eq!(
        Sign1::parse(&h("8443a10126a0f64100")),
        Err(Sign1Error::DetachedPayload)
    );
}

#[test]
fn size_limit_at_and_one_over() {
    // A bstr payload sized so the whole item is exactly MAX_SIGN1_LEN bytes:
    // 1 (array) + 4 (protected) + 1 (map) + 5 (bstr head, 4-byte length) + n + 2 (sig).
    let n = MAX_SIGN1_LEN - 13;
    let mut at = vec![0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x5a];
    at.extend((n as u32).to_be_bytes());
    at.extend(std::iter::repeat_n(7u8, n));
    at.extend([0x41, 0x00]);
    assert_eq!(at.len(), MAX_SIGN1_LEN);
    assert_eq!(Sign1::parse(&at).unwrap().payload.len(), n);
    let mut over = at;
    over.push(0);
    assert_eq!(Sign1::parse(&over), Err(Sign1Error::TooLarge));
}

#[test]
fn reads_what_the_cose_wg_examples_carry() {
    // cose-wg Examples sign1-tests/sign-pass-02 (tagged, ES256, external AAD):
    // the reader does not verify, it only returns the parts as received.
    let bytes = h(concat!(
        "D28443A10126A10442313154546869732069732074686520636F6E74656E742E5840",
        "10729CD711CB3813D8D8E944A8DA7111E7B258C9BDCA6135F7AE1ADBEE9509891267",
        "837E1E33BD36C150326AE62755C6BD8E540C3E8F92D7D225E8DB72B8820B"
    ));
    let s = Sign1::parse(&bytes).unwrap();
    assert_eq!(s.protected, h("A10126"));
    assert_eq!(s.payload, b"This is the content.");
    assert_eq!(s.signature.len(), 64);
}

/// Every cose-wg sign1 example: the reader takes each apart, except the one
/// under a foreign tag (sign-fail-01, tag 998). The others fail only on what
/// a verifier checks (signature, algorithm), which this reader does not.
#[test]
fn cose_wg_sign1_examples_structurally() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../attestation-verifier/tests/data/cose/sign1-tests");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let bytes = h(json["output"]["cbor"].as_str().unwrap());
        let got = Sign1::parse(&bytes);
        if name == "sign-fail-01.json" {
            assert_eq!(got, Err(Sign1Error::WrongTag), "{name}");
        } else {
            // sign-fail-02 has its payload changed after signing.
            let want: &[u8] = if name == "sign-fail-02.json" {
                b"This is the content/"
            } else {
                b"This is the content."
            };
            assert_eq!(got.unwrap().payload, want, "{name}");
        }
        seen += 1;
    }
    assert!(seen >= 9, "only {seen} examples in {}", dir.display());
}
