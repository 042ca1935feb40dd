//! The keys' rows as typed values: the sealed ring versions, the ring in use
//! and the instance registry (migration V4). The statements are in
//! [`crate::store::keys`]; this module decodes and checks what they return.

use std::time::Duration;

use strongroom_protocol::codec;
use strongroom_protocol::messages::SealedKeyRing;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::error::KeysError;
use crate::store::keys as rows;

/// Largest stored sealed ring (the column's CHECK says the same).
pub const MAX_SEALED_RING_LEN: usize = 1024 * 1024;

/// `key_ring_state`: the ring in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingState {
    /// 16 bytes.
    pub ring_id: Vec<u8>,
    /// Current version.
    pub ring_version: u64,
}

/// What an instance reports in its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceReport {
    /// `booting`, `ready` or `unavailable`.
    pub phase: &'static str,
    /// Ring held, if any.
    pub ring_id: Option<Vec<u8>>,
    /// Its version.
    pub ring_version: Option<u64>,
    /// Key id quotes advertise.
    pub current_key_id: Option<String>,
}

/// A live peer that can hand out the ring.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Instance id.
    pub id: Uuid,
    /// Its key-sync listener.
    pub peer_url: String,
}

fn version_i64(v: u64) -> Result<i64, KeysError> {
    i64::try_from(v).map_err(|_| KeysError::BadRing("ring version out of range"))
}

fn version_u64(v: i64) -> Result<u64, KeysError> {
    u64::try_from(v).map_err(|_| KeysError::BadRing("ring version out of range"))
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Decodes a stored ring (exactly one CBOR item, bounded).
pub fn decode_ring(bytes: &[u8]) -> Result<SealedKeyRing, KeysError> {
    if bytes.len() > MAX_SEALED_RING_LEN {
        return Err(KeysError::BadRing("stored ring too large"));
    }
    codec::decode(bytes).map_err(|_| KeysError::BadRing("stored ring does not decode"))
}

/// The ring in use, if any.
pub async fn state<C: GenericClient + Sync>(c: &C) -> Result<Option<RingState>, KeysError> {
    rows::state(c)
        .await?
        .map(|(ring_id, version)| {
            Ok(RingState {
                ring_id,
                ring_version: version_u64(version)?,
            })
        })
        .transpose()
}

/// One stored version of a ring.
pub async fn ring<C: GenericClient + Sync>(
    c: &C,
    ring_id: &[u8],
    version: u64,
) -> Result<Option<SealedKeyRing>, KeysError> {
    let Some(bytes) = rows::ring(c, ring_id, version_i64(version)?).await? else {
        return Ok(None);
    };
    let sealed = decode_ring(&bytes)?;
    if sealed.ring_id != ring_id || sealed.ring_version != version {
        return Err(KeysError::BadRing("stored ring does not match its row"));
    }
    Ok(Some(sealed))
}

/// The ring in use with its sealed bytes.
pub async fn current<C: GenericClient + Sync>(
    c: &C,
) -> Result<Option<(RingState, SealedKeyRing)>, KeysError> {
    let Some(st) = state(c).await? else {
        return Ok(None);
    };
    let sealed = ring(c, &st.ring_id, st.ring_version)
        .await?
        .ok_or(KeysError::BadRing("key_ring_state names a missing ring"))?;
    Ok(Some((st, sealed)))
}

/// Stores one ring version (idempotent: the same version twice is kept once).
pub async fn insert_ring<C: GenericClient + Sync>(
    c: &C,
    sealed: &SealedKeyRing,
) -> Result<(), KeysError> {
    if sealed.ring_id.len() != 16 || sealed.ring_version == 0 {
        return Err(KeysError::BadRing(
            "enclave answered a ring without id or version",
        ));
    }
    let bytes = codec::encode(sealed).map_err(|_| KeysError::BadRing("ring does not encode"))?;
    let row = rows::RingRow {
        ring_id: &sealed.ring_id,
        ring_version: version_i64(sealed.ring_version)?,
        sealed: &bytes,
        current_key_id: &sealed.current_key_id,
        key_ids: &sealed.key_ids,
        kms: sealed.kms_blob.is_some(),
    };
    rows::insert_ring(c, &row).await?;
    Ok(())
}

/// Makes `sealed` (already stored) the ring in use: creates the state when
/// there is none, else moves it forward only (same ring, higher version).
/// Returns whether the state now names `sealed`.
pub async fn advance_state<C: GenericClient + Sync>(
    c: &C,
    sealed: &SealedKeyRing,
) -> Result<bool, KeysError> {
    rows::advance_state(c, &sealed.ring_id, version_i64(sealed.ring_version)?).await?;
    Ok(state(c)
        .await?
        .is_some_and(|s| s.ring_id == sealed.ring_id && s.ring_version == sealed.ring_version))
}

/// Upserts this instance's row.
pub async fn heartbeat<C: GenericClient + Sync>(
    c: &C,
    id: Uuid,
    peer_url: Option<&str>,
    r: &InstanceReport,
) -> Result<(), KeysError> {
    let row = rows::InstanceRow {
        id,
        peer_url,
        phase: r.phase,
        ring_id: r.ring_id.as_deref(),
        ring_version: r.ring_version.map(version_i64).transpose()?,
        current_key_id: r.current_key_id.as_deref(),
    };
    rows::heartbeat(c, &row).await?;
    Ok(())
}

/// Removes this instance's row (graceful shutdown).
pub async fn deregister<C: GenericClient + Sync>(c: &C, id: Uuid) -> Result<(), KeysError> {
    rows::deregister(c, id).await?;
    Ok(())
}

/// Live, ready peers holding `ring_id` with a listener, newest ring version first.
pub async fn live_peers<C: GenericClient + Sync>(
    c: &C,
    me: Uuid,
    ring_id: &[u8],
    live: Duration,
) -> Result<Vec<Peer>, KeysError> {
    Ok(rows::live_peers(c, me, ring_id, millis(live))
        .await?
        .into_iter()
        .map(|(id, peer_url)| Peer { id, peer_url })
        .collect())
}

/// Live instances holding `ring_id` at a version below `version` (they have not
/// reloaded yet).
pub async fn lagging_instances<C: GenericClient + Sync>(
    c: &C,
    ring_id: &[u8],
    version: u64,
    live: Duration,
) -> Result<i64, KeysError> {
    Ok(rows::lagging_instances(c, ring_id, version_i64(version)?, millis(live)).await?)
}
