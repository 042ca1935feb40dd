//! The HTTP API: routing, the request pipeline (limits, authentication, CORS,
//! security headers, metrics) and the server loop.

pub mod auth;
pub mod auth_cache;
pub mod client_addr;
pub mod daily;
pub mod error;
pub mod jobs;
pub(crate) mod routes;
pub mod server;
pub mod validate;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use deadpool_postgres::Pool;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::audit::Pseudonymizer;
use crate::config::ServeConfig;
use crate::enclave::Enclave;
use crate::metrics::Metrics;
use crate::shared_limits::SharedRateLimiter;
use crate::store::audit::{self, AuditEntry};
use crate::tenants::hash_api_key;
use error::{ApiError, Code};

/// The routes, as `(method, path)`. `openapi.yaml` must describe each (a test checks).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/attestation/quote"),
    ("POST", "/enclave/submit_key"),
    ("POST", "/enclave/request_aggregates"),
    ("POST", "/enclave/revoke"),
    ("POST", "/enclave/publish"),
    ("GET", "/enclave/jobs/{id}"),
    ("GET", "/transparency/head"),
    ("GET", "/transparency/inclusion"),
    ("GET", "/transparency/consistency"),
    ("GET", "/checkpoint"),
    (TILE_METHOD, TILE_ROUTE),
    (TILE_METHOD, ENTRIES_ROUTE),
    ("GET", "/r"),
    ("GET", "/r/{id}"),
    ("GET", "/verify/"),
];

const TILE_METHOD: &str = "GET";

/// Every `/tile/<L>/<N>[.p/<W>]` path (C2SP tlog-tiles), one route label.
pub const TILE_ROUTE: &str = "/tile/{L}/{N}";

/// Every `/tile/entries/<N>[.p/<W>]` path (entry bundles), one route label.
pub const ENTRIES_ROUTE: &str = "/tile/entries/{N}";

/// The route label of a tile path (a bounded metrics label; the path itself
/// is parsed by the route).
fn tile_label(path: &str) -> Option<&'static str> {
    if path.starts_with("/tile/entries/") {
        Some(ENTRIES_ROUTE)
    } else if path.starts_with("/tile/") {
        Some(TILE_ROUTE)
    } else {
        None
    }
}

/// The route pattern of a path: `/r/<id>` is `/r/{id}`, `/verify` and
/// everything under it is `/verify/`.
fn route_pattern(path: &str) -> &str {
    if path.starts_with("/r/") {
        "/r/{id}"
    } else if path.starts_with("/enclave/jobs/") {
        "/enclave/jobs/{id}"
    } else if path == "/verify" || path.starts_with("/verify/") {
        "/verify/"
    } else {
        path
    }
}

/// Shared state of the server.
pub struct App {
    /// Configuration.
    pub cfg: ServeConfig,
    /// `app_service` connections.
    pub pool: Pool,
    /// The enclave.
    pub enclave: Arc<Enclave>,
    /// The key ring service (reload on `unknown_key_id`).
    pub keys: Arc<crate::keys::Keys>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Per client address, shared by every instance (PostgreSQL).
    pub addr_limits: SharedRateLimiter,
    /// Per tenant, shared by every instance (PostgreSQL).
    pub tenant_limits: SharedRateLimiter,
    /// Client address pseudonyms for the audit log and the lockout.
    pub pseudonyms: Pseudonymizer,
    /// Recent authentications, for `submit_key` only ([`auth_cache`]).
    pub submit_auth: auth_cache::AuthCache,
    /// Readiness as last probed (`routes::health::run_probe`).
    pub ready: routes::health::ReadyState,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// Per-request facts.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Random id, echoed in `X-Request-Id` and written to the audit log.
    pub request_id: String,
    /// Peer address (rate limiting only; never stored).
    pub peer: IpAddr,
    /// Keyed pseudonym of the peer address.
    pub client: String,
}

/// The response type of every route.
pub type Resp = Response<Full<Bytes>>;

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl ApiError {
    /// `{"error": {"code", "message"}}` with the code's status.
    pub fn into_response(self) -> Resp {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = json(
            status,
            &serde_json::json!({"error": {"code": self.code.as_str(), "message": self.message}}),
        );
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        r
    }
}

fn route_label(method: &Method, path: &str) -> Result<&'static str, Code> {
    if let Some(label) = tile_label(path) {
        let get = *method == Method::GET || *method == Method::HEAD;
        return if get {
            Ok(label)
        } else {
            Err(Code::MethodNotAllowed)
        };
    }
    let path = route_pattern(path);
    let mut path_known = false;
    for (m, p) in ROUTES {
        if *p == path {
            path_known = true;
            if method.as_str() == *m || (*m == "GET" && method == Method::HEAD) {
                return Ok(p);
            }
        }
    }
    Err(if path_known {
        Code::MethodNotAllowed
    } else {
        Code::NotFound
    })
}

