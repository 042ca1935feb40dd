//! The log as C2SP tlog-tiles, with real PostgreSQL and the real host process
//! (stub enclave): tiles built at start for a log that had only leaves, kept
//! by appends across tile boundaries, served with the spec's paths and
//! headers, equal to tiles cut from the leaf hashes by the definition; an
//! inclusion proof computed from fetched tiles verifies against the signed
//! root; and on a 1,000,000-leaf log every proof reads O(log n) tile rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::agg::{b64, check_answer, hashes, head, root, submit};
use common::stub::StubEnclave;
use common::stub_log::{KEY_ID, signing_key};
use common::{Host, TestDb, socket_in};
use serde_json::json;
use sha2::{Digest, Sha256};
use strongroom_formats::c2sp::tiles::{self, Tile, TileKind, TileReader};
use strongroom_formats::merkle::{self, Frontier, Hash};
use strongroom_protocol::tlog::TreeHead;
use strongroom_verifier::cose::sign_es256;

/// Synthetic leaf hash `i`: what the seeding SQL computes (`int8send` is big-endian).
fn synthetic(i: u64) -> Hash {
    Sha256::digest(i.to_be_bytes()).into()
}

fn signed_head(size: u64, root: Hash) -> Vec<u8> {
    let h = TreeHead {
        size,
        root: root.to_vec(),
        time: "2026-12-01T00:00:00Z".into(),
        key_id: KEY_ID.into(),
    };
    sign_es256(&h.to_cbor().unwrap(), KEY_ID, &signing_key())
}

/// Fills the log with `n` synthetic leaves straight in SQL (no aggregates:
/// their data counts as erased), the matching state and a signed head for
/// `n` and each of `heads`. Returns the leaf hashes.
async fn seed(db: &TestDb, n: u64, heads: &[u64]) -> Vec<Hash> {
    let c = db.client().await;
    let size = i64::try_from(n).unwrap();
    c.execute(
        "INSERT INTO transparency_log (leaf_index, leaf_hash) \
         SELECT i, sha256(int8send(i)) FROM generate_series(0::bigint, $1::bigint - 1) AS i",
        &[&size],
    )
    .await
    .unwrap();
    let leaves: Vec<Hash> = (0..n).map(synthetic).collect();
    let f = Frontier::from_leaf_hashes(&leaves);
    c.execute(
        "UPDATE transparency_state SET tree_size = $1, frontier = $2, head = $3",
        &[&size, &f.hashes().concat(), &signed_head(n, f.root())],
    )
    .await
    .unwrap();
    for &s in heads.iter().chain([&n]) {
        let r = merkle::root(&leaves[..usize::try_from(s).unwrap()]);
        c.execute(
            "INSERT INTO tree_heads (tree_size, root_hash, cose) VALUES ($1, $2, $3)",
            &[
                &i64::try_from(s).unwrap(),
                &r.as_slice(),
                &signed_head(s, r),
            ],
        )
        .await
        .unwrap();
    }
    leaves
}

/// Tile `(level, index)` of the tree of `leaves`, by the spec's definition.
fn expected_tile(leaves: &[Hash], level: u32, index: usize, width: usize) -> Vec<u8> {
    let span = 256usize.pow(level);
    (0..width)
        .map(|i| {
            let start = (index * 256 + i) * span;
            merkle::root(&leaves[start..start + span])
        })
        .collect::<Vec<_>>()
        .concat()
}

/// Tiles fetched over HTTP, read back by the formats crate's proof code.
struct Fetched(HashMap<Tile, Vec<u8>>);

impl TileReader for Fetched {
    type Error = ();
    fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, ()> {
        self.0.get(tile).cloned().ok_or(())
    }
}

async fn fetch(host: &Host, tile: &Tile) -> Vec<u8> {
    let r = host.get(&format!("/{}", tile.path()), &[]).await;
    assert_eq!(
        r.status,
        200,
        "{}: {}",
        tile.path(),
        String::from_utf8_lossy(&r.body)
    );
    r.body
}

/// A stub enclave in `dir` and a host on `db` that publishes entries and
/// lets the tests' many requests through.
async fn public_host(db: &TestDb, dir: &std::path::Path) -> (String, StubEnclave, Host) {
    let (path, addr) = socket_in(dir);
    let enclave = StubEnclave::start(&path);
    let host = Host::start(
        db,
        &addr,
        &[("RATE_LIMIT_MAX", "10000"), ("PUBLIC_LOG_ENTRIES", "1")],
    )
    .await;
    (addr, enclave, host)
}

