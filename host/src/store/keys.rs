//! The key ring's tables (migration V4): `key_rings` (sealed versions),
//! `key_ring_state` (the ring in use) and `instances` (the registry). Rows
//! only: decoding and checking rings is `keys::store`'s.

use tokio_postgres::GenericClient;
use uuid::Uuid;

/// `(ring_id, ring_version)` of the ring in use, if any.
pub async fn state<C: GenericClient + Sync>(
    c: &C,
) -> Result<Option<(Vec<u8>, i64)>, tokio_postgres::Error> {
    let row = c
        .query_opt("SELECT ring_id, ring_version FROM key_ring_state", &[])
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The sealed bytes of one stored ring version.
pub async fn ring<C: GenericClient + Sync>(
    c: &C,
    ring_id: &[u8],
    version: i64,
) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    let row = c
        .query_opt(
            "SELECT sealed FROM key_rings WHERE ring_id = $1 AND ring_version = $2",
            &[&ring_id, &version],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// One ring version as stored.
#[derive(Debug)]
pub struct RingRow<'a> {
    /// 16 bytes.
    pub ring_id: &'a [u8],
    /// Version.
    pub ring_version: i64,
    /// The encoded sealed ring.
    pub sealed: &'a [u8],
    /// Key id new submissions use.
    pub current_key_id: &'a str,
    /// Every key id in the ring.
    pub key_ids: &'a [String],
    /// Whether a KMS-wrapped data key seals it.
    pub kms: bool,
}

/// Stores one ring version (idempotent: the same version twice is kept once).
pub async fn insert_ring<C: GenericClient + Sync>(
    c: &C,
    r: &RingRow<'_>,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "INSERT INTO key_rings (ring_id, ring_version, sealed, current_key_id, key_ids, kms) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ring_id, ring_version) DO NOTHING",
        &[
            &r.ring_id,
            &r.ring_version,
            &r.sealed,
            &r.current_key_id,
            &r.key_ids,
            &r.kms,
        ],
    )
    .await
    .map(|_| ())
}

/// Creates the state when there is none, else moves it forward only (same
/// ring, higher version).
pub async fn advance_state<C: GenericClient + Sync>(
    c: &C,
    ring_id: &[u8],
    version: i64,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "INSERT INTO key_ring_state (id, ring_id, ring_version) VALUES (true, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET ring_version = EXCLUDED.ring_version, updated_at = now() \
         WHERE key_ring_state.ring_id = EXCLUDED.ring_id \
           AND key_ring_state.ring_version < EXCLUDED.ring_version",
        &[&ring_id, &version],
    )
    .await
    .map(|_| ())
}

/// Forgets the ring in use (`keys reset`).
pub async fn clear_state<C: GenericClient + Sync>(c: &C) -> Result<(), tokio_postgres::Error> {
    c.execute("DELETE FROM key_ring_state", &[])
        .await
        .map(|_| ())
}

/// An instance's heartbeat as stored.
#[derive(Debug)]
pub struct InstanceRow<'a> {
    /// Instance id.
    pub id: Uuid,
    /// Its key-sync listener.
    pub peer_url: Option<&'a str>,
    /// `booting`, `ready` or `unavailable`.
    pub phase: &'a str,
    /// Ring held.
    pub ring_id: Option<&'a [u8]>,
    /// Its version.
    pub ring_version: Option<i64>,
    /// Key id quotes advertise.
    pub current_key_id: Option<&'a str>,
}

/// Upserts an instance's row.
pub async fn heartbeat<C: GenericClient + Sync>(
    c: &C,
    r: &InstanceRow<'_>,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "INSERT INTO instances (id, peer_url, phase, ring_id, ring_version, current_key_id, last_seen) \
         VALUES ($1, $2, $3, $4, $5, $6, now()) \
         ON CONFLICT (id) DO UPDATE SET peer_url = EXCLUDED.peer_url, phase = EXCLUDED.phase, \
           ring_id = EXCLUDED.ring_id, ring_version = EXCLUDED.ring_version, \
           current_key_id = EXCLUDED.current_key_id, last_seen = now()",
        &[
            &r.id,
            &r.peer_url,
            &r.phase,
            &r.ring_id,
            &r.ring_version,
            &r.current_key_id,
        ],
    )
    .await
    .map(|_| ())
}

/// Removes an instance's row.
pub async fn deregister<C: GenericClient + Sync>(
    c: &C,
    id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    c.execute("DELETE FROM instances WHERE id = $1", &[&id])
        .await
        .map(|_| ())
}

/// `(id, peer_url)` of live, ready peers holding `ring_id` with a listener,
/// newest ring version first (at most 16).
pub async fn live_peers<C: GenericClient + Sync>(
    c: &C,
    me: Uuid,
    ring_id: &[u8],
    live_millis: f64,
) -> Result<Vec<(Uuid, String)>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT id, peer_url FROM instances \
             WHERE id <> $1 AND phase = 'ready' AND ring_id = $2 AND peer_url IS NOT NULL \
               AND last_seen > now() - make_interval(secs => $3::float8 / 1000) \
             ORDER BY ring_version DESC NULLS LAST, last_seen DESC LIMIT 16",
            &[&me, &ring_id, &live_millis],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Live instances holding `ring_id` below `version` (not reloaded yet).
pub async fn lagging_instances<C: GenericClient + Sync>(
    c: &C,
    ring_id: &[u8],
    version: i64,
    live_millis: f64,
) -> Result<i64, tokio_postgres::Error> {
    let row = c
        .query_one(
            "SELECT count(*) FROM instances \
             WHERE ring_id = $1 AND (ring_version IS NULL OR ring_version < $2) \
               AND last_seen > now() - make_interval(secs => $3::float8 / 1000)",
            &[&ring_id, &version, &live_millis],
        )
        .await?;
    Ok(row.get(0))
}

/// Ready instances holding `ring_id` seen within `live_secs`.
pub async fn live_holders<C: GenericClient + Sync>(
    c: &C,
    ring_id: &[u8],
    live_secs: f64,
) -> Result<i64, tokio_postgres::Error> {
    Ok(c.query_one(
        "SELECT count(*) FROM instances WHERE ring_id = $1 AND phase = 'ready' \
           AND last_seen > now() - make_interval(secs => $2)",
        &[&ring_id, &live_secs],
    )
    .await?
    .get(0))
}

/// One line of `keys status` per instance: `(id, phase, ring_id, ring_version,
/// current_key_id, peer_url, seconds since last seen)`.
pub type InstanceStatus = (
    String,
    String,
    Option<Vec<u8>>,
    Option<i64>,
    Option<String>,
    Option<String>,
    f64,
);

/// Every instance, oldest first.
pub async fn instances<C: GenericClient + Sync>(
    c: &C,
) -> Result<Vec<InstanceStatus>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT id::text, phase, ring_id, ring_version, current_key_id, peer_url, \
                    EXTRACT(EPOCH FROM now() - last_seen)::float8 \
             FROM instances ORDER BY started_at",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect())
}

/// The lowest stored version of `ring_id` whose current key is `key_id`.
pub async fn first_version_with<C: GenericClient + Sync>(
    c: &C,
    ring_id: &[u8],
    key_id: &str,
) -> Result<Option<i64>, tokio_postgres::Error> {
    Ok(c.query_one(
        "SELECT min(ring_version) FROM key_rings WHERE ring_id = $1 AND current_key_id = $2",
        &[&ring_id, &key_id],
    )
    .await?
    .get(0))
}
