//! `strongroom-host keys status | rotate [--no-wait] | reset --confirm`, run
//! with the owner connection (`DATABASE_URL`).

use std::time::Duration;

use tokio_postgres::Client;

use super::error::KeysError;
use super::store;
use crate::store::rotations;

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
    let instances = crate::store::keys::instances(c).await?;
    println!("instances: {}", instances.len());
    for (id, phase, ring, version, key, peer, age) in instances {
        println!(
            "  {} {} {} ring {} version {} key {} peer {} seen {:.0}s ago",
            id,
            phase,
            if age <= LIVE_SECONDS { "live" } else { "stale" },
            ring.map_or("-".into(), hex::encode),
            version.map_or("-".into(), |v| v.to_string()),
            key.unwrap_or_else(|| "-".into()),
            peer.unwrap_or_else(|| "-".into()),
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
    let r = rotations::latest(c).await?;
    Ok(r.map(|(id, (state, new_key, resealed, unusable, error))| {
        let mut line = format!(
            "#{id} {state} new key {} resealed {resealed} unusable {unusable}",
            new_key.unwrap_or_else(|| "-".into()),
        );
        if let Some(e) = error {
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
    let Some(id) = rotations::request(c).await? else {
        let active = rotations::active_id(c).await?;
        return Err(CliError::Refused(format!(
            "rotation #{active} is already in progress (see `keys status`)"
        )));
    };
    println!("rotation #{id} requested");
    if !wait {
        return Ok(());
    }
    let mut last = String::new();
    loop {
        let (state, new_key, resealed, unusable, error) = rotations::status(c, id).await?;
        let line = format!(
            "rotation #{id} {state} new key {} resealed {resealed} unusable {unusable}",
            new_key.unwrap_or_else(|| "-".into()),
        );
        if line != last {
            println!("{line}");
            last = line;
        }
        match state.as_str() {
            "done" => return Ok(()),
            "failed" => {
                return Err(CliError::Refused(format!(
                    "rotation #{id} failed: {}",
                    error.unwrap_or_default()
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
    let holders = crate::store::keys::live_holders(&tx, &st.ring_id, LIVE_SECONDS).await?;
    if holders > 0 {
        return Err(CliError::Refused(format!(
            "{holders} live instance(s) still hold this ring: it is not lost (stop them first)"
        )));
    }
    crate::store::keys::clear_state(&tx).await?;
    rotations::fail_unfinished(&tx, "key ring reset").await?;
    // The log of a lost ring is closed: no enclave can sign an extension of it again.
    let closed = crate::store::log::close(&tx).await?;
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
