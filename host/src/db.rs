//! PostgreSQL connections: migrations, the `app_service` pool, the errors.
//! The statements themselves are in [`crate::store`].

use std::time::Duration;

use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::config::DbConfig;
use crate::store;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// How long a request waits for a pooled connection before answering 503.
const POOL_WAIT: Duration = Duration::from_secs(5);

pub use crate::store::DbError;

/// Opens one connection (used for migrations and tenant administration, as the owner).
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, DbError> {
    let cfg: tokio_postgres::Config = url
        .parse()
        .map_err(|_| DbError::Unavailable("bad connection string".into()))?;
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "owner connection ended");
        }
    });
    Ok(client)
}

/// Applies pending migrations (`host/migrations/V*__*.sql`) as the owner and returns
/// the names of those applied now.
pub async fn migrate(url: &str) -> Result<Vec<String>, DbError> {
    let mut client = connect(url).await?;
    store::admin::lock_migrations(&client).await?;
    let result = embedded::migrations::runner().run_async(&mut client).await;
    store::admin::unlock_migrations(&client).await?;
    let report = result?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| format!("V{}__{}", m.version(), m.name()))
        .collect())
}

/// The connection pool `serve` uses. With `APP_DATABASE_URL` it logs in as that role;
/// otherwise it uses `DATABASE_URL` and runs `SET ROLE app_service` on every new
/// connection (recycling is `Fast`, which never resets the role).
pub fn app_pool(db: &DbConfig) -> Result<Pool, DbError> {
    let (url, set_role) = match (&db.app_database_url, db.owner_url()) {
        (Some(u), _) => (u.as_str(), false),
        (None, Some(u)) => (u, true),
        (None, None) => return Err(DbError::Unavailable("no database configured".into())),
    };
    let pg: tokio_postgres::Config = url
        .parse()
        .map_err(|_| DbError::Unavailable("bad connection string".into()))?;
    let mgr = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let mut builder = Pool::builder(mgr)
        .max_size(db.pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT))
        .create_timeout(Some(POOL_WAIT))
        .recycle_timeout(Some(POOL_WAIT));
    if set_role {
        builder = builder.post_create(Hook::async_fn(|client, _| {
            Box::pin(async move {
                store::admin::set_app_role(client)
                    .await
                    .map_err(HookError::Backend)
            })
        }));
    }
    builder
        .build()
        .map_err(|e| DbError::Unavailable(e.to_string()))
}

/// Refuses a pool whose role would bypass row-level security.
pub async fn check_app_role(pool: &Pool) -> Result<(), DbError> {
    let client = pool.get().await?;
    let (role, privileged) = store::admin::role_bypasses_rls(&**client).await?;
    if privileged {
        return Err(DbError::PrivilegedRole(role));
    }
    Ok(())
}

/// Loads the audit pseudonym key from `host_settings`, creating a random one once.
pub async fn audit_key(pool: &Pool) -> Result<Vec<u8>, DbError> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|_| DbError::Unavailable("no randomness".into()))?;
    let client = pool.get().await?;
    Ok(store::admin::audit_key(&**client, &fresh).await?)
}
