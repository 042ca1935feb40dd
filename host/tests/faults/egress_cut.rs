//! Scenario 4: Connections cut mid-response between the egress proxy and the exchange
//! (the kit's `Cutter`): the right result or a clear error, nothing stored wrong.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_cut_mid_response_gives_the_right_result_or_a_clear_error() {
    bounded(async {
        let s = Stack::start(StackOpts {
            cutter: true,
            ..StackOpts::default()
        })
        .await;
        let cutter = s.cutter.as_ref().unwrap();
        let c = s.client();
        let (_, session) = s.submit_demo("cut").await;
        eprintln!("[cut] submitted; clean run");

        // Clean runs through the cutter: the answer and the bytes one
        // aggregate request reads from the exchange (one kept-alive
        // connection each; connection 0 was the key check at submit). The
        // first also reads the account's daily inputs, which the enclave
        // then keeps: the second is the stream every later request reads.
        let r = c.aggregates(&session).await.unwrap();
        assert_demo_figures(&r, "clean run");
        let r = c.aggregates(&session).await.unwrap();
        assert_demo_figures(&r, "second clean run");
        assert_eq!(cutter.connections.load(Ordering::SeqCst), 3);
        let total = cutter.bytes_of(2) as u64;
        assert!(total > 4000, "too few bytes to cut: {total}");
        let rows = s.db.count("SELECT count(*) FROM aggregates").await;

        // Three connections cut at a quarter, half and three quarters of the
        // stream (inside TLS records of answers), then clean: the enclave's
        // exchange client retries each call, and the result is still exact.
        cutter.set_plan([Some(total / 4), Some(total / 2), Some(total * 3 / 4)]);
        eprintln!("stream of a clean aggregate request: {total} bytes");
        let r = c.aggregates(&session).await.unwrap();
        assert_demo_figures(&r, "after cuts mid-stream");
        // A retry resumes at the failed call, so a later connection may carry
        // less than three quarters of the stream: at least two cuts land.
        let cuts = cutter.cuts.load(Ordering::SeqCst);
        assert!(cuts >= 2, "the cuts happened: {cuts}");
        eprintln!("{cuts} cuts mid-stream (stream {total} bytes), result exact");

        // Every connection cut half-way through the stream: each new connection
        // gets further, so the result is exact or, when the retry budget runs
        // out, a clear 502 exchange_unreachable. Never anything else.
        let mut exact = 2;
        cutter.set_plan(std::iter::repeat_n(Some(total / 2), 100));
        eprintln!("[cut] every connection half-way");
        let r = c.aggregates(&session).await.unwrap();
        match (r.status, code_of(&r).as_str()) {
            (200, _) => {
                assert_demo_figures(&r, "every connection cut half-way");
                exact += 1;
            }
            (502, "exchange_unreachable") => {}
            other => panic!("every connection cut half-way: {other:?} {}", body_text(&r)),
        }

        // Every connection cut a few bytes into the exchange's TLS handshake:
        // a clear 502 exchange_unreachable within the retry budget, nothing
        // signed or stored.
        eprintln!("[cut] every connection in the handshake");
        cutter.set_plan(std::iter::repeat_n(Some(5), 100));
        let before_cuts = cutter.cuts.load(Ordering::SeqCst);
        let start = Instant::now();
        let r = c.aggregates(&session).await.unwrap();
        assert_eq!(
            (r.status, code_of(&r).as_str()),
            (502, "exchange_unreachable"),
            "{}",
            body_text(&r)
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{:?}",
            start.elapsed()
        );
        assert!(cutter.cuts.load(Ordering::SeqCst) - before_cuts >= 2);

        // Two cuts in the handshake, then clean: retried, exact.
        eprintln!("[cut] two handshake cuts");
        cutter.set_plan([Some(5), Some(200)]);
        assert_demo_figures(
            &c.aggregates(&session).await.unwrap(),
            "after handshake cuts",
        );
        exact += 1;

        // Healthy again; the database holds exactly the exact results.
        eprintln!("[cut] healed");
        cutter.set_plan([]);
        assert_demo_figures(&c.aggregates(&session).await.unwrap(), "healed");
        exact += 1;
        assert_eq!(
            s.db.count("SELECT count(*) FROM aggregates").await,
            rows - 1 + exact,
            "a failed request stored a result"
        );
        assert_eq!(
            s.db.count("SELECT count(*) FROM transparency_log").await,
            rows - 1 + exact
        );
    })
    .await;
}
