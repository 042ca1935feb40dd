//! The owner key (credential v2): a P-256 key kept by the trader's client.
//! Its public half is sealed into every credential this client submits; its
//! signatures alone can revoke the credential, publish its results or ask
//! for a computation its policy does not allow (DESIGN.md "Credential v2").
//!
//! A file of two lines, `strongroom-owner-key-v1` and the 32-byte scalar in
//! hex, mode 0600, created on first use at `--owner-key`,
//! `$STRONGROOM_OWNER_KEY`, `$XDG_CONFIG_HOME/strongroom/owner.key` or
//! `$HOME/.config/strongroom/owner.key`. A file that group or others may
//! read is refused: whoever reads it can revoke and publish in the trader's
//! name. The key never appears in output or errors.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use p256::ecdsa::SigningKey;
use strongroom_formats::policy::{Policy, Symbols, Windows};
use strongroom_verifier::owner::{Action, OwnerAction, owner_id, owner_public_key, sign_action};
use zeroize::Zeroizing;

use crate::CliError;

/// Environment variable naming the owner key file.
pub const OWNER_KEY_ENV: &str = "STRONGROOM_OWNER_KEY";
/// First line of the file.
const HEADER: &str = "strongroom-owner-key-v1";
/// Largest owner key file read.
const MAX_KEY_FILE_LEN: u64 = 256;

/// `--owner-key`.
#[derive(clap::Args, Debug, Clone)]
pub struct OwnerKeyArgs {
    /// The owner key file, created (mode 0600) on first use [default:
    /// $XDG_CONFIG_HOME/strongroom/owner.key, else
    /// $HOME/.config/strongroom/owner.key].
    #[arg(long = "owner-key", env = OWNER_KEY_ENV, value_name = "FILE")]
    pub owner_key: Option<PathBuf>,
}

impl OwnerKeyArgs {
    /// Where the key lives.
    pub fn path(&self) -> Result<PathBuf, CliError> {
        if let Some(p) = &self.owner_key {
            return Ok(p.clone());
        }
        let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(xdg) = non_empty("XDG_CONFIG_HOME") {
            return Ok(PathBuf::from(xdg).join("strongroom").join("owner.key"));
        }
        if let Some(home) = non_empty("HOME") {
            return Ok(PathBuf::from(home).join(".config/strongroom/owner.key"));
        }
        Err(CliError::usage(
            "owner_key_path",
            "no --owner-key, STRONGROOM_OWNER_KEY, XDG_CONFIG_HOME or HOME",
        ))
    }

    /// The key, created when the file does not exist yet.
    pub fn load_or_create(&self) -> Result<SigningKey, CliError> {
        let path = self.path()?;
        if path.exists() {
            return read_key(&path);
        }
        create_key(&path)
    }

    /// The key; the file must exist (signing for a credential sealed
    /// earlier needs the key it was sealed with).
    pub fn load(&self) -> Result<SigningKey, CliError> {
        let path = self.path()?;
        if !path.exists() {
            return Err(CliError::usage(
                "no_owner_key",
                format!("no owner key at {}", path.display()),
            ));
        }
        read_key(&path)
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::usage("owner_key", format!("{}: {e}", path.display()))
}

fn read_key(path: &Path) -> Result<SigningKey, CliError> {
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    check_mode(path, &file)?;
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(|e| io(path, e))?;
    let bad = || io(path, "not a strongroom owner key file");
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(bad());
    }
    let scalar = Zeroizing::new(hex::decode(lines.next().ok_or_else(bad)?).map_err(|_| bad())?);
    if lines.next().is_some_and(|l| !l.is_empty()) {
        return Err(bad());
    }
    SigningKey::from_slice(&scalar).map_err(|_| bad())
}

