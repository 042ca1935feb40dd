//! Every SQL statement the host sends, as plain functions over a client or a
//! transaction, one file per table group. Nothing outside this module holds
//! SQL text; callers keep the policy (what a row means, which answer follows).
//!
//! Request paths take `deadpool_postgres::GenericClient` and use the pooled
//! connection's statement cache (`prepare_cached`: parsed and planned once per
//! connection); administration and background paths take
//! `tokio_postgres::GenericClient` and prepare per call.
//!
//! This module is a leaf: it depends on the protocol crate's plain types, on
//! `uuid` and on the PostgreSQL clients, never on another module of the host.

pub mod admin;
pub mod aggregates;
pub mod audit;
pub mod auth;
mod error;
pub mod history;
pub mod janitor;
pub mod jobs;
pub mod keys;
pub mod log;
pub mod public;
pub mod rate_limits;
pub mod rotations;
pub mod sessions;
pub mod snapshots;
pub mod tenants;
pub mod tiles;

use deadpool_postgres::Transaction;
use uuid::Uuid;

pub use error::DbError;

/// Scopes row-level security to one tenant for the rest of the transaction
/// (`SET LOCAL`: it ends with the transaction, so a pooled connection never
/// carries a tenant into the next request). Parameter: the tenant id as text.
const SET_TENANT: &str = "SELECT set_config('strongroom.tenant_id', $1, true)";

/// Starts a transaction in which row-level security shows only `tenant`'s rows
/// (statement from the connection's cache).
pub async fn tenant_tx(
    client: &mut deadpool_postgres::Object,
    tenant: Uuid,
) -> Result<Transaction<'_>, tokio_postgres::Error> {
    let set = client.prepare_cached(SET_TENANT).await?;
    let tx = client.transaction().await?;
    tx.execute(&set, &[&tenant.to_string()]).await?;
    Ok(tx)
}
