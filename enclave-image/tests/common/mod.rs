//! Small synthetic inputs: a fake kernel, a fake init, a fake enclave binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use sha2_010::{Digest, Sha384};
use strongroom_enclave_image::{BuildOutput, BuildSpec, build, layout};

pub struct Inputs {
    pub dir: PathBuf,
    pub kernel: PathBuf,
    pub bootstrap: PathBuf,
    pub binary: PathBuf,
    pub config: PathBuf,
}

pub const CMDLINE: &str = "console=ttyS0 reboot=k panic=30";

/// Deterministic pseudo-random bytes (xorshift), so inputs are identical across runs.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn inputs(dir: &Path) -> Inputs {
    let kernel = dir.join("bzImage");
    fs::write(&kernel, bytes(1, 300_000)).unwrap();
    let init = dir.join("init");
    fs::write(&init, bytes(2, 20_000)).unwrap();
    let nsm = dir.join("nsm.ko");
    fs::write(&nsm, bytes(3, 9_000)).unwrap();
    let archive = layout::bootstrap_ramdisk(&init, Some(&nsm), &[], 0).unwrap();
    let bootstrap = dir.join("bootstrap.cpio");
    fs::write(&bootstrap, archive.to_bytes()).unwrap();
    let binary = dir.join("strongroom-enclave");
    fs::write(&binary, bytes(4, 150_001)).unwrap();
    let config = dir.join("config");
    fs::create_dir_all(config.join("trust-roots")).unwrap();
    fs::write(config.join("egress-allowlist"), "api.binance.com:443\n").unwrap();
    fs::write(config.join("trust-roots/README"), "webpki roots built in\n").unwrap();
    Inputs {
        dir: dir.to_owned(),
        kernel,
        bootstrap,
        binary,
        config,
    }
}

pub fn spec(i: &Inputs, out: &str) -> BuildSpec {
    BuildSpec {
        kernel: i.kernel.clone(),
        cmdline: CMDLINE.to_owned(),
        bootstrap_ramdisk: i.bootstrap.clone(),
        app: layout::AppSpec {
            binary: i.binary.clone(),
            config_dir: Some(i.config.clone()),
            args: vec!["--listen".into(), "vsock://4294967295:5000".into()],
            env: vec!["RUST_LOG=info".into()],
        },
        out_dir: i.dir.join(out),
        signing: None,
        source_date_epoch: 1_767_225_600,
    }
}

pub fn build_ok(i: &Inputs, out: &str) -> BuildOutput {
    build(&spec(i, out)).unwrap()
}

/// A PCR as Nitro computes it: SHA-384(48 zero bytes || SHA-384(data)).
pub fn pcr(parts: &[&[u8]]) -> String {
    let mut inner = Sha384::new();
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha384::new();
    outer.update([0u8; 48]);
    outer.update(inner.finalize());
    hex::encode(outer.finalize())
}
