//! The KMS boot paths end to end, with real processes: the
//! `strongroom-enclave --dev-simulator` binary reaching the real
//! `strongroom-kms-double` through an egress proxy (TLS terminating in the
//! enclave, the double's CA trusted via `--dev-kms-ca`). A first enclave
//! makes a ring with `NewKeyRing{kms}`; a second, fresh process unseals the
//! stored ring with `UnsealKeyRing` and holds the same keys; a double whose
//! PCR policy differs refuses (`kms_failed`).
#![cfg(feature = "dev-simulator")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::{ENCLAVE_BIN, Guard, Proxy, boot, seal_credential};
use sha2::{Digest, Sha384};
use strongroom_enclave::clock::SystemClock;
use strongroom_enclave::nsm::sim::SimNsm;
use strongroom_protocol::ErrorCode;
use strongroom_protocol::client::{ClientConfig, RpcClient, error_code};
use strongroom_protocol::messages::{
    AttestRequest, AttestationInfo, KmsAccess, NewKeyRingRequest, OpenCredentialRequest, Phase,
    RequestBody, ResponseBody, SealedKeyRing, UnsealKeyRingRequest,
};
use strongroom_protocol::transport::Address;
use strongroom_testkit::process;

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
/// The ARN the double answers for KEY_ID; every enclave here is pinned to it.
const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const AK: &str = "AKIDKMSE2ETEST";
const SK: &str = "kms-e2e-secret-do-not-log";
const START_TIMEOUT: Duration = Duration::from_secs(180);

struct Double {
    port: u16,
    ca_pem: PathBuf,
    _child: Guard,
}

