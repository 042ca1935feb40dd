//! Sealed history segments (SPEC §3.8): the trades of one (account,
//! symbol) over a range of exchange trade ids, AEAD-sealed by the enclave
//! for the host to store and hand back, so a computation fetches only what
//! is newer than what it already holds.
//!
//! - A segment holds every trade of the account in `symbol` whose id lies in
//!   `from_id..next_id`: `from_id` is the `fromId` its fetch started at,
//!   `next_id` the `fromId` the next fetch starts at (its last id + 1). At
//!   most [`MAX_SEGMENT_TRADES`] trades, never none.
//! - Sealed with AES-256-GCM under the *history key*: HKDF-SHA256 (no salt,
//!   `info` = `strongroom/history/v1`) of the ring's result-signing scalar,
//!   the one secret that HPKE key rotation leaves alone and that peers
//!   syncing the ring receive (like the re-seal key, `intake::resealed`).
//! - `sealed` = `0x01 ‖ nonce (12, NSM randomness) ‖ ciphertext ‖ tag (16)`;
//!   the associated data is `strongroom/history/v1 ‖ 0x00 ‖ 0x01 ‖ 0x00 ‖
//!   account pseudonym (ASCII hex)`. Symbol, `from_id` and `next_id` travel
//!   *inside* the ciphertext, authenticated by the same tag: binding them
//!   there rather than in clear associated data keeps the host from learning
//!   which symbols an account trades and how many trades each range holds.
//! - A segment filed under another account fails the tag; one that opens
//!   for another account than the one computed is ignored; the host can
//!   withhold or roll back segments, which costs exchange weight only (the
//!   chain stops at the gap and the enclave fetches from there).

use std::collections::BTreeMap;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use hmac::Mac;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use strongroom_protocol::aggregates::Dec;
use strongroom_protocol::messages::SealedHistory;
use zeroize::Zeroizing;

use crate::aggregate::{SymbolInfo, Trade, valid_name};
use crate::ring::KeyRing;

/// Domain label of the history key (HKDF `info`) and of the associated data.
pub const HISTORY_LABEL: &[u8] = b"strongroom/history/v1";
/// First byte of `SealedHistory.sealed`.
pub const SEGMENT_FORMAT: u8 = 1;
/// Most trades in one segment (one segment stays well under 1 MiB).
pub const MAX_SEGMENT_TRADES: usize = 5_000;
/// Largest `SealedHistory.sealed` accepted (and largest plaintext).
pub const MAX_SEALED_SEGMENT_LEN: usize = 1 << 20;
/// Most segments one request may carry that are opened; further ones are
/// ignored (a gap: the enclave fetches what they held).
pub const MAX_SEGMENTS_PER_REQUEST: usize = 65_536;
/// AES-GCM nonce length.
pub const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Longest account pseudonym (64 hex digits).
const MAX_ACCOUNT_LEN: usize = 64;

/// A segment does not open. One opaque variant: callers and logs never
/// learn why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the history segment does not open")]
pub struct SegmentError;

/// The AES-256 key that seals history segments. Secret: no `Clone`, a
/// `Debug` without bytes, zeroized on drop.
pub struct HistoryKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for HistoryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HistoryKey")
    }
}

impl HistoryKey {
    /// The ring's history key (every instance holding the ring derives it).
    pub fn of(ring: &KeyRing) -> Self {
        Self::derive(&ring.signing().scalar()[..])
    }

    /// HKDF-SHA256 (RFC 5869) with an empty salt and `info` =
    /// [`HISTORY_LABEL`], one 32-byte block: `PRK = HMAC(0^32, ikm)`,
    /// `OKM = HMAC(PRK, info ‖ 0x01)`.
    pub(crate) fn derive(ikm: &[u8]) -> Self {
        Self(hkdf_sha256(ikm, HISTORY_LABEL))
    }

    /// A key from raw bytes (tests and fuzzing).
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self(Zeroizing::new(key))
    }
}

/// The first 32 bytes of HKDF-SHA256 (RFC 5869) of `ikm`, empty salt.
fn hkdf_sha256(ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let prk = hmac(&[0u8; 32], &[ikm]);
    hmac(&prk[..], &[info, &[1u8]])
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    // HMAC takes keys of any length: this cannot fail.
    if let Ok(mut mac) = <hmac::Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key) {
        for p in parts {
            mac.update(p);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// One segment in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The market, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Its base and quote asset.
    pub info: SymbolInfo,
    /// The `fromId` the fetch started at (every trade id is at least this).
    pub from_id: u64,
    /// The `fromId` the next fetch starts at (every trade id is below this).
    pub next_id: u64,
    /// Enclave time of the fetch, unix ms.
    pub checked_at_ms: u64,
    /// The trades, ids strictly ascending, 1..=[`MAX_SEGMENT_TRADES`].
    pub trades: Vec<Trade>,
}

/// The plaintext: a CBOR map of exactly these keys.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Plain {
    symbol: String,
    base: String,
    quote: String,
    from_id: u64,
    next_id: u64,
    checked_at: u64,
    trades: Vec<WireTrade>,
}

