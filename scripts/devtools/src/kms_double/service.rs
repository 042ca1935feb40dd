//! The double's request handling, I/O-free: SigV4 check, then
//! `TrentService.GenerateDataKey` / `TrentService.Decrypt` in KMS's JSON wire
//! format. A `Recipient` is honoured the way KMS does it: the attestation
//! document must verify (here: under the dev root, not AWS's) and its PCRs
//! must match the policy (standing in for the key policy's
//! `kms:RecipientAttestation:*` conditions), else `AccessDeniedException`;
//! the answer then carries `CiphertextForRecipient` instead of `Plaintext`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};
use strongroom_verifier::{Policy, TrustRoot, VerifyError};

use super::envelope;
use super::sigv4::{Received, Verifier};

/// Largest request body read.
pub const MAX_BODY: usize = 64 * 1024;
/// Oldest attestation document accepted (KMS: 5 minutes).
pub const MAX_DOCUMENT_AGE: Duration = Duration::from_secs(300);
/// Marks a double-made `CiphertextBlob`.
const BLOB_MAGIC: &[u8; 8] = b"SRKMSD1\0";

/// The double's configuration and its one KMS key.
pub struct KmsDouble {
    /// SigV4 check.
    pub verifier: Verifier,
    /// The key id (`--key-id`).
    pub key_id: String,
    trust: Trust,
    blob_key: aes_gcm::Aes256Gcm,
}

/// Loads the trust root and PCR policy when first needed.
pub type TrustLoader = Box<dyn Fn() -> Result<(TrustRoot, Policy), String> + Send + Sync>;

/// The root Recipient documents must chain to (the simulator's) and the PCR
/// policy ("key policy"): given at once, or loaded on the first request
/// that needs them (so the double can start before the first dev enclave
/// has written its root and PCRs).
enum Trust {
    Fixed(TrustRoot, Policy),
    Lazy {
        load: TrustLoader,
        loaded: std::sync::OnceLock<(TrustRoot, Policy)>,
    },
}

impl Trust {
    fn get(&self) -> Result<(&TrustRoot, &Policy), String> {
        match self {
            Trust::Fixed(root, policy) => Ok((root, policy)),
            Trust::Lazy { load, loaded } => {
                if let Some((root, policy)) = loaded.get() {
                    return Ok((root, policy));
                }
                let value = load()?;
                let (root, policy) = loaded.get_or_init(|| value);
                Ok((root, policy))
            }
        }
    }
}

impl std::fmt::Debug for KmsDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsDouble")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: u16,
    /// JSON body.
    pub body: Vec<u8>,
}

