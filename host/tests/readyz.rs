//! `/readyz` answers from a state refreshed at most once a second (issue
//! 15.4): a burst of 1,000 probes costs the enclave about one health RPC a
//! second, not 1,000 (the host's `strongroom_readyz_probes_total`, one
//! enclave health call and one database ping per probe). Real host process,
//! stub enclave.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use common::stub::StubEnclave;
use common::{Host, TestDb, socket_in};

async fn probes(host: &Host) -> u64 {
    let m = String::from_utf8(host.get("/metrics", &[]).await.body).unwrap();
    m.lines()
        .find_map(|l| l.strip_prefix("strongroom_readyz_probes_total "))
        .expect("the probe counter")
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_readyz_costs_about_one_probe_a_second() {
    let db = TestDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, addr) = socket_in(dir.path());
    let _enclave = StubEnclave::start(&path);
    let host = Host::start(&db, &addr, &[]).await;
    common::wait_ready(&host).await;

    let before = probes(&host).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let addr = host.addr.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..125 {
                let r = common::http(&addr, "GET", "/readyz", &[], None).await;
                assert_eq!(r.status, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let spent = probes(&host).await - before;
    // One probe per started second of the burst, plus one in flight.
    let bound = elapsed.as_secs() + 2;
    assert!(
        spent <= bound,
        "{spent} probes for 1,000 /readyz in {elapsed:?} (bound {bound})"
    );
    eprintln!("1,000 /readyz in {elapsed:?}: {spent} probes");
}
