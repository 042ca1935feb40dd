//! The enclave-side KMS building blocks against the real
//! `strongroom-kms-double` process (HTTPS with its dev CA): SigV4-signed
//! requests from `kms::request`, Recipient attestation documents from the
//! NSM simulator, `CiphertextForRecipient` opened with `kms::cms`.
#![cfg(feature = "dev-simulator")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use strongroom_enclave::clock::SystemClock;
use strongroom_enclave::nsm::sim::SimNsm;
use strongroom_enclave_core::kms::cms::RecipientKey;
use strongroom_enclave_core::kms::request::{
    KmsEndpoint, KmsError, KmsRequest, Signer, parse_decrypt, parse_generate_data_key,
};
use strongroom_enclave_core::kms::sigv4::{AmzDate, Credentials};
use strongroom_enclave_core::nsm::Nsm;
use strongroom_testkit::process::{self, Guard};
use zeroize::Zeroizing;

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const AK: &str = "AKIDKMSDOUBLETEST";
const SK: &str = "kms-double-test-secret";

/// The double's binary (the kit finds it, or panics with what to build).
fn double_binary() -> PathBuf {
    strongroom_testkit::bin::kms_double()
}

struct Double {
    /// Killed and reaped when the double is dropped.
    _child: Guard,
    port: u16,
    ca_pem: Vec<u8>,
}

fn pcrs_json(sim: &SimNsm, pcr0: &[u8]) -> String {
    let p = sim.pcrs();
    serde_json::json!({"PCR0": hex::encode(pcr0), "PCR1": hex::encode(p[1]), "PCR2": hex::encode(p[2])})
        .to_string()
}

fn start(dir: &Path, name: &str, root_pem: &str, pcrs: &str) -> Double {
    let (root, policy, ca) = (
        dir.join(format!("{name}.root.pem")),
        dir.join(format!("{name}.pcrs.json")),
        dir.join(format!("{name}.ca.pem")),
    );
    std::fs::write(&root, root_pem).unwrap();
    std::fs::write(&policy, pcrs).unwrap();
    let log = dir.join(format!("{name}.log"));
    let mut cmd = Command::new(double_binary());
    cmd.args(["--listen", "127.0.0.1:0", "--key-id", KEY_ID])
        .args(["--access-key", AK, "--secret", SK])
        .arg("--policy")
        .arg(&policy)
        .arg("--trust-dev-root")
        .arg(&root)
        .arg("--ca-out")
        .arg(&ca);
    let mut child = process::spawn_blocking(&mut cmd, &log, Stdio::piped());
    let line = process::first_line_blocking(&mut child, "the KMS double", &log);
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let url = v["url"].as_str().unwrap();
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(
        v["ca_pem"].as_str().unwrap(),
        std::path::absolute(&ca).unwrap().to_str().unwrap()
    );
    Double {
        _child: child,
        port,
        ca_pem: std::fs::read(&ca).unwrap(),
    }
}

