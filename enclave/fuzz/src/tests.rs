//! The stable-toolchain run of every target: seeds that reach deep (valid
//! encodings, genuine documents), their truncations and bit flips, and
//! pseudo-random inputs. Each test also shows that its seed really reaches
//! the parser's inner checks, so a passing run means something.

use strongroom_enclave_core::ring::KeyRing;
use strongroom_enclave_core::ring::{self, MAX_RING_SECRETS_LEN};
use strongroom_enclave_core::sync::{NONCE_LEN, SyncHolder};

use crate::fixtures::{FIXED_DATA_KEY, T0_MS, fixed_ring, sim};
use crate::{
    c2sp, cose_sign1, history_segment, kms_answer, kms_cms, owner_action, proxy_v2, ring_open,
    ring_secrets, sync_export, sync_import, wallet_answers,
};

/// xorshift64*: deterministic inputs, no extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() as usize) % (max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Every truncation, and one bit flipped at every `step`-th byte.
fn mutations(seed: &[u8], step: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..seed.len()).map(|n| seed[..n].to_vec()).collect();
    for i in (0..seed.len()).step_by(step) {
        for bit in [0, 3, 7] {
            let mut m = seed.to_vec();
            m[i] ^= 1 << bit;
            out.push(m);
        }
    }
    let mut longer = seed.to_vec();
    longer.push(0);
    out.push(longer);
    out
}

fn secrets_seeds() -> Vec<Vec<u8>> {
    let with_blob = ring::open(ring_open::seed(), &FIXED_DATA_KEY).expect("seed opens");
    vec![
        fixed_ring().export_secrets().expect("export").to_vec(),
        with_blob.export_secrets().expect("export").to_vec(),
    ]
}

#[test]
fn ring_secrets_target() {
    for seed in secrets_seeds() {
        assert!(KeyRing::import_secrets(&seed).is_ok(), "seed must import");
        ring_secrets::run(&seed);
        for m in mutations(&seed, 1) {
            ring_secrets::run(&m);
        }
    }
    let mut rng = Rng(1);
    for _ in 0..2000 {
        ring_secrets::run(&rng.bytes(300));
    }
    ring_secrets::run(&vec![0xa0; MAX_RING_SECRETS_LEN + 1]);
}

#[test]
fn ring_open_target() {
    for seed in secrets_seeds() {
        // Mode 1 with genuine secrets opens (the deep path is reached).
        let mut honest = vec![1u8];
        honest.extend_from_slice(&seed);
        ring_open::run(&honest);
        for m in mutations(&seed, 3) {
            let mut input = vec![1u8];
            input.extend(m);
            ring_open::run(&input);
        }
    }
    // Mode 2: untouched, informational edits and a dropped clear blob open;
    // the rest must not (checked inside against the tampering).
    for ops in [
        &[][..],
        &[8, 1],
        &[2, 0],
        &[0, 1],
        &[1, 5],
        &[4, 1],
        &[5, 9],
        &[6, 1],
        &[7, 0],
        &[3, 3],
    ] {
        let mut input = vec![2u8];
        input.extend_from_slice(ops);
        ring_open::run(&input);
    }
    let mut sealed = ring_open::seed().clone();
    ring_open::tamper(&mut sealed, &[8, 1, 2, 0]);
    assert!(ring::open(&sealed, &FIXED_DATA_KEY).is_ok());
    let mut rng = Rng(2);
    for i in 0..3000u32 {
        let mut input = vec![(i % 3) as u8];
        input.extend(rng.bytes(200));
        ring_open::run(&input);
    }
}

#[test]
fn sync_import_target() {
    let mut rng = Rng(3);
    for i in 0..24u32 {
        let mut input = vec![(i % 2) as u8];
        if i % 4 == 1 {
            // enc (65) || ciphertext: well-formed lengths, reaching the HPKE open.
            input.extend((0..65 + 48).map(|_| rng.next() as u8));
        } else {
            input.extend(rng.bytes(400));
        }
        sync_import::run(&input);
    }
    sync_import::run(&[]);
    sync_import::run(&[1]);
}

