//! Attested key sync (`strongroom_enclave_core::sync`) with real crypto: simulated
//! NSMs sign real attestation documents, the real verifier checks them, the
//! ring travels under real HPKE. Every refusal case also shows that the same
//! setup without the fault succeeds, so a failure is for the intended reason.
//!
//! Each simulator generates its own dev CA, so a side is handed the PEER's
//! root as its trust root (in a deployment every enclave shares one root: the
//! AWS root, or the dev root shared with `--dev-root-key`).
#![cfg(feature = "dev-simulator")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hpke::kem::Kem as KemTrait;
use hpke::{Deserializable, OpModeS, Serializable};
use sha2::{Digest, Sha256};
use strongroom_enclave::nsm::sim::SimNsm;
use strongroom_enclave_core::clock::FixedClock;
use strongroom_enclave_core::nsm::{Nsm, NsmError, PCR_LEN};
use strongroom_enclave_core::ring::{Aead, Kdf, Kem};
use strongroom_enclave_core::sync::{
    CHALLENGE_TTL, HPKE_INFO, MAX_CIPHERTEXT_LEN, MAX_DOCUMENT_AGE, MAX_PENDING_CHALLENGES,
    MAX_SECRET_LEN, NONCE_LEN, SyncError, SyncHolder, SyncRequester, USER_DATA_PREFIX, own_pcrs,
};
use strongroom_protocol::ErrorCode;
use strongroom_protocol::messages::SyncExported;
use strongroom_verifier::{TrustRoot, VerifyError, inspect_unverified};
use zeroize::Zeroizing;

/// A fixed "now" for the tests (2025-06-15).
const T0: u64 = 1_750_000_000_000;
/// Simulators are created this long before T0, so clocks may be set back.
const CREATED_BEFORE: u64 = 20 * 60 * 1000;
const SECRET: &[u8] = b"CBOR ring secrets: versions, signing scalar, data key";
const PCR0: [u8; PCR_LEN] = [0x11; PCR_LEN];
const OTHER_PCR0: [u8; PCR_LEN] = [0x22; PCR_LEN];

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// One simulated enclave with its own clock.
struct Enclave {
    nsm: SimNsm,
    clock: Arc<FixedClock>,
    root: TrustRoot,
    pcrs: [Vec<u8>; 3],
}

fn enclave(pcr0: [u8; PCR_LEN]) -> Enclave {
    let clock = Arc::new(FixedClock::new(T0 - CREATED_BEFORE));
    let nsm = SimNsm::new(clock.clone(), pcr0).unwrap();
    clock.set(T0);
    let root = TrustRoot::dev_from_der(nsm.root_der()).unwrap();
    let pcrs = own_pcrs(&nsm).unwrap();
    Enclave {
        nsm,
        clock,
        root,
        pcrs,
    }
}

/// Holder B and requester A with identical images.
struct Pair {
    a: Enclave,
    b: Enclave,
    holder: SyncHolder,
    requester: SyncRequester,
}

fn pair() -> Pair {
    Pair {
        a: enclave(PCR0),
        b: enclave(PCR0),
        holder: SyncHolder::new(),
        requester: SyncRequester::new(),
    }
}

impl Pair {
    /// Steps 1 and 2: B's challenge, A's document.
    fn request(&self) -> Vec<u8> {
        let challenge = self.holder.issue_challenge(&self.b.nsm, T0).unwrap();
        self.requester.request(&self.a.nsm, &challenge).unwrap()
    }

    /// Step 3 at `now`.
    fn export(&self, doc: &[u8], now: u64) -> Result<SyncExported, SyncError> {
        self.holder.export(
            &self.b.nsm,
            &self.a.root,
            &self.b.pcrs,
            doc,
            SECRET,
            at(now),
        )
    }

    /// Step 4 at `now`.
    fn import(&self, exported: &SyncExported, now: u64) -> Result<Vec<u8>, SyncError> {
        self.requester
            .import(&self.b.root, &self.a.pcrs, exported, at(now))
            .map(|secret| secret.to_vec())
    }
}