/// Starts the double trusting the dev root in `root_pem`, allowing `pcrs`.
fn start_double(dir: &Path, name: &str, root_pem: &Path, pcrs: &serde_json::Value) -> Double {
    let policy = dir.join(format!("{name}.pcrs.json"));
    let ca_pem = dir.join(format!("{name}.ca.pem"));
    std::fs::write(&policy, pcrs.to_string()).unwrap();
    let log = dir.join(format!("{name}.double.log"));
    let mut cmd = Command::new(strongroom_testkit::bin::kms_double());
    cmd.args(["--listen", "127.0.0.1:0", "--key-id", KEY_ID])
        .args(["--access-key", AK, "--secret", SK])
        .arg("--policy")
        .arg(&policy)
        .arg("--trust-dev-root")
        .arg(root_pem)
        .arg("--ca-out")
        .arg(&ca_pem);
    let mut child = process::spawn_blocking(&mut cmd, &log, Stdio::piped());
    let line = process::first_line_blocking(&mut child, "the KMS double", &log);
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let port = v["url"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    Double {
        port,
        ca_pem,
        _child: child,
    }
}

struct Node {
    client: RpcClient,
    log: PathBuf,
    child: Guard,
}

/// Starts the enclave binary (booting) with the shared dev CA, the proxy as
/// egress and `double` as its dev KMS, pinned to KEY_ARN.
async fn start_enclave(dir: &Path, name: &str, egress: &Address, double: &Double) -> Node {
    start_enclave_pinned(dir, name, egress, double, Some(KEY_ARN)).await
}

/// [`start_enclave`] with another pin, or none (`--kms-key-arn` absent).
async fn start_enclave_pinned(
    dir: &Path,
    name: &str,
    egress: &Address,
    double: &Double,
    pin: Option<&str>,
) -> Node {
    let sock = dir.join(format!("{name}.sock"));
    let log = dir.join(format!("{name}.log"));
    let addr: Address = format!("unix://{}", sock.display()).parse().unwrap();
    let mut cmd = Command::new(ENCLAVE_BIN);
    cmd.arg("--listen")
        .arg(addr.to_string())
        .arg("--dev-simulator")
        .arg("--dev-root-key")
        .arg(dir.join("dev-ca.cbor"))
        .arg("--egress")
        .arg(egress.to_string())
        .arg("--dev-kms-url")
        .arg(format!("https://127.0.0.1:{}", double.port))
        .arg("--dev-kms-ca")
        .arg(&double.ca_pem)
        .args(pin.map(|arn| ["--kms-key-arn", arn]).into_iter().flatten())
        .env("RUST_LOG", "info");
    let mut child = process::spawn_blocking(&mut cmd, &log, Stdio::null());
    let config = ClientConfig {
        call_timeout: Duration::from_secs(120),
        ..ClientConfig::default()
    };
    let client = RpcClient::new(addr, config);
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < START_TIMEOUT, "enclave did not come up");
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!(
                "enclave exited ({status}): {}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        if sock.exists() && boot::phase(&client).await == Some(Phase::Booting) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Node { client, log, child }
}

fn access(double: &Double) -> KmsAccess {
    KmsAccess {
        region: "us-east-1".into(),
        endpoint: format!("127.0.0.1:{}", double.port),
        key_id: KEY_ARN.into(),
        access_key_id: AK.into(),
        secret_access_key: SK.into(),
        session_token: Some("session-token".into()),
    }
}

async fn call(node: &Node, body: RequestBody) -> Result<ResponseBody, ErrorCode> {
    node.client
        .call(body)
        .await
        .map_err(|e| error_code(&e).unwrap_or_else(|| panic!("transport error: {e:?}")))
}

async fn attest(node: &Node) -> AttestationInfo {
    match call(node, RequestBody::Attest(AttestRequest { nonce: None })).await {
        Ok(ResponseBody::Attestation(a)) => a,
        other => panic!("{other:?}"),
    }
}

async fn unseal(
    node: &Node,
    sealed: &SealedKeyRing,
    kms: KmsAccess,
) -> Result<ResponseBody, ErrorCode> {
    let req = UnsealKeyRingRequest {
        sealed: sealed.clone(),
        kms,
    };
    call(node, RequestBody::UnsealKeyRing(req)).await
}

struct Setup {
    dir: tempfile::TempDir,
    good: Double,
    wrong: Double,
    proxy: Proxy,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    // The dev CA every enclave here shares (`--dev-root-key`), made up front
    // so the double can be told to trust its root; the PCRs the enclave
    // binary will report (PCR0 = SHA-384 of the binary).
    let pcr0: [u8; 48] = Sha384::digest(std::fs::read(ENCLAVE_BIN).unwrap()).into();
    let sim =
        SimNsm::with_dev_ca_file(Arc::new(SystemClock), pcr0, &dir.path().join("dev-ca.cbor"))
            .unwrap();
    let root_pem = dir.path().join("dev-root.pem");
    std::fs::write(&root_pem, sim.root_pem().unwrap()).unwrap();
    let p = sim.pcrs();
    let pcrs = |pcr0: &[u8]| serde_json::json!({"PCR0": hex::encode(pcr0), "PCR1": hex::encode(p[1]), "PCR2": hex::encode(p[2])});
    let good = start_double(dir.path(), "good", &root_pem, &pcrs(&pcr0));
    let wrong = start_double(dir.path(), "wrong", &root_pem, &pcrs(&[0x43; 48]));
    let proxy = Proxy::start(
        &dir.path().join("egress.sock"),
        vec![
            ("127.0.0.1".to_owned(), good.port),
            ("127.0.0.1".to_owned(), wrong.port),
        ],
    );
    Setup {
        dir,
        good,
        wrong,
        proxy,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_sealed_ring_survives_into_a_fresh_enclave() {
    let s = setup();
    let dir = s.dir.path();

    // First boot: a ring whose data key comes from KMS.
    let a = start_enclave(dir, "a", &s.proxy.addr, &s.good).await;
    let sealed = match call(
        &a,
        RequestBody::NewKeyRing(NewKeyRingRequest {
            kms: Some(access(&s.good)),
        }),
    )
    .await
    {
        Ok(ResponseBody::KeyRingSealed(sealed)) => sealed,
        other => panic!("NewKeyRing with KMS: {other:?}"),
    };
    assert_eq!(sealed.ring_version, 1);
    assert!(sealed.kms_blob.as_ref().is_some_and(|b| !b.is_empty()));
    let att_a = attest(&a).await;
    assert_eq!(sealed.current_key_id, att_a.key_id);
    assert_eq!(sealed.signing_public_key, att_a.signing_public_key);
    let cred = seal_credential(&att_a, "binance", "KEY-kms-e2e", "SECRET-kms-e2e");
    let log_a = std::fs::read_to_string(&a.log).unwrap();
    drop(a);

    // Restart: a fresh process with no ring.
    let b = start_enclave(dir, "b", &s.proxy.addr, &s.good).await;
    // The data key is bound to its ring id (KMS encryption context): the
    // blob presented as another ring's does not unwrap.
    let mut other_id = sealed.clone();
    other_id.ring_id[0] ^= 1;
    assert_eq!(
        unseal(&b, &other_id, access(&s.good)).await,
        Err(ErrorCode::KmsFailed)
    );
    // The right data key, but a tampered ring: ring_invalid.
    let mut tampered = sealed.clone();
    tampered.ciphertext[3] ^= 1;
    assert_eq!(
        unseal(&b, &tampered, access(&s.good)).await,
        Err(ErrorCode::RingInvalid)
    );
    // No blob at all: ring_invalid before KMS is asked.
    let mut no_blob = sealed.clone();
    no_blob.kms_blob = None;
    assert_eq!(
        unseal(&b, &no_blob, access(&s.good)).await,
        Err(ErrorCode::RingInvalid)
    );
    assert_eq!(boot::phase(&b.client).await, Some(Phase::Booting));

    let status = match unseal(&b, &sealed, access(&s.good)).await {
        Ok(ResponseBody::KeyRingStatus(k)) => k,
        other => panic!("UnsealKeyRing: {other:?}"),
    };
    assert_eq!(status.phase, Phase::Ready);
    assert_eq!(status.ring_id.as_deref(), Some(&sealed.ring_id[..]));
    assert_eq!(status.ring_version, Some(1));
    assert_eq!(status.key_ids, sealed.key_ids);
    // Same keys as the first enclave.
    let att_b = attest(&b).await;
    assert_eq!(att_b.key_id, att_a.key_id);
    assert_eq!(att_b.hpke_public_key, att_a.hpke_public_key);
    assert_eq!(att_b.signing_public_key, att_a.signing_public_key);
    // A credential sealed to the first enclave opens here.
    let opened = call(
        &b,
        RequestBody::OpenCredential(OpenCredentialRequest {
            tenant: None,
            session_id: "kms-e2e-1".into(),
            sealed: cred.sealed.clone(),
            metadata: cred.metadata.clone(),
            check_key: false,
        }),
    )
    .await;
    assert!(
        matches!(opened, Ok(ResponseBody::CredentialAccepted(_))),
        "{opened:?}"
    );
    // Once ready, boot calls are ring_present.
    assert_eq!(
        unseal(&b, &sealed, access(&s.good)).await,
        Err(ErrorCode::RingPresent)
    );

    // The AWS secret key never reaches a log.
    let log_b = std::fs::read_to_string(&b.log).unwrap();
    for log in [&log_a, &log_b] {
        assert!(!log.contains(SK));
        assert!(log.contains("DEV"), "dev mode is loud");
    }
    drop(b.child);
}

#[tokio::test(flavor = "multi_thread")]
async fn other_measurements_or_endpoints_are_refused() {
    let s = setup();
    let dir = s.dir.path();
    // An enclave whose KMS (the double) has a policy for another PCR0.
    let c = start_enclave(dir, "c", &s.proxy.addr, &s.wrong).await;
    let req = |kms| RequestBody::NewKeyRing(NewKeyRingRequest { kms: Some(kms) });
    assert_eq!(
        call(&c, req(access(&s.wrong))).await.err(),
        Some(ErrorCode::KmsFailed)
    );
    assert!(
        s.proxy.state.connected() >= 1,
        "the double was asked and refused"
    );
    // Endpoints off the enclave's allowlist are refused before egress is asked:
    // the good double is not this enclave's dev KMS, nor is an arbitrary host.
    let before = s.proxy.state.accepted();
    let mut elsewhere = access(&s.good);
    assert_eq!(
        call(&c, req(elsewhere.clone())).await.err(),
        Some(ErrorCode::KmsFailed)
    );
    elsewhere.endpoint = "kms.evil.example:443".into();
    assert_eq!(
        call(&c, req(elsewhere)).await.err(),
        Some(ErrorCode::KmsFailed)
    );
    assert_eq!(s.proxy.state.accepted(), before);
    // Wrong credentials: the double refuses the signature.
    let mut bad_secret = access(&s.wrong);
    bad_secret.secret_access_key = "not-the-secret".into();
    assert_eq!(
        call(&c, req(bad_secret)).await.err(),
        Some(ErrorCode::KmsFailed)
    );
    assert_eq!(boot::phase(&c.client).await, Some(Phase::Booting));
    // The same enclave boots without KMS (the refusals were KMS's, not a broken node).
    boot::new_key_ring(&c.client).await;
    let log = std::fs::read_to_string(&c.log).unwrap();
    assert!(!log.contains(SK) && !log.contains("not-the-secret"));
    assert!(
        log.contains("AccessDeniedException"),
        "the reason is logged in the enclave"
    );
}

/// The operator's attack on KMS mode: reset the ring and name a key of its
/// own account (whose policy allows a plain Decrypt), so that KMS hands it
/// the data key. The enclave is pinned to KEY_ARN in its measured command
/// line: it refuses another key, or another region, before anything is sent,
/// and nothing is sealed. An image with no pin has KMS mode off altogether.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_other_than_the_pinned_one_is_refused() {
    let s = setup();
    let dir = s.dir.path();
    let e = start_enclave(dir, "pinned", &s.proxy.addr, &s.good).await;
    let req = |kms| RequestBody::NewKeyRing(NewKeyRingRequest { kms: Some(kms) });
    let before = s.proxy.state.accepted();
    for key in [
        "arn:aws:kms:us-east-1:444455556666:key/operators-own-key",
        KEY_ID,
        "alias/strongroom",
    ] {
        let mut theirs = access(&s.good);
        theirs.key_id = key.into();
        assert_eq!(
            call(&e, req(theirs)).await.err(),
            Some(ErrorCode::KmsFailed),
            "{key}"
        );
    }
    let mut other_region = access(&s.good);
    other_region.region = "eu-west-1".into();
    assert_eq!(
        call(&e, req(other_region)).await.err(),
        Some(ErrorCode::KmsFailed)
    );
    assert_eq!(s.proxy.state.accepted(), before, "nothing was sent to KMS");
    assert_eq!(
        boot::phase(&e.client).await,
        Some(Phase::Booting),
        "nothing sealed"
    );
    // The pinned key works on the same enclave.
    assert!(matches!(
        call(&e, req(access(&s.good))).await,
        Ok(ResponseBody::KeyRingSealed(_))
    ));
    let log = std::fs::read_to_string(&e.log).unwrap();
    assert!(
        log.contains("other than the pinned one"),
        "the reason is logged"
    );

    // No pin: KMS mode is off, whatever the host asks.
    let off = start_enclave_pinned(dir, "unpinned", &s.proxy.addr, &s.good, None).await;
    let before = s.proxy.state.accepted();
    assert_eq!(
        call(&off, req(access(&s.good))).await.err(),
        Some(ErrorCode::KmsFailed)
    );
    assert_eq!(s.proxy.state.accepted(), before);
}