/// A trade as a CBOR array: `[id, order_id, price, qty, quote_qty,
/// commission, commission_asset, time, flags]`, decimals as the exchange's
/// plain decimal strings, `flags` = 1 (buyer) | 2 (maker).
#[derive(Serialize, Deserialize)]
struct WireTrade(u64, i64, String, String, String, String, String, i64, u8);

impl Segment {
    fn to_plain(&self) -> Plain {
        let trades = self
            .trades
            .iter()
            .map(|t| {
                let flags = u8::from(t.is_buyer) | (u8::from(t.is_maker) << 1);
                WireTrade(
                    t.id,
                    t.order_id,
                    t.price.to_string(),
                    t.qty.to_string(),
                    t.quote_qty.to_string(),
                    t.commission.to_string(),
                    t.commission_asset.clone(),
                    t.time,
                    flags,
                )
            })
            .collect();
        Plain {
            symbol: self.symbol.clone(),
            base: self.info.base.clone(),
            quote: self.info.quote.clone(),
            from_id: self.from_id,
            next_id: self.next_id,
            checked_at: self.checked_at_ms,
            trades,
        }
    }

    fn from_plain(p: Plain) -> Result<Self, SegmentError> {
        let names_ok = [&p.symbol, &p.base, &p.quote].iter().all(|n| valid_name(n));
        if !names_ok || p.from_id >= p.next_id || p.trades.len() > MAX_SEGMENT_TRADES {
            return Err(SegmentError);
        }
        let mut trades = Vec::with_capacity(p.trades.len());
        let mut floor = p.from_id;
        for w in p.trades {
            let t = trade(&p.symbol, w)?;
            if t.id < floor || t.id >= p.next_id {
                return Err(SegmentError);
            }
            floor = t.id.saturating_add(1);
            trades.push(t);
        }
        if trades.is_empty() {
            return Err(SegmentError);
        }
        Ok(Segment {
            symbol: p.symbol,
            info: SymbolInfo {
                base: p.base,
                quote: p.quote,
            },
            from_id: p.from_id,
            next_id: p.next_id,
            checked_at_ms: p.checked_at,
            trades,
        })
    }
}

fn trade(symbol: &str, w: WireTrade) -> Result<Trade, SegmentError> {
    let dec = |s: &str| match s.parse::<Dec>() {
        Ok(Dec(d)) if !d.is_sign_negative() => Ok(d),
        _ => Err(SegmentError),
    };
    if !valid_name(&w.6) || w.8 > 3 {
        return Err(SegmentError);
    }
    Ok(Trade {
        symbol: symbol.to_owned(),
        id: w.0,
        order_id: w.1,
        price: dec(&w.2)?,
        qty: dec(&w.3)?,
        quote_qty: dec(&w.4)?,
        commission: dec(&w.5)?,
        commission_asset: w.6,
        time: w.7,
        is_buyer: w.8 & 1 != 0,
        is_maker: w.8 & 2 != 0,
    })
}

/// The associated data: `label ‖ 0x00 ‖ format ‖ 0x00 ‖ account`.
pub fn aad(account: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HISTORY_LABEL.len() + 3 + account.len());
    aad.extend_from_slice(HISTORY_LABEL);
    aad.extend_from_slice(&[0, SEGMENT_FORMAT, 0]);
    aad.extend_from_slice(account.as_bytes());
    aad
}

/// Seals `segment` of `account` under `key` with `nonce` (fresh NSM
/// randomness; never reuse one). `None` if the encoding would pass
/// [`MAX_SEALED_SEGMENT_LEN`].
pub fn seal(
    key: &HistoryKey,
    account: &str,
    segment: &Segment,
    nonce: [u8; NONCE_LEN],
) -> Option<Vec<u8>> {
    let mut buf = serde_cbor::to_vec(&segment.to_plain()).ok()?;
    if 1 + NONCE_LEN + buf.len() + TAG_LEN > MAX_SEALED_SEGMENT_LEN {
        return None;
    }
    let cipher = Aes256Gcm::new_from_slice(&key.0[..]).ok()?;
    let tag = cipher
        .encrypt_inout_detached(&nonce.into(), &aad(account), buf.as_mut_slice().into())
        .ok()?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len() + TAG_LEN);
    out.push(SEGMENT_FORMAT);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    out.extend_from_slice(&tag);
    Some(out)
}

