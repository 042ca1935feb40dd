//! EIF assembly and measurement through the `aws-nitro-enclaves-image-format`
//! crate, the same code `nitro-cli build-enclave` and `describe-eif` run.
//!
//! PCRs (SHA-384, each "extended" once from zero: `H(0^48 || H(data))`):
//! PCR0 over kernel, cmdline and every ramdisk section's contents in order;
//! PCR1 over kernel, cmdline and the first (bootstrap) ramdisk; PCR2 over the
//! remaining (application) ramdisks; PCR8 over the DER of the signing
//! certificate. Section headers and the metadata section are not measured.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use aws_nitro_enclaves_image_format::defs::{
    EIF_HDR_ARCH_ARM64, EIF_MAGIC, EifBuildInfo, EifHeader, EifIdentityInfo, EifSectionHeader,
    MAX_NUM_SECTIONS,
};
use aws_nitro_enclaves_image_format::utils::eif_reader::EifReader;
use aws_nitro_enclaves_image_format::utils::{EifBuilder, EifSigner, SignKeyData};
use sha2_010::Digest;

use crate::error::ImageError;
use crate::manifest::PcrManifest;

/// Largest kernel image accepted.
pub const MAX_KERNEL_BYTES: u64 = 128 * 1024 * 1024;
/// Largest ramdisk accepted.
pub const MAX_RAMDISK_BYTES: u64 = 1024 * 1024 * 1024;
/// Longest kernel command line (x86 `COMMAND_LINE_SIZE`, without the NUL).
pub const MAX_CMDLINE_BYTES: usize = 2047;
/// Largest EIF that `describe` reads.
pub const MAX_EIF_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Most ramdisks in one image.
pub const MAX_RAMDISKS: usize = 8;

/// Target architecture, recorded in the EIF header flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// x86_64 (flags 0).
    X86_64,
    /// aarch64.
    Aarch64,
}

/// An operator's signing certificate and key (PEM file or KMS key ARN).
#[derive(Clone, Debug)]
pub struct Signing {
    /// PEM certificate.
    pub cert: PathBuf,
    /// PEM private key path, or a KMS key ARN.
    pub key: String,
}

/// Everything an EIF is made of.
#[derive(Clone, Debug)]
pub struct EifInputs {
    /// Kernel image (bzImage on x86_64).
    pub kernel: PathBuf,
    /// Kernel command line.
    pub cmdline: String,
    /// Ramdisks in order; the first is the bootstrap ramdisk (PCR1).
    pub ramdisks: Vec<PathBuf>,
    /// Optional signature (PCR8).
    pub signing: Option<Signing>,
    /// Architecture flag.
    pub arch: Arch,
    /// Fixed metadata.
    pub identity: Identity,
}

/// The metadata section. Everything here is fixed by the caller so that no
/// build time, host name or tool path leaks into the image bytes.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Image name.
    pub name: String,
    /// Image version.
    pub version: String,
    /// RFC 3339 time written as the build time (derived from SOURCE_DATE_EPOCH).
    pub build_time: String,
    /// Free-form JSON recorded as custom metadata.
    pub custom: serde_json::Value,
}

/// Writes the EIF to `out` and returns its measurements.
pub fn write_eif(inputs: &EifInputs, out: &Path) -> Result<PcrManifest, ImageError> {
    check_inputs(inputs)?;
    let sign_info = match &inputs.signing {
        None => None,
        Some(s) => Some(load_signing(s)?),
    };
    let flags = match inputs.arch {
        Arch::X86_64 => 0,
        Arch::Aarch64 => EIF_HDR_ARCH_ARM64,
    };
    let mut builder = EifBuilder::new(
        &inputs.kernel,
        inputs.cmdline.clone(),
        sign_info,
        sha2_010::Sha384::new(),
        flags,
        identity_info(&inputs.identity),
    );
    for ramdisk in &inputs.ramdisks {
        builder.add_ramdisk(ramdisk);
    }
    let tmp = out.with_extension("eif.partial");
    let mut file = File::create(&tmp).map_err(ImageError::io(&tmp))?;
    let measurements = builder.write_to(&mut file);
    file.sync_all().map_err(ImageError::io(&tmp))?;
    drop(file);
    fs::rename(&tmp, out).map_err(ImageError::io(out))?;
    PcrManifest::from_measurements(measurements)
}

/// Measures an existing EIF, after checking its structure and checksum.
pub fn describe(path: &Path) -> Result<PcrManifest, ImageError> {
    check_structure(path)?;
    let path_str = path
        .to_str()
        .ok_or(ImageError::MalformedEif("path is not UTF-8"))?;
    let mut reader = EifReader::from_eif(path_str.to_owned()).map_err(ImageError::Format)?;
    if !reader.check_crc() {
        return Err(ImageError::CrcMismatch);
    }
    PcrManifest::from_measurements(reader.get_measurements().map_err(ImageError::Format)?)
}

