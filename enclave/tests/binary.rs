//! The real `strongroom-enclave` binary: refuses to start without an NSM,
//! and in simulator mode serves Health, Attest, OpenCredential, Forget and
//! KeyRingStatus over a unix socket, then drains on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(not(feature = "dev-simulator"), allow(unused_imports, dead_code))]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha384};
use strongroom_protocol::ErrorCode;
use strongroom_protocol::client::{ClientConfig, RpcClient, error_code};
use strongroom_protocol::messages::{
    AttestRequest, CredentialMetadata, ForgetRequest, OpenCredentialRequest, Phase, RequestBody,
    ResponseBody, SealedCredential,
};
use strongroom_protocol::transport::Address;
use strongroom_verifier::{Policy, TrustRoot, verify};

const BIN: &str = env!("CARGO_BIN_EXE_strongroom-enclave");
/// A debug build hashes its own (large, unoptimized) executable for PCR0.
const START_TIMEOUT: Duration = Duration::from_secs(180);

// A child killed and reaped when dropped.
use strongroom_testkit::process::Guard;

#[test]
fn refuses_to_start_without_nsm_or_simulator() {
    if std::path::Path::new("/dev/nsm").exists() {
        eprintln!("NOTICE: /dev/nsm exists here; the refusal case cannot be exercised");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = format!("unix://{}/e.sock", dir.path().display());
    let out = Command::new(BIN)
        .args(["--listen", &sock])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/dev/nsm") && stderr.contains("--dev-simulator"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("e.sock").exists(),
        "must not bind before refusing"
    );
    // --dev-root-out only makes sense with the simulator.
    let out = Command::new(BIN)
        .args(["--listen", &sock, "--dev-root-out", "/tmp/x.pem"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[cfg(feature = "dev-simulator")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_mode_serves_the_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("enclave.sock");
    let root = dir.path().join("dev-root.pem");
    let addr = format!("unix://{}", sock.display());
    let child = Command::new(BIN)
        .args(["--listen", &addr, "--dev-simulator", "--dev-root-out"])
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let client = RpcClient::new(addr.parse::<Address>().unwrap(), ClientConfig::default());
    let started = Instant::now();
    let health = loop {
        assert!(started.elapsed() < START_TIMEOUT, "enclave did not come up");
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "enclave exited early"
        );
        if sock.exists()
            && let Ok(ResponseBody::Health(h)) = client.call(RequestBody::Health).await
        {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(health.simulator);
    // It starts booting, with no key ring, and serves nothing that needs one.
    assert_eq!(health.phase, Phase::Booting);
    assert_eq!(
        error_code(
            &client
                .call(RequestBody::Attest(AttestRequest { nonce: None }))
                .await
                .unwrap_err()
        ),
        Some(ErrorCode::NotReady)
    );
    common::boot::new_key_ring(&client).await;

    // Attestation: verifies under the written dev root, binds the keys and
    // nonce, and PCR0 is SHA-384 of the binary that runs.
    let nonce = b"0123456789abcdef0123456789abcdef".to_vec();
    let ResponseBody::Attestation(att) = client
        .call(RequestBody::Attest(AttestRequest {
            nonce: Some(nonce.clone()),
        }))
        .await
        .unwrap()
    else {
        panic!("no attestation")
    };
    let dev = TrustRoot::dev_from_pem(&std::fs::read_to_string(&root).unwrap()).unwrap();
    let policy = Policy::default()
        .with_nonce(nonce)
        .with_public_key(att.hpke_public_key.clone());
    let doc = verify(&att.document, &dev, SystemTime::now(), &policy).unwrap();
    let exe_hash = Sha384::digest(std::fs::read(BIN).unwrap()).to_vec();
    assert_eq!(att.pcr0, exe_hash);
    assert_eq!(doc.pcrs[&0], exe_hash);
    assert!(doc.module_id.starts_with("sim-"));
    assert!(
        verify(
            &att.document,
            &TrustRoot::aws_nitro_g1(),
            SystemTime::now(),
            &Policy::default()
        )
        .is_err()
    );
    let err = client
        .call(RequestBody::Attest(AttestRequest {
            nonce: Some(vec![0; 65]),
        }))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), Some(ErrorCode::NonceTooLong));

    // A credential sealed to the attested key opens; a mismatched one is refused.
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let open = |label: &str, session: &str| {
        let (enc, ciphertext) = common::seal(
            &att.hpke_public_key,
            &common::credential_json("binance", "main", now + 3600),
        );
        RequestBody::OpenCredential(OpenCredentialRequest {
            tenant: None,
            session_id: session.into(),
            sealed: SealedCredential::from_aead(&att.key_id, enc, ciphertext).unwrap(),
            metadata: CredentialMetadata {
                exchange: "binance".into(),
                label: label.into(),
                ttl_seconds: 600,
            },
            check_key: false,
        })
    };
    let ResponseBody::CredentialAccepted(acc) = client.call(open("main", "sess-1")).await.unwrap()
    else {
        panic!("not accepted")
    };
    assert!(
        acc.expires_at >= now + 599 && acc.expires_at <= now + 700,
        "{}",
        acc.expires_at
    );
    let err = client.call(open("other", "sess-2")).await.unwrap_err();
    assert_eq!(error_code(&err), Some(ErrorCode::MetadataMismatch));

    let ResponseBody::Forgotten(f) = client
        .call(RequestBody::Forget(ForgetRequest {
            session_id: "sess-1".into(),
        }))
        .await
        .unwrap()
    else {
        panic!("not forgotten")
    };
    assert!(f.was_cached);
    let ResponseBody::KeyRingStatus(k) = client.call(RequestBody::KeyRingStatus).await.unwrap()
    else {
        panic!("no status")
    };
    assert_eq!(k.current_key_id.as_deref(), Some(att.key_id.as_str()));

    // SIGTERM: clean exit.
    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
}

/// The dev exchange flags exist only together and only with the simulator;
/// anything else is a usage error (64) before any socket is bound.
#[test]
fn dev_exchange_flags_need_the_simulator_and_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let sock = format!("unix://{}/e.sock", dir.path().display());
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    let ca = ca.to_str().unwrap();
    let url = "https://127.0.0.1:8443";
    let pcrs = dir.path().join("pcrs.json");
    let pcrs = pcrs.to_str().unwrap();
    let cases: [&[&str]; 6] = [
        &["--dev-pcrs-out", pcrs],
        &["--dev-exchange-url", url, "--dev-exchange-ca", ca],
        &["--dev-simulator", "--dev-exchange-url", url],
        &["--dev-simulator", "--dev-exchange-ca", ca],
        &[
            "--dev-simulator",
            "--dev-exchange-url",
            "http://127.0.0.1:1",
            "--dev-exchange-ca",
            ca,
        ],
        // A CA file that is not PEM certificates is refused, not ignored.
        &[
            "--dev-simulator",
            "--dev-exchange-url",
            url,
            "--dev-exchange-ca",
            ca,
        ],
    ];
    for args in cases {
        let mut child = Guard(
            Command::new(BIN)
                .args(["--listen", &sock])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + START_TIMEOUT;
        let status = loop {
            if let Some(s) = child.0.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "{args:?}: still running");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(64), "{args:?}");
        assert!(
            !dir.path().join("e.sock").exists(),
            "{args:?}: bound before refusing"
        );
    }
}

/// A release build (no `dev-simulator` feature) refuses `--dev-simulator` and
/// every `--dev-*` trust switch with 64, before reading a dev CA, writing a
/// file or binding: `cargo test -p strongroom-enclave --no-default-features
/// --test binary` (scripts/checks/release-features checks the same on the
/// release-feature binary).
#[cfg(not(feature = "dev-simulator"))]
#[test]
fn release_build_refuses_every_dev_flag() {
    let dir = tempfile::tempdir().unwrap();
    let sock = format!("unix://{}/e.sock", dir.path().display());
    let out_file = dir.path().join("written");
    let out = out_file.to_str().unwrap();
    let ca = dir.path().join("absent-ca.pem");
    let ca = ca.to_str().unwrap();
    let url = "https://127.0.0.1:8443";
    let cases: [&[&str]; 6] = [
        &[],
        &["--dev-root-key", out],
        &["--dev-root-out", out],
        &["--dev-pcrs-out", out],
        &["--dev-exchange-url", url, "--dev-exchange-ca", ca],
        &["--dev-kms-url", url, "--dev-kms-ca", ca],
    ];
    for args in cases {
        let run = Command::new(BIN)
            .args(["--listen", &sock, "--dev-simulator"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(
            stderr.contains("this build has no simulator"),
            "{args:?}: {stderr}"
        );
        assert!(!out_file.exists(), "{args:?}: wrote a file");
        assert!(!dir.path().join("e.sock").exists(), "{args:?}: bound");
    }
}
