//! The NSM attestation document payload and its schema (check 9).
//!
//! Schema from the AWS NSM API `attestation_process.md`: `module_id` text,
//! `digest` "SHA384", `timestamp` uint ms, `pcrs` {0..31 => 32/48/64 bytes},
//! `certificate` and `cabundle` entries DER of 1..=1024 bytes, optional
//! `public_key`, `user_data`, `nonce` of 0..=1024 bytes (absent or null).

use crate::cbor::{self, Item};
use crate::error::{SchemaError, VerifyError};
use std::collections::BTreeMap;

/// Largest attestation document accepted (real ones are about 4.7 KiB; nine
/// maximal certificates plus maximal optional fields still fit).
pub const MAX_DOCUMENT_LEN: usize = 16 * 1024;
/// Largest `public_key`, `user_data` or `nonce` (NSM API limit).
pub const MAX_USER_FIELD_LEN: usize = 1024;
/// Largest DER certificate (NSM API limit; real ones are 533..=794 bytes).
pub const MAX_CERT_LEN: usize = 1024;
/// Most certificates in `cabundle` (real documents carry 4).
pub const MAX_CABUNDLE_LEN: usize = 8;
/// Longest `module_id` accepted (real ones are 39 characters).
pub const MAX_MODULE_ID_LEN: usize = 256;
/// Highest PCR index (NSM has 32 PCRs).
pub const MAX_PCR_INDEX: u8 = 31;

/// The decoded payload, before any cryptographic check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Issuing NSM module id (`<instance id>-enc<enclave id>`).
    pub module_id: String,
    /// Milliseconds since the unix epoch, per the NSM clock.
    pub timestamp_ms: u64,
    /// PCR index -> value.
    pub pcrs: BTreeMap<u8, Vec<u8>>,
    /// DER of the signing (leaf) certificate.
    pub certificate: Vec<u8>,
    /// DER certificates, root first.
    pub cabundle: Vec<Vec<u8>>,
    /// Optional `public_key`.
    pub public_key: Option<Vec<u8>>,
    /// Optional `user_data`.
    pub user_data: Option<Vec<u8>>,
    /// Optional `nonce`.
    pub nonce: Option<Vec<u8>>,
}

#[derive(Default)]
struct Fields<'a> {
    module_id: Option<&'a str>,
    digest: Option<&'a str>,
    timestamp: Option<u64>,
    pcrs: Option<BTreeMap<u8, Vec<u8>>>,
    certificate: Option<&'a [u8]>,
    cabundle: Option<Vec<Vec<u8>>>,
    public_key: Option<Vec<u8>>,
    user_data: Option<Vec<u8>>,
    nonce: Option<Vec<u8>>,
}

/// Decodes and schema-checks a payload.
pub fn parse_payload(bytes: &[u8]) -> Result<Payload, VerifyError> {
    let Item::Map(entries) = cbor::decode(bytes).map_err(VerifyError::MalformedPayload)? else {
        return Err(SchemaError::NotAMap.into());
    };
    let mut f = Fields::default();
    for (key, value) in &entries {
        field(&mut f, key.as_text().ok_or(SchemaError::UnknownKey)?, value)?;
    }
    finish(f).map_err(VerifyError::from)
}

fn field<'a>(f: &mut Fields<'a>, key: &str, v: &Item<'a>) -> Result<(), SchemaError> {
    match key {
        "module_id" => f.module_id = Some(text(v, "module_id", MAX_MODULE_ID_LEN)?),
        "digest" => f.digest = Some(text(v, "digest", 16)?),
        "timestamp" => match v {
            Item::Uint(0) => return Err(SchemaError::ZeroTimestamp),
            Item::Uint(t) => f.timestamp = Some(*t),
            _ => return Err(SchemaError::WrongType("timestamp")),
        },
        "pcrs" => f.pcrs = Some(pcrs(v)?),
        "certificate" => f.certificate = Some(bytes(v, "certificate", 1, MAX_CERT_LEN)?),
        "cabundle" => f.cabundle = Some(cabundle(v)?),
        "public_key" => f.public_key = optional(v, "public_key")?,
        "user_data" => f.user_data = optional(v, "user_data")?,
        "nonce" => f.nonce = optional(v, "nonce")?,
        _ => return Err(SchemaError::UnknownKey),
    }
    Ok(())
}

