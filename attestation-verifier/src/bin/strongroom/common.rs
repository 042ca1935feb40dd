//! Arguments and helpers shared by the commands.

use crate::CliError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use strongroom_verifier::{PcrSet, Policy, TrustRoot};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Largest file any command reads.
pub const MAX_INPUT_FILE_LEN: u64 = 64 * 1024;

/// Root and measurement options, shared by every verifying command.
#[derive(clap::Args, Debug)]
pub struct PolicyArgs {
    /// Accepted measurements (pcrs.json from the image build); repeat for several releases.
    /// Required unless --insecure-no-pcrs.
    #[arg(long = "pcrs", value_name = "FILE")]
    pub pcrs: Vec<PathBuf>,
    /// Accept any enclave image (no --pcrs): a third party's enclave, or
    /// yours running other code, passes too. Never for production; the
    /// output says measurements were not checked.
    #[arg(
        long = "insecure-no-pcrs",
        alias = "insecure-any-image",
        conflicts_with = "pcrs"
    )]
    pub insecure_no_pcrs: bool,
    /// Accept debug-mode enclaves (PCR0/1/2 all zero). Never for production.
    #[arg(long)]
    pub allow_debug: bool,
    /// Trust this development root (the NSM simulator's PEM) instead of the AWS root.
    #[arg(long, value_name = "PEM")]
    pub trust_dev_root: Option<PathBuf>,
}

impl PolicyArgs {
    /// The AWS root, or the dev root when one was given explicitly.
    pub fn root(&self) -> Result<TrustRoot, CliError> {
        let Some(path) = &self.trust_dev_root else {
            return Ok(TrustRoot::aws_nitro_g1());
        };
        let pem = String::from_utf8(read_input(path)?)
            .map_err(|_| CliError::usage("dev_root", "dev root PEM is not UTF-8"))?;
        TrustRoot::dev_from_pem(&pem)
            .map_err(|e| CliError::usage("dev_root", format!("{}: {e}", path.display())))
    }

    /// Debug and measurement rules. Without `--pcrs` this refuses (exit 64,
    /// `pcrs_required`) unless `--insecure-no-pcrs` says so explicitly.
    pub fn policy(&self) -> Result<Policy, CliError> {
        if self.pcrs.is_empty() && !self.insecure_no_pcrs {
            return Err(CliError::usage(
                "pcrs_required",
                "pass --pcrs pcrs.json (the release's measurements), \
                 or --insecure-no-pcrs to accept any enclave image",
            ));
        }
        let mut policy = Policy::default().with_allow_debug(self.allow_debug);
        for path in &self.pcrs {
            let set = PcrSet::from_file(path).map_err(|e| CliError::usage("pcrs_file", e))?;
            policy = policy.allow_pcrs(set);
        }
        Ok(policy)
    }

    /// Whether measurements are pinned.
    pub fn pinned(&self) -> bool {
        !self.pcrs.is_empty()
    }
}

/// The warnings a report carries: one when measurements were not checked.
pub fn pcr_warnings(pinned: bool) -> Vec<&'static str> {
    if pinned {
        Vec::new()
    } else {
        vec!["measurements not checked (--insecure-no-pcrs): any enclave image passes"]
    }
}

/// Trust root, clock and policy options of the offline document commands.
#[derive(clap::Args, Debug)]
pub struct TrustArgs {
    /// Verify as of this time: RFC 3339 or unix milliseconds [default: now].
    #[arg(long, value_name = "RFC3339|UNIX_MS")]
    pub at: Option<String>,
    #[command(flatten)]
    pub base: PolicyArgs,
    /// Require this nonce: hex, base64, or prefixed `hex:` / `b64:`.
    #[arg(long, value_name = "HEX|B64")]
    pub nonce: Option<String>,
    /// Refuse documents older than this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub max_age: Option<u64>,
}