#[cfg(unix)]
fn check_mode(path: &Path, file: &std::fs::File) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = file
        .metadata()
        .map_err(|e| io(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(CliError::usage(
            "owner_key_permissions",
            format!(
                "{} may be read by others (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_: &Path, _: &std::fs::File) -> Result<(), CliError> {
    Ok(())
}

fn create_key(path: &Path) -> Result<SigningKey, CliError> {
    let key = loop {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *seed).map_err(|e| CliError::refused("rng", e))?;
        if let Ok(k) = SigningKey::from_slice(&*seed) {
            break k;
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(|e| io(dir, e))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(path).map_err(|e| io(path, e))?;
    let text = Zeroizing::new(format!("{HEADER}\n{}\n", hex::encode(key.to_bytes())));
    file.write_all(text.as_bytes()).map_err(|e| io(path, e))?;
    file.sync_all().map_err(|e| io(path, e))?;
    eprintln!(
        "strongroom: created the owner key {} (owner {}); keep it: only it can revoke or publish",
        path.display(),
        owner_id(&owner_public_key(&key))
    );
    Ok(key)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Signs `action` with `key` (COSE bytes).
pub fn sign(action: &OwnerAction, key: &SigningKey) -> Result<Vec<u8>, CliError> {
    sign_action(action, key).map_err(|e| CliError::refused("owner_sign", e))
}

/// Signs, now, an action on the whole credential (`revoke`, `publish`: no
/// window, no symbols).
pub fn sign_now(action: Action, credential: &str, key: &SigningKey) -> Result<Vec<u8>, CliError> {
    sign(
        &OwnerAction {
            action,
            credential: credential.to_owned(),
            from: None,
            to: None,
            symbols: None,
            time: now_rfc3339()?,
        },
        key,
    )
}

/// The current time as an action's `time` (RFC 3339, whole seconds).
pub fn now_rfc3339() -> Result<String, CliError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    strongroom_verifier::owner::rfc3339_s(now)
        .ok_or_else(|| CliError::refused("clock", "the clock is out of range"))
}

/// A credential id as given on the command line: 64 hex digits.
pub fn credential_arg(c: &str) -> Result<String, CliError> {
    let c = c.to_ascii_lowercase();
    if !strongroom_formats::owner::is_credential_id(&c) {
        return Err(CliError::usage(
            "bad_credential",
            "--credential takes the 64 hex digits `submit` printed",
        ));
    }
    Ok(c)
}

/// `--policy`, `--symbols`, `--min-interval`, `--publish` of `seal` and `submit`.
#[derive(clap::Args, Debug, Clone)]
pub struct PolicyChoice {
    /// Which windows computations may ask for: `days` (whole UTC days),
    /// `inception` (no window: the whole history), `any`.
    #[arg(long = "policy", value_name = "days|inception|any", default_value = "days", value_parser = ["days", "inception", "any"])]
    pub windows: String,
    /// `all`: every computation covers every symbol; `choice`: a request may name a subset.
    #[arg(long, value_name = "all|choice", default_value = "all", value_parser = ["all", "choice"])]
    pub symbols: String,
    /// At most one computation per this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = strongroom_formats::policy::DEFAULT_MIN_INTERVAL_SECONDS)]
    pub min_interval: u64,
    /// Results may be published (readable by anyone at /r/{id}) without a further owner signature.
    #[arg(long)]
    pub publish: bool,
}

impl PolicyChoice {
    /// The sealed policy.
    pub fn policy(&self) -> Result<Policy, CliError> {
        let windows = match self.windows.as_str() {
            "days" => Windows::Days,
            "inception" => Windows::Inception,
            _ => Windows::Any,
        };
        let symbols = match self.symbols.as_str() {
            "all" => Symbols::All,
            _ => Symbols::Choice,
        };
        let p = Policy {
            windows,
            symbols,
            min_interval_seconds: self.min_interval,
            publish: self.publish,
        };
        if !p.is_valid() {
            return Err(CliError::usage(
                "bad_policy",
                "--min-interval is at most 31622400 (one year)",
            ));
        }
        Ok(p)
    }
}

/// A policy in words, with its wire names.
pub fn describe(p: &Policy) -> String {
    let windows = match p.windows {
        Windows::Days => "days (whole UTC days)",
        Windows::Inception => "inception (no window)",
        Windows::Any => "any",
    };
    let symbols = match p.symbols {
        Symbols::All => "all",
        Symbols::Choice => "choice",
    };
    format!(
        "windows {windows}, symbols {symbols}, at most one computation per {} s, {}",
        p.min_interval_seconds,
        if p.publish { "publish" } else { "private" }
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn created_private_read_back_and_refused_when_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg/strongroom/owner.key");
        let args = OwnerKeyArgs {
            owner_key: Some(path.clone()),
        };
        assert_eq!(args.load().unwrap_err().code(), "no_owner_key");
        let k = args.load_or_create().unwrap();
        let again = args.load_or_create().unwrap();
        assert_eq!(k.to_bytes(), again.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(args.load().unwrap_err().code(), "owner_key_permissions");
        }
    }
}
