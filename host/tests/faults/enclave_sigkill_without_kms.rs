//! Scenario 1b: The enclave killed with no KMS and no peer: the restarted enclave cannot
//! get the ring back; the host says `enclave_not_ready` until `keys reset`.

use std::time::{Duration, Instant};

use crate::common::run_host;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enclave_sigkill_without_kms_says_ring_lost_until_reset_then_serves() {
    bounded(async {
        // No KMS, no peer: a restarted enclave cannot get the old ring back
        // (DESIGN.md "Keys", boot step 4).
        let mut s = Stack::start(StackOpts::default()).await;
        let c = s.client();
        let (_, before) = s.submit_demo("before").await;
        assert_demo_figures(&c.aggregates(&before).await.unwrap(), "before the kill");
        s.kill_enclave().await;
        let r = c.quote().await.unwrap();
        assert_eq!(
            (r.status, code_of(&r).as_str()),
            (503, "enclave_unavailable")
        );
        s.restart_enclave().await;

        // The host says so with a code, at once, for as long as it lasts.
        let start = Instant::now();
        let mut not_ready = 0;
        while start.elapsed() < Duration::from_secs(4) {
            let t = Instant::now();
            let r = c.quote().await.unwrap();
            assert!(
                t.elapsed() < Duration::from_secs(2),
                "slow answer {:?}",
                t.elapsed()
            );
            match (r.status, code_of(&r).as_str()) {
                (503, "enclave_not_ready") => not_ready += 1,
                (503, "enclave_unavailable") => assert_eq!(not_ready, 0, "flapping"),
                other => panic!(
                    "quote with the ring lost: {other:?} {}{}",
                    body_text(&r),
                    s.logs_tail()
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(not_ready >= 5, "{not_ready}");
        for r in [
            c.aggregates(&before).await.unwrap(),
            c.get("/readyz").await.unwrap(),
        ] {
            assert_eq!(
                (r.status, code_of(&r).as_str()),
                (503, "enclave_not_ready"),
                "{}",
                body_text(&r)
            );
        }

        // The operator abandons the lost ring: the running host boots a new
        // one by itself. New quotes, submissions and aggregates work; the old
        // session answers a clear 409 (submit the credential again).
        let out = run_host(&["keys", "reset", "--confirm"], &s.db.test_db().env()).await;
        assert!(
            out.status.success(),
            "keys reset: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s.wait_ready(Duration::from_secs(20)).await;
        let r = c.aggregates(&before).await.unwrap();
        assert_eq!(r.status, 409, "old session: {}", body_text(&r));
        assert!(
            ["key_version_gone", "unknown_key_id"].contains(&code_of(&r).as_str()),
            "{}",
            body_text(&r)
        );
        // The lost ring's log was closed (archived as epoch 1); the new ring
        // signs a new log from leaf 0.
        assert!(
            s.db.count("SELECT count(*) FROM transparency_log_archive WHERE log_epoch = 1")
                .await
                > 0
        );
        let (_, fresh) = s.submit_demo("after").await;
        let after = c.aggregates(&fresh).await.unwrap();
        assert_demo_figures(&after, "after the reset");
        assert_eq!(
            after.json()["log"]["leaf_index"].as_u64(),
            Some(0),
            "the new ring starts a new log"
        );
        assert_eq!(
            s.db.count("SELECT log_epoch::bigint FROM transparency_state")
                .await,
            2
        );
        assert_no_half_sessions(&s.db).await;
    })
    .await;
}
