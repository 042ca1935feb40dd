//! The host's periodic tasks (the janitor, the job runner, the daily
//! snapshots, the readiness probe) share one loop.

use std::future::Future;
use std::time::Duration;

/// Runs `pass` now and then every `interval` until `shutdown`. A pass that
/// outlasts the interval delays the next one (never two at a time, no
/// catching up); `shutdown` is seen between passes.
pub async fn every<F, Fut>(interval: Duration, shutdown: impl Future<Output = ()>, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        pass().await;
    }
}
