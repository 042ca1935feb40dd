//! `strongroom-kms-double`: a local stand-in for AWS KMS, DEV ONLY. It
//! speaks the KMS JSON protocol over HTTPS (dev CA), checks SigV4
//! signatures ([`sigv4`], written independently of the enclave's signer),
//! verifies `Recipient` attestation documents under the simulator's dev
//! root against a PCR policy (`pcrs.json`, standing in for the key policy
//! of `infra/kms-key-policy.md`), and answers `GenerateDataKey` / `Decrypt`
//! in the real wire format: `CiphertextForRecipient` is a CMS EnvelopedData
//! to the attested RSA key, in the BER shape KMS emits ([`envelope`]);
//! `CiphertextBlob` is AES-256-GCM under a key that lives only in the
//! double's memory (so blobs die with the process, like a deleted KMS key).

pub mod envelope;
pub mod server;
pub mod service;
pub mod sigv4;

#[cfg(test)]
mod tests;
