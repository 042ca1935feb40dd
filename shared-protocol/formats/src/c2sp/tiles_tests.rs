#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;

#[test]
fn paths_from_the_spec() {
    let t = Tile::new(TileKind::Hashes(0), 1_234_067, 256).unwrap();
    assert_eq!(t.path(), "tile/0/x001/x234/067");
    let p = Tile::new(TileKind::Hashes(2), 0, 1).unwrap();
    assert_eq!(p.path(), "tile/2/000.p/1");
    let e = Tile::new(TileKind::Entries, 1000, 112).unwrap();
    assert_eq!(e.path(), "tile/entries/x001/000.p/112");
    for t in [t, p, e] {
        assert_eq!(Tile::parse_path(&t.path()).unwrap(), t);
    }
    let max = Tile::new(TileKind::Entries, u64::MAX, 255).unwrap();
    assert_eq!(
        max.path(),
        "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255"
    );
    assert_eq!(max.path().len(), MAX_TILE_PATH_LEN);
    let over = format!("tile/entries/x{}", &max.path()["tile/entries/".len()..]);
    assert_eq!(over.len(), MAX_TILE_PATH_LEN + 1);
    assert_eq!(Tile::parse_path(&over), Err(TileError::Path));
    assert_eq!(Tile::parse_path(&max.path()).unwrap(), max);
}

#[test]
fn bad_paths_refused() {
    let cases = [
        "tile/0/1",
        "tile/0/0001",
        "tile/0/x000/001", // leading zero group
        "tile/0/001/002",  // no x
        "tile/0/x001/x002",
        "tile/00/000",
        "tile/64/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/01",
        "tile/0/000.p/",
        "tile/0/000/",
        "tile/entries/000.p/5/",
        "tile/0/x018/x446/x744/x073/x709/x551/616", // 2^64
        "tile/0/x001/x018/x446/x744/x073/x709/x551/615",
        "/tile/0/000",
        "tile/data/000",
    ];
    for case in cases {
        assert!(Tile::parse_path(case).is_err(), "accepted {case}");
    }
}

#[test]
fn spec_example_tree_of_70000() {
    // 273 full level-0 tiles, a partial of 112; a full level-1 tile, a
    // partial of 17; a partial level-2 tile of 1 (tlog-tiles "Partial Tiles").
    let needed = tiles_for_inclusion(69_999, 70_000).unwrap();
    let paths: Vec<String> = needed.iter().map(Tile::path).collect();
    assert!(paths.contains(&"tile/0/273.p/112".to_owned()), "{paths:?}");
    assert!(paths.contains(&"tile/1/001.p/17".to_owned()), "{paths:?}");
    let first = tiles_for_inclusion(0, 70_000).unwrap();
    let paths: Vec<String> = first.iter().map(Tile::path).collect();
    assert!(paths.contains(&"tile/0/000".to_owned()), "{paths:?}");
    assert!(paths.contains(&"tile/1/000".to_owned()), "{paths:?}");
}

/// Every tile of a tree, built the slow way from its leaves.
struct Store {
    levels: Vec<Vec<Hash>>,
}

impl Store {
    fn new(leaves: &[Hash]) -> Self {
        let mut levels = vec![leaves.to_vec()];
        loop {
            let below = levels.last().unwrap();
            let up: Vec<Hash> = below.chunks_exact(256).map(merkle::root).collect();
            if up.is_empty() {
                return Self { levels };
            }
            levels.push(up);
        }
    }
}

impl TileReader for Store {
    type Error = String;
    fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, String> {
        let TileKind::Hashes(l) = tile.kind() else {
            return Err("entries".into());
        };
        let level = self.levels.get(usize::from(l)).ok_or("no level")?;
        let start = tile.index() as usize * 256;
        let end = start + usize::from(tile.width());
        // Serve only tiles that exist: a partial tile must be the edge one.
        let full = level.len() >= start + 256;
        if end > level.len() || (!full && end != level.len()) {
            return Err(format!("no such tile {}", tile.path()));
        }
        Ok(level[start..end].concat())
    }
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
        .collect()
}

#[test]
fn proofs_from_tiles_match_merkle() {
    for size in [
        1u64, 2, 255, 256, 257, 511, 512, 700, 65_536, 65_537, 70_000,
    ] {
        let all = leaves(size);
        let store = Store::new(&all);
        for index in [0, size / 3, size / 2, size - 1] {
            let want = merkle::inclusion_proof(&all, index).unwrap();
            let got = inclusion_proof(&store, index, size).unwrap();
            assert_eq!(got, want, "inclusion {index} in {size}");
        }
        for old in [1, size / 2, size - 1, size] {
            if old == 0 {
                continue;
            }
            let want = merkle::consistency_proof(&all, old).unwrap();
            let got = consistency_proof(&store, old, size).unwrap();
            assert_eq!(got, want, "consistency {old} -> {size}");
        }
    }
}

#[test]
fn reader_errors_and_wrong_lengths() {
    struct Short;
    impl TileReader for Short {
        type Error = ();
        fn read_tile(&self, _: &Tile) -> Result<Vec<u8>, ()> {
            Ok(vec![0; 31])
        }
    }
    assert_eq!(inclusion_proof(&Short, 0, 2), Err(TileError::TileLength));
    assert!(matches!(
        inclusion_proof(&Short, 2, 2),
        Err(TileError::Merkle(_))
    ));
    assert!(matches!(
        consistency_proof(&Short, 3, 2),
        Err(TileError::Merkle(_))
    ));
}

proptest! {
    #[test]
    fn path_round_trip(level in 0u8..=MAX_TILE_LEVEL, entries in any::<bool>(), index in any::<u64>(), width in 1u16..=256) {
        let kind = if entries { TileKind::Entries } else { TileKind::Hashes(level) };
        let t = Tile::new(kind, index, width).unwrap();
        prop_assert_eq!(Tile::parse_path(&t.path()).unwrap(), t);
    }

    #[test]
    fn needed_tiles_are_what_the_proof_reads(size in 1u64..3000, i in any::<u64>()) {
        let index = i % size;
        let all = leaves(size);
        let store = Store::new(&all);
        let needed = tiles_for_inclusion(index, size).unwrap();
        // A reader that serves only the announced tiles still yields the proof.
        struct Only<'a>(&'a Store, &'a [Tile]);
        impl TileReader for Only<'_> {
            type Error = String;
            fn read_tile(&self, t: &Tile) -> Result<Vec<u8>, String> {
                if !self.1.contains(t) { return Err(t.path()); }
                self.0.read_tile(t)
            }
        }
        let got = inclusion_proof(&Only(&store, &needed), index, size).unwrap();
        prop_assert_eq!(got, merkle::inclusion_proof(&all, index).unwrap());
    }
}

#[test]
fn entry_bundles_split_exactly_or_not_at_all() {
    let bundle = [0, 2, b'a', b'b', 0, 0, 0, 1, b'c'];
    let entries = split_entry_bundle(&bundle, 3).unwrap();
    assert_eq!(entries, vec![&b"ab"[..], &b""[..], &b"c"[..]]);
    assert_eq!(split_entry_bundle(&bundle, 2), None);
    assert_eq!(split_entry_bundle(&bundle, 4), None);
    assert_eq!(split_entry_bundle(&bundle[..8], 3), None);
    assert_eq!(split_entry_bundle(&[0], 1), None);
    assert_eq!(split_entry_bundle(&[], 0), Some(vec![]));
}
