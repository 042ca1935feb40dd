//! Key-ring operations through `Enclave::handle`, as the host drives them:
//! boot refusals, status, rotation (add, re-seal on open and in batches,
//! retire), reload of a newer version, and peer sync wired to the enclave's
//! trust root and PCRs (simulators sharing one dev CA file, as
//! `--dev-root-key` makes them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{FakeNsm, credential_json, seal};
use strongroom_enclave_core::clock::FixedClock;
use strongroom_enclave_core::intake::IntakePolicy;
use strongroom_enclave_core::ring::KeyRing;
use strongroom_enclave_core::state::Enclave;
use strongroom_protocol::ErrorCode;
use strongroom_protocol::messages::{
    CredentialMetadata, KeyRingInfo, MAX_RESEAL_BATCH, NewKeyRingRequest, OpenCredentialRequest,
    Phase, RequestBody, ResealItem, ResealRequest, ResponseBody, RetireRequest, SealedCredential,
    SealedKeyRing, SyncExportRequest, SyncRequestRequest,
};

const NOW_MS: u64 = 1_800_000_000_000;
const NOW: u64 = NOW_MS / 1000;

fn enclave(seed: u64) -> Enclave {
    let nsm = Arc::new(FakeNsm::new(seed));
    let clock = Arc::new(FixedClock::new(NOW_MS));
    Enclave::new(nsm, clock, IntakePolicy::default()).unwrap()
}

