//! `GET /checkpoint`: the log's newest C2SP checkpoint that carries the
//! enclave's witness quorum (signed note: the log's signature and the
//! witnesses' cosignatures), as C2SP tlog-tiles serves it. Public and
//! unauthenticated (rate-limited per address); it changes with every append,
//! so it is not cached. 404 `not_found` while no checkpoint is cosigned.

use bytes::Bytes;
use http::Response;
use http::header::{self, HeaderValue};
use http_body_util::Full;

use crate::http::error::{ApiError, Code};
use crate::http::{App, Resp};
use crate::tlog;

impl App {
    pub(in crate::http) async fn checkpoint(&self) -> Result<Resp, ApiError> {
        let db = self.pool.get().await?;
        let (_, text) = tlog::cosigned_checkpoint(&**db)
            .await?
            .ok_or_else(|| ApiError::with(Code::NotFound, "no cosigned checkpoint yet"))?;
        let mut r = Response::new(Full::new(Bytes::from(text)));
        let headers = r.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        Ok(r)
    }
}
