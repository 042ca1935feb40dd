//! Boot of a `Booting` enclave, under the boot advisory lock:
//!
//! 1. the database names a ring, KMS is configured and the ring carries a
//!    KMS blob -> `UnsealKeyRing`;
//! 2. else (or when that fails) a live peer holding the same ring -> attested
//!    key sync through its key-sync listener, trying each peer in turn;
//! 3. else, when the database names no ring at all -> `NewKeyRing`, stored as
//!    version 1 and made the ring in use;
//! 4. else the ring is lost to this instance: it stays `Booting` (requests
//!    answer 503 `enclave_not_ready`) and the keys task retries every tick,
//!    since a peer may come up; `strongroom-host keys reset --confirm` abandons
//!    the ring so the next boot makes a new one.

use strongroom_protocol::messages::KeyRingInfo;
use uuid::Uuid;

use crate::keys::store::{self, InstanceReport, Peer, RingState};
use crate::keys::{BOOT_LOCK, Keys, KeysError, phase_text};

/// How a boot attempt ended.
#[derive(Debug)]
pub enum BootOutcome {
    /// Step 1: unsealed through KMS.
    Unsealed(KeyRingInfo),
    /// Step 2: synced from this peer.
    Synced(Uuid, KeyRingInfo),
    /// Step 3: a new ring, stored.
    Created(KeyRingInfo),
    /// Step 4: nowhere to get the ring from; why, for the log.
    Lost(String),
    /// Another instance holds the boot lock; try again next tick.
    Busy,
}

fn report(info: &KeyRingInfo) -> InstanceReport {
    InstanceReport {
        phase: phase_text(info.phase),
        ring_id: info.ring_id.clone(),
        ring_version: info.ring_version,
        current_key_id: info.current_key_id.clone(),
    }
}

impl Keys {
    /// One boot attempt (see the module documentation).
    pub async fn boot(&self) -> Result<BootOutcome, KeysError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if !crate::store::admin::try_xact_lock(&*tx, BOOT_LOCK).await? {
            return Ok(BootOutcome::Busy);
        }
        let outcome = match store::current(&*tx).await? {
            Some((st, sealed)) => {
                let mut why = Vec::new();
                match (&self.kms, sealed.kms_blob.is_some()) {
                    (Some(kms), true) => match kms.access().await {
                        Err(e) => {
                            why.push(format!("KMS unseal impossible ({e})"));
                            self.via_peers(&tx, &st, why).await?
                        }
                        Ok(access) => match self.enclave.unseal_key_ring(sealed, access).await {
                            Ok(info) => {
                                self.check_same_ring(&st, &info);
                                BootOutcome::Unsealed(info)
                            }
                            Err(e) => {
                                why.push(format!("KMS unseal failed ({e})"));
                                self.via_peers(&tx, &st, why).await?
                            }
                        },
                    },
                    (None, true) => {
                        why.push("the ring is sealed with KMS but KMS_KEY_ID is not set".into());
                        self.via_peers(&tx, &st, why).await?
                    }
                    (_, false) => {
                        why.push("the stored ring has no KMS blob".into());
                        self.via_peers(&tx, &st, why).await?
                    }
                }
            }
            None => {
                // Without credentials no ring is made (a ring without its KMS
                // blob would not survive this enclave): the error is retried.
                let kms = match &self.kms {
                    Some(k) => Some(k.access().await?),
                    None => None,
                };
                let sealed = self.enclave.new_key_ring(kms).await?;
                if let Err(e) = self.store_new(&tx, &sealed).await {
                    self.stash(sealed);
                    return Err(e);
                }
                let info = KeyRingInfo {
                    phase: strongroom_protocol::messages::Phase::Ready,
                    current_key_id: Some(sealed.current_key_id.clone()),
                    key_ids: sealed.key_ids.clone(),
                    ring_id: Some(sealed.ring_id.clone()),
                    ring_version: Some(sealed.ring_version),
                };
                // Registered before the lock is released, so an instance booting
                // right after finds this one as a live peer.
                store::heartbeat(
                    &*tx,
                    self.instance_id,
                    self.peer_url.as_deref(),
                    &report(&info),
                )
                .await?;
                if let Err(e) = tx.commit().await {
                    self.stash(sealed);
                    return Err(e.into());
                }
                return Ok(BootOutcome::Created(info));
            }
        };
        if let BootOutcome::Unsealed(info) | BootOutcome::Synced(_, info) = &outcome {
            store::heartbeat(
                &*tx,
                self.instance_id,
                self.peer_url.as_deref(),
                &report(info),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    async fn store_new(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        sealed: &strongroom_protocol::messages::SealedKeyRing,
    ) -> Result<(), KeysError> {
        store::insert_ring(&**tx, sealed).await?;
        if !store::advance_state(&**tx, sealed).await? {
            return Err(KeysError::BadRing("another ring became current meanwhile"));
        }
        Ok(())
    }

    /// Keeps a ring the enclave made but the database did not take, for the
    /// keys task to store later.
    pub(super) fn stash(&self, sealed: strongroom_protocol::messages::SealedKeyRing) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(sealed);
    }

    async fn via_peers(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        st: &RingState,
        mut why: Vec<String>,
    ) -> Result<BootOutcome, KeysError> {
        let peers = store::live_peers(&**tx, self.instance_id, &st.ring_id, self.peer_live).await?;
        if peers.is_empty() {
            why.push("no live peer holds it".into());
        }
        for peer in peers {
            match self.sync_from(&peer).await {
                Ok(info) => {
                    self.check_same_ring(st, &info);
                    return Ok(BootOutcome::Synced(peer.id, info));
                }
                Err(e) => {
                    tracing::warn!(peer = %peer.id, url = %peer.peer_url, error = %e, "key sync from peer failed");
                    why.push(format!("sync from {} failed ({e})", peer.id));
                }
            }
        }
        Ok(BootOutcome::Lost(why.join("; ")))
    }

    /// The four sync steps: holder's challenge, our document, holder's export, import.
    async fn sync_from(&self, peer: &Peer) -> Result<KeyRingInfo, KeysError> {
        let nonce = self.peers.challenge(&peer.peer_url).await?;
        let document = self.enclave.sync_request(nonce).await?;
        let exported = self.peers.export(&peer.peer_url, &document).await?;
        Ok(self.enclave.sync_import(exported).await?)
    }

    fn check_same_ring(&self, st: &RingState, info: &KeyRingInfo) {
        if info.ring_id.as_deref() != Some(st.ring_id.as_slice()) {
            tracing::error!(
                "the enclave installed a ring other than the database's ring in use; \
                 restart it (the host cannot undo this)"
            );
        }
    }
}
