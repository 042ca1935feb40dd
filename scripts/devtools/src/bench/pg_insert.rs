//! Ceiling of `submit_key` on the storage side: bare durable single-row
//! INSERTs (autocommit, `synchronous_commit` as the server has it) into a
//! scratch table of the stack's own PostgreSQL, at a given concurrency,
//! with tokio-postgres as the host uses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

/// Scratch table (created and dropped by the benchmark).
pub const SCRATCH_TABLE: &str = "strongroom_bench_scratch";

/// A failure of the PostgreSQL measurement.
#[derive(Debug, thiserror::Error)]
#[error("pg bench: {0}")]
pub struct PgBenchError(String);

fn pg_err(e: tokio_postgres::Error) -> PgBenchError {
    PgBenchError(e.to_string())
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, PgBenchError> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(pg_err)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Committed INSERTs per second with `concurrency` connections over `dur`.
/// The row resembles a stored credential (ciphertext of ~200 bytes).
pub async fn insert_rate(
    url: &str,
    concurrency: usize,
    dur: Duration,
) -> Result<f64, PgBenchError> {
    let admin = connect(url).await?;
    admin
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {SCRATCH_TABLE}; CREATE TABLE {SCRATCH_TABLE} \
             (id bigserial PRIMARY KEY, tenant text NOT NULL, body bytea NOT NULL, created timestamptz NOT NULL DEFAULT now())"
        ))
        .await
        .map_err(pg_err)?;
    let done = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency.max(1) {
        let client = connect(url).await?;
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let stmt = client
                .prepare(&format!(
                    "INSERT INTO {SCRATCH_TABLE} (tenant, body) VALUES ($1, $2)"
                ))
                .await
                .map_err(pg_err)?;
            let body = vec![0xA5u8; 200];
            let tenant = format!("bench-{w}");
            while t0.elapsed() < dur {
                client
                    .execute(&stmt, &[&tenant, &body])
                    .await
                    .map_err(pg_err)?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), PgBenchError>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| PgBenchError(e.to_string()))??;
    }
    let rate = done.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64();
    admin
        .batch_execute(&format!("DROP TABLE IF EXISTS {SCRATCH_TABLE}"))
        .await
        .map_err(pg_err)?;
    Ok(rate)
}

/// The server's `synchronous_commit` and `fsync` settings (reported with
/// the figure, since they decide what "durable" means).
pub async fn durability(url: &str) -> Result<(String, String), PgBenchError> {
    let c = connect(url).await?;
    let sc: String = c
        .query_one("SHOW synchronous_commit", &[])
        .await
        .map_err(pg_err)?
        .get(0);
    let fs: String = c.query_one("SHOW fsync", &[]).await.map_err(pg_err)?.get(0);
    Ok((sc, fs))
}
