//! Rotation, driven one step at a time by whichever host holds the rotation
//! advisory lock; every step is recorded before the next begins, so any host
//! resumes after a crash at any state:
//!
//! `requested` -> `AddKeyVersion`, new ring version stored and made current
//! -> `added` -> every live instance reports the new version (they reload)
//! -> `resealing`: batches of [`RESEAL_BATCH`] credentials not under the new
//! key go through `ResealCredentials` and back through
//! `strongroom_reseal_store`, until `strongroom_count_not_under` finds none
//! left twice [`QUIET`] apart -> `retiring`: `RetireKeyVersions(old)`, stored
//! -> `done`.
//!
//! Credentials the enclave cannot re-seal (sealed to a key the ring no longer
//! holds, or refused at re-opening) are counted in `unusable` and left as they
//! are; retirement proceeds, and their sessions answer 409 `key_version_gone`
//! (the client submits the credential again).

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use deadpool_postgres::Transaction;
use strongroom_protocol::ErrorCode;
use strongroom_protocol::messages::{
    CredentialMetadata, KeyRingInfo, ResealItem, ResealRequest, SealedCredential, SealedKeyRing,
};
use uuid::Uuid;

use crate::keys::{Keys, KeysError, ROTATION_LOCK, store};
use crate::store::rotations as rows;

/// Credentials per `ResealCredentials` call.
pub const RESEAL_BATCH: usize = 64;
/// Nothing left under an old key at two checks this far apart -> retire.
pub const QUIET: Duration = Duration::from_secs(2);
/// Re-seal batches per keys-task tick (each its own transaction).
const BATCHES_PER_TICK: usize = 16;

pub use crate::store::rotations::Rotation;

/// What the driving host remembers between ticks of one rotation.
#[derive(Debug, Default)]
pub struct Progress {
    id: i64,
    /// Key ids the enclave does not hold (every credential under them is unusable).
    skip_keys: BTreeSet<String>,
    /// Single credentials the enclave refused to re-open.
    skip_sessions: HashSet<Uuid>,
    quiet_since: Option<Instant>,
}

async fn set_state(tx: &Transaction<'_>, id: i64, state: &str) -> Result<(), KeysError> {
    rows::set_state(&**tx, id, state).await?;
    Ok(())
}

async fn fail(tx: &Transaction<'_>, id: i64, why: &str) -> Result<(), KeysError> {
    let why: String = why.chars().take(500).collect();
    rows::fail(&**tx, id, &why).await?;
    tracing::error!(rotation = id, error = %why, "key rotation failed");
    Ok(())
}

