//! The keys task: runs for the whole life of `serve`, one tick every
//! `KEYS_TICK_MS`. Each tick reads the enclave's ring status and
//!
//! - `Booting` -> boot it ([`super::boot`]): also after the enclave died and came back;
//! - ready with a ring -> store a ring whose storing failed earlier, reload a
//!   newer version from the database, drive the active rotation;
//! - ready without a ring id -> an enclave that does not manage a ring
//!   (older build, test stub): left alone;
//! - unreachable -> reported as `unavailable`.
//!
//! and every `HEARTBEAT_MS` upserts this instance's row in `instances`; at
//! shutdown the row is deleted.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strongroom_protocol::messages::{KeyRingInfo, Phase};

use super::boot::BootOutcome;
use super::rotation::Progress;
use crate::keys::store::{self, InstanceReport};
use crate::keys::{Keys, KeysError, phase_text};

/// How often the same problem is logged again.
const LOG_EVERY: Duration = Duration::from_secs(30);

/// Logs a recurring condition at most every [`LOG_EVERY`].
#[derive(Debug, Default)]
struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    fn due(&mut self) -> bool {
        let due = self.last.is_none_or(|t| t.elapsed() >= LOG_EVERY);
        if due {
            self.last = Some(Instant::now());
        }
        due
    }
}

#[derive(Debug, Default)]
struct TaskState {
    last_heartbeat: Option<Instant>,
    last_report: Option<InstanceReport>,
    lost: Throttle,
    errors: Throttle,
    foreign: Throttle,
    rotation: Progress,
}

fn report(status: &Result<KeyRingInfo, crate::enclave::EnclaveError>) -> InstanceReport {
    match status {
        Ok(i) => InstanceReport {
            phase: phase_text(i.phase),
            ring_id: i.ring_id.clone(),
            ring_version: i.ring_version,
            current_key_id: i.current_key_id.clone(),
        },
        Err(_) => InstanceReport {
            phase: "unavailable",
            ring_id: None,
            ring_version: None,
            current_key_id: None,
        },
    }
}

/// Whether the enclave may have changed its ring during the tick (it was
/// ready, so maintenance may have reloaded or rotated).
fn outcome_or_ready(status: &Result<KeyRingInfo, crate::enclave::EnclaveError>) -> bool {
    matches!(status, Ok(i) if i.phase == Phase::Ready && i.ring_id.is_some())
}

/// Runs the keys task until `shutdown` completes, then deregisters.
pub async fn run(keys: Arc<Keys>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(keys.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut st = TaskState::default();
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        // A tick may wait on KMS or a peer; shutdown still wins.
        tokio::select! {
            () = &mut shutdown => break,
            () = keys.tick_once(&mut st) => {}
        }
    }
    match keys.pool.get().await {
        Ok(c) => {
            if let Err(e) = store::deregister(&**c, keys.instance_id).await {
                tracing::warn!(error = %e, "could not remove this instance from the registry");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not remove this instance from the registry"),
    }
}

impl Keys {
    async fn tick_once(&self, st: &mut TaskState) {
        let mut status = self.status().await;
        let outcome = match &status {
            Ok(info) if info.phase == Phase::Booting => Some(self.boot().await),
            _ => None,
        };
        match outcome {
            Some(Ok(o)) => {
                self.log_boot(o, st);
                status = self.status().await;
            }
            Some(Err(e)) if st.errors.due() => {
                tracing::warn!(error = %e, "key ring boot attempt failed; retrying every tick");
            }
            _ => {}
        }
        if let Ok(info) = &status
            && info.phase == Phase::Ready
            && info.ring_id.is_some()
            && let Err(e) = self.maintain(info, st).await
            && st.errors.due()
        {
            tracing::warn!(error = %e, "key ring maintenance failed; retrying");
        }
        // The status may have changed (reload, rotation): read it again. The
        // row is refreshed every HEARTBEAT_MS, and at once when what it says changes.
        let status = if status.is_ok() && outcome_or_ready(&status) {
            self.status().await
        } else {
            status
        };
        let now = report(&status);
        let due = st
            .last_heartbeat
            .is_none_or(|t| t.elapsed() >= self.heartbeat)
            || st.last_report.as_ref() != Some(&now);
        if due {
            match self.beat(&now).await {
                Ok(()) => {
                    st.last_heartbeat = Some(Instant::now());
                    st.last_report = Some(now);
                }
                Err(e) => {
                    if st.errors.due() {
                        tracing::warn!(error = %e, "heartbeat failed");
                    }
                }
            }
        }
    }

    async fn beat(&self, r: &InstanceReport) -> Result<(), KeysError> {
        let c = self.pool.get().await?;
        store::heartbeat(&**c, self.instance_id, self.peer_url.as_deref(), r).await
    }

    fn log_boot(&self, o: BootOutcome, st: &mut TaskState) {
        match o {
            BootOutcome::Unsealed(i) => {
                tracing::info!(ring_version = ?i.ring_version, current_key_id = ?i.current_key_id, "key ring unsealed through KMS");
            }
            BootOutcome::Synced(peer, i) => {
                tracing::info!(%peer, ring_version = ?i.ring_version, current_key_id = ?i.current_key_id, "key ring synced from a peer");
            }
            BootOutcome::Created(i) => {
                tracing::info!(current_key_id = ?i.current_key_id, "new key ring created and stored (first boot)");
            }
            BootOutcome::Lost(why) => {
                if st.lost.due() {
                    tracing::error!(
                        reason = %why,
                        "key ring unavailable: the enclave stays booting and requests answer 503 \
                         enclave_not_ready. Start an instance that holds the ring, configure KMS, or \
                         abandon the ring with `strongroom-host keys reset --confirm`"
                    );
                }
            }
            BootOutcome::Busy => tracing::debug!("another instance is booting; waiting"),
        }
    }

    /// Ready with a ring: pending store, reload, rotation.
    async fn maintain(&self, info: &KeyRingInfo, st: &mut TaskState) -> Result<(), KeysError> {
        self.store_pending(info).await?;
        let info = if self.reload_if_newer(info).await? {
            self.status().await?
        } else {
            info.clone()
        };
        let client = self.pool.get().await?;
        let db = store::state(&**client).await?;
        drop(client);
        match db {
            Some(s) if info.ring_id.as_deref() == Some(s.ring_id.as_slice()) => {
                self.rotation_step(&info, &mut st.rotation).await
            }
            other => {
                if st.foreign.due() {
                    tracing::error!(
                        database_has_ring = other.is_some(),
                        "the enclave holds a key ring that is not the database's ring in use \
                         (abandoned by `keys reset`?): restart the enclave to boot it again"
                    );
                }
                Ok(())
            }
        }
    }

    /// Stores a ring the enclave made while the database failed, once it is back.
    async fn store_pending(&self, info: &KeyRingInfo) -> Result<(), KeysError> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(sealed) = pending else { return Ok(()) };
        if info.ring_id.as_deref() != Some(sealed.ring_id.as_slice())
            || info.ring_version != Some(sealed.ring_version)
        {
            // The enclave moved on (or is another ring): the pending version is moot.
            *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return Ok(());
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        store::insert_ring(&*tx, &sealed).await?;
        let stored = store::advance_state(&*tx, &sealed).await?;
        tx.commit().await?;
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if stored {
            tracing::info!(
                ring_version = sealed.ring_version,
                "stored a key ring version that had failed to store"
            );
        }
        Ok(())
    }
}