fn attestation_error(result: Result<impl std::fmt::Debug, SyncError>) -> VerifyError {
    match result {
        Err(SyncError::Attestation(e)) => e,
        other => panic!("expected an attestation refusal, got {other:?}"),
    }
}

#[test]
fn round_trip_carries_the_secret_and_binds_every_field() {
    let p = pair();
    let challenge = p.holder.issue_challenge(&p.b.nsm, T0).unwrap();
    assert_eq!(p.holder.pending_challenges(), 1);
    let doc = p.requester.request(&p.a.nsm, &challenge).unwrap();
    assert!(p.requester.has_pending());

    let payload = inspect_unverified(&doc).unwrap();
    assert_eq!(payload.nonce.as_deref(), Some(&challenge[..]));
    let user_data = payload.user_data.unwrap();
    assert_eq!(&user_data[..USER_DATA_PREFIX.len()], USER_DATA_PREFIX);
    assert_eq!(user_data.len(), USER_DATA_PREFIX.len() + NONCE_LEN);
    let requester_nonce = user_data[USER_DATA_PREFIX.len()..].to_vec();
    let ephemeral = payload.public_key.unwrap();
    assert_eq!(ephemeral.len(), 65);
    assert_eq!(ephemeral[0], 0x04);

    let exported = p.export(&doc, T0 + 1000).unwrap();
    assert_eq!(p.holder.pending_challenges(), 0, "challenge consumed");
    assert_eq!(exported.enc.len(), 65);
    assert_eq!(exported.ciphertext.len(), SECRET.len() + 16);
    assert!(
        !exported
            .ciphertext
            .windows(SECRET.len())
            .any(|w| w == SECRET)
    );
    let answer = inspect_unverified(&exported.document).unwrap();
    assert_eq!(answer.nonce, Some(requester_nonce));
    assert_eq!(answer.public_key, None);
    let mut binding = exported.enc.clone();
    binding.extend_from_slice(&exported.ciphertext);
    assert_eq!(answer.user_data, Some(Sha256::digest(&binding).to_vec()));

    assert_eq!(p.import(&exported, T0 + 2000).unwrap(), SECRET);
    assert!(!p.requester.has_pending(), "request consumed");
}

#[test]
fn largest_secret_round_trips_and_one_more_byte_is_refused() {
    let p = pair();
    let big = vec![0x5a; MAX_SECRET_LEN];
    let doc = p.request();
    let exported = p
        .holder
        .export(&p.b.nsm, &p.a.root, &p.b.pcrs, &doc, &big, at(T0))
        .unwrap();
    assert_eq!(exported.ciphertext.len(), MAX_CIPHERTEXT_LEN);
    assert_eq!(p.import(&exported, T0).unwrap(), big);

    let doc = p.request();
    let too_big = vec![0x5a; MAX_SECRET_LEN + 1];
    let err = p
        .holder
        .export(&p.b.nsm, &p.a.root, &p.b.pcrs, &doc, &too_big, at(T0))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
}

#[test]
fn holder_refuses_a_requester_with_another_pcr0() {
    let p = pair();
    let other = enclave(OTHER_PCR0);
    let challenge = p.holder.issue_challenge(&p.b.nsm, T0).unwrap();
    let doc = p.requester.request(&other.nsm, &challenge).unwrap();
    let err = p
        .holder
        .export(&p.b.nsm, &other.root, &p.b.pcrs, &doc, SECRET, at(T0))
        .unwrap_err();
    assert_eq!(err, SyncError::Attestation(VerifyError::PcrsNotAllowed));
    assert_eq!(err.code(), ErrorCode::SyncRefused);
}

