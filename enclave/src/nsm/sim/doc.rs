//! Attestation documents in the byte format of real NSM output: an untagged
//! COSE_Sign1 array, protected `{1: -35}` (ES384), empty unprotected map, the
//! nine payload keys in NSM order (absent ones CBOR null), 96-byte r||s.

use std::collections::BTreeMap;

use p384::ecdsa::{Signature, SigningKey, signature::Signer};
use serde::Serialize;
use serde_bytes::{ByteBuf, Bytes};

use crate::nsm::{NsmError, PCR_LEN};

/// Encoded protected header `{1: -35}` exactly as the NSM writes it.
pub const PROTECTED_ES384: [u8; 4] = [0xa1, 0x01, 0x38, 0x22];

/// The attestation document payload, fields in the NSM's order.
#[derive(Serialize)]
pub(crate) struct DocPayload<'a> {
    pub(crate) module_id: &'a str,
    pub(crate) digest: &'static str,
    pub(crate) timestamp: u64,
    pub(crate) pcrs: BTreeMap<u16, &'a Bytes>,
    pub(crate) certificate: &'a Bytes,
    pub(crate) cabundle: Vec<&'a Bytes>,
    pub(crate) public_key: Option<&'a Bytes>,
    pub(crate) user_data: Option<&'a Bytes>,
    pub(crate) nonce: Option<&'a Bytes>,
}

/// Builds the `pcrs` map from the simulated bank.
pub(crate) fn pcr_map(pcrs: &[[u8; PCR_LEN]]) -> BTreeMap<u16, &Bytes> {
    (0u16..)
        .zip(pcrs.iter())
        .map(|(i, pcr)| (i, Bytes::new(pcr)))
        .collect()
}

/// Signs `payload` into the COSE_Sign1 bytes of an attestation document.
pub(crate) fn sign_document(
    payload: &DocPayload<'_>,
    key: &SigningKey,
) -> Result<Vec<u8>, NsmError> {
    let payload =
        serde_cbor::to_vec(payload).map_err(|_| NsmError::Simulator("payload encoding"))?;
    let tbs = serde_cbor::to_vec(&(
        "Signature1",
        Bytes::new(&PROTECTED_ES384),
        Bytes::new(&[]),
        Bytes::new(&payload),
    ))
    .map_err(|_| NsmError::Simulator("Sig_structure encoding"))?;
    let signature: Signature = key.sign(&tbs);
    let unprotected: BTreeMap<u8, u8> = BTreeMap::new();
    serde_cbor::to_vec(&(
        Bytes::new(&PROTECTED_ES384),
        unprotected,
        ByteBuf::from(payload),
        ByteBuf::from(signature.to_bytes().to_vec()),
    ))
    .map_err(|_| NsmError::Simulator("document encoding"))
}
