//! `CiphertextForRecipient` decryption against envelopes produced
//! independently by `openssl cms -encrypt` (RSAES-OAEP-SHA256, MGF1-SHA256,
//! AES-256-CBC), in DER and in the BER indefinite-length shape KMS emits
//! (`-stream -keyid`), and structural checks on a real KMS answer.
// The fixtures import openssl-made keys with `RecipientKey::insecure_from_pkcs8_der`,
// which exists only in dev builds (feature dev-simulator).
#![cfg(feature = "dev-simulator")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::FakeNsm;
use strongroom_enclave_core::kms::cms::{CmsError, Envelope, MAX_ENVELOPE_LEN, RecipientKey};

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl must be installed for this test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An RSA-2048 key + self-signed cert in `dir` (`k.pem`, `c.pem`); returns
/// the PKCS#8 DER private key.
fn recipient(dir: &Path, name: &str) -> (Vec<u8>, String) {
    let (key, cert) = (format!("{name}.key.pem"), format!("{name}.cert.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-subj",
            "/CN=kms-test",
            "-days",
            "1",
        ],
    );
    let der = openssl(
        dir,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in", &key,
        ],
    );
    (der, cert)
}

/// `openssl cms -encrypt` of `plaintext` to `cert`; `ber` = the KMS shape.
fn seal(dir: &Path, cert: &str, plaintext: &[u8], ber: bool) -> Vec<u8> {
    std::fs::write(dir.join("pt"), plaintext).unwrap();
    let mut args = vec!["cms", "-encrypt", "-in", "pt", "-out", "env"];
    if ber {
        args.extend(["-stream", "-keyid"]);
    }
    args.extend([
        "-recip",
        cert,
        "-keyopt",
        "rsa_padding_mode:oaep",
        "-keyopt",
        "rsa_oaep_md:sha256",
        "-keyopt",
        "rsa_mgf1_md:sha256",
        "-aes256",
        "-binary",
        "-outform",
        "DER",
    ]);
    openssl(dir, &args);
    std::fs::read(dir.join("env")).unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
    key: RecipientKey,
    cert: String,
    nsm: FakeNsm,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (der, cert) = recipient(dir.path(), "a");
    let key = RecipientKey::insecure_from_pkcs8_der(&der).unwrap();
    Fixture {
        dir,
        key,
        cert,
        nsm: FakeNsm::new(7),
    }
}

#[test]
fn openssl_envelopes_decrypt_der_and_ber() {
    let f = fixture();
    let sizes = [1usize, 15, 16, 17, 32, 1000, 4096];
    for (i, len) in sizes.into_iter().enumerate() {
        let plaintext: Vec<u8> = (0..len).map(|j| (i * 31 + j * 7) as u8).collect();
        for ber in [false, true] {
            let env = seal(f.dir.path(), &f.cert, &plaintext, ber);
            // The BER form really is indefinite-length, like KMS's.
            assert_eq!(env[1] == 0x80, ber, "len {len} ber {ber}");
            let out = f.key.decrypt(&env, &f.nsm).unwrap();
            assert_eq!(&out[..], &plaintext[..], "len {len} ber {ber}");
        }
    }
}

#[test]
fn public_key_der_is_the_spki_openssl_derives() {
    let f = fixture();
    let spki = openssl(
        f.dir.path(),
        &["pkey", "-in", "a.key.pem", "-pubout", "-outform", "DER"],
    );
    assert_eq!(f.key.public_key_der(), &spki[..]);
}

#[test]
fn every_flipped_byte_fails_or_changes_the_plaintext() {
    let f = fixture();
    let plaintext = [0x5a; 32];
    for ber in [false, true] {
        let env = seal(f.dir.path(), &f.cert, &plaintext, ber);
        let parsed = Envelope::parse(&env).unwrap();
        let key_at = env
            .windows(parsed.encrypted_key.len())
            .position(|w| w == &parsed.encrypted_key[..])
            .unwrap();
        // The recipient identifier is not interpreted (one recipient; the
        // OAEP decryption itself proves the key): it ends where the key
        // encryption algorithm starts, and starts after `SET { SEQUENCE {
        // INTEGER v` (both with 2-byte long lengths for RSA-2048).
        let set_at = env.windows(2).position(|w| w == [0x31, 0x82]).unwrap();
        let alg_len = 0x3a; // OpenSSL omits the NULL hash parameters
        let rid = set_at + 11..key_at - 4 - alg_len;
        assert!(rid.len() >= 20, "{rid:?}");
        for i in 0..env.len() {
            let mut bad = env.clone();
            bad[i] ^= 0x01;
            let got = f.key.decrypt(&bad, &f.nsm);
            if rid.contains(&i) {
                continue;
            }
            // CBC content has no integrity of its own: a flip in the IV or
            // content may "decrypt" to other bytes, never to the original.
            assert!(
                got.as_ref().map(|p| p[..] != plaintext).unwrap_or(true),
                "byte {i} ber {ber}"
            );
            if (key_at..key_at + parsed.encrypted_key.len()).contains(&i) {
                assert_eq!(got.err(), Some(CmsError::Decrypt), "key byte {i}");
            }
        }
    }
}