#[test]
fn requester_refuses_a_holder_with_another_pcr0() {
    let p = pair();
    // A holder running another image, which (unlike ours) hands its ring to
    // anyone: it checks the requester against the requester's own PCRs.
    let rogue = enclave(OTHER_PCR0);
    let doc = {
        let challenge = p.holder.issue_challenge(&rogue.nsm, T0).unwrap();
        p.requester.request(&p.a.nsm, &challenge).unwrap()
    };
    let exported = p
        .holder
        .export(&rogue.nsm, &p.a.root, &p.a.pcrs, &doc, SECRET, at(T0))
        .unwrap();
    let err = p
        .requester
        .import(&rogue.root, &p.a.pcrs, &exported, at(T0))
        .unwrap_err();
    assert_eq!(err, SyncError::Attestation(VerifyError::PcrsNotAllowed));
    assert!(!p.requester.has_pending());
}

#[test]
fn pcr1_and_pcr2_are_compared_too() {
    for index in [1, 2] {
        // The holder's own PCR differs from the requester's.
        let p = pair();
        let doc = p.request();
        let mut pcrs = p.b.pcrs.clone();
        pcrs[index][0] ^= 1;
        let err = p
            .holder
            .export(&p.b.nsm, &p.a.root, &pcrs, &doc, SECRET, at(T0))
            .unwrap_err();
        assert_eq!(err, SyncError::Attestation(VerifyError::PcrsNotAllowed));

        // The requester's own PCR differs from the holder's.
        let doc = p.request();
        let exported = p.export(&doc, T0).unwrap();
        let mut pcrs = p.a.pcrs.clone();
        pcrs[index][0] ^= 1;
        let err = p
            .requester
            .import(&p.b.root, &pcrs, &exported, at(T0))
            .unwrap_err();
        assert_eq!(err, SyncError::Attestation(VerifyError::PcrsNotAllowed));
    }
}

#[test]
fn expired_challenge_is_refused_and_spent() {
    let ttl = CHALLENGE_TTL.as_millis() as u64;
    let p = pair();
    let doc = p.request();
    p.a.clock.set(T0 + ttl - 1);
    assert_eq!(p.export(&doc, T0 + ttl - 1).unwrap().enc.len(), 65);

    let doc = p.request();
    assert_eq!(
        p.export(&doc, T0 + ttl).unwrap_err(),
        SyncError::ChallengeExpired
    );
    assert_eq!(p.holder.pending_challenges(), 0);
    assert_eq!(
        p.export(&doc, T0 + ttl - 1).unwrap_err(),
        SyncError::UnknownChallenge,
        "the refused challenge is spent"
    );
}

#[test]
fn replayed_requester_document_is_refused() {
    let p = pair();
    let doc = p.request();
    p.export(&doc, T0).unwrap();
    let err = p.export(&doc, T0 + 1).unwrap_err();
    assert_eq!(err, SyncError::UnknownChallenge);
    assert_eq!(err.code(), ErrorCode::SyncRefused);
}

#[test]
fn challenge_is_spent_even_when_later_checks_fail() {
    let p = pair();
    // A genuine document answering the challenge but binding no key.
    let challenge = p.holder.issue_challenge(&p.b.nsm, T0).unwrap();
    let mut user_data = USER_DATA_PREFIX.to_vec();
    user_data.extend_from_slice(&[9; NONCE_LEN]);
    let no_key =
        p.a.nsm
            .attest(None, Some(&user_data), Some(&challenge))
            .unwrap();
    assert_eq!(p.export(&no_key, T0).unwrap_err(), SyncError::BadPublicKey);
    assert_eq!(p.holder.pending_challenges(), 0);
}

