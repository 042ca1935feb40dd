//! The verifier reads the `pcrs.json` a build writes, accepts a document whose
//! PCRs match it and refuses one that differs in any listed register.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use strongroom_verifier::PcrSet;

fn pcrs_of(manifest: &strongroom_enclave_image::PcrManifest) -> BTreeMap<u8, Vec<u8>> {
    // A document carries all 16 registers; the unmeasured ones are zero.
    let mut map: BTreeMap<u8, Vec<u8>> = (0..16).map(|i| (i, vec![0u8; 48])).collect();
    for (i, name) in [(0, "PCR0"), (1, "PCR1"), (2, "PCR2"), (8, "PCR8")] {
        if let Some(v) = manifest.pcr(name) {
            map.insert(i, hex::decode(v).unwrap());
        }
    }
    map
}

#[test]
fn verifier_accepts_matching_pcrs_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let i = common::inputs(dir.path());
    let out = common::build_ok(&i, "out");
    let set = PcrSet::from_file(&out.pcrs).unwrap();
    assert_eq!(set.pcrs.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);

    let doc = pcrs_of(&out.manifest);
    assert!(set.matches(&doc));
    for register in [0u8, 1, 2] {
        let mut tampered = doc.clone();
        tampered.get_mut(&register).unwrap()[47] ^= 1;
        assert!(!set.matches(&tampered), "PCR{register} change accepted");
    }

    // Another build (one byte of the binary changed) is a different release.
    let mut bin = std::fs::read(&i.binary).unwrap();
    bin[0] ^= 0xff;
    std::fs::write(&i.binary, bin).unwrap();
    let other = common::build_ok(&i, "other");
    assert!(!set.matches(&pcrs_of(&other.manifest)));
    assert!(
        PcrSet::from_file(&other.pcrs)
            .unwrap()
            .matches(&pcrs_of(&other.manifest))
    );
}
