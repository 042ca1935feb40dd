//! `GET /transparency/head`: the newest signed tree head.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::json;

use crate::http::error::{ApiError, Code};
use crate::http::validate::query_u64;
use crate::http::{Resp, json};

/// The answer for the current `(size, head)`, 404 `log_empty` before the first leaf.
pub(super) fn answer(
    current: Option<(u64, Vec<u8>)>,
    query: Option<&str>,
) -> Result<Resp, ApiError> {
    query_u64(query, [])?;
    let (size, head) = current.ok_or_else(|| ApiError::new(Code::LogEmpty))?;
    Ok(json(
        StatusCode::OK,
        &json!({"tree_size": size, "tree_head": STANDARD.encode(head)}),
    ))
}
