//! TLS trust for the egress HTTPS client (exchange and KMS). Production
//! trusts the Mozilla root set compiled into the image (webpki-roots); the dev
//! simulator may instead trust the mock exchange's or the KMS double's CA,
//! which it says loudly at start.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A trust configuration that could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// The dev CA file is not PEM certificates.
    #[error("the dev CA is not a PEM certificate")]
    BadPem,
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Production: the webpki (Mozilla) roots built into the image.
pub fn production_config() -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    build(roots)
}

/// Dev simulator only: trust exactly the CA certificates in `pem`.
pub fn dev_config(pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    let mut any = false;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|_| TlsSetupError::BadPem)?;
        roots.add(cert).map_err(|_| TlsSetupError::BadPem)?;
        any = true;
    }
    if !any {
        return Err(TlsSetupError::BadPem);
    }
    build(roots)
}

fn build(roots: RootCertStore) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