fn code(body: &ResponseBody) -> ErrorCode {
    match body {
        ResponseBody::Error(e) => e.code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn status(e: &Enclave) -> KeyRingInfo {
    match e.handle(RequestBody::KeyRingStatus) {
        ResponseBody::KeyRingStatus(k) => k,
        other => panic!("{other:?}"),
    }
}

fn sealed_ring(body: ResponseBody) -> SealedKeyRing {
    match body {
        ResponseBody::KeyRingSealed(s) => s,
        other => panic!("expected a sealed ring, got {other:?}"),
    }
}

fn meta(label: &str) -> CredentialMetadata {
    CredentialMetadata {
        exchange: "binance".into(),
        label: label.into(),
        ttl_seconds: 600,
    }
}

/// A credential sealed to the enclave's current key.
fn credential(e: &Enclave, not_after: u64) -> SealedCredential {
    let (key_id, public) = e
        .with_key_ring(|r| (r.current().key_id().to_owned(), *r.current().public_sec1()))
        .unwrap();
    let (enc, ciphertext) = seal(&public, &credential_json("binance", "main", not_after));
    SealedCredential::from_aead(&key_id, enc, ciphertext).unwrap()
}

fn open(e: &Enclave, session: &str, sealed: &SealedCredential) -> ResponseBody {
    e.handle(RequestBody::OpenCredential(OpenCredentialRequest {
        tenant: None,
        session_id: session.into(),
        sealed: sealed.clone(),
        metadata: meta("main"),
        check_key: false,
    }))
}

#[test]
fn boot_operations_and_status() {
    let e = enclave(1);
    let k = status(&e);
    assert_eq!(
        (k.phase, k.ring_id, k.ring_version),
        (Phase::Booting, None, None)
    );
    // Ready-only operations are refused while booting.
    for req in [
        RequestBody::AddKeyVersion,
        RequestBody::SyncChallenge,
        RequestBody::RetireKeyVersions(RetireRequest { key_ids: vec![] }),
        RequestBody::ResealCredentials(ResealRequest { items: vec![] }),
        RequestBody::SyncExport(SyncExportRequest { document: vec![1] }),
    ] {
        assert_eq!(code(&e.handle(req)), ErrorCode::NotReady);
    }
    let sealed = common::new_key_ring(&e);
    let k = status(&e);
    assert_eq!(k.phase, Phase::Ready);
    assert_eq!(k.ring_id.as_deref(), Some(&sealed.ring_id[..]));
    assert_eq!(k.ring_version, Some(1));
    assert_eq!(k.key_ids, sealed.key_ids);
    assert_eq!(
        k.current_key_id.as_deref(),
        Some(&sealed.current_key_id[..])
    );
    assert_eq!(sealed.kms_blob, None);
    assert_eq!(sealed.ring_id.len(), 16);
    // Boot operations once a ring is held: ring_present.
    let again = e.handle(RequestBody::NewKeyRing(NewKeyRingRequest { kms: None }));
    assert_eq!(code(&again), ErrorCode::RingPresent);
    let req = e.handle(RequestBody::SyncRequest(SyncRequestRequest {
        challenge: vec![0; 32],
    }));
    assert_eq!(code(&req), ErrorCode::RingPresent);
    // The KMS paths need the async service: not through the plain handler.
    let other = enclave(2);
    let unseal = other.handle(RequestBody::UnsealKeyRing(
        strongroom_protocol::messages::UnsealKeyRingRequest {
            sealed: sealed.clone(),
            kms: kms_access(),
        },
    ));
    assert_eq!(code(&unseal), ErrorCode::NotImplemented);
    assert_eq!(other.phase(), Phase::Booting);
}

fn kms_access() -> strongroom_protocol::messages::KmsAccess {
    strongroom_protocol::messages::KmsAccess {
        region: "us-east-1".into(),
        endpoint: "kms.us-east-1.amazonaws.com".into(),
        key_id: "k".into(),
        access_key_id: "AKID".into(),
        secret_access_key: "s".into(),
        session_token: None,
    }
}

#[test]
fn rotation_reseals_then_retires() {
    let e = enclave(3);
    common::new_key_ring(&e);
    let old = credential(&e, NOW + 3600);
    let expired = credential(&e, NOW - 10);
    let old_id = old.key_id().to_owned();
    // Under the current key: no re-seal on open.
    let ResponseBody::CredentialAccepted(acc) = open(&e, "s-cur", &old) else {
        panic!()
    };
    assert_eq!(acc.resealed, None);

    let v2 = sealed_ring(e.handle(RequestBody::AddKeyVersion));
    assert_eq!(v2.ring_version, 2);
    assert_eq!(v2.key_ids.len(), 2);
    assert!(v2.current_key_id.starts_with("v2:"));
    let new_id = v2.current_key_id.clone();

    // Open under the old key: accepted, and re-sealed to the new one.
    let ResponseBody::CredentialAccepted(acc) = open(&e, "s-old", &old) else {
        panic!()
    };
    assert_eq!(acc.key_id, old_id);
    let resealed = acc.resealed.expect("re-sealed to the current key");
    assert_eq!(resealed.key_id(), new_id);
    assert_ne!(resealed.aead(), old.aead());
    // The re-sealed envelope opens like a fresh submission (and needs no re-seal).
    let ResponseBody::CredentialAccepted(acc) = open(&e, "s-new", &resealed) else {
        panic!()
    };
    assert_eq!((acc.key_id.as_str(), acc.resealed), (new_id.as_str(), None));

    // Batch: old -> re-sealed; expired -> re-sealed too (still unusable);
    // already current -> unchanged; wrong label, unknown key, bad session id
    // -> per-item errors.
    let item = |sid: &str, sealed: &SealedCredential, label: &str| ResealItem {
        session_id: sid.into(),
        sealed: sealed.clone(),
        metadata: meta(label),
    };
    let unknown = SealedCredential::from_aead(
        "v9:0000000000000000",
        old.enc().to_vec(),
        old.aead().to_vec(),
    )
    .unwrap();
    let mut aead = old.aead().to_vec();
    aead[0] ^= 1;
    let tampered = SealedCredential::from_aead(old.key_id(), old.enc().to_vec(), aead).unwrap();
    let batch = ResealRequest {
        items: vec![
            item("a", &old, "main"),
            item("b", &expired, "main"),
            item("c", &resealed, "main"),
            item("d", &old, "other"),
            item("e", &unknown, "main"),
            item("f", &tampered, "main"),
            item("bad id!", &old, "main"),
        ],
    };
    let ResponseBody::Resealed(out) = e.handle(RequestBody::ResealCredentials(batch)) else {
        panic!()
    };
    let sids: Vec<&str> = out.items.iter().map(|o| o.session_id.as_str()).collect();
    assert_eq!(sids, ["a", "b", "c", "d", "e", "f", "bad id!"]);
    for o in &out.items[..3] {
        let s = o.sealed.as_ref().expect("re-sealed");
        assert_eq!(s.key_id(), new_id);
        assert!(o.error.is_none());
    }
    assert_eq!(
        out.items[2].sealed.as_ref(),
        Some(&resealed),
        "already current"
    );
    let errors: Vec<ErrorCode> = out.items[3..]
        .iter()
        .map(|o| {
            assert!(o.sealed.is_none());
            o.error.as_ref().unwrap().code
        })
        .collect();
    assert_eq!(
        errors,
        [
            ErrorCode::MetadataMismatch,
            ErrorCode::UnknownKeyId,
            ErrorCode::OpenFailed,
            ErrorCode::InvalidArgument
        ]
    );
    let batch_a = out.items[0].sealed.clone().unwrap();
    let batch_expired = out.items[1].sealed.clone().unwrap();
    // Over the batch limit: refused as a whole.
    let big = ResealRequest {
        items: vec![item("a", &old, "main"); MAX_RESEAL_BATCH + 1],
    };
    assert_eq!(
        code(&e.handle(RequestBody::ResealCredentials(big))),
        ErrorCode::InvalidArgument
    );

    // Retire: the current key is refused; the old one goes.
    let refuse = e.handle(RequestBody::RetireKeyVersions(RetireRequest {
        key_ids: vec![new_id.clone()],
    }));
    assert_eq!(code(&refuse), ErrorCode::InvalidArgument);
    assert_eq!(status(&e).ring_version, Some(2));
    let v3 = sealed_ring(e.handle(RequestBody::RetireKeyVersions(RetireRequest {
        key_ids: vec![old_id.clone()],
    })));
    assert_eq!(v3.ring_version, 3);
    assert_eq!(v3.key_ids, vec![new_id.clone()]);
    // The old key id is gone; what was re-sealed still opens; the expired
    // one stays refused for what it is.
    assert_eq!(code(&open(&e, "s-gone", &old)), ErrorCode::UnknownKeyId);
    assert!(matches!(
        open(&e, "s-a", &batch_a),
        ResponseBody::CredentialAccepted(_)
    ));
    assert_eq!(
        code(&open(&e, "s-x", &batch_expired)),
        ErrorCode::CredentialExpired
    );
    // A retried retire of an id already gone changes nothing.
    let again = sealed_ring(e.handle(RequestBody::RetireKeyVersions(RetireRequest {
        key_ids: vec![old_id],
    })));
    assert_eq!(again.ring_version, 3);
}

/// A second enclave holding the same ring (as peer sync would leave it).
fn clone_of(e: &Enclave, seed: u64) -> Enclave {
    let secrets = e.with_key_ring(|r| r.export_secrets().unwrap()).unwrap();
    let twin = enclave(seed);
    twin.install_key_ring(KeyRing::import_secrets(&secrets).unwrap())
        .unwrap();
    twin
}

#[test]
fn reload_takes_only_a_newer_version_of_the_same_ring() {
    let a = enclave(4);
    let v1 = common::new_key_ring(&a);
    let b = clone_of(&a, 5);
    assert_eq!(status(&b).ring_version, Some(1));
    let v2 = sealed_ring(a.handle(RequestBody::AddKeyVersion));
    let stranger = enclave(6);
    let foreign = common::new_key_ring(&stranger);
    let foreign_v2 = sealed_ring(stranger.handle(RequestBody::AddKeyVersion));

    // Equal and older versions, other rings, tampering: ring_invalid.
    for bad in [v1.clone(), foreign.clone(), foreign_v2] {
        let r = b.handle(RequestBody::ReloadKeyRing(bad));
        assert_eq!(code(&r), ErrorCode::RingInvalid);
    }
    let mut forged = v2.clone();
    forged.ciphertext[10] ^= 1;
    assert_eq!(
        code(&b.handle(RequestBody::ReloadKeyRing(forged))),
        ErrorCode::RingInvalid
    );
    let mut relabelled = v2.clone();
    relabelled.ring_version = 7;
    assert_eq!(
        code(&b.handle(RequestBody::ReloadKeyRing(relabelled))),
        ErrorCode::RingInvalid
    );
    assert_eq!(status(&b).ring_version, Some(1));

    // The newer version: same keys as the holder's.
    let ResponseBody::KeyRingStatus(k) = b.handle(RequestBody::ReloadKeyRing(v2.clone())) else {
        panic!()
    };
    assert_eq!(k.ring_version, Some(2));
    assert_eq!(k.key_ids, v2.key_ids);
    assert_eq!(k.current_key_id.as_deref(), Some(&v2.current_key_id[..]));
    // A credential sealed to A's new key opens on B.
    let cred = credential(&a, NOW + 600);
    assert!(matches!(
        open(&b, "s1", &cred),
        ResponseBody::CredentialAccepted(_)
    ));
    // Now equal: refused; and a booting enclave has nothing to reload.
    assert_eq!(
        code(&b.handle(RequestBody::ReloadKeyRing(v2.clone()))),
        ErrorCode::RingInvalid
    );
    assert_eq!(
        code(&enclave(7).handle(RequestBody::ReloadKeyRing(v2))),
        ErrorCode::NotReady
    );
}

#[cfg(feature = "dev-simulator")]
mod peer_sync {
    use std::path::Path;

    use strongroom_enclave::clock::SystemClock;
    use strongroom_enclave::nsm::sim::SimNsm;
    use strongroom_protocol::messages::{SyncExported, SyncImportRequest};
    use strongroom_verifier::TrustRoot;

    use super::*;

    /// A simulated enclave whose dev CA comes from `ca` (shared root).
    fn sim_enclave(ca: &Path, pcr0: u8) -> Enclave {
        let clock = Arc::new(SystemClock);
        let nsm = SimNsm::with_dev_ca_file(clock.clone(), [pcr0; 48], ca).unwrap();
        let root = TrustRoot::dev_from_der(nsm.root_der()).unwrap();
        Enclave::new(Arc::new(nsm), clock, IntakePolicy::default())
            .unwrap()
            .with_trust_root(root)
    }

    fn sync(holder: &Enclave, requester: &Enclave) -> Result<KeyRingInfo, ErrorCode> {
        let ResponseBody::SyncChallenge(ch) = holder.handle(RequestBody::SyncChallenge) else {
            panic!()
        };
        let ResponseBody::SyncRequestDocument(doc) =
            requester.handle(RequestBody::SyncRequest(SyncRequestRequest {
                challenge: ch.nonce,
            }))
        else {
            panic!()
        };
        let exported = match holder.handle(RequestBody::SyncExport(SyncExportRequest {
            document: doc.document,
        })) {
            ResponseBody::SyncExported(x) => x,
            other => return Err(code(&other)),
        };
        import(requester, exported)
    }

    fn import(requester: &Enclave, exported: SyncExported) -> Result<KeyRingInfo, ErrorCode> {
        match requester.handle(RequestBody::SyncImport(SyncImportRequest { exported })) {
            ResponseBody::KeyRingStatus(k) => Ok(k),
            other => Err(code(&other)),
        }
    }

    #[test]
    fn sync_installs_the_holders_ring_under_a_shared_dev_root() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("dev-ca.cbor");
        let holder = sim_enclave(&ca, 0x42);
        let sealed = common_boot(&holder);
        let requester = sim_enclave(&ca, 0x42);
        assert_eq!(holder.trust_root(), requester.trust_root(), "one dev root");
        let k = sync(&holder, &requester).unwrap();
        assert_eq!(k.phase, Phase::Ready);
        assert_eq!(k.ring_id.as_deref(), Some(&sealed.ring_id[..]));
        assert_eq!(k.key_ids, sealed.key_ids);
        // Same keys: a credential sealed to the holder opens on the requester.
        let cred = credential(&holder, now() + 600);
        assert!(matches!(
            open(&requester, "s1", &cred),
            ResponseBody::CredentialAccepted(_)
        ));
        let sign = |e: &Enclave| e.with_key_ring(|r| *r.signing().public_sec1()).unwrap();
        assert_eq!(sign(&holder), sign(&requester));
        // A synced requester is ready: a second sync into it is ring_present.
        let third = sim_enclave(&ca, 0x42);
        assert_eq!(
            sync(&requester, &third).map(|k| k.ring_version),
            Ok(Some(1))
        );
        let again = requester.handle(RequestBody::SyncImport(SyncImportRequest {
            exported: SyncExported {
                document: vec![],
                enc: vec![],
                ciphertext: vec![],
            },
        }));
        assert_eq!(code(&again), ErrorCode::RingPresent);
    }

    #[test]
    fn other_pcr0_or_other_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("dev-ca.cbor");
        let holder = sim_enclave(&ca, 0x42);
        common_boot(&holder);
        let other_image = sim_enclave(&ca, 0x43);
        assert_eq!(sync(&holder, &other_image), Err(ErrorCode::SyncRefused));
        assert_eq!(other_image.phase(), Phase::Booting);
        let other_root = sim_enclave(&dir.path().join("other-ca.cbor"), 0x42);
        assert_eq!(sync(&holder, &other_root), Err(ErrorCode::SyncRefused));
        assert_eq!(other_root.phase(), Phase::Booting);
        // The same setup with the right image and root succeeds.
        assert!(sync(&holder, &sim_enclave(&ca, 0x42)).is_ok());
    }

    #[test]
    fn dev_ca_file_is_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("dev-ca.cbor");
        let a = sim_enclave(&ca, 1);
        let mode = std::fs::metadata(&ca).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = sim_enclave(&ca, 1);
        assert_eq!(a.trust_root(), b.trust_root());
        std::fs::write(&ca, b"not a dev CA").unwrap();
        let clock = Arc::new(SystemClock);
        assert!(SimNsm::with_dev_ca_file(clock, [1; 48], &ca).is_err());
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn common_boot(e: &Enclave) -> SealedKeyRing {
        crate::common::new_key_ring(e)
    }
}