fn finish(f: Fields<'_>) -> Result<Payload, SchemaError> {
    if f.digest.ok_or(SchemaError::MissingField("digest"))? != "SHA384" {
        return Err(SchemaError::Digest);
    }
    let pcrs = f.pcrs.ok_or(SchemaError::MissingField("pcrs"))?;
    if let Some(missing) = (0u8..=2).find(|i| !pcrs.contains_key(i)) {
        return Err(SchemaError::MissingPcr(missing));
    }
    Ok(Payload {
        module_id: f
            .module_id
            .ok_or(SchemaError::MissingField("module_id"))?
            .to_owned(),
        timestamp_ms: f.timestamp.ok_or(SchemaError::MissingField("timestamp"))?,
        pcrs,
        certificate: f
            .certificate
            .ok_or(SchemaError::MissingField("certificate"))?
            .to_vec(),
        cabundle: f.cabundle.ok_or(SchemaError::MissingField("cabundle"))?,
        public_key: f.public_key,
        user_data: f.user_data,
        nonce: f.nonce,
    })
}

fn text<'a>(v: &Item<'a>, field: &'static str, max: usize) -> Result<&'a str, SchemaError> {
    let t = v.as_text().ok_or(SchemaError::WrongType(field))?;
    check_len(field, t.len(), 1, max)?;
    Ok(t)
}

fn bytes<'a>(
    v: &Item<'a>,
    field: &'static str,
    min: usize,
    max: usize,
) -> Result<&'a [u8], SchemaError> {
    let b = v.as_bytes().ok_or(SchemaError::WrongType(field))?;
    check_len(field, b.len(), min, max)?;
    Ok(b)
}

fn optional(v: &Item<'_>, field: &'static str) -> Result<Option<Vec<u8>>, SchemaError> {
    match v {
        Item::Null => Ok(None),
        _ => Ok(Some(bytes(v, field, 0, MAX_USER_FIELD_LEN)?.to_vec())),
    }
}

fn check_len(field: &'static str, len: usize, min: usize, max: usize) -> Result<(), SchemaError> {
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(SchemaError::Length {
            field,
            len,
            min,
            max,
        })
    }
}

fn pcrs(v: &Item<'_>) -> Result<BTreeMap<u8, Vec<u8>>, SchemaError> {
    let Item::Map(entries) = v else {
        return Err(SchemaError::WrongType("pcrs"));
    };
    check_len("pcrs", entries.len(), 1, usize::from(MAX_PCR_INDEX) + 1)?;
    let mut out = BTreeMap::new();
    for (k, value) in entries {
        let Item::Uint(index) = k else {
            return Err(SchemaError::WrongType("pcrs"));
        };
        let index = u8::try_from(*index)
            .ok()
            .filter(|i| *i <= MAX_PCR_INDEX)
            .ok_or(SchemaError::PcrIndex(*index))?;
        let value = value.as_bytes().ok_or(SchemaError::WrongType("pcrs"))?;
        if ![32, 48, 64].contains(&value.len()) {
            return Err(SchemaError::PcrLength {
                index,
                len: value.len(),
            });
        }
        out.insert(index, value.to_vec());
    }
    Ok(out)
}

fn cabundle(v: &Item<'_>) -> Result<Vec<Vec<u8>>, SchemaError> {
    let Item::Array(certs) = v else {
        return Err(SchemaError::WrongType("cabundle"));
    };
    check_len("cabundle", certs.len(), 1, MAX_CABUNDLE_LEN)?;
    certs
        .iter()
        .map(|c| bytes(c, "cabundle", 1, MAX_CERT_LEN).map(<[u8]>::to_vec))
        .collect()
}

impl Payload {
    /// Debug-mode enclaves report PCR0, PCR1 and PCR2 as all zeros.
    pub fn is_debug(&self) -> bool {
        (0u8..=2).all(|i| self.pcrs.get(&i).is_some_and(|v| v.iter().all(|b| *b == 0)))
    }
}
