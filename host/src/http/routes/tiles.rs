//! `GET /tile/<L>/<N>[.p/<W>]` and `GET /tile/entries/<N>[.p/<W>]`: the log as
//! C2SP tlog-tiles (DESIGN.md "Log v2"), public and unauthenticated like the
//! rest of the log (rate-limited per address). Paths are parsed by the formats
//! crate's one canonical parser (fuzzed in enclave/fuzz, target `c2sp`):
//! anything else is a JSON 404, never a 500. A tile never changes once
//! served, so full tiles are cacheable forever; partial ones (the right edge,
//! which a full tile later supersedes) only briefly.
//!
//! Entry bundles hold the leaves themselves: every tenant's signed results,
//! labels and figures included. Version 2 lets nobody but the trader decide
//! what is disclosed, so a host serves them only when its operator says the
//! log's entries are public (`PUBLIC_LOG_ENTRIES=1`, e.g. a log of published
//! results only); otherwise `/tile/entries/...` is 404 `not_found` and
//! monitors follow the log from the hash tiles and checkpoints alone.

use bytes::Bytes;
use http::Response;
use http::header::{self, HeaderValue};
use http_body_util::Full;
use std::sync::atomic::Ordering;
use strongroom_formats::c2sp::tiles::{TILE_WIDTH, Tile, TileKind};

use crate::http::error::{ApiError, Code};
use crate::http::{App, Resp};
use crate::tlog::tiles::{self, BundleGap};

/// `Cache-Control` of a full tile or bundle: its bytes are fixed forever.
pub(in crate::http) const CACHE_FULL: &str = "public, max-age=31536000, immutable";

/// `Cache-Control` of a partial tile or bundle: superseded by the full one.
pub(in crate::http) const CACHE_PARTIAL: &str = "public, max-age=60";

fn beyond() -> ApiError {
    ApiError::with(Code::OutOfRange, "the tile is beyond the log")
}

impl App {
    /// Answers `path` (starting `/tile/`).
    pub(in crate::http) async fn tile(&self, path: &str) -> Result<Resp, ApiError> {
        let rel = path.strip_prefix('/').unwrap_or(path);
        let tile =
            Tile::parse_path(rel).map_err(|_| ApiError::with(Code::NotFound, "not a tile path"))?;
        if matches!(tile.kind(), TileKind::Entries) && !self.cfg.public_log_entries {
            return Err(ApiError::with(
                Code::NotFound,
                "this host does not publish log entries (PUBLIC_LOG_ENTRIES)",
            ));
        }
        let db = self.pool.get().await?;
        let body = match tile.kind() {
            TileKind::Entries => match tiles::entry_bundle(&**db, &tile).await? {
                Ok(b) => b,
                Err(BundleGap::Beyond) => return Err(beyond()),
                Err(BundleGap::Erased) => return Err(ApiError::new(Code::EntryErased)),
            },
            TileKind::Hashes(_) => tiles::tile_bytes(&**db, &tile).await?.ok_or_else(beyond)?,
        };
        self.metrics.tiles_served.fetch_add(1, Ordering::Relaxed);
        let full = u64::from(tile.width()) == TILE_WIDTH;
        Ok(octets(body, if full { CACHE_FULL } else { CACHE_PARTIAL }))
    }
}

fn octets(body: Vec<u8>, cache: &'static str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}