#[test]
fn wrong_key_fails_opaquely() {
    let f = fixture();
    let (other, _) = recipient(f.dir.path(), "b");
    let other = RecipientKey::insecure_from_pkcs8_der(&other).unwrap();
    for ber in [false, true] {
        let env = seal(f.dir.path(), &f.cert, b"data key", ber);
        assert_eq!(other.decrypt(&env, &f.nsm).err(), Some(CmsError::Decrypt));
    }
}

#[test]
fn truncated_trailing_and_oversize_input_fail() {
    let f = fixture();
    for ber in [false, true] {
        let env = seal(f.dir.path(), &f.cert, &[1u8; 48], ber);
        for cut in 0..env.len() {
            assert_eq!(
                Envelope::parse(&env[..cut]).err(),
                Some(CmsError::Malformed),
                "cut {cut} ber {ber}"
            );
        }
        let mut trailing = env.clone();
        trailing.push(0);
        assert_eq!(
            f.key.decrypt(&trailing, &f.nsm).err(),
            Some(CmsError::Malformed)
        );
    }
    assert_eq!(
        Envelope::parse(&vec![0x30; MAX_ENVELOPE_LEN + 1]).err(),
        Some(CmsError::TooLarge)
    );
    // At the limit the size check passes and the structure decides.
    assert_eq!(
        Envelope::parse(&vec![0x30; MAX_ENVELOPE_LEN]).err(),
        Some(CmsError::Malformed)
    );
}

#[test]
fn other_algorithms_are_refused() {
    let f = fixture();
    std::fs::write(f.dir.path().join("pt"), b"x").unwrap();
    // PKCS#1 v1.5 key transport; AES-128-CBC content.
    for extra in [
        &["-aes256"][..],
        &[
            "-aes128",
            "-keyopt",
            "rsa_padding_mode:oaep",
            "-keyopt",
            "rsa_oaep_md:sha256",
            "-keyopt",
            "rsa_mgf1_md:sha256",
        ],
    ] {
        let mut args = vec![
            "cms", "-encrypt", "-in", "pt", "-out", "alt", "-recip", &f.cert,
        ];
        args.extend_from_slice(extra);
        args.extend(["-binary", "-outform", "DER"]);
        openssl(f.dir.path(), &args);
        let env = std::fs::read(f.dir.path().join("alt")).unwrap();
        assert_eq!(f.key.decrypt(&env, &f.nsm).err(), Some(CmsError::Malformed));
    }
}

#[test]
fn real_kms_answer_parses() {
    // A CiphertextForRecipient returned by AWS KMS (published in
    // RustCrypto/formats#779): BER, indefinite lengths, SKI recipient id.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/kms_data/aws_kms_ciphertext_for_recipient.ber");
    let bytes = std::fs::read(path).unwrap();
    let env = Envelope::parse(&bytes).unwrap();
    assert_eq!(env.encrypted_key.len(), 256);
    assert_eq!(hex::encode(env.iv), "37343df1470df625eeb6f4bfd2f1acc3");
    assert_eq!(
        hex::encode(&env.encrypted_content),
        "cc74adf65d973c8b72cd51e1b927f0f0"
    );
    // Not our key: opaque failure, after a successful parse.
    let f = fixture();
    assert_eq!(f.key.decrypt(&bytes, &f.nsm).err(), Some(CmsError::Decrypt));
}

#[test]
fn generated_key_is_rsa_2048_and_debug_shows_nothing() {
    let nsm = FakeNsm::new(3);
    let key = RecipientKey::generate(&nsm).unwrap();
    let spki = key.public_key_der();
    // SEQUENCE { rsaEncryption, BIT STRING { RSAPublicKey } } of a 2048-bit key.
    assert_eq!(spki.len(), 294);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pub.der"), spki).unwrap();
    let text = openssl(
        dir.path(),
        &[
            "pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-text", "-noout",
        ],
    );
    assert!(String::from_utf8_lossy(&text).contains("2048 bit"));
    let dbg = format!("{key:?}");
    assert_eq!(dbg, "RecipientKey { .. }");
}
