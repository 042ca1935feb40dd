//! `strongroom-host keys status | rotate [--no-wait] | reset --confirm`, run
//! with the owner connection (`DATABASE_URL`).

use std::time::Duration;

use tokio_postgres::Client;

use super::KeysError;
use super::store;

/// How often `keys rotate` polls the rotation's progress.
const POLL: Duration = Duration::from_secs(1);
/// Instances seen within this are shown as live (the serve default of `PEER_LIVE_MS`).
const LIVE_SECONDS: f64 = 15.0;

/// Why a keys command did not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Database or ring failure.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// Refused, with the reason.
    #[error("{0}")]
    Refused(String),
}

impl From<tokio_postgres::Error> for CliError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Keys(e.into())
    }
}

/// Prints the ring in use, the instances and the latest rotation.
pub async fn status(c: &Client) -> Result<(), CliError> {
    match store::current(c).await? {
        None => println!("ring: none (the first instance to boot creates it)"),
        Some((st, sealed)) => {
            println!(
                "ring: {} version {} kms {}",
                hex::encode(&st.ring_id),
                st.ring_version,
                if sealed.kms_blob.is_some() {
                    "yes"
                } else {
                    "no"
                }
            );
            println!(
                "keys: {} (current {})",
                sealed.key_ids.join(", "),
                sealed.current_key_id
            );
        }
    }
    let rows = c
        .query(
            "SELECT id::text, phase, ring_id, ring_version, current_key_id, peer_url, \
                    EXTRACT(EPOCH FROM now() - last_seen)::float8 \
             FROM instances ORDER BY started_at",
            &[],
        )
        .await?;
    println!("instances: {}", rows.len());
    for r in &rows {
        let age: f64 = r.get(6);
        let ring: Option<Vec<u8>> = r.get(2);
        let version: Option<i64> = r.get(3);
        println!(
            "  {} {} {} ring {} version {} key {} peer {} seen {:.0}s ago",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            if age <= LIVE_SECONDS { "live" } else { "stale" },
            ring.map_or("-".into(), hex::encode),
            version.map_or("-".into(), |v| v.to_string()),
            r.get::<_, Option<String>>(4).unwrap_or_else(|| "-".into()),
            r.get::<_, Option<String>>(5).unwrap_or_else(|| "-".into()),
            age,
        );
    }
    match latest_rotation(c).await? {
        None => println!("rotation: none"),
        Some(line) => println!("rotation: {line}"),
    }
    Ok(())
}