/// Walks the header and every section header, so that the reader (which
/// allocates each section's stated size) only ever sees sizes that fit the
/// file, and rejects trailing bytes.
pub fn check_structure(path: &Path) -> Result<(), ImageError> {
    let mut file = File::open(path).map_err(ImageError::io(path))?;
    let len = file.metadata().map_err(ImageError::io(path))?.len();
    if len > MAX_EIF_BYTES {
        return Err(ImageError::TooLarge {
            what: path.display().to_string(),
            size: len,
            limit: MAX_EIF_BYTES,
        });
    }
    let mut buf = vec![0u8; EifHeader::size()];
    file.read_exact(&mut buf)
        .map_err(|_| ImageError::MalformedEif("shorter than its header"))?;
    let header = EifHeader::from_be_bytes(&buf).map_err(|_| ImageError::MalformedEif("header"))?;
    if header.magic != EIF_MAGIC {
        return Err(ImageError::MalformedEif("bad magic"));
    }
    let count = usize::from(header.num_sections);
    if count > MAX_NUM_SECTIONS {
        return Err(ImageError::MalformedEif("too many sections"));
    }
    let mut pos = EifHeader::size() as u64;
    let mut sections = 0usize;
    let mut sh = vec![0u8; EifSectionHeader::size()];
    while pos < len {
        sections += 1;
        if sections > count {
            return Err(ImageError::MalformedEif(
                "more sections than the header lists",
            ));
        }
        file.seek(SeekFrom::Start(pos))
            .map_err(ImageError::io(path))?;
        file.read_exact(&mut sh)
            .map_err(|_| ImageError::MalformedEif("truncated section header"))?;
        let section = EifSectionHeader::from_be_bytes(&sh)
            .map_err(|_| ImageError::MalformedEif("unknown section type"))?;
        pos += EifSectionHeader::size() as u64;
        if section.section_size > len - pos {
            return Err(ImageError::MalformedEif(
                "section runs past the end of the file",
            ));
        }
        pos += section.section_size;
    }
    if sections != count {
        return Err(ImageError::MalformedEif(
            "fewer sections than the header lists",
        ));
    }
    Ok(())
}

fn check_inputs(inputs: &EifInputs) -> Result<(), ImageError> {
    if inputs.cmdline.len() > MAX_CMDLINE_BYTES || inputs.cmdline.contains('\0') {
        return Err(ImageError::InvalidText {
            what: "kernel command line",
            reason: "over 2047 bytes or contains NUL",
        });
    }
    if inputs.ramdisks.is_empty() || inputs.ramdisks.len() > MAX_RAMDISKS {
        return Err(ImageError::MalformedEif("need 1 to 8 ramdisks"));
    }
    check_file(&inputs.kernel, MAX_KERNEL_BYTES)?;
    for ramdisk in &inputs.ramdisks {
        check_file(ramdisk, MAX_RAMDISK_BYTES)?;
    }
    Ok(())
}

/// The builder panics on unreadable inputs, so they are checked here first.
fn check_file(path: &Path, limit: u64) -> Result<(), ImageError> {
    let meta = fs::metadata(path).map_err(ImageError::io(path))?;
    if !meta.is_file() {
        return Err(ImageError::Io {
            path: path.to_owned(),
            source: std::io::Error::other("not a regular file"),
        });
    }
    File::open(path).map_err(ImageError::io(path))?;
    if meta.len() > limit {
        return Err(ImageError::TooLarge {
            what: path.display().to_string(),
            size: meta.len(),
            limit,
        });
    }
    Ok(())
}

/// Loads the signing material and proves it usable before the builder
/// (which panics on a bad certificate) sees it.
fn load_signing(s: &Signing) -> Result<SignKeyData, ImageError> {
    let probe = SignKeyData::new(&s.key, &s.cert).map_err(ImageError::Format)?;
    let is_kms = s.key.starts_with("arn:");
    if let Some(signer) = EifSigner::new(Some(probe)) {
        signer.get_cert_der().map_err(ImageError::Format)?;
        if !is_kms {
            signer.sign(b"probe").map_err(ImageError::Format)?;
        }
    }
    SignKeyData::new(&s.key, &s.cert).map_err(ImageError::Format)
}

fn identity_info(id: &Identity) -> EifIdentityInfo {
    EifIdentityInfo {
        img_name: id.name.clone(),
        img_version: id.version.clone(),
        build_info: EifBuildInfo {
            build_time: id.build_time.clone(),
            build_tool: env!("CARGO_PKG_NAME").to_owned(),
            build_tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            img_os: "Linux".to_owned(),
            img_kernel: "unknown".to_owned(),
        },
        docker_info: serde_json::json!({}),
        custom_info: id.custom.clone(),
    }
}