#[test]
fn requester_document_fields_are_checked_exactly() {
    let p = pair();
    let valid_key = p.request(); // a real key to borrow
    let key = inspect_unverified(&valid_key).unwrap().public_key.unwrap();
    let mut good_ud = USER_DATA_PREFIX.to_vec();
    good_ud.extend_from_slice(&[9; NONCE_LEN]);
    let mut bad_point = key.clone();
    bad_point[64] ^= 1; // off the curve
    // (public_key, user_data, expected refusal)
    type Case = (Option<Vec<u8>>, Option<Vec<u8>>, SyncError);
    let cases: Vec<Case> = vec![
        (
            Some(key.clone()),
            Some(good_ud[..good_ud.len() - 1].to_vec()),
            SyncError::BadUserData,
        ),
        (
            Some(key.clone()),
            Some([&good_ud[..], &[0]].concat()),
            SyncError::BadUserData,
        ),
        (
            Some(key.clone()),
            Some([b"strongroom-keysync-v2", &good_ud[21..]].concat()),
            SyncError::BadUserData,
        ),
        (Some(key.clone()), None, SyncError::BadUserData),
        (
            Some(bad_point),
            Some(good_ud.clone()),
            SyncError::BadPublicKey,
        ),
        (
            Some(key[1..].to_vec()),
            Some(good_ud.clone()),
            SyncError::BadPublicKey,
        ),
    ];
    for (public_key, user_data, expected) in cases {
        let challenge = p.holder.issue_challenge(&p.b.nsm, T0).unwrap();
        let doc =
            p.a.nsm
                .attest(
                    public_key.as_deref(),
                    user_data.as_deref(),
                    Some(&challenge),
                )
                .unwrap();
        assert_eq!(p.export(&doc, T0).unwrap_err(), expected);
    }
    // The same construction with good fields is accepted.
    let challenge = p.holder.issue_challenge(&p.b.nsm, T0).unwrap();
    let doc =
        p.a.nsm
            .attest(Some(&key), Some(&good_ud), Some(&challenge))
            .unwrap();
    p.export(&doc, T0).unwrap();
}

#[test]
fn replayed_export_answer_is_refused() {
    let p = pair();
    let doc = p.request();
    let exported = p.export(&doc, T0).unwrap();
    assert_eq!(p.import(&exported, T0).unwrap(), SECRET);
    assert_eq!(
        p.import(&exported, T0).unwrap_err(),
        SyncError::NoPendingRequest
    );

    // Under a new pending request the old answer names the wrong nonce, and
    // the failed attempt spends the new request too.
    let _ = p.request();
    assert_eq!(
        attestation_error(p.import(&exported, T0)),
        VerifyError::NonceMismatch
    );
    assert!(!p.requester.has_pending());
}

#[test]
fn a_new_request_replaces_the_old_one() {
    let p = pair();
    let first = p.request();
    let _second = p.request();
    let exported = p.export(&first, T0).unwrap();
    assert_eq!(
        attestation_error(p.import(&exported, T0)),
        VerifyError::NonceMismatch
    );
}

#[test]
fn answer_from_a_third_enclave_for_another_request_is_refused() {
    let p = pair();
    let _doc_a = p.request();
    // C answers D's request: genuine, same image, but not our nonce.
    let c = enclave(PCR0);
    let d = enclave(PCR0);
    let (holder_c, requester_d) = (SyncHolder::new(), SyncRequester::new());
    let challenge = holder_c.issue_challenge(&c.nsm, T0).unwrap();
    let doc_d = requester_d.request(&d.nsm, &challenge).unwrap();
    let exported_c = holder_c
        .export(&c.nsm, &d.root, &c.pcrs, &doc_d, SECRET, at(T0))
        .unwrap();
    let err = p
        .requester
        .import(&c.root, &p.a.pcrs, &exported_c, at(T0))
        .unwrap_err();
    assert_eq!(err, SyncError::Attestation(VerifyError::NonceMismatch));
    // D itself imports it.
    let secret = requester_d
        .import(&c.root, &d.pcrs, &exported_c, at(T0))
        .unwrap();
    assert_eq!(&secret[..], SECRET);
}

#[test]
fn tampered_answer_is_refused() {
    for field in ["ciphertext", "enc"] {
        let p = pair();
        let doc = p.request();
        let mut exported = p.export(&doc, T0).unwrap();
        match field {
            "ciphertext" => exported.ciphertext[3] ^= 1,
            _ => exported.enc[10] ^= 1,
        }
        assert_eq!(p.import(&exported, T0).unwrap_err(), SyncError::BadAnswer);
    }
}

