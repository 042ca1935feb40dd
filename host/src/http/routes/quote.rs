//! `GET /attestation/quote?nonce=<b64>`: the enclave's attestation document
//! and the keys it binds.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::json;

use crate::http::error::ApiError;
use crate::http::validate;
use crate::http::{App, Ctx, Resp, json};

impl App {
    pub(in crate::http) async fn quote(
        &self,
        query: Option<&str>,
        _ctx: &Ctx,
    ) -> Result<Resp, ApiError> {
        let nonce = validate::quote_nonce(query)?;
        let a = self.enclave.attest(nonce).await?;
        Ok(json(
            StatusCode::OK,
            &json!({
                "quote": STANDARD.encode(&a.document),
                "enclave_pubkey": STANDARD.encode(&a.hpke_public_key),
                "signing_pubkey": STANDARD.encode(&a.signing_public_key),
                "key_id": a.key_id,
                "image_hash": hex::encode(&a.pcr0),
                "log_vkey": a.log_vkey,
            }),
        ))
    }
}
