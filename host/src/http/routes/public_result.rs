//! `GET /r/{id}` and `GET /r?account=`: published results, without
//! authentication (rate-limited per address), CORS open to any origin.
//!
//! `/r/{id}` answers the result bundle (attestation-verifier SPEC, "Result
//! bundle"): the COSE bytes, their attestation and an inclusion proof into the
//! signed head of size `leaf_index + 1` (the head signed by the append that
//! logged it), so the answer never changes: it is served as immutable. An
//! unpublished id answers exactly like an unknown one (404
//! `result_not_found`). A result is published by its credential's policy
//! (`publish: true`, signed in its payload) or by an owner-signed `publish`
//! (`POST /enclave/publish`), which the bundle then carries as
//! `publish_authorization` (bundle format v2) so that any verifier can check
//! the consent itself.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use http::header::{self, HeaderValue};
use serde_json::json;
use strongroom_formats::cose::Sign1;
use strongroom_protocol::aggregates::AggregatePayload;

use crate::http::error::{ApiError, Code};
use crate::http::{App, Resp, json};
use crate::store::public::{self, PublishedRow};
use crate::tlog;

/// The `format` of the bundles served.
const BUNDLE_FORMAT: &str = "strongroom/result-bundle/v2";

/// 64 lowercase or uppercase hex digits: 32 bytes.
fn parse_id(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    hex::decode(s).ok()?.try_into().ok()
}

/// Immutable for a year, readable from any origin.
fn public(mut r: Resp, immutable: bool) -> Resp {
    let h = r.headers_mut();
    let cache = match immutable {
        true => "public, max-age=31536000, immutable",
        false => "public, max-age=60",
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

impl App {
    /// Answers `/r/{id}` (`path` is the whole path) or `/r?account=`.
    pub(in crate::http) async fn public_result(
        &self,
        label: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<Resp, ApiError> {
        if label == "/r" {
            return self.published_ids(query).await;
        }
        let not_found = || ApiError::new(Code::ResultNotFound);
        let id = path
            .strip_prefix("/r/")
            .and_then(parse_id)
            .ok_or_else(not_found)?;
        let db = self.pool.get().await?;
        let row = public::by_id(&**db, &id).await?.ok_or_else(not_found)?;
        let bundle = self.bundle(&db, &id, row).await?;
        Ok(public(json(StatusCode::OK, &bundle), true))
    }

    async fn bundle(
        &self,
        db: &deadpool_postgres::Object,
        id: &[u8; 32],
        row: PublishedRow,
    ) -> Result<serde_json::Value, ApiError> {
        let missing = |what: &str| {
            tracing::warn!(what, "published result without its proof material");
            ApiError::new(Code::ResultNotFound)
        };
        let index = row.leaf_index.ok_or_else(|| missing("leaf"))?;
        let index = u64::try_from(index).map_err(|_| missing("leaf"))?;
        let attestation = row.attestation.ok_or_else(|| missing("attestation"))?;
        let size = index + 1;
        let (_, proof) = tlog::tiles::inclusion_proof(&***db, index, size).await?;
        let proof = proof.hashes;
        // Log v2: the checkpoint stored with that head (its cosignatures
        // included) and the result's tlog-proof in it.
        let checkpoint = tlog::checkpoint_at(&***db, size).await?;
        let tlog_proof = match &checkpoint {
            Some(cp) => Some(tlog::tlog_proof(&***db, index, cp).await?),
            None => None,
        };
        let head = tlog::head_at(&***db, size)
            .await?
            .ok_or_else(|| missing("head"))?;
        let payload = Sign1::payload_of(&row.cose)
            .ok()
            .and_then(|p| AggregatePayload::from_cbor(&p).ok())
            .ok_or_else(|| missing("payload"))?;
        let payload = serde_json::to_value(&payload).map_err(|_| missing("payload"))?;
        Ok(json!({
            "format": BUNDLE_FORMAT,
            "id": hex::encode(id),
            "payload": payload,
            "cose": STANDARD.encode(&row.cose),
            "attestation": STANDARD.encode(&attestation),
            "log": {
                "leaf_index": index,
                "tree_size": size,
                "tree_head": STANDARD.encode(&head),
                "inclusion_proof": proof.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
            },
            "tlog_proof": tlog_proof,
            "checkpoint": checkpoint,
            "publish_authorization": row.publish_authorization.as_ref().map(|a| STANDARD.encode(a)),
        }))
    }

    async fn published_ids(&self, query: Option<&str>) -> Result<Resp, ApiError> {
        let bad = || ApiError::with(Code::InvalidField, "expected ?account=<64 hex digits>");
        let account = query
            .and_then(|q| q.strip_prefix("account="))
            .filter(|a| a.len() == 64 && a.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(bad)?
            .to_ascii_lowercase();
        let db = self.pool.get().await?;
        let ids = public::ids_of_account(&**db, &account).await?;
        Ok(public(
            json(StatusCode::OK, &json!({"account": account, "results": ids})),
            false,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_id;

    #[test]
    fn ids_are_64_hex_digits() {
        assert!(parse_id(&"ab".repeat(32)).is_some());
        assert!(parse_id(&"AB".repeat(32)).is_some());
        assert!(parse_id(&"ab".repeat(31)).is_none());
        assert!(parse_id(&"zz".repeat(32)).is_none());
        assert!(parse_id(&format!("{}/x", "ab".repeat(32))).is_none());
    }
}