#[tokio::test]
async fn tiles_are_built_kept_served_and_prove() {
    let db = TestDb::migrated().await;
    // 511 leaves from before the tiles existed, then 3 appends: the first
    // fills level-0 tile 1 and adds the second hash to level-1 tile 0.
    let mut leaves = seed(&db, 511, &[300]).await;
    let dir = tempfile::tempdir().unwrap();
    let (addr, _enclave, host) = public_host(&db, dir.path()).await;
    let key = db.tenant("acme").await;
    let mut signed = Vec::new();
    for _ in 0..3 {
        let session = submit(&host, &key, "main").await;
        let body = json!({"session_id": session}).to_string();
        let r = host.post("/enclave/request_aggregates", &key, &body).await;
        check_answer(&r, &session);
        let s = b64(&r.json()["aggregates_signed"]);
        leaves.push(merkle::leaf_hash(&s));
        signed.push(s);
    }
    let n = 514;
    // Every tile of the tree of 514, and older partial prefixes, as defined.
    for (path, level, index, width) in [
        ("tile/0/000", 0, 0, 256),
        ("tile/0/001", 0, 1, 256),
        ("tile/0/002.p/2", 0, 2, 2),
        ("tile/1/000.p/2", 1, 0, 2),
        ("tile/0/001.p/255", 0, 1, 255),
        ("tile/1/000.p/1", 1, 0, 1),
    ] {
        let r = host.get(&format!("/{path}"), &[]).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.body,
            expected_tile(&leaves, level, index, width),
            "{path}"
        );
        let cache = if width == 256 {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=60"
        };
        assert_eq!(r.headers["cache-control"], cache, "{path}");
        assert_eq!(r.headers["access-control-allow-origin"], "*");
        assert_eq!(r.headers["content-type"], "application/octet-stream");
        assert!(
            !r.headers.contains_key("vary"),
            "{path}: one cached copy for every origin"
        );
    }
    // A page on any origin reads the log; the allowed-origin list does not apply.
    let r = host
        .get("/tile/0/000", &[("origin", "https://elsewhere.example")])
        .await;
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    // Entry bundles: the appended results, length-prefixed; erased data is 410.
    let r = host.get("/tile/entries/002.p/2", &[]).await;
    assert_eq!(r.status, 200);
    let mut want = Vec::new();
    for s in &signed[1..] {
        want.extend_from_slice(&u16::try_from(s.len()).unwrap().to_be_bytes());
        want.extend_from_slice(s);
    }
    assert_eq!(r.body, want);
    assert_eq!(r.headers["cache-control"], "public, max-age=60");
    let r = host.get("/tile/entries/001", &[]).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (410, Some("entry_erased"))
    );
    refusals(&host).await;
    proofs(&host, &leaves, n).await;
    // A host whose operator did not make the entries public serves the hash
    // tiles but no leaf: the results stay the traders' to disclose.
    let private = Host::start(&db, &addr, &[("RATE_LIMIT_MAX", "10000")]).await;
    assert_eq!(private.get("/tile/0/000", &[]).await.status, 200);
    let r = private.get("/tile/entries/000", &[]).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(text.contains("PUBLIC_LOG_ENTRIES"), "{text}");
}

/// Beyond the log: 404 out_of_range; not a canonical path: 404 not_found;
/// another method: 405. Always the JSON error, never a 500.
async fn refusals(host: &Host) {
    for path in [
        "/tile/0/002",
        "/tile/1/000",
        "/tile/2/000.p/1",
        "/tile/0/002.p/3",
        "/tile/entries/003.p/1",
    ] {
        let r = host.get(path, &[]).await;
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (404, Some("out_of_range")),
            "{path}"
        );
        assert_eq!(r.headers["access-control-allow-origin"], "*");
        assert_eq!(r.headers["cache-control"], "no-store");
    }
    let long = format!("/tile/0/{}", "x001/".repeat(20) + "000");
    for path in [
        "/tile/0/1",
        "/tile/00/000",
        "/tile/0/x000/001",
        "/tile/0/000.p/0",
        "/tile/0/000.p/256",
        "/tile/0/000.p/07",
        "/tile/64/000",
        "/tile/-1/000",
        "/tile/entries/",
        "/tile/",
        "/tile/0/000/",
        "/tile/0/x1/000",
        "/tile/0/000.p/",
        "/tile/0/%30%30%30",
        "/tile/a/000",
        &long,
        "/tile/0/x018/x446/x744/x073/x709/x551/616",
    ] {
        let r = host.get(path, &[]).await;
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    let r = host.post("/tile/0/000", "", "{}").await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
}