impl Keys {
    /// Drives the active rotation by one step when this host gets the lock.
    /// `info` is the enclave's status this tick (ready, holding a ring).
    pub async fn rotation_step(
        &self,
        info: &KeyRingInfo,
        progress: &mut Progress,
    ) -> Result<(), KeysError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(rot) = lock_active(&tx).await? else {
            return Ok(());
        };
        if progress.id != rot.id {
            *progress = Progress {
                id: rot.id,
                ..Progress::default()
            };
        }
        let result = match rot.state.as_str() {
            "requested" => self.add(&tx, &rot, info).await,
            "added" => self.await_instances(&tx, &rot).await,
            "resealing" => {
                drop(tx);
                return self.reseal(info, &rot, progress).await;
            }
            "retiring" => self.retire(&tx, &rot, info).await,
            _ => Ok(()),
        };
        match result {
            Ok(()) => {}
            Err(e) if e.is_permanent() => fail(&tx, rot.id, &e.to_string()).await?,
            Err(e) => return Err(e),
        }
        tx.commit().await?;
        Ok(())
    }

    async fn add(
        &self,
        tx: &Transaction<'_>,
        rot: &Rotation,
        info: &KeyRingInfo,
    ) -> Result<(), KeysError> {
        let Some(st) = store::state(&**tx).await? else {
            return Err(KeysError::BadRing("no key ring in the database"));
        };
        let current = info.ring_id.as_deref() == Some(st.ring_id.as_slice())
            && info.ring_version.is_some_and(|v| v >= st.ring_version);
        if !current {
            // The reload step of this tick brings the enclave up to date first.
            return Ok(());
        }
        let sealed = self.enclave.add_key_version().await?;
        if let Err(e) = store_version(tx, &sealed).await {
            self.stash(sealed);
            return Err(e);
        }
        let old: Vec<String> = sealed
            .key_ids
            .iter()
            .filter(|k| **k != sealed.current_key_id)
            .cloned()
            .collect();
        rows::set_added(&**tx, rot.id, &sealed.ring_id, &sealed.current_key_id, &old).await?;
        tracing::info!(
            rotation = rot.id,
            new_key_id = %sealed.current_key_id,
            ring_version = sealed.ring_version,
            "key version added"
        );
        Ok(())
    }

    async fn await_instances(&self, tx: &Transaction<'_>, rot: &Rotation) -> Result<(), KeysError> {
        let (Some(ring_id), Some(new)) = (&rot.ring_id, &rot.new_key_id) else {
            return Err(KeysError::BadRing("rotation row lacks ring or key id"));
        };
        let version = crate::store::keys::first_version_with(&**tx, ring_id, new).await?;
        let version = version
            .and_then(|v| u64::try_from(v).ok())
            .ok_or(KeysError::BadRing("the added ring version is not stored"))?;
        let lagging = store::lagging_instances(&**tx, ring_id, version, self.peer_live).await?;
        if lagging == 0 {
            set_state(tx, rot.id, "resealing").await?;
            tracing::info!(
                rotation = rot.id,
                "every live instance holds the new key; re-sealing"
            );
        } else {
            tracing::debug!(
                rotation = rot.id,
                lagging,
                "waiting for instances to reload"
            );
        }
        Ok(())
    }

    async fn retire(
        &self,
        tx: &Transaction<'_>,
        rot: &Rotation,
        info: &KeyRingInfo,
    ) -> Result<(), KeysError> {
        // The enclave ignores ids it no longer holds, so after a crash between
        // its retirement and the commit the same call answers the ring to store.
        if info.current_key_id.as_deref() != rot.new_key_id.as_deref() {
            return Ok(()); // reload first (this tick's reload step)
        }
        let sealed = self
            .enclave
            .retire_key_versions(rot.old_key_ids.clone())
            .await?;
        if let Err(e) = store_version(tx, &sealed).await {
            self.stash(sealed);
            return Err(e);
        }
        set_state(tx, rot.id, "done").await?;
        tracing::info!(
            rotation = rot.id,
            retired = ?rot.old_key_ids,
            ring_version = sealed.ring_version,
            "key rotation done"
        );
        Ok(())
    }

    async fn reseal(
        &self,
        info: &KeyRingInfo,
        rot: &Rotation,
        progress: &mut Progress,
    ) -> Result<(), KeysError> {
        let Some(new) = rot.new_key_id.clone() else {
            return Err(KeysError::BadRing("rotation row lacks the new key id"));
        };
        if info.current_key_id.as_deref() != Some(new.as_str()) {
            return Ok(()); // reload first (this tick's reload step)
        }
        for _ in 0..BATCHES_PER_TICK {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let Some(rot) = lock_active(&tx).await? else {
                return Ok(());
            };
            if rot.state != "resealing" || rot.id != progress.id {
                return Ok(());
            }
            let more = match self.reseal_batch(&tx, &new, progress).await {
                Ok(more) => more,
                Err(e) if e.is_permanent() => {
                    fail(&tx, rot.id, &e.to_string()).await?;
                    false
                }
                Err(e) => return Err(e),
            };
            tx.commit().await?;
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// One batch; `false` when there was nothing to re-seal.
    async fn reseal_batch(
        &self,
        tx: &Transaction<'_>,
        new: &str,
        p: &mut Progress,
    ) -> Result<bool, KeysError> {
        let mut keep: Vec<String> = vec![new.to_owned()];
        keep.extend(p.skip_keys.iter().cloned());
        let ask = i32::try_from((RESEAL_BATCH + p.skip_sessions.len()).min(256)).unwrap_or(256);
        let batch = rows::reseal_batch(&**tx, &keep, ask).await?;
        let mut items: Vec<(Uuid, ResealItem)> = Vec::new();
        let mut outside_contract = 0i64;
        for (sid, key_id, stored, exchange, label) in batch {
            if items.len() == RESEAL_BATCH {
                break;
            }
            if p.skip_sessions.contains(&sid) {
                continue;
            }
            // A stored row outside the contract cannot be opened: it is
            // left as it is, like one the enclave refuses.
            let Ok(sealed) = SealedCredential::from_stored(&key_id, &stored) else {
                outside_contract += i64::from(p.skip_sessions.insert(sid));
                tracing::warn!(session = %sid, "stored credential outside the contract; left as it is");
                continue;
            };
            let metadata = CredentialMetadata {
                exchange,
                label,
                ttl_seconds: 1,
            };
            let session_id = sid.to_string();
            items.push((
                sid,
                ResealItem {
                    session_id,
                    sealed,
                    metadata,
                },
            ));
        }
        if items.is_empty() {
            self.check_quiet(tx, &keep, p).await?;
            return Ok(false);
        }
        p.quiet_since = None;
        let (sids, reqs): (Vec<Uuid>, Vec<ResealItem>) = items.into_iter().unzip();
        let olds: Vec<String> = reqs.iter().map(|i| i.sealed.key_id().to_owned()).collect();
        let answer = self.enclave.reseal(ResealRequest { items: reqs }).await?;
        let (mut resealed, mut unusable) = (0i64, outside_contract);
        for ((sid, old), out) in sids.iter().zip(&olds).zip(answer.items) {
            if out.session_id != sid.to_string() {
                return Err(KeysError::BadRing("re-seal answer out of order"));
            }
            match (out.sealed, out.error) {
                (Some(s), None) if s.key_id() == new => {
                    let stored =
                        rows::reseal_store(&**tx, *sid, old, s.key_id(), &s.to_stored()).await?;
                    resealed += i64::from(stored);
                }
                (_, Some(e)) if e.code == ErrorCode::UnknownKeyId => {
                    unusable += i64::from(p.skip_keys.insert(old.clone()));
                    tracing::warn!(key_id = %old, "credentials sealed to a key the ring lacks are left as they are");
                }
                (_, Some(e)) => {
                    unusable += i64::from(p.skip_sessions.insert(*sid));
                    tracing::warn!(session = %sid, code = %e.code, "credential could not be re-sealed; left as it is");
                }
                _ => return Err(KeysError::BadRing("re-seal answer under another key")),
            }
        }
        rows::add_progress(&**tx, p.id, resealed, unusable).await?;
        Ok(true)
    }

    async fn check_quiet(
        &self,
        tx: &Transaction<'_>,
        keep: &[String],
        p: &mut Progress,
    ) -> Result<(), KeysError> {
        let left = rows::count_not_under(&**tx, keep).await?;
        let known_bad = i64::try_from(p.skip_sessions.len()).unwrap_or(i64::MAX);
        if left > known_bad {
            p.quiet_since = None;
            return Ok(());
        }
        match p.quiet_since {
            None => p.quiet_since = Some(Instant::now()),
            Some(t) if t.elapsed() >= QUIET => {
                set_state(tx, p.id, "retiring").await?;
                tracing::info!(
                    rotation = p.id,
                    "no credential left under an old key; retiring"
                );
            }
            Some(_) => {}
        }
        Ok(())
    }
}

/// The active rotation, row-locked, when this transaction gets the rotation lock.
async fn lock_active(tx: &Transaction<'_>) -> Result<Option<Rotation>, KeysError> {
    if !crate::store::admin::try_xact_lock(&**tx, ROTATION_LOCK).await? {
        return Ok(None);
    }
    Ok(rows::lock_active(&**tx).await?)
}

/// Stores a new version of the ring in use and moves the state to it.
async fn store_version(tx: &Transaction<'_>, sealed: &SealedKeyRing) -> Result<(), KeysError> {
    store::insert_ring(&**tx, sealed).await?;
    if !store::advance_state(&**tx, sealed).await? {
        return Err(KeysError::BadRing(
            "the database's ring is not the enclave's",
        ));
    }
    Ok(())
}
