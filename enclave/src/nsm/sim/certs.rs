//! The simulator's dev PKI: ECDSA P-384 root -> intermediate -> leaf, shaped
//! like the AWS chain (same algorithms, basicConstraints/keyUsage layout) but
//! named so that nobody can mistake it for AWS.

use std::str::FromStr;
use std::time::Duration;

use der::{DateTime, Encode, EncodePem, pem::LineEnding};
use p384::ecdsa::{DerSignature, SigningKey};
use spki::{SubjectPublicKeyInfo, SubjectPublicKeyInfoRef};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::os_random;
use crate::nsm::NsmError;

/// Marker every simulator certificate subject carries.
pub const DEV_MARKER: &str = "STRONGROOM DEV SIMULATOR - NOT AWS";
/// Lifetime of the dev root and intermediate.
pub const CA_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// Lifetime of a leaf, as on real Nitro hardware (about three hours).
pub const LEAF_LIFETIME: Duration = Duration::from_secs(3 * 3600);
/// Certificates start this much before "now" to absorb small clock skew.
const BACKDATE: Duration = Duration::from_secs(60);

/// What a certificate is for.
#[derive(Debug, Clone, Copy)]
enum Role {
    Root,
    Intermediate,
    Leaf,
}

/// A minimal profile mirroring the extensions of the AWS Nitro chain.
struct SimProfile {
    subject: Name,
    issuer: Option<Name>,
    role: Role,
}

impl BuilderProfile for SimProfile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer.clone().unwrap_or_else(|| subject.clone())
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut ext = Vec::new();
        let (ca, path_len, usage) = match self.role {
            Role::Root => (true, None, KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            Role::Intermediate => (true, Some(0), KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            Role::Leaf => (false, None, KeyUsages::DigitalSignature.into()),
        };
        let constraints = BasicConstraints {
            ca,
            path_len_constraint: path_len,
        };
        ext.push(constraints.to_extension(tbs.subject(), &ext)?);
        ext.push(KeyUsage(usage).to_extension(tbs.subject(), &ext)?);
        if ca {
            let ski = SubjectKeyIdentifier::try_from(spk)?;
            ext.push(ski.to_extension(tbs.subject(), &ext)?);
        }
        if !matches!(self.role, Role::Root) {
            let aki = AuthorityKeyIdentifier {
                key_identifier: Some(SubjectKeyIdentifier::try_from(issuer_spk)?.0),
                ..Default::default()
            };
            ext.push(aki.to_extension(tbs.subject(), &ext)?);
        }
        Ok(ext)
    }
}

/// A certificate with its key.
pub(crate) struct Issued {
    pub(crate) der: Vec<u8>,
    pub(crate) key: SigningKey,
    pub(crate) subject: Name,
    pub(crate) not_after_ms: u64,
}