/// B attests whatever (enc, ciphertext) the test builds, answering A's nonce:
/// reaches the HPKE layer with a correctly bound answer.
fn attested_answer(p: &Pair, doc: &[u8], enc: Vec<u8>, ciphertext: Vec<u8>) -> SyncExported {
    let nonce =
        inspect_unverified(doc).unwrap().user_data.unwrap()[USER_DATA_PREFIX.len()..].to_vec();
    let binding = Sha256::digest([&enc[..], &ciphertext[..]].concat());
    let document = p.b.nsm.attest(None, Some(&binding), Some(&nonce)).unwrap();
    SyncExported {
        document,
        enc,
        ciphertext,
    }
}

fn seal_to(doc: &[u8], info: &[u8], aad: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let key = inspect_unverified(doc).unwrap().public_key.unwrap();
    let pk = <Kem as KemTrait>::PublicKey::from_bytes(&key).unwrap();
    let (enc, ct) =
        hpke::single_shot_seal::<Aead, Kdf, Kem>(&OpModeS::Base, &pk, info, SECRET, aad).unwrap();
    (enc.to_bytes().to_vec(), ct)
}

#[test]
fn ciphertext_bound_by_the_holder_but_damaged_does_not_open() {
    let p = pair();
    let doc = p.request();
    let mut exported = p.export(&doc, T0).unwrap();
    exported.ciphertext[0] ^= 1;
    let rebound = attested_answer(&p, &doc, exported.enc, exported.ciphertext);
    assert_eq!(p.import(&rebound, T0).unwrap_err(), SyncError::OpenFailed);
}

#[test]
fn ring_sealed_for_another_document_or_info_does_not_open() {
    let p = pair();
    // (info, aad from an earlier document instead of this one, opens)
    let cases: [(&[u8], bool, bool); 3] = [
        (HPKE_INFO, true, false),
        (b"strongroom keysync v2", false, false),
        (HPKE_INFO, false, true),
    ];
    for (info, earlier_aad, opens) in cases {
        let earlier = p.request();
        let doc = p.request();
        let aad = Sha256::digest(if earlier_aad { &earlier } else { &doc });
        let (enc, ct) = seal_to(&doc, info, &aad);
        let result = p.import(&attested_answer(&p, &doc, enc, ct), T0);
        if opens {
            assert_eq!(result.unwrap(), SECRET);
        } else {
            assert_eq!(result.unwrap_err(), SyncError::OpenFailed);
        }
    }
}

#[test]
fn answer_binding_a_public_key_is_refused() {
    let p = pair();
    let doc = p.request();
    let exported = p.export(&doc, T0).unwrap();
    let nonce =
        inspect_unverified(&doc).unwrap().user_data.unwrap()[USER_DATA_PREFIX.len()..].to_vec();
    let binding = Sha256::digest([&exported.enc[..], &exported.ciphertext[..]].concat());
    let key = inspect_unverified(&doc).unwrap().public_key.unwrap();
    let document =
        p.b.nsm
            .attest(Some(&key), Some(&binding), Some(&nonce))
            .unwrap();
    let answer = SyncExported {
        document,
        ..exported
    };
    assert_eq!(p.import(&answer, T0).unwrap_err(), SyncError::BadAnswer);
}

