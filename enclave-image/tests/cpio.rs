//! The application ramdisk is byte-identical across runs and readable by GNU cpio.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use strongroom_enclave_image::layout::{self, AppSpec};

fn app(i: &common::Inputs) -> AppSpec {
    AppSpec {
        binary: i.binary.clone(),
        config_dir: Some(i.config.clone()),
        args: vec!["--listen".into(), "vsock://4294967295:5000".into()],
        env: vec![
            "RUST_LOG=info".into(),
            "STRONGROOM_CONFIG=/etc/strongroom".into(),
        ],
    }
}

#[test]
fn app_ramdisk_is_byte_identical_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let i = common::inputs(dir.path());
    let a = layout::app_ramdisk(&app(&i), 0).unwrap().to_bytes();
    let b = layout::app_ramdisk(&app(&i), 0).unwrap().to_bytes();
    assert_eq!(a, b);
    // Source file times and modes never leak in.
    std::fs::set_permissions(
        i.config.join("egress-allowlist"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let c = layout::app_ramdisk(&app(&i), 0).unwrap().to_bytes();
    assert_eq!(a, c);
}

#[test]
fn cmd_and_env_are_one_entry_a_line() {
    let mut bad = app(&common::inputs(tempfile::tempdir().unwrap().path()));
    bad.args.push("two\nlines".into());
    assert!(layout::app_ramdisk(&bad, 0).is_err());
    let mut bad = app(&common::inputs(tempfile::tempdir().unwrap().path()));
    bad.env.push("NOEQUALS".into());
    assert!(layout::app_ramdisk(&bad, 0).is_err());
}

#[test]
fn gnu_cpio_lists_the_expected_entries() {
    let dir = tempfile::tempdir().unwrap();
    let i = common::inputs(dir.path());
    let archive = layout::app_ramdisk(&app(&i), 0).unwrap();
    let bytes = archive.to_bytes();
    let child = Command::new("cpio")
        .args(["-t", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("cpio not installed (apt-get install cpio); listing check skipped");
        return;
    };
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let expected: Vec<String> = archive.paths().map(str::to_owned).collect();
    assert_eq!(listed, expected);
    for must in [
        "cmd",
        "env",
        "rootfs/proc",
        "rootfs/usr/bin/strongroom-enclave",
        "rootfs/etc/strongroom/egress-allowlist",
        "rootfs/etc/strongroom/trust-roots/README",
    ] {
        assert!(listed.iter().any(|p| p == must), "{must} missing");
    }
}

#[test]
fn gnu_cpio_extracts_identical_content() {
    let dir = tempfile::tempdir().unwrap();
    let i = common::inputs(dir.path());
    let bytes = layout::app_ramdisk(&app(&i), 0).unwrap().to_bytes();
    let x = dir.path().join("x");
    std::fs::create_dir(&x).unwrap();
    let child = Command::new("cpio")
        .args(["-i", "-d", "--quiet", "--no-absolute-filenames"])
        .current_dir(&x)
        .stdin(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("cpio not installed; extraction check skipped");
        return;
    };
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    assert!(child.wait().unwrap().success());
    let bin = std::fs::read(x.join("rootfs/usr/bin/strongroom-enclave")).unwrap();
    assert_eq!(bin, std::fs::read(&i.binary).unwrap());
    let cmd = std::fs::read_to_string(x.join("cmd")).unwrap();
    assert_eq!(
        cmd,
        "/usr/bin/strongroom-enclave\n--listen\nvsock://4294967295:5000\n"
    );
}
