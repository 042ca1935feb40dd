//! The transparency log under concurrency: two `strongroom-host` processes on
//! one database and one (stub) enclave append concurrently; the log stays linear
//! (heads 1..N exactly once) and every proof verifies with the verifier's code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Host;
use common::agg::{b64, check_answer, hashes, head, root, stack, submit};
use serde_json::json;
use strongroom_verifier::merkle::{leaf_hash, verify_consistency, verify_inclusion};

#[tokio::test]
async fn two_hosts_on_one_database_grow_one_linear_log() {
    let s = stack().await;
    let second = Host::start(&s.db, &s.addr, &[("RATE_LIMIT_MAX", "10000")]).await;
    let key = s.db.tenant("acme").await;
    const N: u64 = 24;
    // One session per request: requests on one session also queue on its row lock,
    // which would hide a missing log lock.
    let mut sessions = Vec::new();
    for _ in 0..N {
        sessions.push(submit(&s.host, &key, "main").await);
    }
    let hosts = [&s.host, &second];
    let calls = sessions.iter().enumerate().map(|(i, session)| {
        let (host, key) = (hosts[i % 2], &key);
        let body = json!({"session_id": session}).to_string();
        async move { host.post("/enclave/request_aggregates", key, &body).await }
    });
    let replies = futures_join_all(calls).await;
    let mut indices: Vec<u64> = Vec::new();
    let mut sizes: Vec<u64> = Vec::new();
    for (r, session) in replies.iter().zip(&sessions) {
        let (i, n) = check_answer(r, session);
        indices.push(i);
        sizes.push(n);
    }
    indices.sort_unstable();
    sizes.sort_unstable();
    assert_eq!(
        indices,
        (0..N).collect::<Vec<_>>(),
        "each index exactly once"
    );
    assert_eq!(
        sizes,
        (1..=N).collect::<Vec<_>>(),
        "heads 1..N exactly once"
    );
    let c = s.db.client().await;
    let stored: Vec<i64> = c
        .query("SELECT tree_size FROM tree_heads ORDER BY tree_size", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, (1..=N as i64).collect::<Vec<_>>());
    // Every head extends every earlier one (no fork), whichever host served it.
    for (m, n) in [(1, N), (7, 13), (12, N), (N - 1, N)] {
        let v = second
            .get(
                &format!("/transparency/consistency?first={m}&second={n}"),
                &[],
            )
            .await
            .json();
        let (old, new) = (head(&b64(&v["first_head"])), head(&b64(&v["second_head"])));
        verify_consistency(
            m,
            n,
            &root(&old),
            &root(&new),
            &hashes(&v["consistency_proof"]),
        )
        .unwrap();
    }
    for r in &replies {
        let v = r.json();
        let signed = b64(&v["aggregates_signed"]);
        let idx = v["log"]["leaf_index"].as_u64().unwrap();
        let q = s
            .host
            .get(&format!("/transparency/inclusion?leaf_index={idx}"), &[])
            .await
            .json();
        let h = head(&b64(&q["tree_head"]));
        assert_eq!(h.size, N);
        verify_inclusion(
            &leaf_hash(&signed),
            idx,
            N,
            &hashes(&q["inclusion_proof"]),
            &root(&h),
        )
        .unwrap();
    }
}

/// Runs futures concurrently on this task (no extra dependency).
async fn futures_join_all<F: std::future::Future>(fs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in fs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}