impl App {
    /// Answers one request; never fails (errors become JSON answers).
    pub async fn handle<B>(self: Arc<Self>, req: Request<B>, peer: IpAddr) -> Resp
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let start = Instant::now();
        // Behind trusted proxies, the address they forwarded (client_addr.rs).
        let peer = self.cfg.trusted_proxies.client(peer, req.headers());
        let ctx = Ctx {
            request_id: Uuid::new_v4().to_string(),
            peer,
            client: self.pseudonyms.client(peer),
        };
        let origin = req.headers().get(header::ORIGIN).cloned();
        let label = route_label(req.method(), req.uri().path());
        let metric_route = label.unwrap_or("other");
        let span =
            tracing::info_span!("request", request_id = %ctx.request_id, route = metric_route);
        async move {
            let mut resp = if req.method() == Method::OPTIONS {
                self.preflight(origin.as_ref(), !matches!(label, Err(Code::NotFound)))
            } else {
                // request_aggregates waits on the exchange; every other route is quick.
                let deadline = match label {
                    Ok("/enclave/request_aggregates") => self
                        .cfg
                        .request_timeout
                        .max(self.cfg.aggregates_timeout + self.cfg.enclave_timeout * 2),
                    _ => self.cfg.request_timeout,
                };
                let work = self.dispatch(req, label, &ctx);
                match tokio::time::timeout(deadline, work).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(e)) => e.into_response(),
                    Err(_) => ApiError::new(Code::RequestTimeout).into_response(),
                }
            };
            if label.is_ok_and(|l| tile_label(l).is_some()) {
                // The log is public: any page may read it, errors included.
                resp.headers_mut().insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
            }
            self.decorate(&mut resp, origin.as_ref(), &ctx);
            let status = resp.status().as_u16();
            self.metrics.observe(metric_route, status, start.elapsed());
            let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            tracing::info!(status, elapsed_ms, "answered");
            resp
        }
        .instrument(span)
        .await
    }

    async fn dispatch<B>(
        self: &Arc<Self>,
        req: Request<B>,
        label: Result<&'static str, Code>,
        ctx: &Ctx,
    ) -> Result<Resp, ApiError>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let label = label.map_err(ApiError::new)?;
        match label {
            "/healthz" => return Ok(Self::healthz()),
            "/readyz" => return Ok(self.readyz()),
            "/metrics" => return self.metrics_page(ctx),
            // Embedded static files (one view of the page is about ten of
            // them): not counted against the per-address API limit.
            "/verify/" => return self.verify_page(req.uri().path()),
            _ => {}
        }
        self.addr_limits
            .check(&format!("a:{}", ctx.client))
            .await
            .map_err(|after| ApiError::retry(Code::RateLimited, after))?;
        if label == "/attestation/quote" {
            return self.quote(req.uri().query(), ctx).await;
        }
        if label.starts_with("/transparency/") {
            return self.transparency(label, req.uri().query()).await;
        }
        if label == "/checkpoint" {
            return self.checkpoint().await;
        }
        if tile_label(label).is_some() {
            return self.tile(req.uri().path()).await;
        }
        if label == "/r" || label == "/r/{id}" {
            let uri = req.uri();
            return self.public_result(label, uri.path(), uri.query()).await;
        }
        let submit = label == "/enclave/submit_key";
        // The presented key, hashed once for the lookup, the cache and the store.
        let key = auth::bearer(req.headers());
        let key_hash = key.map(hash_api_key);
        let tenant = self
            .authenticate(key, key_hash.as_ref(), ctx, submit)
            .await?;
        self.tenant_limits
            .check(&format!("t:{tenant}"))
            .await
            .map_err(|after| ApiError::retry(Code::RateLimited, after))?;
        if label == "/enclave/jobs/{id}" {
            return self.job(req.uri().path(), tenant).await;
        }
        let body = read_json_body(req).await?;
        match (label, key_hash) {
            ("/enclave/submit_key", Some(hash)) => self.submit_key(&body, tenant, hash, ctx).await,
            ("/enclave/submit_key", None) => Err(auth::unauthorized()),
            _ => match label {
                "/enclave/request_aggregates" => self.request_aggregates(&body, tenant, ctx).await,
                "/enclave/publish" => self.publish(&body, tenant, ctx).await,
                _ => self.revoke(&body, tenant, ctx).await,
            },
        }
    }

    /// [`Self::authenticate_db`], or for `submit_key` (`cached`) a recent
    /// success of the same key without asking the database: the store call
    /// authenticates again (migration V9).
    async fn authenticate(
        &self,
        key: Option<&str>,
        key_hash: Option<&[u8; 32]>,
        ctx: &Ctx,
        cached: bool,
    ) -> Result<Uuid, ApiError> {
        let now = Instant::now();
        let recent = key_hash.filter(|_| cached);
        if let Some(tenant) = recent.and_then(|h| self.submit_auth.get(h, now)) {
            return Ok(tenant);
        }
        let tenant = self.authenticate_db(key, key_hash, ctx).await?;
        if let Some(h) = recent {
            self.submit_auth.put(*h, tenant, now);
        }
        Ok(tenant)
    }

    async fn authenticate_db(
        &self,
        key: Option<&str>,
        key_hash: Option<&[u8; 32]>,
        ctx: &Ctx,
    ) -> Result<Uuid, ApiError> {
        let db = self.pool.get().await?;
        match auth::check(&db, &ctx.client, key_hash).await? {
            auth::Verdict::Tenant(t) => return Ok(t),
            auth::Verdict::LockedOut(after) => return Err(ApiError::retry(Code::LockedOut, after)),
            auth::Verdict::Unknown => {}
        }
        // Failures count per address and, separately, per presented key prefix.
        let prefix = key.map(|k| {
            self.pseudonyms
                .label(&format!("key:{}", auth::key_prefix(k)))
        });
        if let Some(p) = &prefix
            && let auth::Verdict::LockedOut(after) = auth::check(&db, p, None).await?
        {
            return Err(ApiError::retry(Code::LockedOut, after));
        }
        let cfg = &self.cfg;
        let (max, window) = (cfg.lockout_max_failures, cfg.lockout_duration);
        let mut locked = auth::record_failure(&db, &ctx.client, max, window).await?;
        if let Some(p) = &prefix {
            locked |= auth::record_failure(&db, p, max, window).await?;
        }
        let entry = AuditEntry {
            tenant: None,
            action: "authenticate",
            session: None,
            outcome: if locked { "locked_out" } else { "unauthorized" },
            request_id: Some(&ctx.request_id),
            client: Some(&ctx.client),
            detail: None,
        };
        audit::write_cached(&db, &entry).await?;
        Err(auth::unauthorized())
    }

    fn origin_allowed(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        let o = origin?;
        let s = o.to_str().ok()?;
        self.cfg
            .allowed_origins
            .iter()
            .any(|a| a == s)
            .then(|| o.clone())
    }

    fn preflight(&self, origin: Option<&HeaderValue>, known: bool) -> Resp {
        if !known {
            return ApiError::new(Code::NotFound).into_response();
        }
        if self.origin_allowed(origin).is_none() {
            return ApiError::new(Code::OriginNotAllowed).into_response();
        }
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NO_CONTENT;
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        r
    }

    fn decorate(&self, resp: &mut Resp, origin: Option<&HeaderValue>, ctx: &Ctx) {
        let h = resp.headers_mut();
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            (
                "content-security-policy",
                "default-src 'none'; frame-ancestors 'none'",
            ),
        ] {
            // A route's own policy (the page's CSP, a public result's caching) stands.
            if !h.contains_key(name) {
                h.insert(name, HeaderValue::from_static(value));
            }
        }
        // Tiles set their own caching; everything else is never stored.
        if !h.contains_key(header::CACHE_CONTROL) {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if self.cfg.tls.is_some() || self.cfg.tls_terminated_upstream {
            h.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=63072000; includeSubDomains"),
            );
        }
        if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
            h.insert("x-request-id", v);
        }
        // `*` (the public log) stays `*`, and a cache keeps one copy of a tile
        // whatever the origin: no `Vary: Origin` there.
        let open = h.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN);
        if !open {
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        if let Some(o) = self.origin_allowed(origin).filter(|_| !open) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("retry-after, x-request-id"),
            );
        }
    }
}

async fn read_json_body<B>(req: Request<B>) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(Code::UnsupportedMediaType));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > validate::MAX_BODY_LEN as u64) {
        return Err(ApiError::new(Code::PayloadTooLarge));
    }
    match Limited::new(req.into_body(), validate::MAX_BODY_LEN)
        .collect()
        .await
    {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::new(Code::PayloadTooLarge))
        }
        Err(_) => Err(ApiError::with(
            Code::InvalidJson,
            "the body could not be read",
        )),
    }
}
