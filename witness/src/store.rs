//! Durable state in PostgreSQL: the latest cosigned checkpoint per origin,
//! and the evidence of refused but log-signed checkpoints (a log that signs
//! two roots for one size, or a history that does not extend the recorded
//! one, has shown misbehaviour; the spec lets a witness keep that).
//!
//! The check of the old size and the update are one transaction holding the
//! origin's row lock (`SELECT ... FOR UPDATE`), as the spec requires: two
//! concurrent requests cannot roll the recorded size back.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use strongroom_formats::c2sp::witness::AddCheckpoint;
use strongroom_formats::merkle::Hash;
use tokio_postgres::NoTls;

use crate::decide::{self, Recorded, Refusal};

/// The schema, applied idempotently at start.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS witness_checkpoints (
    origin      TEXT PRIMARY KEY,
    tree_size   BIGINT NOT NULL CHECK (tree_size >= 0),
    root_hash   BYTEA NOT NULL CHECK (length(root_hash) = 32),
    checkpoint  TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS witness_evidence (
    id          BIGSERIAL PRIMARY KEY,
    origin      TEXT NOT NULL,
    status      INTEGER NOT NULL,
    request     TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
";

/// Most evidence rows kept per origin (oldest dropped first).
pub const MAX_EVIDENCE_PER_ORIGIN: i64 = 1000;

/// A storage failure (the request is answered 503, never cosigned).
#[derive(Debug, thiserror::Error)]
#[error("witness store unavailable")]
pub struct StoreError(#[from] pub StoreCause);

/// The underlying cause, for logs.
#[derive(Debug, thiserror::Error)]
pub enum StoreCause {
    /// PostgreSQL refused or is unreachable.
    #[error(transparent)]
    Pg(#[from] tokio_postgres::Error),
    /// No connection from the pool.
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A stored row is out of range (never written by this code).
    #[error("corrupt row")]
    Corrupt,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError(e.into())
    }
}

/// Opens a pool on `url` and applies the schema.
pub async fn open(url: &str) -> Result<Pool, StoreError> {
    let pg: tokio_postgres::Config = url.parse()?;
    let mgr = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(mgr)
        .max_size(8)
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|_| StoreError(StoreCause::Corrupt))?;
    pool.get().await?.batch_execute(SCHEMA).await?;
    Ok(pool)
}

/// Checks `req` against the recorded state of its origin and, when it is
/// consistent, records it, atomically. `Ok(Err(refusal))` is a refusal.
pub async fn add_checkpoint(
    pool: &Pool,
    req: &AddCheckpoint,
) -> Result<Result<(), Refusal>, StoreError> {
    let cp = req.checkpoint.checkpoint();
    let Ok(size) = i64::try_from(cp.size()) else {
        return Ok(Err(Refusal::Malformed));
    };
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let empty = Recorded::empty();
    tx.execute(
        "INSERT INTO witness_checkpoints (origin, tree_size, root_hash, checkpoint) \
         VALUES ($1, 0, $2, '') ON CONFLICT (origin) DO NOTHING",
        &[&cp.origin(), &empty.root.as_slice()],
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT tree_size, root_hash FROM witness_checkpoints WHERE origin = $1 FOR UPDATE",
            &[&cp.origin()],
        )
        .await?;
    let recorded = recorded(row.get(0), row.get(1))?;
    let verdict = decide::check_consistency(req, &recorded);
    match &verdict {
        Ok(()) => {
            tx.execute(
                "UPDATE witness_checkpoints SET tree_size = $2, root_hash = $3, checkpoint = $4, \
                 updated_at = now() WHERE origin = $1",
                &[
                    &cp.origin(),
                    &size,
                    &cp.root_hash().as_slice(),
                    &req.checkpoint.format(),
                ],
            )
            .await?;
        }
        Err(Refusal::Inconsistent) => keep_evidence(&tx, req, 422).await?,
        Err(_) => {}
    }
    tx.commit().await?;
    Ok(verdict)
}

fn recorded(size: i64, root: Vec<u8>) -> Result<Recorded, StoreError> {
    let size = u64::try_from(size).map_err(|_| StoreError(StoreCause::Corrupt))?;
    let root: Hash = root
        .try_into()
        .map_err(|_| StoreError(StoreCause::Corrupt))?;
    Ok(Recorded { size, root })
}

async fn keep_evidence(
    tx: &tokio_postgres::Transaction<'_>,
    req: &AddCheckpoint,
    status: i32,
) -> Result<(), StoreError> {
    let origin = req.checkpoint.checkpoint().origin();
    tx.execute(
        "INSERT INTO witness_evidence (origin, status, request) VALUES ($1, $2, $3)",
        &[&origin, &status, &req.format()],
    )
    .await?;
    tx.execute(
        "DELETE FROM witness_evidence WHERE origin = $1 AND id <= \
         (SELECT id FROM witness_evidence WHERE origin = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)",
        &[&origin, &MAX_EVIDENCE_PER_ORIGIN],
    )
    .await?;
    Ok(())
}

/// The latest cosigned checkpoint of `origin` (its note), if any.
pub async fn latest(pool: &Pool, origin: &str) -> Result<Option<String>, StoreError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT checkpoint FROM witness_checkpoints WHERE origin = $1 AND tree_size > 0",
            &[&origin],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}
