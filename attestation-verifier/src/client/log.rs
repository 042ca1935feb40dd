//! Reading a Strongroom log as C2SP tlog-tiles, with no API key: the public
//! routes `GET /checkpoint`, `GET /tile/<L>/<N>[.p/<W>]` and
//! `GET /tile/entries/<N>[.p/<W>]`. Nothing read here is trusted: a monitor
//! checks the checkpoint under its tlog-policy and every tile against it
//! (a proof computed from forged tiles does not lead to a signed root).

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use strongroom_formats::c2sp::note::MAX_NOTE_LEN;
pub use strongroom_formats::c2sp::tiles::split_entry_bundle as split_bundle;
use strongroom_formats::c2sp::tiles::{Tile, TileKind, TileReader};

use super::wire::check_base_url;
use super::{ClientError, DEFAULT_CALL_TIMEOUT, agent, read_bytes};

/// Largest hash tile: 256 hashes.
pub const MAX_HASH_TILE_LEN: u64 = 256 * 32;
/// Largest entry bundle: 256 entries of at most 65,535 bytes, each with its
/// 2-byte length.
pub const MAX_BUNDLE_LEN: u64 = 256 * (2 + 65_535);
/// Most tiles one reader fetches (a bound on what one run can cost).
pub const MAX_TILES_PER_READER: usize = 4096;

/// A public reader of one log, caching the tiles it fetched.
pub struct LogClient {
    agent: ureq::Agent,
    base: String,
    cache: RefCell<HashMap<String, Vec<u8>>>,
}

impl std::fmt::Debug for LogClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl LogClient {
    /// A reader of the log at `base_url` (`https://host[:port]`, or
    /// `http://` on loopback, or anywhere with `plain_ok`).
    pub fn new(base_url: &str, plain_ok: bool) -> Result<Self, ClientError> {
        Ok(Self {
            agent: agent(DEFAULT_CALL_TIMEOUT),
            base: check_base_url(base_url, plain_ok)?,
            cache: RefCell::new(HashMap::new()),
        })
    }

    /// The same reader with another whole-call timeout.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self {
            agent: agent(timeout),
            ..self
        }
    }

    /// `GET /checkpoint`: the newest cosigned checkpoint's bytes (unchecked).
    pub fn checkpoint(&self) -> Result<Vec<u8>, ClientError> {
        let req = self.agent.get(&format!("{}/checkpoint", self.base));
        read_bytes(req.call(), MAX_NOTE_LEN as u64)
    }

    /// The bytes of `tile` (cached); a hash tile must be exactly
    /// `width * 32` bytes.
    pub fn tile(&self, tile: &Tile) -> Result<Vec<u8>, ClientError> {
        let path = tile.path();
        if let Some(bytes) = self.cache.borrow().get(&path) {
            return Ok(bytes.clone());
        }
        if self.cache.borrow().len() >= MAX_TILES_PER_READER {
            return Err(ClientError::Answer("too many tiles for one run".into()));
        }
        let limit = match tile.kind() {
            TileKind::Entries => MAX_BUNDLE_LEN,
            TileKind::Hashes(_) => MAX_HASH_TILE_LEN,
        };
        let req = self.agent.get(&format!("{}/{path}", self.base));
        let bytes = read_bytes(req.call(), limit)?;
        let hashes = matches!(tile.kind(), TileKind::Hashes(_));
        if hashes && bytes.len() != usize::from(tile.width()) * 32 {
            return Err(ClientError::Answer(format!(
                "{path}: {} bytes, not {} hashes",
                bytes.len(),
                tile.width()
            )));
        }
        self.cache.borrow_mut().insert(path, bytes.clone());
        Ok(bytes)
    }
}

impl TileReader for LogClient {
    type Error = ClientError;

    fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, ClientError> {
        self.tile(tile)
    }
}