#[test]
fn sync_export_target() {
    // The oracle's success case really exports through the real holder.
    let s = sim();
    let holder = SyncHolder::new();
    let challenge = holder.issue_challenge(&s.nsm, T0_MS).expect("challenge");
    let f = sync_export::fields(
        &[
            1 | 4 | 16,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
            9,
        ],
        &challenge,
    );
    use strongroom_enclave_core::nsm::Nsm as _;
    let doc = s
        .nsm
        .attest(
            f.public_key.as_deref(),
            f.user_data.as_deref(),
            f.nonce.as_deref(),
        )
        .expect("attest");
    assert_eq!(f.user_data.as_ref().map(Vec::len), Some(21 + NONCE_LEN));
    assert!(
        holder
            .export(&s.nsm, &s.root, &s.pcrs, &doc, b"x", s.now)
            .is_ok()
    );

    let mut rng = Rng(4);
    for flags in 0u8..64 {
        let mut input = vec![1u8, flags];
        input.extend(rng.bytes(120));
        sync_export::run(&input);
    }
    for _ in 0..16 {
        let mut input = vec![0u8];
        input.extend(rng.bytes(600));
        sync_export::run(&input);
    }
    // A genuine document relayed in raw mode is not garbage: skip; a
    // truncated one is.
    let mut input = vec![0u8];
    input.extend_from_slice(&doc[..doc.len() - 1]);
    sync_export::run(&input);
}