async fn post(d: &Double, req: &KmsRequest) -> (u16, Vec<u8>) {
    let tls = strongroom_enclave::tls::dev_config(&d.ca_pem).unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", d.port))
        .await
        .unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut b = hyper::Request::post("/");
    for (n, v) in &req.headers {
        b = b.header(n.as_str(), v.as_str());
    }
    let resp = sender
        .send_request(b.body(Full::new(Bytes::from(req.body.clone()))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

struct Setup {
    _dir: tempfile::TempDir,
    sim: SimNsm,
    good: Double,
    wrong: Double,
    endpoint: KmsEndpoint,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimNsm::new(Arc::new(SystemClock), [0x42; 48]).unwrap();
    let root = sim.root_pem().unwrap();
    let good = start(dir.path(), "good", &root, &pcrs_json(&sim, &[0x42; 48]));
    let wrong = start(dir.path(), "wrong", &root, &pcrs_json(&sim, &[0x43; 48]));
    let endpoint = KmsEndpoint {
        host: "127.0.0.1".into(),
        region: "us-east-1".into(),
    };
    Setup {
        _dir: dir,
        sim,
        good,
        wrong,
        endpoint,
    }
}

fn creds(secret: &str) -> Credentials {
    Credentials::new(
        AK,
        Zeroizing::new(secret.into()),
        Some(Zeroizing::new("tok".into())),
    )
    .unwrap()
}

fn now() -> AmzDate {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    AmzDate::from_unix(i64::try_from(s).unwrap()).unwrap()
}

fn context() -> BTreeMap<String, String> {
    BTreeMap::from([("strongroom".to_owned(), "keyring/v1".to_owned())])
}

#[tokio::test(flavor = "multi_thread")]
async fn attested_enclave_gets_and_recovers_its_data_key() {
    let s = setup();
    let (c, date) = (creds(SK), now());
    let signer = Signer {
        endpoint: &s.endpoint,
        credentials: &c,
        date: &date,
    };
    // First boot: GenerateDataKey to a fresh recipient key.
    let rk = RecipientKey::generate(&s.sim).unwrap();
    let doc = s.sim.attest(Some(rk.public_key_der()), None, None).unwrap();
    let req = signer.generate_data_key(KEY_ID, &context(), &doc).unwrap();
    let (status, body) = post(&s.good, &req).await;
    let out = parse_generate_data_key(status, &body).unwrap();
    assert!(
        out.key_id.ends_with(&format!(":key/{KEY_ID}")),
        "{}",
        out.key_id
    );
    // The envelope is in KMS's BER shape and opens to a 32-byte data key.
    assert_eq!(&out.ciphertext_for_recipient[..2], &[0x30, 0x80]);
    let data_key = rk.decrypt(&out.ciphertext_for_recipient, &s.sim).unwrap();
    assert_eq!(data_key.len(), 32);
    // Another recipient key cannot open it.
    let other = RecipientKey::generate(&s.sim).unwrap();
    assert!(
        other
            .decrypt(&out.ciphertext_for_recipient, &s.sim)
            .is_err()
    );

    // Restart: Decrypt the stored blob to a new recipient key, same data key.
    let rk2 = RecipientKey::generate(&s.sim).unwrap();
    let doc2 = s
        .sim
        .attest(Some(rk2.public_key_der()), None, None)
        .unwrap();
    let req = signer
        .decrypt(KEY_ID, &context(), &out.ciphertext_blob, &doc2)
        .unwrap();
    let (status, body) = post(&s.good, &req).await;
    let dec = parse_decrypt(status, &body).unwrap();
    assert_eq!(
        rk2.decrypt(&dec.ciphertext_for_recipient, &s.sim).unwrap(),
        data_key
    );

    // Another encryption context does not unwrap the blob.
    let ctx = BTreeMap::from([("strongroom".to_owned(), "other".to_owned())]);
    let req = signer
        .decrypt(KEY_ID, &ctx, &out.ciphertext_blob, &doc2)
        .unwrap();
    let (status, body) = post(&s.good, &req).await;
    let err = parse_decrypt(status, &body).unwrap_err();
    assert_eq!(
        err,
        KmsError::Refused {
            status: 400,
            kind: "InvalidCiphertextException".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn other_measurements_are_denied() {
    let s = setup();
    let (c, date) = (creds(SK), now());
    let signer = Signer {
        endpoint: &s.endpoint,
        credentials: &c,
        date: &date,
    };
    let rk = RecipientKey::generate(&s.sim).unwrap();
    let doc = s.sim.attest(Some(rk.public_key_der()), None, None).unwrap();
    let req = signer.generate_data_key(KEY_ID, &context(), &doc).unwrap();
    let (status, body) = post(&s.wrong, &req).await;
    let err = parse_generate_data_key(status, &body).unwrap_err();
    assert!(err.is_access_denied(), "{err:?}");
    // A document from another simulator (another root) is not accepted either.
    let foreign = SimNsm::new(Arc::new(SystemClock), [0x42; 48]).unwrap();
    let doc = foreign
        .attest(Some(rk.public_key_der()), None, None)
        .unwrap();
    let req = signer.generate_data_key(KEY_ID, &context(), &doc).unwrap();
    let (status, body) = post(&s.good, &req).await;
    assert!(parse_generate_data_key(status, &body).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_signatures_are_refused() {
    let s = setup();
    let rk = RecipientKey::generate(&s.sim).unwrap();
    let doc = s.sim.attest(Some(rk.public_key_der()), None, None).unwrap();
    let date = now();
    let refused = |kind: &str| KmsError::Refused {
        status: 400,
        kind: kind.into(),
    };
    // Wrong secret.
    let c = creds("not-the-secret");
    let signer = Signer {
        endpoint: &s.endpoint,
        credentials: &c,
        date: &date,
    };
    let req = signer.generate_data_key(KEY_ID, &context(), &doc).unwrap();
    let (status, body) = post(&s.good, &req).await;
    assert_eq!(
        parse_generate_data_key(status, &body).err(),
        Some(refused("InvalidSignatureException"))
    );
    // Right secret, body altered after signing (other key id).
    let c = creds(SK);
    let signer = Signer {
        endpoint: &s.endpoint,
        credentials: &c,
        date: &date,
    };
    let mut req = signer.generate_data_key(KEY_ID, &context(), &doc).unwrap();
    req.body = String::from_utf8(req.body)
        .unwrap()
        .replace("AES_256", "AES_128")
        .into_bytes();
    let (status, body) = post(&s.good, &req).await;
    assert_eq!(
        parse_generate_data_key(status, &body).err(),
        Some(refused("InvalidSignatureException"))
    );
    // A signature from 20 minutes ago.
    let old = AmzDate::from_unix(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap()
            - 1200,
    )
    .unwrap();
    let signer = Signer {
        endpoint: &s.endpoint,
        credentials: &c,
        date: &old,
    };
    let req = signer.generate_data_key(KEY_ID, &context(), &doc).unwrap();
    let (status, body) = post(&s.good, &req).await;
    assert_eq!(
        parse_generate_data_key(status, &body).err(),
        Some(refused("InvalidSignatureException"))
    );
    // No Authorization at all.
    let signer = Signer {
        endpoint: &s.endpoint,
        credentials: &c,
        date: &date,
    };
    let mut req = signer.generate_data_key(KEY_ID, &context(), &doc).unwrap();
    req.headers.retain(|(n, _)| n != "authorization");
    let (status, body) = post(&s.good, &req).await;
    assert_eq!(
        parse_generate_data_key(status, &body).err(),
        Some(refused("MissingAuthenticationTokenException"))
    );
    // And the unaltered request passes (the refusals above are not a broken double).
    let req = signer.generate_data_key(KEY_ID, &context(), &doc).unwrap();
    let (status, body) = post(&s.good, &req).await;
    assert!(parse_generate_data_key(status, &body).is_ok());
}

#[test]
fn bad_configuration_exits_64_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, "not a certificate").unwrap();
    let policy = dir.path().join("pcrs.json");
    std::fs::write(&policy, r#"{"PCR0": "00"}"#).unwrap();
    let missing = dir.path().join("missing.json");
    for (policy, root) in [(&missing, &root), (&policy, &root)] {
        let out = Command::new(double_binary())
            .args(["--key-id", KEY_ID, "--policy"])
            .arg(policy)
            .arg("--trust-dev-root")
            .arg(root)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(64),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
}