#[test]
fn documents_under_another_root_are_refused() {
    let p = pair();
    let stranger = enclave(PCR0);
    let doc = p.request();
    let err = p
        .holder
        .export(&p.b.nsm, &stranger.root, &p.b.pcrs, &doc, SECRET, at(T0))
        .unwrap_err();
    assert!(matches!(err, SyncError::Attestation(_)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::SyncRefused);
    assert_eq!(p.holder.pending_challenges(), 1, "not spent by a forgery");

    let exported = p.export(&doc, T0).unwrap();
    let err = p
        .requester
        .import(&stranger.root, &p.a.pcrs, &exported, at(T0))
        .unwrap_err();
    assert!(matches!(err, SyncError::Attestation(_)), "{err:?}");
    // Production root: a simulator document never verifies under it.
    let doc = p.request();
    let err = p
        .holder
        .export(
            &p.b.nsm,
            &TrustRoot::aws_nitro_g1(),
            &p.b.pcrs,
            &doc,
            SECRET,
            at(T0),
        )
        .unwrap_err();
    assert!(matches!(err, SyncError::Attestation(_)), "{err:?}");
}

#[test]
fn requester_document_older_than_five_minutes_is_refused() {
    let max = MAX_DOCUMENT_AGE.as_millis() as u64;
    let p = pair();
    // A's document is stamped T0; B's clock (and its challenge) runs ahead.
    for (age, ok) in [(max, true), (max + 1, false)] {
        let challenge = p.holder.issue_challenge(&p.b.nsm, T0 + age).unwrap();
        let doc = p.requester.request(&p.a.nsm, &challenge).unwrap();
        let result = p.export(&doc, T0 + age);
        if ok {
            result.unwrap();
        } else {
            assert!(matches!(
                attestation_error(result),
                VerifyError::TooOld { .. }
            ));
        }
    }
}

#[test]
fn holder_document_older_than_five_minutes_is_refused() {
    let max = MAX_DOCUMENT_AGE.as_millis() as u64;
    for (age, ok) in [(max, true), (max + 1, false)] {
        let p = pair();
        p.b.clock.set(T0 - age);
        let doc = p.request();
        let exported = p.export(&doc, T0).unwrap();
        let result = p.import(&exported, T0);
        if ok {
            assert_eq!(result.unwrap(), SECRET);
        } else {
            assert!(matches!(
                attestation_error(result),
                VerifyError::TooOld { .. }
            ));
        }
    }
}

#[test]
fn challenge_table_is_bounded_and_expired_entries_make_room() {
    let p = pair();
    for _ in 0..MAX_PENDING_CHALLENGES {
        p.holder.issue_challenge(&p.b.nsm, T0).unwrap();
    }
    let err = p.holder.issue_challenge(&p.b.nsm, T0 + 1).unwrap_err();
    assert_eq!(err, SyncError::Busy);
    assert_eq!(err.code(), ErrorCode::Busy);
    let later = T0 + CHALLENGE_TTL.as_millis() as u64;
    p.holder.issue_challenge(&p.b.nsm, later).unwrap();
    assert_eq!(p.holder.pending_challenges(), 1);
}

#[test]
fn challenges_are_fresh_and_must_be_32_bytes() {
    let p = pair();
    let one = p.holder.issue_challenge(&p.b.nsm, T0).unwrap();
    let two = p.holder.issue_challenge(&p.b.nsm, T0).unwrap();
    assert_ne!(one, two);
    for len in [0, 31, 33, 64] {
        let err = p.requester.request(&p.a.nsm, &vec![1; len]).unwrap_err();
        assert_eq!(err, SyncError::BadChallenge);
        assert_eq!(err.code(), ErrorCode::SyncRefused);
    }
    assert!(!p.requester.has_pending());
}

#[test]
fn answer_sizes_are_bounded() {
    let p = pair();
    for (enc_len, ct_len) in [(64, 32), (66, 32), (65, 15), (65, MAX_CIPHERTEXT_LEN + 1)] {
        let _ = p.request();
        let answer = SyncExported {
            document: vec![0; 10],
            enc: vec![4; enc_len],
            ciphertext: vec![0; ct_len],
        };
        assert_eq!(p.import(&answer, T0).unwrap_err(), SyncError::BadAnswer);
    }
}

/// An NSM whose randomness or attestation fails.
struct BrokenNsm {
    inner: SimNsm,
    random_fails: bool,
}

impl Nsm for BrokenNsm {
    fn attest(
        &self,
        public_key: Option<&[u8]>,
        user_data: Option<&[u8]>,
        nonce: Option<&[u8]>,
    ) -> Result<Vec<u8>, NsmError> {
        if self.random_fails {
            self.inner.attest(public_key, user_data, nonce)
        } else {
            Err(NsmError::Device("broken".to_owned()))
        }
    }
    fn random(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, NsmError> {
        if self.random_fails {
            Err(NsmError::Unavailable)
        } else {
            self.inner.random(n)
        }
    }
    fn describe_pcr(&self, index: u16) -> Result<Vec<u8>, NsmError> {
        self.inner.describe_pcr(index)
    }
    fn is_simulator(&self) -> bool {
        true
    }
}

#[test]
fn nsm_failures_are_internal() {
    for random_fails in [true, false] {
        let p = pair();
        let broken = BrokenNsm {
            inner: enclave(PCR0).nsm,
            random_fails,
        };
        if random_fails {
            let err = p.holder.issue_challenge(&broken, T0).unwrap_err();
            assert_eq!(err.code(), ErrorCode::Internal);
        }
        let challenge = p.holder.issue_challenge(&p.b.nsm, T0).unwrap();
        let err = p.requester.request(&broken, &challenge).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal);
        assert!(!p.requester.has_pending());

        let doc = p.requester.request(&p.a.nsm, &challenge).unwrap();
        let err = p
            .holder
            .export(&broken, &p.a.root, &p.b.pcrs, &doc, SECRET, at(T0))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal);
    }
}

