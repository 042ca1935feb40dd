#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod cpio;
pub mod eif;
pub mod error;
pub mod layout;
pub mod manifest;

use std::fs;
use std::path::{Path, PathBuf};

pub use error::ImageError;
pub use manifest::PcrManifest;

/// File name of the image inside the output directory.
pub const EIF_FILE: &str = "strongroom-enclave.eif";
/// File name of the measurements inside the output directory.
pub const PCRS_FILE: &str = "pcrs.json";
/// File name of the application ramdisk kept next to the image for audits.
pub const APP_RAMDISK_FILE: &str = "application.cpio";

/// A full image build: the application ramdisk is assembled here, the
/// kernel, command line and bootstrap ramdisk come from outside.
#[derive(Clone, Debug)]
pub struct BuildSpec {
    /// Kernel image.
    pub kernel: PathBuf,
    /// Kernel command line.
    pub cmdline: String,
    /// Bootstrap ramdisk (PCR1), e.g. made by [`layout::bootstrap_ramdisk`].
    pub bootstrap_ramdisk: PathBuf,
    /// Application ramdisk contents (PCR2).
    pub app: layout::AppSpec,
    /// Output directory.
    pub out_dir: PathBuf,
    /// Optional signature (PCR8).
    pub signing: Option<eif::Signing>,
    /// Seconds since the epoch written as the EIF build time; never the clock.
    pub source_date_epoch: i64,
}

/// What a build wrote.
#[derive(Clone, Debug)]
pub struct BuildOutput {
    /// The EIF.
    pub eif: PathBuf,
    /// `pcrs.json`.
    pub pcrs: PathBuf,
    /// The measurements (also in `pcrs.json`).
    pub manifest: PcrManifest,
}

/// Builds `out_dir/strongroom-enclave.eif` and `out_dir/pcrs.json`.
pub fn build(spec: &BuildSpec) -> Result<BuildOutput, ImageError> {
    fs::create_dir_all(&spec.out_dir).map_err(ImageError::io(&spec.out_dir))?;
    // cpio mtimes stay 0 whatever SOURCE_DATE_EPOCH is, so PCR2 depends on
    // content alone and a rebuild from a later commit with the same content
    // keeps the same PCRs.
    let app = layout::app_ramdisk(&spec.app, 0)?;
    let app_path = spec.out_dir.join(APP_RAMDISK_FILE);
    write_file(&app_path, &app.to_bytes())?;
    let inputs = eif::EifInputs {
        kernel: spec.kernel.clone(),
        cmdline: spec.cmdline.clone(),
        ramdisks: vec![spec.bootstrap_ramdisk.clone(), app_path],
        signing: spec.signing.clone(),
        arch: eif::Arch::X86_64,
        identity: eif::Identity {
            name: "strongroom-enclave".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            build_time: rfc3339(spec.source_date_epoch)?,
            custom: serde_json::json!({ "source_date_epoch": spec.source_date_epoch }),
        },
    };
    let eif_path = spec.out_dir.join(EIF_FILE);
    let manifest = eif::write_eif(&inputs, &eif_path)?;
    let pcrs = spec.out_dir.join(PCRS_FILE);
    write_file(&pcrs, manifest.to_json()?.as_bytes())?;
    Ok(BuildOutput {
        eif: eif_path,
        pcrs,
        manifest,
    })
}

/// Writes through a temporary file and a rename, so readers never see half a file.
pub fn write_file(path: &Path, data: &[u8]) -> Result<(), ImageError> {
    let tmp = path.with_extension("partial");
    fs::write(&tmp, data).map_err(ImageError::io(&tmp))?;
    fs::rename(&tmp, path).map_err(ImageError::io(path))
}

fn rfc3339(epoch: i64) -> Result<String, ImageError> {
    let bad = || ImageError::InvalidText {
        what: "SOURCE_DATE_EPOCH",
        reason: "out of range",
    };
    let t = time::OffsetDateTime::from_unix_timestamp(epoch).map_err(|_| bad())?;
    t.format(&time::format_description::well_known::Rfc3339)
        .map_err(|_| bad())
}
