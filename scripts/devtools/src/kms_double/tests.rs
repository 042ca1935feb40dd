//! The double's envelopes are real CMS: OpenSSL decrypts them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use super::envelope::{EnvelopeError, seal_to_recipient};

fn openssl(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn openssl_decrypts_the_doubles_envelopes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "k.pem",
        ],
    );
    let spki = openssl(d, &["pkey", "-in", "k.pem", "-pubout", "-outform", "DER"]);
    for len in [1usize, 16, 32, 1500, 4096] {
        let plaintext: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
        let env = seal_to_recipient(&spki, &plaintext).unwrap();
        assert_eq!(&env[..2], &[0x30, 0x80], "indefinite length like KMS");
        std::fs::write(d.join("env"), &env).unwrap();
        let out = openssl(
            d,
            &[
                "cms", "-decrypt", "-inform", "DER", "-binary", "-inkey", "k.pem", "-in", "env",
            ],
        );
        assert_eq!(out, plaintext, "len {len}");
    }
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "s.pem",
        ],
    );
    let small = openssl(d, &["pkey", "-in", "s.pem", "-pubout", "-outform", "DER"]);
    assert_eq!(
        seal_to_recipient(&small, b"x"),
        Err(EnvelopeError::BadRecipientKey)
    );
    assert_eq!(
        seal_to_recipient(b"not a key", b"x"),
        Err(EnvelopeError::BadRecipientKey)
    );
}