async fn latest_rotation(c: &Client) -> Result<Option<String>, CliError> {
    let r = c
        .query_opt(
            "SELECT id, state, new_key_id, resealed, unusable, error FROM key_rotations \
             ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await?;
    Ok(r.map(|r| {
        let mut line = format!(
            "#{} {} new key {} resealed {} unusable {}",
            r.get::<_, i64>(0),
            r.get::<_, String>(1),
            r.get::<_, Option<String>>(2).unwrap_or_else(|| "-".into()),
            r.get::<_, i64>(3),
            r.get::<_, i64>(4),
        );
        if let Some(e) = r.get::<_, Option<String>>(5) {
            line.push_str(&format!(" error: {e}"));
        }
        line
    }))
}

/// Requests a rotation; with `wait`, prints progress until it is done or failed.
pub async fn rotate(c: &Client, wait: bool) -> Result<(), CliError> {
    if store::state(c).await?.is_none() {
        return Err(CliError::Refused(
            "no key ring yet: start an instance first".into(),
        ));
    }
    let row = c
        .query_opt(
            "INSERT INTO key_rotations (state) VALUES ('requested') \
             ON CONFLICT ((true)) WHERE state NOT IN ('done', 'failed') DO NOTHING RETURNING id",
            &[],
        )
        .await?;
    let Some(row) = row else {
        let active: i64 = c
            .query_one(
                "SELECT id FROM key_rotations WHERE state NOT IN ('done', 'failed')",
                &[],
            )
            .await?
            .get(0);
        return Err(CliError::Refused(format!(
            "rotation #{active} is already in progress (see `keys status`)"
        )));
    };
    let id: i64 = row.get(0);
    println!("rotation #{id} requested");
    if !wait {
        return Ok(());
    }
    let mut last = String::new();
    loop {
        let r = c
            .query_one(
                "SELECT state, new_key_id, resealed, unusable, error FROM key_rotations WHERE id = $1",
                &[&id],
            )
            .await?;
        let state: String = r.get(0);
        let line = format!(
            "rotation #{id} {state} new key {} resealed {} unusable {}",
            r.get::<_, Option<String>>(1).unwrap_or_else(|| "-".into()),
            r.get::<_, i64>(2),
            r.get::<_, i64>(3),
        );
        if line != last {
            println!("{line}");
            last = line;
        }
        match state.as_str() {
            "done" => return Ok(()),
            "failed" => {
                let e: Option<String> = r.get(4);
                return Err(CliError::Refused(format!(
                    "rotation #{id} failed: {}",
                    e.unwrap_or_default()
                )));
            }
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

/// Abandons the ring in use so the next boot makes a new one. Refused while a
/// live instance still holds it (then the ring is not lost), and without `confirm`.
pub async fn reset(c: &mut Client, confirm: bool) -> Result<(), CliError> {
    if !confirm {
        return Err(CliError::Refused(
            "keys reset abandons the key ring: every stored credential becomes unusable \
             (409 key_version_gone). Run again with --confirm"
                .into(),
        ));
    }
    let tx = c.transaction().await?;
    let Some(st) = store::state(&tx).await? else {
        return Err(CliError::Refused("no key ring to reset".into()));
    };
    let holders: i64 = tx
        .query_one(
            "SELECT count(*) FROM instances WHERE ring_id = $1 AND phase = 'ready' \
               AND last_seen > now() - make_interval(secs => $2)",
            &[&st.ring_id, &LIVE_SECONDS],
        )
        .await?
        .get(0);
    if holders > 0 {
        return Err(CliError::Refused(format!(
            "{holders} live instance(s) still hold this ring: it is not lost (stop them first)"
        )));
    }
    tx.execute("DELETE FROM key_ring_state", &[]).await?;
    tx.execute(
        "UPDATE key_rotations SET state = 'failed', error = 'key ring reset', \
         finished_at = now(), updated_at = now() WHERE state NOT IN ('done', 'failed')",
        &[],
    )
    .await?;
    let closed = close_log(&tx).await?;
    tx.commit().await?;
    println!(
        "key ring {} abandoned: the next enclave to boot creates a new ring",
        hex::encode(&st.ring_id)
    );
    if let Some((epoch, size)) = closed {
        println!(
            "transparency log epoch {epoch} closed at {size} leaves (archived; its published \
             proofs stay verifiable offline); epoch {} starts empty under the new ring",
            epoch + 1
        );
    }
    Ok(())
}

/// Closes the transparency log of a lost ring (no enclave can sign an
/// extension of it again): its leaves and heads move to the archive tables
/// under its epoch and the live log starts empty at the next epoch (V5
/// migration). `None` when the log was empty (nothing to close).
async fn close_log(tx: &tokio_postgres::Transaction<'_>) -> Result<Option<(i32, i64)>, CliError> {
    let row = tx
        .query_one(
            "SELECT log_epoch, tree_size FROM transparency_state WHERE id FOR UPDATE",
            &[],
        )
        .await?;
    let (epoch, size): (i32, i64) = (row.get(0), row.get(1));
    if size == 0 {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO transparency_log_archive (log_epoch, leaf_index, leaf_hash, aggregate_id, created_at) \
         SELECT $1, leaf_index, leaf_hash, aggregate_id, created_at FROM transparency_log",
        &[&epoch],
    )
    .await?;
    tx.execute(
        "INSERT INTO tree_heads_archive (log_epoch, tree_size, root_hash, cose, created_at) \
         SELECT $1, tree_size, root_hash, cose, created_at FROM tree_heads",
        &[&epoch],
    )
    .await?;
    tx.execute("DELETE FROM transparency_log", &[]).await?;
    tx.execute("DELETE FROM tree_heads", &[]).await?;
    tx.execute(
        "UPDATE transparency_state SET tree_size = 0, frontier = '\\x', head = NULL, \
         log_epoch = log_epoch + 1 WHERE id",
        &[],
    )
    .await?;
    Ok(Some((epoch, size)))
}