/// Generates a P-384 key from NSM randomness (retrying the negligible
/// out-of-range case).
pub(crate) fn generate_p384() -> Result<SigningKey, NsmError> {
    for _ in 0..8 {
        let bytes = os_random(48)?;
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
    Err(NsmError::Simulator("could not generate a P-384 key"))
}

fn name(s: &str) -> Result<Name, NsmError> {
    Name::from_str(s).map_err(|_| NsmError::Simulator("bad certificate name"))
}

fn time(unix_ms: u64) -> Result<Time, NsmError> {
    DateTime::from_unix_duration(Duration::from_millis(unix_ms))
        .map(Time::from)
        .map_err(|_| NsmError::Simulator("time out of range"))
}

fn serial() -> Result<SerialNumber, NsmError> {
    let mut bytes = os_random(16)?.to_vec();
    // A positive INTEGER with no leading zero byte.
    if let Some(first) = bytes.first_mut() {
        *first = (*first & 0x7f) | 0x01;
    }
    SerialNumber::new(&bytes).map_err(|_| NsmError::Simulator("bad serial number"))
}

/// Issues one certificate for `subject_key`, signed by `issuer` (or itself).
fn issue(
    role: Role,
    subject: &str,
    subject_key: SigningKey,
    issuer: Option<&Issued>,
    now_ms: u64,
    lifetime: Duration,
) -> Result<Issued, NsmError> {
    let subject = name(subject)?;
    let not_after_ms = now_ms.saturating_add(u64::try_from(lifetime.as_millis()).unwrap_or(0));
    let validity = Validity::new(
        time(now_ms.saturating_sub(BACKDATE.as_millis() as u64))?,
        time(not_after_ms)?,
    );
    let spki = SubjectPublicKeyInfo::from_key(subject_key.verifying_key())
        .map_err(|_| NsmError::Simulator("spki encoding"))?;
    let profile = SimProfile {
        subject: subject.clone(),
        issuer: issuer.map(|i| i.subject.clone()),
        role,
    };
    let builder = CertificateBuilder::new(profile, serial()?, validity, spki)
        .map_err(|_| NsmError::Simulator("certificate builder"))?;
    let signer = issuer.map(|i| &i.key).unwrap_or(&subject_key);
    let cert = builder
        .build::<_, DerSignature>(signer)
        .map_err(|_| NsmError::Simulator("certificate signing"))?;
    let der = cert
        .to_der()
        .map_err(|_| NsmError::Simulator("certificate encoding"))?;
    Ok(Issued {
        der,
        key: subject_key,
        subject,
        not_after_ms,
    })
}

/// The dev CA: a root and one intermediate, issuing short-lived leaves.
pub(crate) struct DevCa {
    pub(crate) root: Issued,
    pub(crate) intermediate: Issued,
}

impl DevCa {
    /// Generates a fresh root and intermediate (new keys every start).
    pub(crate) fn generate(now_ms: u64) -> Result<Self, NsmError> {
        let root_subject = format!("CN={DEV_MARKER} root,OU=dev,O={DEV_MARKER},C=ZZ");
        let root = issue(
            Role::Root,
            &root_subject,
            generate_p384()?,
            None,
            now_ms,
            CA_LIFETIME,
        )?;
        let intermediate = issue(
            Role::Intermediate,
            &format!("CN={DEV_MARKER} intermediate,OU=dev,O={DEV_MARKER},C=ZZ"),
            generate_p384()?,
            Some(&root),
            now_ms,
            CA_LIFETIME,
        )?;
        Ok(Self { root, intermediate })
    }

    /// Issues a leaf for the (simulated) enclave `module_id`.
    pub(crate) fn issue_leaf(&self, module_id: &str, now_ms: u64) -> Result<Issued, NsmError> {
        // CN is limited to 64 characters; the marker goes into O.
        let subject = format!("CN={module_id}.dev-sim,OU=dev,O={DEV_MARKER},C=ZZ");
        issue(
            Role::Leaf,
            &subject,
            generate_p384()?,
            Some(&self.intermediate),
            now_ms,
            LEAF_LIFETIME,
        )
    }

    /// The root certificate as PEM, for `--dev-root-out`.
    pub(crate) fn root_pem(&self) -> Result<String, NsmError> {
        let cert = <x509_cert::Certificate as der::Decode>::from_der(&self.root.der)
            .map_err(|_| NsmError::Simulator("root decoding"))?;
        cert.to_pem(LineEnding::LF)
            .map_err(|_| NsmError::Simulator("root PEM encoding"))
    }
}

/// Tag of the dev CA file format (`--dev-root-key`).
const DEV_CA_FILE_FORMAT: &str = "strongroom-dev-ca-v1";
/// Largest dev CA file read.
pub const MAX_DEV_CA_FILE_LEN: usize = 16 * 1024;

/// The dev CA as stored by `--dev-root-key` (CBOR): P-384 scalars and DER
/// certificates of the root and the intermediate. DEV ONLY: the file holds
/// private keys that let anyone forge simulator documents, which is fine
/// only because nothing but a dev verifier trusts this root.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DevCaFile {
    format: String,
    root_key: serde_bytes::ByteBuf,
    root_cert: serde_bytes::ByteBuf,
    intermediate_key: serde_bytes::ByteBuf,
    intermediate_cert: serde_bytes::ByteBuf,
}