fn error(kind: &str, message: &str) -> Answer {
    Answer {
        status: 400,
        body: json!({"__type": kind, "message": message})
            .to_string()
            .into_bytes(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct RecipientIn {
    key_encryption_algorithm: String,
    attestation_document: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct GenerateIn {
    key_id: String,
    key_spec: Option<String>,
    number_of_bytes: Option<usize>,
    #[serde(default)]
    encryption_context: BTreeMap<String, String>,
    recipient: Option<RecipientIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct DecryptIn {
    ciphertext_blob: String,
    key_id: Option<String>,
    #[serde(default)]
    encryption_context: BTreeMap<String, String>,
    recipient: Option<RecipientIn>,
}

impl KmsDouble {
    /// A double with a fresh random key.
    pub fn new(
        verifier: Verifier,
        key_id: String,
        root: TrustRoot,
        policy: Policy,
    ) -> Result<Self, getrandom::Error> {
        Self::with_trust(verifier, key_id, Trust::Fixed(root, policy))
    }

    /// A double whose root and policy are loaded by `load` on the first
    /// request that needs them (retried on the next request if it fails).
    pub fn new_lazy(
        verifier: Verifier,
        key_id: String,
        load: TrustLoader,
    ) -> Result<Self, getrandom::Error> {
        let trust = Trust::Lazy {
            load,
            loaded: std::sync::OnceLock::new(),
        };
        Self::with_trust(verifier, key_id, trust)
    }

    fn with_trust(
        verifier: Verifier,
        key_id: String,
        trust: Trust,
    ) -> Result<Self, getrandom::Error> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k)?;
        let blob_key = aes_gcm::Aes256Gcm::new(&k.into());
        Ok(Self {
            verifier,
            key_id,
            trust,
            blob_key,
        })
    }

    /// The key's ARN, as KMS answers `KeyId`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:kms:{}:111122223333:key/{}",
            self.verifier.region, self.key_id
        )
    }

    fn names_key(&self, id: &str) -> bool {
        id == self.key_id || id == self.arn()
    }

    /// Handles one request at time `now`.
    pub fn handle(&self, r: &Received<'_>, now: SystemTime) -> Answer {
        if let Err(e) = self.verifier.check(r, now) {
            tracing::warn!(reason = %e, "signature refused");
            return error(
                e.kind(),
                "The request signature we calculated does not match the signature you provided.",
            );
        }
        let header = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        if r.method != "POST"
            || r.path != "/"
            || header("content-type") != Some("application/x-amz-json-1.1")
        {
            return error("UnknownOperationException", "unsupported request");
        }
        let out = match header("x-amz-target") {
            Some("TrentService.GenerateDataKey") => self.generate(r.body, now),
            Some("TrentService.Decrypt") => self.decrypt(r.body, now),
            _ => Err(error("UnknownOperationException", "unknown operation")),
        };
        out.unwrap_or_else(|e| e)
    }

    fn aad(&self, context: &BTreeMap<String, String>) -> Vec<u8> {
        let mut aad = self.arn().into_bytes();
        aad.push(0);
        aad.extend(serde_json::to_vec(context).unwrap_or_default());
        aad
    }

    /// Checks the Recipient; returns the attested RSA SPKI.
    fn recipient(&self, rec: &RecipientIn, now: SystemTime) -> Result<Vec<u8>, Answer> {
        if rec.key_encryption_algorithm != "RSAES_OAEP_SHA_256" {
            return Err(error("ValidationException", "KeyEncryptionAlgorithm"));
        }
        let doc = B64
            .decode(&rec.attestation_document)
            .map_err(|_| error("ValidationException", "AttestationDocument"))?;
        let (root, policy) = self.trust.get().map_err(|e| {
            tracing::warn!(error = %e, "trust root or PCR policy not loadable yet");
            error(
                "KMSInternalException",
                "The key policy could not be evaluated.",
            )
        })?;
        let policy = policy.clone().with_max_age(MAX_DOCUMENT_AGE);
        let verified = strongroom_verifier::verify(&doc, root, now, &policy).map_err(|e| {
            tracing::warn!(error = %e, "recipient attestation refused");
            match e {
                VerifyError::PcrsNotAllowed => error(
                    "AccessDeniedException",
                    "The key policy does not allow this enclave's measurements.",
                ),
                _ => error(
                    "ValidationException",
                    "The attestation document could not be verified.",
                ),
            }
        })?;
        let pcr0 = verified.pcr0_hex();
        tracing::info!(%pcr0, "recipient attestation accepted");
        verified.public_key.ok_or_else(|| {
            error(
                "ValidationException",
                "attestation document has no public_key",
            )
        })
    }

    fn answer_plaintext(
        &self,
        fields: &mut serde_json::Map<String, Value>,
        plaintext: &[u8],
        recipient: Option<Vec<u8>>,
    ) -> Result<(), Answer> {
        match recipient {
            Some(spki) => {
                let env = envelope::seal_to_recipient(&spki, plaintext)
                    .map_err(|e| error("ValidationException", &e.to_string()))?;
                fields.insert("CiphertextForRecipient".into(), B64.encode(env).into());
                fields.insert("Plaintext".into(), Value::Null);
            }
            None => {
                fields.insert("Plaintext".into(), B64.encode(plaintext).into());
            }
        }
        Ok(())
    }

    fn generate(&self, body: &[u8], now: SystemTime) -> Result<Answer, Answer> {
        let req: GenerateIn = serde_json::from_slice(body)
            .map_err(|e| error("SerializationException", &e.to_string()))?;
        if !self.names_key(&req.key_id) {
            return Err(error("NotFoundException", "key not found"));
        }
        let n = match (req.key_spec.as_deref(), req.number_of_bytes) {
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (None, Some(n @ 1..=1024)) => n,
            _ => return Err(error("ValidationException", "KeySpec or NumberOfBytes")),
        };
        let recipient = req
            .recipient
            .as_ref()
            .map(|r| self.recipient(r, now))
            .transpose()?;
        let mut key = vec![0u8; n];
        getrandom::fill(&mut key).map_err(|_| error("KMSInternalException", "rng"))?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| error("KMSInternalException", "rng"))?;
        let ct = self
            .blob_key
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: &key,
                    aad: &self.aad(&req.encryption_context),
                },
            )
            .map_err(|_| error("KMSInternalException", "seal"))?;
        let blob = [&BLOB_MAGIC[..], &nonce, &ct].concat();
        let mut fields = serde_json::Map::new();
        fields.insert("CiphertextBlob".into(), B64.encode(blob).into());
        fields.insert("KeyId".into(), self.arn().into());
        self.answer_plaintext(&mut fields, &key, recipient)?;
        Ok(Answer {
            status: 200,
            body: Value::Object(fields).to_string().into_bytes(),
        })
    }

    fn decrypt(&self, body: &[u8], now: SystemTime) -> Result<Answer, Answer> {
        let req: DecryptIn = serde_json::from_slice(body)
            .map_err(|e| error("SerializationException", &e.to_string()))?;
        if req.key_id.as_deref().is_some_and(|id| !self.names_key(id)) {
            return Err(error(
                "IncorrectKeyException",
                "key id does not match the ciphertext",
            ));
        }
        let invalid = || error("InvalidCiphertextException", "");
        let blob = B64.decode(&req.ciphertext_blob).map_err(|_| invalid())?;
        let rest = blob
            .strip_prefix(&BLOB_MAGIC[..])
            .filter(|r| r.len() > 12)
            .ok_or_else(invalid)?;
        let (nonce, ct) = rest.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| invalid())?;
        let plaintext = self
            .blob_key
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ct,
                    aad: &self.aad(&req.encryption_context),
                },
            )
            .map_err(|_| invalid())?;
        let recipient = req
            .recipient
            .as_ref()
            .map(|r| self.recipient(r, now))
            .transpose()?;
        let mut fields = serde_json::Map::new();
        fields.insert("KeyId".into(), self.arn().into());
        fields.insert("EncryptionAlgorithm".into(), "SYMMETRIC_DEFAULT".into());
        self.answer_plaintext(&mut fields, &plaintext, recipient)?;
        Ok(Answer {
            status: 200,
            body: Value::Object(fields).to_string().into_bytes(),
        })
    }
}
