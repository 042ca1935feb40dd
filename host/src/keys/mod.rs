//! Keys that survive: the host drives the enclave's key ring.
//!
//! The enclave starts in phase `Booting`, without a ring, and can reach nothing
//! but the host; the host decides where the ring comes from ([`ring::boot`]),
//! keeps the instance registry current ([`ring::task`]) and drives rotations
//! ([`ring::rotation`]); it answers and asks other instances for key sync
//! ([`peer::listener`], [`peer::client`]). The AWS credentials handed to the
//! enclave for KMS come from [`imds`]. Nothing here sees
//! key material: sealed rings are AES-GCM ciphertext under a data key that
//! exists outside an enclave only wrapped by KMS; sync messages are attestation
//! documents and HPKE ciphertext. See README.md, "Keys".

pub mod cli;
pub mod config;
pub mod error;
pub mod imds;
pub mod peer;
pub mod ring;
pub mod store;

pub use error::{BOOT_LOCK, KeysError, ROTATION_LOCK};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use strongroom_protocol::ErrorCode;
use strongroom_protocol::messages::{KeyRingInfo, Phase, SealedKeyRing};
use uuid::Uuid;

use crate::enclave::{Enclave, EnclaveError};
use config::{KeysConfig, KmsConfig};
use peer::client::PeerClient;

/// The keys service shared by the keys task, the peer listener and the HTTP routes.
pub struct Keys {
    pool: Pool,
    enclave: Arc<Enclave>,
    instance_id: Uuid,
    peer_url: Option<String>,
    kms: Option<KmsConfig>,
    peer_live: Duration,
    heartbeat: Duration,
    tick: Duration,
    peers: PeerClient,
    /// A ring the enclave produced whose storing failed: retried every tick
    /// (the enclave holds it, so losing it would strand new credentials).
    pending: Mutex<Option<SealedKeyRing>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("instance_id", &self.instance_id)
            .field("peer_url", &self.peer_url)
            .field("kms", &self.kms.is_some())
            .finish_non_exhaustive()
    }
}

/// What the enclave reports about its ring; `None` fields for an enclave that
/// does not manage a ring (then the host leaves it alone).
pub fn phase_text(p: Phase) -> &'static str {
    match p {
        Phase::Booting => "booting",
        Phase::Ready => "ready",
    }
}

impl Keys {
    /// The service for `enclave` over `pool`, advertising `peer_url` (the
    /// key-sync listener, if any) in the registry.
    pub fn new(
        pool: Pool,
        enclave: Arc<Enclave>,
        cfg: &KeysConfig,
        peer_url: Option<String>,
    ) -> Self {
        Self {
            pool,
            enclave,
            instance_id: cfg.instance_id,
            peer_url,
            kms: cfg.kms.clone(),
            peer_live: cfg.peer_live,
            heartbeat: cfg.heartbeat,
            tick: cfg.tick,
            peers: PeerClient,
            pending: Mutex::new(None),
        }
    }

    /// Where this instance's key-sync listener answers, as advertised.
    pub fn peer_url(&self) -> Option<&str> {
        self.peer_url.as_deref()
    }

    /// This instance's id in the registry.
    pub fn instance_id(&self) -> Uuid {
        self.instance_id
    }

    /// The enclave's ring status. An enclave that does not know
    /// `KeyRingStatus` is reported from `Health`, without a ring (unmanaged).
    pub async fn status(&self) -> Result<KeyRingInfo, EnclaveError> {
        match self.enclave.key_ring_status().await {
            Err(EnclaveError::Refused(ErrorCode::NotImplemented)) => {
                let h = self.enclave.health().await?;
                Ok(KeyRingInfo {
                    phase: h.phase,
                    current_key_id: None,
                    key_ids: Vec::new(),
                    ring_id: None,
                    ring_version: None,
                })
            }
            other => other,
        }
    }

    /// Reloads the enclave's ring when the database holds a newer version of
    /// the same ring (another instance rotated). Returns whether it reloaded.
    pub async fn reload_if_newer(&self, info: &KeyRingInfo) -> Result<bool, KeysError> {
        let (Phase::Ready, Some(held), Some(version)) =
            (info.phase, info.ring_id.as_deref(), info.ring_version)
        else {
            return Ok(false);
        };
        let client = self.pool.get().await?;
        let Some(st) = store::state(&**client).await? else {
            return Ok(false);
        };
        if st.ring_id != held || st.ring_version <= version {
            return Ok(false);
        }
        let sealed = store::ring(&**client, &st.ring_id, st.ring_version)
            .await?
            .ok_or(KeysError::BadRing("key_ring_state names a missing ring"))?;
        drop(client);
        let now = self.enclave.reload_key_ring(sealed).await?;
        tracing::info!(
            from = version,
            to = ?now.ring_version,
            current_key_id = ?now.current_key_id,
            "reloaded the key ring from the database"
        );
        Ok(true)
    }

    /// [`Keys::reload_if_newer`] with a fresh status: for the request paths
    /// that got `unknown_key_id`.
    pub async fn refresh(&self) -> bool {
        let info = match self.status().await {
            Ok(i) => i,
            Err(_) => return false,
        };
        match self.reload_if_newer(&info).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "key ring reload failed");
                false
            }
        }
    }

    /// Stores a ring the enclave changed outside a rotation (an owner-signed
    /// revocation added a credential to its revoked set) exactly as a
    /// rotation stores a new version: inserted and made the ring in use, in
    /// its own transaction; the other instances' keys tasks reload it on
    /// their next tick (and at once on `ring_outdated`). When storing fails
    /// the ring is kept and retried every tick, like a rotation's.
    pub async fn store_changed_ring(&self, sealed: SealedKeyRing) -> Result<(), KeysError> {
        let stored = async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            store::insert_ring(&*tx, &sealed).await?;
            if !store::advance_state(&*tx, &sealed).await? {
                return Err(KeysError::BadRing(
                    "the database's ring is not the enclave's",
                ));
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
        if stored.is_err() {
            *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(sealed);
        }
        stored
    }
}
