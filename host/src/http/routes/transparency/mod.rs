//! `GET /transparency/head|inclusion|consistency`: public, unauthenticated
//! (rate-limited per address) reads of the log. Every proof comes with the
//! enclave-signed head it leads to, so a client needs nothing else from the host.
//! One file per route; the helpers they share are here.

mod consistency;
mod head;
mod inclusion;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::http::error::{ApiError, Code};
use crate::http::{App, Resp};
use crate::tlog::{self, merkle};

fn required(v: Option<u64>, name: &'static str) -> Result<u64, ApiError> {
    v.ok_or_else(|| ApiError::with(Code::InvalidField, format!("{name} is required")))
}

fn b64_hashes(hashes: &[merkle::Hash]) -> Vec<String> {
    hashes.iter().map(|h| STANDARD.encode(h)).collect()
}

impl App {
    /// Answers one of the three log routes, all of which read the current head first.
    pub(in crate::http) async fn transparency(
        &self,
        label: &str,
        query: Option<&str>,
    ) -> Result<Resp, ApiError> {
        let db = self.pool.get().await?;
        let current = tlog::current_head(&**db).await?;
        match label {
            "/transparency/head" => head::answer(current, query),
            "/transparency/inclusion" => self.inclusion(&db, current, query).await,
            _ => self.consistency(&db, current, query).await,
        }
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
