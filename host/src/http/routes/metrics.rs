//! `GET /metrics`: Prometheus text for the operator's scraper, loopback only.

use bytes::Bytes;
use http::Response;
use http::header::{self, HeaderValue};
use http_body_util::Full;

use crate::http::error::{ApiError, Code};
use crate::http::{App, Ctx, Resp};

impl App {
    pub(in crate::http) fn metrics_page(&self, ctx: &Ctx) -> Result<Resp, ApiError> {
        // Metrics are for the operator's scraper on this machine, not the internet.
        if !ctx.peer.is_loopback() {
            return Err(ApiError::new(Code::NotFound));
        }
        let s = self.pool.status();
        let gauges = crate::metrics::PoolGauges {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
            waiting: s.waiting,
        };
        let mut r = Response::new(Full::new(Bytes::from(self.metrics.render(gauges))));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        Ok(r)
    }
}
