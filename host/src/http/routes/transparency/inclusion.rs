//! `GET /transparency/inclusion?leaf_index=&tree_size=`: a leaf's audit path.

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
    pub(super) async fn inclusion(
        &self,
        db: &deadpool_postgres::Object,
        current: Option<(u64, Vec<u8>)>,
        query: Option<&str>,
    ) -> Result<Resp, ApiError> {
        // Leaves below the current size are committed together with the state.
        let size = current.map_or(0, |(s, _)| s);
        let [index, tree_size] = query_u64(query, ["leaf_index", "tree_size"])?;
        let index = required(index, "leaf_index")?;
        let tree_size = tree_size.unwrap_or(size);
        if tree_size > size || index >= tree_size {
            return Err(ApiError::new(Code::OutOfRange));
        }
        // O(log n): the tiles on the leaf's path, one row each.
        let (leaf, proof) = tlog::tiles::inclusion_proof(&***db, index, tree_size).await?;
        self.metrics.add_tiles_read(proof.tiles_read);
        let head = self.head_at(db, tree_size).await?;
        Ok(json(
            StatusCode::OK,
            &json!({
                "leaf_index": index, "tree_size": tree_size,
                "leaf_hash": STANDARD.encode(leaf),
                "inclusion_proof": b64_hashes(&proof.hashes),
                "tree_head": STANDARD.encode(head),
            }),
        ))
    }
}
