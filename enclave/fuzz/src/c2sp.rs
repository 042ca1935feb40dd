//! strongroom-formats' C2SP parsers of untrusted text: signed notes,
//! checkpoints, `tlog-proof@v1` proofs, tile paths, `add-checkpoint` bodies,
//! witness answers (cosignature lines), entry bundles, tlog-policy files. Never panics; each
//! format has one encoding, so whatever parses formats back to the same
//! bytes, within the documented bounds.

use strongroom_formats::c2sp::checkpoint::Checkpoint;
use strongroom_formats::c2sp::note::{MAX_NOTE_LEN, MAX_SIGNATURES, Note};
use strongroom_formats::c2sp::policy::{MAX_POLICY_ITEMS, TlogPolicy};
use strongroom_formats::c2sp::proof::TlogProof;
use strongroom_formats::c2sp::tiles::Tile;
use strongroom_formats::c2sp::witness::AddCheckpoint;

/// One input.
pub fn run(data: &[u8]) {
    if let Ok(n) = Note::parse(data) {
        assert!(data.len() <= MAX_NOTE_LEN && n.signatures().len() <= MAX_SIGNATURES);
        assert_eq!(n.format().as_bytes(), data, "note: one encoding");
    }
    if let Ok(p) = TlogPolicy::parse(data) {
        assert!(p.logs().len() <= MAX_POLICY_ITEMS && p.witnesses().len() <= MAX_POLICY_ITEMS);
    }
    if let Ok(r) = AddCheckpoint::parse(data) {
        assert_eq!(r.format().as_bytes(), data, "add-checkpoint: one encoding");
    }
    if let Ok(p) = TlogProof::parse(data) {
        assert_eq!(p.format().as_bytes(), data, "proof: one encoding");
    }
    if let Ok(lines) = strongroom_formats::c2sp::witness::parse_cosignatures(data) {
        let again = strongroom_formats::c2sp::witness::format_cosignatures(&lines);
        assert_eq!(again.as_bytes(), data, "cosignature answer: one encoding");
    }
    for count in [0, 1, 2, 255, 256] {
        if let Some(entries) = strongroom_formats::c2sp::tiles::split_entry_bundle(data, count) {
            let mut again = Vec::with_capacity(data.len());
            for e in &entries {
                let len = u16::try_from(e.len()).expect("at most 65,535 bytes");
                again.extend_from_slice(&len.to_be_bytes());
                again.extend_from_slice(e);
            }
            assert_eq!(again, data, "entry bundle: one encoding");
        }
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cp) = Checkpoint::parse(s) {
        assert_eq!(cp.format(), s, "checkpoint: one encoding");
    }
    if let Ok(t) = Tile::parse_path(s) {
        assert_eq!(t.path(), s, "tile path: one encoding");
    }
}

/// Seeds that reach deep: a signed and cosigned checkpoint, a proof around
/// it, a tile path.
pub fn seeds() -> Vec<Vec<u8>> {
    use strongroom_formats::c2sp::checkpoint::SignedCheckpoint;
    use strongroom_formats::c2sp::cosignature::CosignatureSigner;
    use strongroom_formats::c2sp::note::NoteSigner;
    use strongroom_formats::merkle;

    let leaves: Vec<_> = (0u8..5).map(|i| merkle::leaf_hash(&[i])).collect();
    let cp = Checkpoint::new(
        "example.com/log",
        5,
        merkle::root(&leaves),
        vec!["ext".into()],
    );
    let cp = cp.expect("valid checkpoint");
    let mut signed = SignedCheckpoint::new(cp.clone()).expect("valid text");
    let log = NoteSigner::from_seed("example.com/log", &[1; 32]).expect("valid name");
    log.sign(signed.note_mut()).expect("one signature");
    let w = CosignatureSigner::from_seed("w.example", &[2; 32]).expect("valid name");
    let cosig = w.cosign(&cp, 1_700_000_000).expect("valid time");
    signed
        .note_mut()
        .add_signature(cosig)
        .expect("two signatures");
    let inclusion = merkle::inclusion_proof(&leaves, 3).expect("in range");
    let proof = TlogProof::new(Some(b"x".to_vec()), 3, inclusion, signed.clone());
    let proof = proof.expect("within bounds");
    let consistency = merkle::consistency_proof(&leaves, 2).expect("in range");
    let add = AddCheckpoint {
        old_size: 2,
        proof: consistency,
        checkpoint: signed.clone(),
    };
    let policy = format!(
        "log {}\nwitness W {}\ngroup G any W\nquorum G\n",
        log.verifier_key(),
        w.verifier_key().expect("a cosignature key")
    );
    vec![
        policy.into_bytes(),
        add.format().into_bytes(),
        signed.format().into_bytes(),
        proof.format().into_bytes(),
        cp.format().into_bytes(),
        b"tile/1/x001/x234/067.p/5".to_vec(),
        // The host serves these paths (`GET /tile/...`) from untrusted requests.
        b"tile/entries/x018/x446/x744/x073/x709/x551/615.p/255".to_vec(),
        b"tile/0/x003/906".to_vec(),
    ]
}