fn kms_seeds() -> Vec<String> {
    let blob = "AQIDBAUGBwgJCgsMDQ4PEA==";
    let env = "MIIBxwYJKoZIhvcNAQcDoIIBuDCCAbQCAQIxggFfMIIBWw==";
    let arn = "arn:aws:kms:eu-central-1:111122223333:key/abc";
    vec![
        format!(
            r#"{{"CiphertextBlob":"{blob}","CiphertextForRecipient":"{env}","KeyId":"{arn}"}}"#
        ),
        format!(
            r#"{{"CiphertextForRecipient":"{env}","KeyId":"{arn}","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#
        ),
        format!(r#"{{"CiphertextForRecipient":"{env}","KeyId":"{arn}","Plaintext":null}}"#),
        r#"{"__type":"com.amazonaws.kms#AccessDeniedException","message":"no"}"#.to_owned(),
    ]
}

#[test]
fn kms_answer_target() {
    use strongroom_enclave_core::kms::request::{parse_decrypt, parse_generate_data_key};
    let seeds = kms_seeds();
    assert!(parse_generate_data_key(200, seeds[0].as_bytes()).is_ok());
    assert!(parse_decrypt(200, seeds[1].as_bytes()).is_ok());
    for seed in &seeds {
        for mode in [0u8, 1] {
            for m in mutations(seed.as_bytes(), 2) {
                let mut input = vec![mode, 0];
                if mode == 0 {
                    input.pop();
                }
                input.extend(m);
                kms_answer::run(&input);
            }
        }
    }
    let mut rng = Rng(5);
    for _ in 0..2000 {
        kms_answer::run(&rng.bytes(200));
    }
    for len_over_max in [-1, 0] {
        b64_fields_around_max(len_over_max);
    }
}

/// Regression for a fuzzing finding: `kms::request::b64_field` bounded the
/// base64 text (`max.div_ceil(3) * 4` characters) but not the decoded
/// length, so a `CiphertextForRecipient` of `MAX_ENVELOPE_LEN + 1` bytes
/// (8193: 2731 groups of 3) parsed.
#[test]
fn kms_answer_decoded_length_is_bounded() {
    for len_over_max in [1, 2, 3] {
        b64_fields_around_max(len_over_max);
    }
}

/// Answers whose one base64 field decodes to `max + len_over_max` bytes.
fn b64_fields_around_max(len_over_max: isize) {
    let arn = "arn:aws:kms:eu-central-1:111122223333:key/abc";
    for (field, max) in [
        (
            "CiphertextBlob",
            strongroom_enclave_core::kms::request::MAX_CIPHERTEXT_BLOB_LEN,
        ),
        (
            "CiphertextForRecipient",
            strongroom_enclave_core::kms::cms::MAX_ENVELOPE_LEN,
        ),
    ] {
        let b64 = base64_of_len(max.saturating_add_signed(len_over_max));
        let mut fields = [
            ("CiphertextBlob", "AQID".to_owned()),
            ("CiphertextForRecipient", "AQID".to_owned()),
            ("KeyId", arn.to_owned()),
        ];
        fields
            .iter_mut()
            .filter(|(k, _)| *k == field)
            .for_each(|(_, v)| *v = b64.clone());
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!(r#""{k}":"{v}""#))
            .collect();
        let mut input = vec![0u8];
        input.extend(format!("{{{}}}", body.join(",")).as_bytes());
        kms_answer::run(&input);
    }
}

/// Standard base64 of `len` bytes of `A`.
fn base64_of_len(len: usize) -> String {
    let mut out = "QUFB".repeat(len / 3);
    out.push_str(["", "QQ==", "QUE="][len % 3]);
    out
}

/// A real `CiphertextForRecipient` (see enclave/tests/kms_cms.rs).
const CMS_SEED: &[u8] =
    include_bytes!("../../core/tests/kms_data/aws_kms_ciphertext_for_recipient.ber");

#[test]
fn kms_cms_target() {
    assert!(strongroom_enclave_core::kms::cms::Envelope::parse(CMS_SEED).is_ok());
    kms_cms::run(CMS_SEED);
    for m in mutations(CMS_SEED, 5) {
        kms_cms::run(&m);
    }
    let mut rng = Rng(6);
    for _ in 0..500 {
        kms_cms::run(&rng.bytes(300));
    }
    kms_cms::run(&vec![
        0x30;
        strongroom_enclave_core::kms::cms::MAX_ENVELOPE_LEN + 1
    ]);
}

#[test]
fn c2sp_target() {
    for seed in c2sp::seeds() {
        c2sp::run(&seed);
        for m in mutations(&seed, 3) {
            c2sp::run(&m);
        }
    }
    let mut rng = Rng(7);
    for _ in 0..500 {
        c2sp::run(&rng.bytes(300));
    }
}

#[test]
fn proxy_v2_target() {
    for seed in proxy_v2::seeds() {
        proxy_v2::run(&seed);
        for m in mutations(&seed, 3) {
            proxy_v2::run(&m);
        }
    }
    let mut rng = Rng(11);
    for _ in 0..500 {
        proxy_v2::run(&rng.bytes(80));
    }
}

#[test]
fn cose_sign1_target() {
    for seed in cose_sign1::seeds() {
        cose_sign1::run(&seed);
        for m in mutations(&seed, 3) {
            cose_sign1::run(&m);
        }
    }
    let mut rng = Rng(11);
    for _ in 0..500 {
        cose_sign1::run(&rng.bytes(200));
    }
}

#[test]
fn owner_action_target() {
    for seed in owner_action::seeds() {
        owner_action::run(&seed);
        for m in mutations(&seed, 3) {
            owner_action::run(&m);
        }
    }
    let mut rng = Rng(13);
    for _ in 0..500 {
        owner_action::run(&rng.bytes(200));
    }
}

#[test]
fn wallet_answers_target() {
    for seed in wallet_answers::seeds() {
        wallet_answers::run(&seed);
        for m in mutations(&seed, 3) {
            wallet_answers::run(&m);
        }
    }
    let mut rng = Rng(17);
    for _ in 0..500 {
        wallet_answers::run(&rng.bytes(300));
    }
}

#[test]
fn history_segment_target() {
    use strongroom_enclave_core::history::{self, HistoryKey};
    let seed = history_segment::seed();
    let key = HistoryKey::from_bytes(history_segment::KEY);
    assert!(
        history::open(&key, history_segment::ACCOUNT, seed).is_ok(),
        "seed opens"
    );
    // Raw: the genuine bytes and their mutations, mode 0.
    for m in mutations(seed, 5) {
        history_segment::run(&[&[0u8][..], &m].concat());
    }
    // Honest: the genuine plaintext reaches the segment rules; so do its mutations.
    let plain = history_segment::seed_plaintext();
    let mut honest = vec![1u8];
    honest.extend_from_slice(&plain);
    history_segment::run(&honest);
    for m in mutations(&plain, 1) {
        history_segment::run(&[&[1u8][..], &m].concat());
    }
    // Tampered: no edits opens; every edit script is checked.
    history_segment::run(&[2u8]);
    let mut rng = Rng(18);
    for _ in 0..2000 {
        let mut input = vec![2u8];
        input.extend(rng.bytes(8));
        history_segment::run(&input);
        let mut raw = vec![(rng.next() % 2) as u8];
        raw.extend(rng.bytes(400));
        history_segment::run(&raw);
    }
}
