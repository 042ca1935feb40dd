//! `GET /transparency/consistency?first=&second=`: a consistency proof between
//! two tree sizes, with both heads.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::json;

use super::{b64_hashes, required};
use crate::http::error::{ApiError, Code};
use crate::http::validate::query_u64;
use crate::http::{App, Resp, json};
use crate::tlog;

impl App {
    pub(super) async fn consistency(
        &self,
        db: &deadpool_postgres::Object,
        current: Option<(u64, Vec<u8>)>,
        query: Option<&str>,
    ) -> Result<Resp, ApiError> {
        let size = current.map_or(0, |(s, _)| s);
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
        // O(log n): the tiles along both trees' right edges, one row each.
        let proof = tlog::tiles::consistency_proof(&***db, first, second).await?;
        self.metrics.add_tiles_read(proof.tiles_read);
        let first_head = self.head_at(db, first).await?;
        let second_head = self.head_at(db, second).await?;
        Ok(json(
            StatusCode::OK,
            &json!({
                "first": first, "second": second,
                "consistency_proof": b64_hashes(&proof.hashes),
                "first_head": STANDARD.encode(first_head),
                "second_head": STANDARD.encode(second_head),
            }),
        ))
    }
}