/// Proofs three ways agree: fetched tiles (client side), the JSON endpoints
/// (tiles, host side) and the leaf hashes; each verifies against the head.
async fn proofs(host: &Host, leaves: &[Hash], n: u64) {
    let signed_root = root(&head(&b64(&host
        .get("/transparency/head", &[])
        .await
        .json()["tree_head"])));
    assert_eq!(signed_root, merkle::root(leaves));
    for index in [0, 255, 256, 300, 510, 511, 513] {
        let mut fetched = Fetched(HashMap::new());
        for t in tiles::tiles_for_inclusion(index, n).unwrap() {
            let body = fetch(host, &t).await;
            fetched.0.insert(t, body);
        }
        let from_tiles = tiles::inclusion_proof(&fetched, index, n).unwrap();
        let leaf = &leaves[usize::try_from(index).unwrap()];
        merkle::verify_inclusion(leaf, index, n, &from_tiles, &signed_root).unwrap();
        let v = host
            .get(&format!("/transparency/inclusion?leaf_index={index}"), &[])
            .await
            .json();
        assert_eq!(hashes(&v["inclusion_proof"]), from_tiles);
        assert_eq!(b64(&v["leaf_hash"]), leaf);
        assert_eq!(from_tiles, merkle::inclusion_proof(leaves, index).unwrap());
    }
    for (old, new) in [(300, 514), (511, 514), (300, 511), (514, 514)] {
        let v = host
            .get(
                &format!("/transparency/consistency?first={old}&second={new}"),
                &[],
            )
            .await
            .json();
        let want =
            merkle::consistency_proof(&leaves[..usize::try_from(new).unwrap()], old).unwrap();
        assert_eq!(hashes(&v["consistency_proof"]), want, "{old} -> {new}");
        let (a, b) = (head(&b64(&v["first_head"])), head(&b64(&v["second_head"])));
        merkle::verify_consistency(old, new, &root(&a), &root(&b), &want).unwrap();
    }
}

