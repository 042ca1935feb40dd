//! EIF determinism and measurement tests on small synthetic inputs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::process::Command;

use common::{CMDLINE, build_ok, inputs, pcr, spec};
use strongroom_enclave_image::{APP_RAMDISK_FILE, ImageError, PcrManifest, build, eif};

const BIN: &str = env!("CARGO_BIN_EXE_strongroom-eif");

#[test]
fn building_twice_gives_identical_bytes_and_pcrs() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path());
    let a = build_ok(&i, "a");
    let b = build_ok(&i, "b");
    assert_eq!(fs::read(&a.eif).unwrap(), fs::read(&b.eif).unwrap());
    assert_eq!(fs::read(&a.pcrs).unwrap(), fs::read(&b.pcrs).unwrap());
    assert_eq!(a.manifest, b.manifest);
    assert!(!a.manifest.is_signed());
}

#[test]
fn one_byte_of_the_binary_changes_pcr0_and_pcr2_only() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path());
    let before = build_ok(&i, "before").manifest;
    let mut bin = fs::read(&i.binary).unwrap();
    bin[77_777] ^= 0x01;
    fs::write(&i.binary, bin).unwrap();
    let after = build_ok(&i, "after").manifest;
    assert_ne!(before.pcr("PCR0"), after.pcr("PCR0"));
    assert_ne!(before.pcr("PCR2"), after.pcr("PCR2"));
    assert_eq!(before.pcr("PCR1"), after.pcr("PCR1"));
}

#[test]
fn config_is_measured_into_pcr2() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path());
    let before = build_ok(&i, "before").manifest;
    fs::write(i.config.join("egress-allowlist"), "evil.example:443\n").unwrap();
    let after = build_ok(&i, "after").manifest;
    assert_ne!(before.pcr("PCR2"), after.pcr("PCR2"));
    assert_eq!(before.pcr("PCR1"), after.pcr("PCR1"));
}

#[test]
fn pcrs_match_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path());
    let out = build_ok(&i, "out");
    let kernel = fs::read(&i.kernel).unwrap();
    let boot = fs::read(&i.bootstrap).unwrap();
    let app = fs::read(dir.path().join("out").join(APP_RAMDISK_FILE)).unwrap();
    let cmd = CMDLINE.as_bytes();
    let m = &out.manifest;
    assert_eq!(m.pcr("PCR0").unwrap(), pcr(&[&kernel, cmd, &boot, &app]));
    assert_eq!(m.pcr("PCR1").unwrap(), pcr(&[&kernel, cmd, &boot]));
    assert_eq!(m.pcr("PCR2").unwrap(), pcr(&[&app]));
    assert_eq!(m.pcr("HashAlgorithm").unwrap(), "Sha384 { ... }");
}

#[test]
fn describe_agrees_with_what_build_printed() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path());
    let out = dir.path().join("cli");
    let built = Command::new(BIN)
        .args([
            "build",
            "--cmdline",
            CMDLINE,
            "--arg",
            "--listen",
            "--arg",
            "vsock://1:2",
        ])
        .arg("--kernel")
        .arg(&i.kernel)
        .arg("--bootstrap-ramdisk")
        .arg(&i.bootstrap)
        .arg("--app-binary")
        .arg(&i.binary)
        .arg("--config-dir")
        .arg(&i.config)
        .arg("--out")
        .arg(&out)
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let described = Command::new(BIN)
        .arg("describe")
        .arg(out.join("strongroom-enclave.eif"))
        .output()
        .unwrap();
    assert!(described.status.success());
    assert_eq!(built.stdout, described.stdout);
    assert_eq!(built.stdout, fs::read(out.join("pcrs.json")).unwrap());
    let parsed: PcrManifest = serde_json::from_slice(&described.stdout).unwrap();
    assert_eq!(parsed.measurements.len(), 4);
}

#[test]
fn describe_refuses_corrupted_and_truncated_images() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path());
    let out = build_ok(&i, "out");
    let good = fs::read(&out.eif).unwrap();
    let bad = dir.path().join("bad.eif");

    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x80;
    fs::write(&bad, &flipped).unwrap();
    assert!(matches!(eif::describe(&bad), Err(ImageError::CrcMismatch)));

    fs::write(&bad, &good[..good.len() - 1]).unwrap();
    assert!(matches!(
        eif::describe(&bad),
        Err(ImageError::MalformedEif(_))
    ));

    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0u8; 20]);
    fs::write(&bad, &trailing).unwrap();
    assert!(matches!(
        eif::describe(&bad),
        Err(ImageError::MalformedEif(_))
    ));

    // A section size far past the end must be refused before anything is allocated.
    let mut huge = good.clone();
    let kernel_size_at = 548 + 4;
    huge[kernel_size_at..kernel_size_at + 8].copy_from_slice(&u64::MAX.to_be_bytes());
    fs::write(&bad, &huge).unwrap();
    assert!(matches!(
        eif::describe(&bad),
        Err(ImageError::MalformedEif(_))
    ));
}

#[test]
fn signed_image_has_pcr8_over_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("key.pem");
    let cert = d.join("cert.pem");
    let gen_key = Command::new("openssl")
        .args(["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out"])
        .arg(&key)
        .status();
    let Ok(status) = gen_key else {
        eprintln!("openssl CLI not available; signing test skipped");
        return;
    };
    assert!(status.success());
    let ok = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-x509",
            "-days",
            "30",
            "-subj",
            "/CN=strongroom-test",
        ])
        .arg("-key")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .status()
        .unwrap();
    assert!(ok.success());
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .output()
        .unwrap()
        .stdout;

    let i = inputs(d);
    let unsigned = build_ok(&i, "unsigned").manifest;
    let mut s = spec(&i, "signed");
    s.signing = Some(eif::Signing {
        cert: cert.clone(),
        key: key.display().to_string(),
    });
    let signed = build(&s).unwrap();
    let m = &signed.manifest;
    assert_eq!(m.pcr("PCR8").unwrap(), pcr(&[&der]));
    assert_eq!(m.pcr("PCR1"), unsigned.pcr("PCR1"));
    assert_eq!(m.pcr("PCR2"), unsigned.pcr("PCR2"));
    assert_eq!(eif::describe(&signed.eif).unwrap(), *m);

    // A key that does not parse is an error, not a panic.
    fs::write(&key, "not a key").unwrap();
    assert!(build(&s).is_err());
}

#[test]
fn config_symlinks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path());
    std::os::unix::fs::symlink("/etc/passwd", i.config.join("passwd")).unwrap();
    assert!(matches!(
        build(&spec(&i, "out")),
        Err(ImageError::UnsupportedFileType(_))
    ));
}
