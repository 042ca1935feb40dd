//! What goes into the two ramdisks, laid out the way the Nitro `init`
//! (aws-nitro-enclaves-sdk-bootstrap) expects them and `nitro-cli` builds them.
//!
//! Bootstrap ramdisk (measured into PCR1): `dev/`, `init`, `nsm.ko`.
//! Application ramdisk (PCR2): `cmd` and `env` (one entry a line; `init`
//! reads them, then chroots into `rootfs/` and execs `cmd`), the directories
//! `init` mounts over (`rootfs/{dev,proc,run,sys,tmp,var}`), the enclave
//! binary and its measured configuration.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::cpio::Archive;
use crate::error::ImageError;

/// Where the enclave binary lives inside the enclave.
pub const APP_BINARY_PATH: &str = "/usr/bin/strongroom-enclave";
/// Where the measured configuration directory lives inside the enclave.
pub const CONFIG_PATH: &str = "/etc/strongroom";
/// Largest enclave binary accepted.
pub const MAX_BINARY_BYTES: u64 = 256 * 1024 * 1024;
/// Largest single configuration file accepted.
pub const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;
/// Most files and directories in the configuration directory.
pub const MAX_CONFIG_ENTRIES: usize = 256;
/// Largest `init`, `nsm.ko` or other bootstrap file accepted.
pub const MAX_BOOTSTRAP_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Most lines in `cmd` or `env`, and longest line.
pub const MAX_LINES: usize = 64;
/// Longest single `cmd`/`env` line.
pub const MAX_LINE_BYTES: usize = 4096;

/// Directories that `init` mounts filesystems over (same list as nitro-cli).
const ROOTFS_MOUNT_POINTS: [&str; 6] = ["dev", "proc", "run", "sys", "tmp", "var"];

/// Inputs of the application ramdisk.
#[derive(Clone, Debug)]
pub struct AppSpec {
    /// The enclave binary (statically linked).
    pub binary: PathBuf,
    /// A directory copied to [`CONFIG_PATH`] (egress allowlist, trust roots).
    pub config_dir: Option<PathBuf>,
    /// Arguments after the binary path in `cmd`.
    pub args: Vec<String>,
    /// `KEY=VALUE` lines of `env`.
    pub env: Vec<String>,
}

/// Builds the application ramdisk.
pub fn app_ramdisk(spec: &AppSpec, mtime: u32) -> Result<Archive, ImageError> {
    let mut a = Archive::new(mtime);
    let mut cmd = vec![APP_BINARY_PATH.to_owned()];
    cmd.extend(spec.args.iter().cloned());
    a.add_file("cmd", 0o644, lines("cmd", &cmd)?)?;
    for line in &spec.env {
        if !line.contains('=') || line.starts_with('=') {
            return Err(ImageError::InvalidText {
                what: "env",
                reason: "each entry must be KEY=VALUE",
            });
        }
    }
    a.add_file("env", 0o644, lines("env", &spec.env)?)?;
    for dir in ROOTFS_MOUNT_POINTS {
        a.add_dir(&format!("rootfs/{dir}"), 0o755)?;
    }
    let binary = read_limited(&spec.binary, MAX_BINARY_BYTES)?;
    a.add_file(&rootfs(APP_BINARY_PATH), 0o755, binary)?;
    a.add_dir(&rootfs(CONFIG_PATH), 0o755)?;
    if let Some(dir) = &spec.config_dir {
        let mut count = 0;
        add_tree(&mut a, dir, &rootfs(CONFIG_PATH), &mut count)?;
    }
    Ok(a)
}

/// Builds a bootstrap ramdisk: `dev/`, `init` and, when given, `nsm.ko`,
/// plus `extras` (archive path, source file), all mode 0755 like nitro-cli's.
pub fn bootstrap_ramdisk(
    init: &Path,
    nsm_ko: Option<&Path>,
    extras: &[(String, PathBuf)],
    mtime: u32,
) -> Result<Archive, ImageError> {
    let mut a = Archive::new(mtime);
    a.add_dir("dev", 0o755)?;
    a.add_file("init", 0o755, read_limited(init, MAX_BOOTSTRAP_FILE_BYTES)?)?;
    if let Some(nsm) = nsm_ko {
        a.add_file(
            "nsm.ko",
            0o755,
            read_limited(nsm, MAX_BOOTSTRAP_FILE_BYTES)?,
        )?;
    }
    for (dest, src) in extras {
        a.add_file(dest, 0o755, read_limited(src, MAX_BOOTSTRAP_FILE_BYTES)?)?;
    }
    Ok(a)
}

/// Reads a file after checking its size against `limit`, and refuses it if it
/// grew past the limit meanwhile.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ImageError> {
    let file = fs::File::open(path).map_err(ImageError::io(path))?;
    let size = file.metadata().map_err(ImageError::io(path))?.len();
    if size > limit {
        return Err(too_large(path, size, limit));
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(ImageError::io(path))?;
    if data.len() as u64 > limit {
        return Err(too_large(path, data.len() as u64, limit));
    }
    Ok(data)
}

fn too_large(path: &Path, size: u64, limit: u64) -> ImageError {
    ImageError::TooLarge {
        what: path.display().to_string(),
        size,
        limit,
    }
}

fn rootfs(abs: &str) -> String {
    format!("rootfs{abs}")
}

fn lines(what: &'static str, items: &[String]) -> Result<Vec<u8>, ImageError> {
    if items.len() > MAX_LINES {
        return Err(ImageError::InvalidText {
            what,
            reason: "too many lines",
        });
    }
    let mut out = Vec::new();
    for item in items {
        if item.is_empty() || item.len() > MAX_LINE_BYTES {
            return Err(ImageError::InvalidText {
                what,
                reason: "empty or over-long entry",
            });
        }
        if item.contains(['\n', '\0']) {
            return Err(ImageError::InvalidText {
                what,
                reason: "newline or NUL in entry",
            });
        }
        out.extend_from_slice(item.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

/// Copies a directory tree with fixed modes (dirs 0755, files 0644),
/// refusing symlinks and special files so nothing outside it is pulled in.
fn add_tree(a: &mut Archive, dir: &Path, dest: &str, count: &mut usize) -> Result<(), ImageError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(ImageError::io(dir))? {
        let entry = entry.map_err(ImageError::io(dir))?;
        names.push(entry.file_name());
    }
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let name = name
            .to_str()
            .ok_or_else(|| ImageError::InvalidArchivePath(path.display().to_string()))?;
        *count += 1;
        if *count > MAX_CONFIG_ENTRIES {
            return Err(too_large(dir, *count as u64, MAX_CONFIG_ENTRIES as u64));
        }
        let meta = fs::symlink_metadata(&path).map_err(ImageError::io(&path))?;
        let target = format!("{dest}/{name}");
        if meta.is_dir() {
            a.add_dir(&target, 0o755)?;
            add_tree(a, &path, &target, count)?;
        } else if meta.is_file() {
            a.add_file(&target, 0o644, read_limited(&path, MAX_CONFIG_FILE_BYTES)?)?;
        } else {
            return Err(ImageError::UnsupportedFileType(path));
        }
    }
    Ok(())
}
