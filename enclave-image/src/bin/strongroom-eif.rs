//! `strongroom-eif`: build a reproducible Strongroom EIF and print its PCRs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use strongroom_enclave_image::{
    BuildSpec, ImageError, build, eif, layout, layout::read_limited, write_file,
};

#[derive(Parser)]
#[command(
    name = "strongroom-eif",
    version,
    about = "Reproducible EIF builder for Strongroom"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assemble the application ramdisk and the EIF; write OUT/strongroom-enclave.eif
    /// and OUT/pcrs.json and print the measurements.
    Build(BuildArgs),
    /// Print the measurements of an existing EIF in pcrs.json form.
    Describe {
        /// The EIF file.
        eif: PathBuf,
    },
    /// Write a deterministic bootstrap ramdisk (dev/, init, nsm.ko) as nitro-cli lays it out.
    BootstrapRamdisk {
        /// The init program (e.g. /usr/share/nitro_enclaves/blobs/init).
        #[arg(long)]
        init: PathBuf,
        /// The NSM driver module (absent on kernels with the driver built in).
        #[arg(long)]
        nsm_ko: Option<PathBuf>,
        /// Extra file as ARCHIVE_PATH=SOURCE (mode 0755); repeatable.
        #[arg(long = "extra", value_parser = parse_extra)]
        extras: Vec<(String, PathBuf)>,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct BuildArgs {
    /// Kernel image (bzImage).
    #[arg(long)]
    kernel: PathBuf,
    /// Kernel command line, or a file holding it (one trailing newline is dropped).
    #[arg(long)]
    cmdline: String,
    /// Bootstrap ramdisk (measured with the kernel into PCR1).
    #[arg(long)]
    bootstrap_ramdisk: PathBuf,
    /// The statically linked enclave binary.
    #[arg(long)]
    app_binary: PathBuf,
    /// Measured configuration copied to /etc/strongroom (egress allowlist, trust roots).
    #[arg(long)]
    config_dir: Option<PathBuf>,
    /// Argument passed to the enclave binary (repeatable, in order).
    #[arg(long = "arg", allow_hyphen_values = true)]
    args: Vec<String>,
    /// KEY=VALUE environment entry for the enclave binary (repeatable).
    #[arg(long = "env")]
    env: Vec<String>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Signing certificate (PEM); with --sign-key adds PCR8.
    #[arg(long)]
    sign_cert: Option<PathBuf>,
    /// Signing key (PEM file or KMS key ARN).
    #[arg(long)]
    sign_key: Option<String>,
    /// Time recorded in the EIF metadata; never the clock.
    #[arg(long, env = "SOURCE_DATE_EPOCH", default_value_t = 0)]
    source_date_epoch: i64,
}

fn parse_extra(s: &str) -> Result<(String, PathBuf), String> {
    let (dest, src) = s
        .split_once('=')
        .ok_or_else(|| "expected ARCHIVE_PATH=SOURCE".to_owned())?;
    Ok((dest.to_owned(), PathBuf::from(src)))
}

/// Longest kernel command line file read.
const MAX_CMDLINE_FILE_BYTES: u64 = 4096;

fn cmdline(arg: &str) -> Result<String, ImageError> {
    let path = Path::new(arg);
    if !path.is_file() {
        return Ok(arg.to_owned());
    }
    let bytes = read_limited(path, MAX_CMDLINE_FILE_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|_| ImageError::InvalidText {
        what: "kernel command line",
        reason: "not UTF-8",
    })?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_owned())
}

fn run_build(a: BuildArgs) -> Result<String, ImageError> {
    let signing = match (a.sign_cert, a.sign_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(eif::Signing { cert, key }),
        _ => return Err(ImageError::IncompleteSigningInput),
    };
    let spec = BuildSpec {
        kernel: a.kernel,
        cmdline: cmdline(&a.cmdline)?,
        bootstrap_ramdisk: a.bootstrap_ramdisk,
        app: layout::AppSpec {
            binary: a.app_binary,
            config_dir: a.config_dir,
            args: a.args,
            env: a.env,
        },
        out_dir: a.out,
        signing,
        source_date_epoch: a.source_date_epoch,
    };
    build(&spec)?.manifest.to_json()
}

fn run(cli: Cli) -> Result<String, ImageError> {
    match cli.command {
        Command::Build(args) => run_build(args),
        Command::Describe { eif } => eif::describe(&eif)?.to_json(),
        Command::BootstrapRamdisk {
            init,
            nsm_ko,
            extras,
            out,
        } => {
            let archive = layout::bootstrap_ramdisk(&init, nsm_ko.as_deref(), &extras, 0)?;
            write_file(&out, &archive.to_bytes())?;
            Ok(String::new())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("strongroom-eif: {e}");
            ExitCode::FAILURE
        }
    }
}
