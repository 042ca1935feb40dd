//! `key_rotations` and the re-sealing of stored credentials (migration V4).

use tokio_postgres::GenericClient;
use uuid::Uuid;

/// A rotation row.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// Id.
    pub id: i64,
    /// State.
    pub state: String,
    /// Ring rotated.
    pub ring_id: Option<Vec<u8>>,
    /// Key added.
    pub new_key_id: Option<String>,
    /// Keys to retire.
    pub old_key_ids: Vec<String>,
}

/// The active rotation, row-locked (call with the rotation lock held).
pub async fn lock_active<C: GenericClient + Sync>(
    tx: &C,
) -> Result<Option<Rotation>, tokio_postgres::Error> {
    let r = tx
        .query_opt(
            "SELECT id, state, ring_id, new_key_id, old_key_ids FROM key_rotations \
             WHERE state NOT IN ('done', 'failed') ORDER BY id LIMIT 1 FOR UPDATE",
            &[],
        )
        .await?;
    Ok(r.map(|r| Rotation {
        id: r.get(0),
        state: r.get(1),
        ring_id: r.get(2),
        new_key_id: r.get(3),
        old_key_ids: r.get::<_, Option<Vec<String>>>(4).unwrap_or_default(),
    }))
}

/// Moves rotation `id` to `state` (`done` and `failed` also stamp the finish).
pub async fn set_state<C: GenericClient + Sync>(
    tx: &C,
    id: i64,
    state: &str,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "UPDATE key_rotations SET state = $2, updated_at = now(), \
         finished_at = CASE WHEN $2 IN ('done', 'failed') THEN now() END WHERE id = $1",
        &[&id, &state],
    )
    .await
    .map(|_| ())
}

/// Fails rotation `id` with the reason `why`.
pub async fn fail<C: GenericClient + Sync>(
    tx: &C,
    id: i64,
    why: &str,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "UPDATE key_rotations SET state = 'failed', error = $2, updated_at = now(), \
         finished_at = now() WHERE id = $1",
        &[&id, &why],
    )
    .await
    .map(|_| ())
}

/// Fails every unfinished rotation (`keys reset`).
pub async fn fail_unfinished<C: GenericClient + Sync>(
    tx: &C,
    why: &str,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "UPDATE key_rotations SET state = 'failed', error = $1, \
         finished_at = now(), updated_at = now() WHERE state NOT IN ('done', 'failed')",
        &[&why],
    )
    .await
    .map(|_| ())
}

/// Records the key version a rotation added.
pub async fn set_added<C: GenericClient + Sync>(
    tx: &C,
    id: i64,
    ring_id: &[u8],
    new_key_id: &str,
    old_key_ids: &[String],
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "UPDATE key_rotations SET state = 'added', ring_id = $2, new_key_id = $3, \
         old_key_ids = $4, updated_at = now() WHERE id = $1",
        &[&id, &ring_id, &new_key_id, &old_key_ids],
    )
    .await
    .map(|_| ())
}

/// Adds to a rotation's counters.
pub async fn add_progress<C: GenericClient + Sync>(
    tx: &C,
    id: i64,
    resealed: i64,
    unusable: i64,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "UPDATE key_rotations SET resealed = resealed + $2, unusable = unusable + $3, \
         updated_at = now() WHERE id = $1",
        &[&id, &resealed, &unusable],
    )
    .await
    .map(|_| ())
}

/// A credential to re-seal: `(session, key_id, sealed, exchange, label)`.
pub type ResealRow = (Uuid, String, Vec<u8>, String, String);

/// Up to `limit` credentials under a key not in `keep`.
pub async fn reseal_batch<C: GenericClient + Sync>(
    tx: &C,
    keep: &[String],
    limit: i32,
) -> Result<Vec<ResealRow>, tokio_postgres::Error> {
    let rows = tx
        .query(
            "SELECT session_id, key_id, sealed, exchange, label \
             FROM strongroom_reseal_batch($1, $2)",
            &[&keep, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect())
}

/// Replaces a credential still under `old_key_id` by its re-sealing; whether it did.
pub async fn reseal_store<C: GenericClient + Sync>(
    tx: &C,
    session: Uuid,
    old_key_id: &str,
    new_key_id: &str,
    sealed: &[u8],
) -> Result<bool, tokio_postgres::Error> {
    Ok(tx
        .query_one(
            "SELECT strongroom_reseal_store($1, $2, $3, $4)",
            &[&session, &old_key_id, &new_key_id, &sealed],
        )
        .await?
        .get(0))
}

/// Credentials under a key not in `keep`.
pub async fn count_not_under<C: GenericClient + Sync>(
    tx: &C,
    keep: &[String],
) -> Result<i64, tokio_postgres::Error> {
    Ok(tx
        .query_one("SELECT strongroom_count_not_under($1)", &[&keep])
        .await?
        .get(0))
}

/// A rotation's progress: `(state, new_key_id, resealed, unusable, error)`.
pub type RotationStatus = (String, Option<String>, i64, i64, Option<String>);

/// The newest rotation: its id and progress.
pub async fn latest<C: GenericClient + Sync>(
    c: &C,
) -> Result<Option<(i64, RotationStatus)>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            "SELECT id, state, new_key_id, resealed, unusable, error FROM key_rotations \
             ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await?;
    Ok(r.map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))))
}

/// Requests a rotation; its id, or None when one is already in progress.
pub async fn request<C: GenericClient + Sync>(c: &C) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = c
        .query_opt(
            "INSERT INTO key_rotations (state) VALUES ('requested') \
             ON CONFLICT ((true)) WHERE state NOT IN ('done', 'failed') DO NOTHING RETURNING id",
            &[],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// The id of the rotation in progress.
pub async fn active_id<C: GenericClient + Sync>(c: &C) -> Result<i64, tokio_postgres::Error> {
    Ok(c.query_one(
        "SELECT id FROM key_rotations WHERE state NOT IN ('done', 'failed')",
        &[],
    )
    .await?
    .get(0))
}

/// Progress of rotation `id`.
pub async fn status<C: GenericClient + Sync>(
    c: &C,
    id: i64,
) -> Result<RotationStatus, tokio_postgres::Error> {
    let r = c
        .query_one(
            "SELECT state, new_key_id, resealed, unusable, error FROM key_rotations WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok((r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
}