/// Tile rows read so far, from the host's metrics.
async fn tiles_read(host: &Host) -> u64 {
    let text = String::from_utf8(host.get("/metrics", &[]).await.body).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("strongroom_tlog_tiles_read_total "))
        .unwrap();
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// 1,000,000 leaves, seeded in SQL (about 12 s on 2 busy cores: the
/// inserts and their primary-key index; the backfill takes 5 to 7 s more, the
/// whole test about 30 s); tiles built by the host's own backfill
/// (the code `serve` runs at start); then every proof reads at most a few
/// tile rows: 3 tile levels, at most 2 tiles per level on a proof's path
/// plus the leaf's own tile, against 1,000,000 leaf rows for the old code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_leaves_prove_from_log_n_tiles() {
    const N: u64 = 1_000_000;
    // Per tile level (3 for 10^6 leaves), an inclusion path touches at most
    // the tile of the leaf's ancestor and the right edge's tile; a
    // consistency proof also the old tree's right edge. Measured: 3 to 5.
    const MAX_TILES: usize = 7;
    const MAX_CONSISTENCY_TILES: usize = 9;
    let db = TestDb::migrated().await;
    let t0 = std::time::Instant::now();
    let leaves = seed(&db, N, &[999_999, 500_000]).await;
    eprintln!("seeded {N} leaves in {:?}", t0.elapsed());
    let mut c = db.client().await;
    let t0 = std::time::Instant::now();
    let tx = c.transaction().await.unwrap();
    let built = strongroom_host::tlog::tiles::backfill(&tx).await.unwrap();
    tx.commit().await.unwrap();
    eprintln!("built the tiles in {:?}", t0.elapsed());
    assert_eq!(built, Some(N));
    assert_eq!(
        db.count("SELECT count(*) FROM transparency_tiles").await,
        3907 + 16 + 1
    );
    let root = merkle::root(&leaves);
    assert_eq!(
        strongroom_host::tlog::tiles::root_at(&c, N).await.unwrap(),
        root
    );
    for size in [1, 256, 65_537, 999_999] {
        let want = merkle::root(&leaves[..usize::try_from(size).unwrap()]);
        assert_eq!(
            strongroom_host::tlog::tiles::root_at(&c, size)
                .await
                .unwrap(),
            want
        );
    }
    for index in [0, 1, 255, 65_535, 65_536, 500_000, 999_935, 999_999] {
        let (leaf, p) = strongroom_host::tlog::tiles::inclusion_proof(&c, index, N)
            .await
            .unwrap();
        eprintln!("inclusion of {index}: {} tile rows", p.tiles_read);
        assert!(p.tiles_read <= MAX_TILES, "{index}: {} tiles", p.tiles_read);
        merkle::verify_inclusion(&leaf, index, N, &p.hashes, &root).unwrap();
        assert_eq!(leaf, leaves[usize::try_from(index).unwrap()]);
    }
    for old in [1, 255, 256, 65_537, 500_000, 999_999] {
        let p = strongroom_host::tlog::tiles::consistency_proof(&c, old, N)
            .await
            .unwrap();
        eprintln!("consistency {old} -> {N}: {} tile rows", p.tiles_read);
        assert!(
            p.tiles_read <= MAX_CONSISTENCY_TILES,
            "{old}: {} tiles",
            p.tiles_read
        );
        let old_root = merkle::root(&leaves[..usize::try_from(old).unwrap()]);
        merkle::verify_consistency(old, N, &old_root, &root, &p.hashes).unwrap();
    }
    // The same through the real host: the JSON answer, and its tile reads.
    let dir = tempfile::tempdir().unwrap();
    let (_addr, _enclave, host) = public_host(&db, dir.path()).await;
    let before = tiles_read(&host).await;
    let v = host
        .get("/transparency/inclusion?leaf_index=765432", &[])
        .await
        .json();
    let after = tiles_read(&host).await;
    assert!(
        after - before <= MAX_TILES as u64,
        "{} tiles",
        after - before
    );
    merkle::verify_inclusion(
        &leaves[765_432],
        765_432,
        N,
        &hashes(&v["inclusion_proof"]),
        &root,
    )
    .unwrap();
    let v = host
        .get("/transparency/consistency?first=500000&second=1000000", &[])
        .await
        .json();
    assert_eq!(root_of(&v["second_head"]), root);
    let old_root = root_of(&v["first_head"]);
    merkle::verify_consistency(
        500_000,
        N,
        &old_root,
        &root,
        &hashes(&v["consistency_proof"]),
    )
    .unwrap();
    let r = host
        .get(
            &format!("/{}", Tile::new(TileKind::Hashes(2), 0, 15).unwrap().path()),
            &[],
        )
        .await;
    assert_eq!(r.body, expected_tile(&leaves, 2, 0, 15));
}

fn root_of(v: &serde_json::Value) -> Hash {
    root(&head(&b64(v)))
}

/// The backfill refuses leaves that do not make the stored frontier, is a
/// no-op once tiles are complete, and closing the log (`keys reset`) drops
/// the tiles with the leaves (the archive keeps the leaves).
#[tokio::test]
async fn backfill_checks_the_state_and_close_drops_tiles() {
    use strongroom_host::tlog::{TlogError, tiles::backfill};
    let db = TestDb::migrated().await;
    seed(&db, 300, &[]).await;
    let mut c = db.client().await;
    c.execute(
        "UPDATE transparency_log SET leaf_hash = sha256('x') WHERE leaf_index = 7",
        &[],
    )
    .await
    .unwrap();
    let tx = c.transaction().await.unwrap();
    assert!(matches!(backfill(&tx).await, Err(TlogError::Corrupt)));
    drop(tx);
    c.execute(
        "UPDATE transparency_log SET leaf_hash = sha256(int8send(7::bigint)) WHERE leaf_index = 7",
        &[],
    )
    .await
    .unwrap();
    for want in [Some(300), None] {
        let tx = c.transaction().await.unwrap();
        assert_eq!(backfill(&tx).await.unwrap(), want);
        tx.commit().await.unwrap();
    }
    assert_eq!(db.count("SELECT count(*) FROM transparency_tiles").await, 3);
    let tx = c.transaction().await.unwrap();
    assert_eq!(
        strongroom_host::store::log::close(&tx).await.unwrap(),
        Some((1, 300))
    );
    tx.commit().await.unwrap();
    assert_eq!(db.count("SELECT count(*) FROM transparency_tiles").await, 0);
    assert_eq!(
        db.count("SELECT count(*) FROM transparency_log_archive")
            .await,
        300
    );
}
