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
