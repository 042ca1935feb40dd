//! `strongroom-host serve`: migrate, connect as `app_service`, bind, serve, drain.

use std::future::Future;
use std::io::Write as _;
use std::sync::Arc;

use strongroom_protocol::transport::Listener;
use tokio::net::TcpListener;
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::audit::Pseudonymizer;
use crate::config::ServeConfig;
use crate::db;
use crate::enclave::Enclave;
use crate::http::{App, server};
use crate::keys::Keys;
use crate::keys::peer::listener::PeerService;
use crate::metrics::Metrics;
use crate::shared_limits::SharedRateLimiter;
use crate::store::DbError;

/// Why `serve` stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Database setup failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// TLS files unusable.
    #[error(transparent)]
    Tls(#[from] server::TlsError),
    /// Binding the listener failed.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    /// The log's tiles could not be built (the leaves do not make the stored state).
    #[error("transparency log tiles: {0}")]
    Tiles(#[from] crate::tlog::TlogError),
}

/// Builds the log's tiles if they are out of step with its leaves (a log
/// from before migration V10), before anything is served or appended.
async fn build_tiles(pool: &deadpool_postgres::Pool) -> Result<(), ServeError> {
    let mut client = pool.get().await.map_err(DbError::from)?;
    let tx = client.transaction().await.map_err(DbError::from)?;
    if let Some(n) = crate::tlog::tiles::backfill(&*tx).await? {
        tracing::info!(leaves = n, "built the transparency log's tiles");
    }
    tx.commit().await.map_err(DbError::from)?;
    Ok(())
}

/// Runs the service until `shutdown` completes (in `main`: SIGTERM or SIGINT).
/// Prints `listening on http(s)://ADDR` to stdout once the port is bound.
pub async fn serve(
    mut cfg: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    match cfg.db.owner_url() {
        Some(url) => {
            for name in db::migrate(url).await? {
                tracing::info!(migration = %name, "applied migration");
            }
        }
        None => {
            tracing::info!("DATABASE_URL unset: migrations are left to `strongroom-host migrate`")
        }
    }
    let pool = db::app_pool(&cfg.db)?;
    db::check_app_role(&pool).await?;
    build_tiles(&pool).await?;
    let key = match cfg.audit_hash_key.take() {
        Some(k) => k,
        None => Zeroizing::new(db::audit_key(&pool).await?),
    };
    let tls = match &cfg.tls {
        Some(t) => Some(server::tls_acceptor(&t.cert, &t.key)?),
        None => None,
    };
    if tls.is_none() && !cfg.listen_addr.ip().is_loopback() {
        tracing::warn!("DANGER_ALLOW_INSECURE_HTTP: serving plain HTTP off loopback");
    }
    let egress = match &cfg.egress {
        Some(e) => Some((Listener::bind(&e.listen)?, e.clone())),
        None => None,
    };
    let peer_listener = match cfg.keys.peer_listen {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let listener = TcpListener::bind(cfg.listen_addr).await?;
    let local = listener.local_addr()?;
    let metrics = Arc::new(Metrics::default());
    let enclave = Arc::new(Enclave::new(
        cfg.enclave_addr.clone(),
        cfg.enclave_timeout,
        cfg.aggregates_timeout,
        metrics.clone(),
    ));
    let peer_url = match (&cfg.keys.peer_url, &peer_listener) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(l)) => Some(format!("http://{}", l.local_addr()?)),
        (None, None) => None,
    };
    let keys = Arc::new(Keys::new(
        pool.clone(),
        enclave.clone(),
        &cfg.keys,
        peer_url,
    ));
    let peer_rate = cfg.keys.peer_rate_limit;
    let app = Arc::new(App {
        enclave: enclave.clone(),
        keys: keys.clone(),
        addr_limits: SharedRateLimiter::new(
            pool.clone(),
            cfg.rate_limit_max,
            cfg.rate_limit_window,
        ),
        tenant_limits: SharedRateLimiter::new(
            pool.clone(),
            cfg.rate_limit_max,
            cfg.rate_limit_window,
        ),
        pseudonyms: Pseudonymizer::new(key),
        submit_auth: crate::http::auth_cache::AuthCache::new(cfg.submit_auth_cache),
        metrics: metrics.clone(),
        pool: pool.clone(),
        ready: Default::default(),
        cfg,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let daily = app.cfg.daily_snapshot_check.map(|every| {
        tokio::spawn(crate::http::daily::run(
            app.clone(),
            every,
            stopped(stop_rx.clone()),
        ))
    });
    let jobs = tokio::spawn(crate::http::jobs::run(
        app.clone(),
        app.cfg.job_check,
        stopped(stop_rx.clone()),
    ));
    let janitor = tokio::spawn(crate::janitor::run(
        pool,
        metrics.clone(),
        (app.cfg.janitor_interval, app.cfg.rate_limit_window),
        stopped(stop_rx.clone()),
    ));
    let egress = egress.map(|(listener, config)| {
        let (stats, stop) = (metrics.egress.clone(), stopped(stop_rx.clone()));
        tokio::spawn(async move {
            if let Err(e) = crate::egress::run(listener, config, stats, stop).await {
                tracing::error!(error = %e, "egress proxy stopped");
            }
        })
    });
    tracing::info!(
        instance = %keys.instance_id(),
        kms = app.cfg.keys.kms.is_some(),
        peer_url = ?keys.peer_url(),
        "keys task starting"
    );
    let keys_task = tokio::spawn(crate::keys::ring::task::run(keys, stopped(stop_rx.clone())));
    let peer = peer_listener.map(|l| {
        if let Ok(a) = l.local_addr() {
            tracing::info!(addr = %a, "key-sync listener");
        }
        let svc = Arc::new(PeerService::new(enclave, peer_rate));
        tokio::spawn(crate::keys::peer::listener::run(
            l,
            svc,
            stopped(stop_rx.clone()),
        ))
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %local, tls = tls.is_some(), "listening");
    println!("listening on {scheme}://{local}");
    let _ = std::io::stdout().flush();
    let probe = tokio::spawn(crate::http::routes::health::run_probe(
        app.clone(),
        stopped(stop_rx.clone()),
    ));
    let server = tokio::spawn(server::run(listener, tls, app, stopped(stop_rx)));
    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = server.await;
    let _ = janitor.await;
    // A job attempt in flight is dropped (its lease runs out and another
    // pass resumes it; a signed result's logging runs as its own task).
    jobs.abort();
    let _ = jobs.await;
    if let Some(d) = daily {
        let _ = d.await;
    }
    let _ = probe.await;
    let _ = keys_task.await;
    if let Some(p) = peer {
        let _ = p.await;
    }
    if let Some(e) = egress {
        let _ = e.await;
    }
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