fn load_issued(key: &[u8], cert_der: &[u8]) -> Result<Issued, NsmError> {
    let bad = |what: &'static str| NsmError::Simulator(what);
    let key = SigningKey::from_slice(key).map_err(|_| bad("dev CA file: bad key"))?;
    let cert = <x509_cert::Certificate as der::Decode>::from_der(cert_der)
        .map_err(|_| bad("dev CA file: bad certificate"))?;
    let spki = SubjectPublicKeyInfo::from_key(key.verifying_key())
        .and_then(|s| s.to_der().map_err(Into::into))
        .map_err(|_| bad("dev CA file: key encoding"))?;
    let cert_spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|_| bad("dev CA file: certificate key encoding"))?;
    if spki != cert_spki {
        return Err(bad("dev CA file: key does not match its certificate"));
    }
    let not_after = cert
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration();
    Ok(Issued {
        der: cert_der.to_vec(),
        key,
        subject: cert.tbs_certificate().subject().clone(),
        not_after_ms: u64::try_from(not_after.as_millis()).unwrap_or(u64::MAX),
    })
}

impl DevCa {
    fn to_file(&self) -> Result<Vec<u8>, NsmError> {
        let file = DevCaFile {
            format: DEV_CA_FILE_FORMAT.to_owned(),
            root_key: serde_bytes::ByteBuf::from(self.root.key.to_bytes().to_vec()),
            root_cert: serde_bytes::ByteBuf::from(self.root.der.clone()),
            intermediate_key: serde_bytes::ByteBuf::from(self.intermediate.key.to_bytes().to_vec()),
            intermediate_cert: serde_bytes::ByteBuf::from(self.intermediate.der.clone()),
        };
        serde_cbor::to_vec(&file).map_err(|_| NsmError::Simulator("dev CA encoding"))
    }

    fn from_file(bytes: &[u8], now_ms: u64) -> Result<Self, NsmError> {
        if bytes.len() > MAX_DEV_CA_FILE_LEN {
            return Err(NsmError::Simulator("dev CA file too large"));
        }
        let mut de = serde_cbor::Deserializer::from_slice(bytes);
        let file = <DevCaFile as serde::Deserialize>::deserialize(&mut de)
            .map_err(|_| NsmError::Simulator("dev CA file malformed"))?;
        de.end()
            .map_err(|_| NsmError::Simulator("dev CA file malformed"))?;
        if file.format != DEV_CA_FILE_FORMAT {
            return Err(NsmError::Simulator("dev CA file: unknown format"));
        }
        let root = load_issued(&file.root_key, &file.root_cert)?;
        let intermediate = load_issued(&file.intermediate_key, &file.intermediate_cert)?;
        let margin = u64::try_from(LEAF_LIFETIME.as_millis()).unwrap_or(u64::MAX);
        if root.not_after_ms.min(intermediate.not_after_ms) <= now_ms.saturating_add(margin) {
            return Err(NsmError::Simulator(
                "dev CA file expired: delete it to create a new dev root",
            ));
        }
        Ok(Self { root, intermediate })
    }

    /// Loads the dev CA from `path`, or creates it there (mode 0600) if
    /// absent. Creation publishes a complete file atomically (hard link of a
    /// finished temporary file), so dev enclaves starting at once agree on
    /// one root: the loser of the race loads the winner's file.
    pub(crate) fn load_or_create(path: &std::path::Path, now_ms: u64) -> Result<Self, NsmError> {
        match std::fs::read(path) {
            Ok(bytes) => return Self::from_file(&bytes, now_ms),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => return Err(NsmError::Simulator("cannot read the dev CA file")),
        }
        let ca = Self::generate(now_ms)?;
        let bytes = ca.to_file()?;
        let tmp = path.with_extension(format!("tmp{}", hex::encode(&os_random(8)?[..])));
        write_private(&tmp, &bytes)?;
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(ca),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let bytes = std::fs::read(path)
                    .map_err(|_| NsmError::Simulator("cannot read the dev CA file"))?;
                Self::from_file(&bytes, now_ms)
            }
            Err(_) => Err(NsmError::Simulator("cannot write the dev CA file")),
        }
    }
}

/// Writes a new file readable by its owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), NsmError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |_| NsmError::Simulator("cannot write the dev CA file");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)
}