/// Opens `sealed` as a segment of `account`: the layout (bounded), the tag,
/// then the plaintext (strict CBOR, no trailing bytes, every rule of
/// [`Segment`]).
pub fn open(key: &HistoryKey, account: &str, sealed: &[u8]) -> Result<Segment, SegmentError> {
    let min = 1 + NONCE_LEN + TAG_LEN;
    if !(min..=MAX_SEALED_SEGMENT_LEN).contains(&sealed.len())
        || sealed[0] != SEGMENT_FORMAT
        || account.len() > MAX_ACCOUNT_LEN
    {
        return Err(SegmentError);
    }
    let (nonce, rest) = sealed[1..].split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SegmentError)?;
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| SegmentError)?;
    let cipher = Aes256Gcm::new_from_slice(&key.0[..]).map_err(|_| SegmentError)?;
    let mut buf = Zeroizing::new(ct.to_vec());
    cipher
        .decrypt_inout_detached(
            &nonce.into(),
            &aad(account),
            buf.as_mut_slice().into(),
            &tag.into(),
        )
        .map_err(|_| SegmentError)?;
    let mut de = serde_cbor::Deserializer::from_slice(&buf);
    let plain = Plain::deserialize(&mut de).map_err(|_| SegmentError)?;
    de.end().map_err(|_| SegmentError)?;
    Segment::from_plain(plain)
}

/// The segments that opened, by account pseudonym and symbol.
#[derive(Debug, Default)]
pub struct Stored {
    by_account: BTreeMap<String, BTreeMap<String, Vec<Segment>>>,
}

/// The trades a chain of stored segments holds for one symbol, from id 0.
#[derive(Debug, Default)]
pub struct Chain {
    /// The chained segments' trades, ids ascending.
    pub trades: Vec<Trade>,
    /// Where fetching resumes: the last chained segment's `next_id` (0 when
    /// no segment starts at 0).
    pub cursor: u64,
}

impl Stored {
    /// Nothing stored.
    pub const fn new() -> Self {
        Stored {
            by_account: BTreeMap::new(),
        }
    }

    /// Opens every segment of `items` (at most [`MAX_SEGMENTS_PER_REQUEST`])
    /// under `key`, each for the account it is filed under; returns them and
    /// how many were refused (tag, format, plaintext, or over the count).
    pub fn open_all(key: &HistoryKey, items: &[SealedHistory]) -> (Stored, usize) {
        let mut stored = Stored::default();
        let mut refused = items.len().saturating_sub(MAX_SEGMENTS_PER_REQUEST);
        for item in items.iter().take(MAX_SEGMENTS_PER_REQUEST) {
            match open(key, &item.account, &item.sealed) {
                Ok(s) => stored.insert(&item.account, s),
                Err(SegmentError) => refused += 1,
            }
        }
        (stored, refused)
    }

    /// Adds an opened segment of `account`.
    pub fn insert(&mut self, account: &str, segment: Segment) {
        self.by_account
            .entry(account.to_owned())
            .or_default()
            .entry(segment.symbol.clone())
            .or_default()
            .push(segment);
    }

    /// Segments held for accounts other than `account` (for the log).
    pub fn others(&self, account: &str) -> usize {
        self.by_account
            .iter()
            .filter(|(a, _)| a.as_str() != account)
            .map(|(_, s)| s.values().map(Vec::len).sum::<usize>())
            .sum()
    }

    /// Chains `account`'s segments of `symbol` from id 0: at each step the
    /// segment starting at the cursor that reaches furthest; a gap ends
    /// the chain (what lies beyond it is fetched again).
    pub fn chain(&self, account: &str, symbol: &str) -> Chain {
        let mut out = Chain::default();
        let Some(segments) = self.by_account.get(account).and_then(|s| s.get(symbol)) else {
            return out;
        };
        let mut best: BTreeMap<u64, &Segment> = BTreeMap::new();
        for s in segments {
            let e = best.entry(s.from_id).or_insert(s);
            if s.next_id > e.next_id {
                *e = s;
            }
        }
        // Each step moves the cursor strictly forward (from_id < next_id).
        while let Some(s) = best.get(&out.cursor) {
            out.trades.extend(s.trades.iter().cloned());
            out.cursor = s.next_id;
        }
        out
    }
}

/// New trades of `symbol` fetched from `from_id` up to `next_id`, cut into
/// segments of at most [`MAX_SEGMENT_TRADES`] (none when no trade came).
pub fn segments_of(
    symbol: &str,
    info: &SymbolInfo,
    (from_id, next_id): (u64, u64),
    trades: &[Trade],
    checked_at_ms: u64,
) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut start = from_id;
    let chunks = trades.chunks(MAX_SEGMENT_TRADES);
    let n = chunks.len();
    for (i, chunk) in chunks.enumerate() {
        let last = chunk.last().map_or(start, |t| t.id.saturating_add(1));
        let end = if i + 1 == n { next_id.max(last) } else { last };
        out.push(Segment {
            symbol: symbol.to_owned(),
            info: info.clone(),
            from_id: start,
            next_id: end,
            checked_at_ms,
            trades: chunk.to_vec(),
        });
        start = end;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "history_tests.rs"]
mod tests;
