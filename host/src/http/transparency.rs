//! `GET /transparency/head|inclusion|consistency`: public, unauthenticated
//! (rate-limited per address) reads of the log. Every proof comes with the
//! enclave-signed head it leads to, so a client needs nothing else from the host.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::json;

use super::error::{ApiError, Code};
use super::validate::query_u64;
use super::{App, Resp, json};
use crate::tlog::{self, merkle};

fn required(v: Option<u64>, name: &'static str) -> Result<u64, ApiError> {
    v.ok_or_else(|| ApiError::with(Code::InvalidField, format!("{name} is required")))
}

fn b64_hashes(hashes: &[merkle::Hash]) -> Vec<String> {
    hashes.iter().map(|h| STANDARD.encode(h)).collect()
}

fn usize_of(v: u64) -> Result<usize, ApiError> {
    usize::try_from(v).map_err(|_| ApiError::new(Code::OutOfRange))
}

impl App {
    pub(super) async fn transparency(
        &self,
        label: &str,
        query: Option<&str>,
    ) -> Result<Resp, ApiError> {
        let db = self.pool.get().await?;
        let current = tlog::current_head(&**db).await?;
        if label == "/transparency/head" {
            query_u64(query, [])?;
            let (size, head) = current.ok_or_else(|| ApiError::new(Code::LogEmpty))?;
            return Ok(json(
                StatusCode::OK,
                &json!({"tree_size": size, "tree_head": STANDARD.encode(head)}),
            ));
        }
        // Leaves below the current size are committed together with the state.
        let size = current.map_or(0, |(s, _)| s);
        if label == "/transparency/inclusion" {
            let [index, tree_size] = query_u64(query, ["leaf_index", "tree_size"])?;
            let index = required(index, "leaf_index")?;
            let tree_size = tree_size.unwrap_or(size);
            if tree_size > size || index >= tree_size {
                return Err(ApiError::new(Code::OutOfRange));
            }
            let leaves = tlog::leaf_hashes(&**db, tree_size).await?;
            let i = usize_of(index)?;
            let proof = merkle::inclusion_proof(&leaves, index)
                .map_err(|_| ApiError::new(Code::OutOfRange))?;
            let head = self.head_at(&db, tree_size).await?;
            return Ok(json(
                StatusCode::OK,
                &json!({
                    "leaf_index": index, "tree_size": tree_size,
                    "leaf_hash": STANDARD.encode(leaves[i]),
                    "inclusion_proof": b64_hashes(&proof),
                    "tree_head": STANDARD.encode(head),
                }),
            ));
        }
        let [first, second] = query_u64(query, ["first", "second"])?;
        let (first, second) = (required(first, "first")?, required(second, "second")?);
        if first == 0 || first > second {
            return Err(ApiError::with(
                Code::InvalidField,
                "need 1 <= first <= second",
            ));
        }
        if second > size {
            return Err(ApiError::new(Code::OutOfRange));
        }
        let leaves = tlog::leaf_hashes(&**db, second).await?;
        let proof = merkle::consistency_proof(&leaves, first)
            .map_err(|_| ApiError::new(Code::OutOfRange))?;
        let first_head = self.head_at(&db, first).await?;
        let second_head = self.head_at(&db, second).await?;
        Ok(json(
            StatusCode::OK,
            &json!({
                "first": first, "second": second,
                "consistency_proof": b64_hashes(&proof),
                "first_head": STANDARD.encode(first_head),
                "second_head": STANDARD.encode(second_head),
            }),
        ))
    }

    async fn head_at(
        &self,
        db: &deadpool_postgres::Object,
        size: u64,
    ) -> Result<Vec<u8>, ApiError> {
        tlog::head_at(&***db, size).await?.ok_or_else(|| {
            tracing::warn!(size, "no stored head for a size inside the log");
            ApiError::new(Code::InternalError)
        })
    }
}