#[test]
fn debug_and_errors_show_no_secret() {
    let p = pair();
    let doc = p.request();
    let exported = p.export(&doc, T0).unwrap();
    let shown = format!("{:?} {:?}", p.requester, p.holder);
    assert_eq!(
        shown,
        "SyncRequester { pending: true } SyncHolder { pending_challenges: 0 }"
    );
    let mut bad = exported.clone();
    bad.ciphertext[0] ^= 1;
    let rebound = attested_answer(&p, &doc, bad.enc, bad.ciphertext);
    let err = p.import(&rebound, T0).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&hex::encode(SECRET)) && !text.contains("CBOR ring"));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Random answers never panic and never import.
        #[test]
        fn import_of_random_bytes_is_refused(
            document in proptest::collection::vec(any::<u8>(), 0..4096),
            enc in proptest::collection::vec(any::<u8>(), 0..80),
            ciphertext in proptest::collection::vec(any::<u8>(), 0..256),
            pending in any::<bool>(),
        ) {
            let p = shared(0);
            if pending {
                let _ = p.request();
            }
            let answer = SyncExported { document, enc, ciphertext };
            let err = p.import(&answer, T0).unwrap_err();
            prop_assert_eq!(err.code(), ErrorCode::SyncRefused);
        }

        /// A valid answer with one byte of its document changed never imports.
        #[test]
        fn import_of_a_mutated_document_is_refused(index in any::<usize>(), flip in 1u8..) {
            let p = shared(1);
            let doc = p.request();
            let mut exported = p.export(&doc, T0).unwrap();
            let i = index % exported.document.len();
            exported.document[i] ^= flip;
            let err = p.import(&exported, T0).unwrap_err();
            prop_assert_eq!(err.code(), ErrorCode::SyncRefused);
        }

        /// Random requester documents never panic and never export.
        #[test]
        fn export_of_random_bytes_is_refused(
            document in proptest::collection::vec(any::<u8>(), 0..4096),
        ) {
            let p = shared(2);
            let err = p.export(&document, T0).unwrap_err();
            prop_assert_eq!(err.code(), ErrorCode::SyncRefused);
        }
    }

    /// One pair per property for all its cases (simulator setup is the slow
    /// part); properties run in parallel, so each has its own slot.
    fn shared(slot: usize) -> &'static Pair {
        static PAIRS: [std::sync::OnceLock<Pair>; 3] = [const { std::sync::OnceLock::new() }; 3];
        PAIRS[slot].get_or_init(pair)
    }
}