impl TrustArgs {
    /// The verification time.
    pub fn now(&self) -> Result<SystemTime, CliError> {
        self.at
            .as_deref()
            .map_or_else(|| Ok(SystemTime::now()), parse_time)
    }

    /// The AWS root, or the dev root when one was given explicitly.
    pub fn root(&self) -> Result<TrustRoot, CliError> {
        self.base.root()
    }

    /// The policy these options describe.
    pub fn policy(&self, max_age_default: Option<u64>) -> Result<Policy, CliError> {
        let mut policy = self.base.policy()?;
        if let Some(nonce) = &self.nonce {
            policy = policy.with_nonce(parse_bytes(nonce, "--nonce")?);
        }
        if let Some(secs) = self.max_age.or(max_age_default) {
            policy = policy.with_max_age(Duration::from_secs(secs));
        }
        Ok(policy)
    }
}

/// RFC 3339, or an integer of unix milliseconds.
pub fn parse_time(s: &str) -> Result<SystemTime, CliError> {
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(UNIX_EPOCH + Duration::from_millis(ms));
    }
    let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        CliError::usage(
            "bad_time",
            format!("--at `{s}` is neither RFC 3339 nor unix milliseconds"),
        )
    })?;
    let nanos = u64::try_from(t.unix_timestamp_nanos())
        .map_err(|_| CliError::usage("bad_time", "--at is before 1970"))?;
    Ok(UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// RFC 3339 text of unix milliseconds.
pub fn rfc3339_ms(ms: u64) -> String {
    i128::from(ms)
        .checked_mul(1_000_000)
        .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// `hex:`/`b64:` prefixed, else hex when it is even-length hex, else base64.
pub fn parse_bytes(s: &str, what: &str) -> Result<Vec<u8>, CliError> {
    let bad = || CliError::usage("bad_bytes", format!("{what} is not hex or base64"));
    if let Some(h) = s.strip_prefix("hex:") {
        return hex::decode(h).map_err(|_| bad());
    }
    if let Some(b) = s.strip_prefix("b64:") {
        return STANDARD.decode(b).map_err(|_| bad());
    }
    hex::decode(s)
        .or_else(|_| STANDARD.decode(s))
        .map_err(|_| bad())
}

/// Reads a file (or stdin for `-`), refusing more than [`MAX_INPUT_FILE_LEN`].
pub fn read_input(path: &Path) -> Result<Vec<u8>, CliError> {
    read_input_limited(path, MAX_INPUT_FILE_LEN)
}

/// Reads a file (or stdin for `-`), refusing more than `limit` bytes.
pub fn read_input_limited(path: &Path, limit: u64) -> Result<Vec<u8>, CliError> {
    let io = |e: std::io::Error| CliError::usage("io", format!("{}: {e}", path.display()));
    let mut buf = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(io)?;
    } else {
        let file = std::fs::File::open(path).map_err(io)?;
        file.take(limit + 1).read_to_end(&mut buf).map_err(io)?;
    }
    if buf.len() as u64 > limit {
        return Err(CliError::usage(
            "input_too_large",
            format!("{}: larger than {limit} bytes", path.display()),
        ));
    }
    Ok(buf)
}

/// An attestation document file: raw CBOR (starts with an array or tag 18
/// header), else base64 text.
pub fn read_document(path: &Path) -> Result<Vec<u8>, CliError> {
    let raw = read_input(path)?;
    match raw.first() {
        Some(0x84 | 0xd2) => Ok(raw),
        _ => {
            let text: Vec<u8> = raw
                .into_iter()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            STANDARD.decode(text).map_err(|_| {
                CliError::usage(
                    "bad_document",
                    format!("{}: neither CBOR nor base64", path.display()),
                )
            })
        }
    }
}

/// Base64 of optional bytes, for output.
pub fn b64_opt(bytes: Option<&[u8]>) -> Option<String> {
    bytes.map(|b| STANDARD.encode(b))
}
