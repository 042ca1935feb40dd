//! Sealed history segments: the format's bounds, the AEAD's refusals, and
//! the chain's behaviour when the host drops or repeats segments.

use rust_decimal::Decimal;

use super::*;

const ACCOUNT_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const ACCOUNT_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn key() -> HistoryKey {
    HistoryKey::from_bytes([7u8; 32])
}

fn info() -> SymbolInfo {
    SymbolInfo {
        base: "BTC".into(),
        quote: "USDT".into(),
    }
}

pub(crate) fn trade(id: u64) -> Trade {
    Trade {
        symbol: "BTCUSDT".into(),
        id,
        order_id: -(id as i64),
        price: Decimal::new(6_512_345_678_901, 8),
        qty: Decimal::new(100_000, 8),
        quote_qty: Decimal::new(65_123_456, 6),
        commission: Decimal::new(1, 8),
        commission_asset: "BNB".into(),
        time: 1_767_225_600_000 + id as i64,
        is_buyer: id.is_multiple_of(2),
        is_maker: id.is_multiple_of(3),
    }
}

fn segment(from_id: u64, next_id: u64, ids: &[u64]) -> Segment {
    Segment {
        symbol: "BTCUSDT".into(),
        info: info(),
        from_id,
        next_id,
        checked_at_ms: 1_767_225_600_000,
        trades: ids.iter().map(|&i| trade(i)).collect(),
    }
}

fn sealed(account: &str, s: &Segment) -> SealedHistory {
    SealedHistory {
        account: account.into(),
        sealed: seal(&key(), account, s, [9u8; NONCE_LEN]).unwrap(),
    }
}

#[test]
fn a_segment_opens_to_what_was_sealed() {
    let s = segment(0, 11, &[3, 5, 10]);
    let bytes = seal(&key(), ACCOUNT_A, &s, [1u8; NONCE_LEN]).unwrap();
    assert_eq!(bytes[0], SEGMENT_FORMAT);
    assert_eq!(&bytes[1..13], &[1u8; NONCE_LEN]);
    assert_eq!(open(&key(), ACCOUNT_A, &bytes).unwrap(), s);
}

#[test]
fn another_account_another_key_or_any_flipped_bit_is_refused() {
    let s = segment(0, 11, &[3, 5, 10]);
    let bytes = seal(&key(), ACCOUNT_A, &s, [1u8; NONCE_LEN]).unwrap();
    assert_eq!(open(&key(), ACCOUNT_B, &bytes), Err(SegmentError));
    let other = HistoryKey::from_bytes([8u8; 32]);
    assert_eq!(open(&other, ACCOUNT_A, &bytes), Err(SegmentError));
    for i in [0, 1, 12, 13, bytes.len() / 2, bytes.len() - 1] {
        let mut t = bytes.clone();
        t[i] ^= 1;
        assert_eq!(open(&key(), ACCOUNT_A, &t), Err(SegmentError), "byte {i}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(open(&key(), ACCOUNT_A, &longer), Err(SegmentError));
    assert_eq!(
        open(&key(), ACCOUNT_A, &bytes[..bytes.len() - 1]),
        Err(SegmentError)
    );
    assert_eq!(open(&key(), ACCOUNT_A, &bytes[..29]), Err(SegmentError));
}

/// Seals `plaintext` as the enclave would, without the encoder's checks.
fn seal_raw(plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(&[7u8; 32]).unwrap();
    let mut buf = plaintext.to_vec();
    let nonce = [2u8; NONCE_LEN];
    let tag = cipher
        .encrypt_inout_detached(&nonce.into(), &aad(ACCOUNT_A), buf.as_mut_slice().into())
        .unwrap();
    [&[SEGMENT_FORMAT][..], &nonce, &buf, &tag].concat()
}

#[test]
fn the_plaintext_is_checked_after_the_tag() {
    let good = serde_cbor::to_vec(&segment(0, 11, &[3, 5, 10]).to_plain()).unwrap();
    assert!(open(&key(), ACCOUNT_A, &seal_raw(&good)).is_ok());
    let trailing = [&good[..], &[0u8]].concat();
    assert_eq!(
        open(&key(), ACCOUNT_A, &seal_raw(&trailing)),
        Err(SegmentError)
    );
    let bad = |f: &dyn Fn(&mut Plain)| {
        let mut p = segment(0, 11, &[3, 5, 10]).to_plain();
        f(&mut p);
        open(
            &key(),
            ACCOUNT_A,
            &seal_raw(&serde_cbor::to_vec(&p).unwrap()),
        )
    };
    assert!(bad(&|_| {}).is_ok());
    assert!(bad(&|p| p.next_id = 10).is_err(), "id at next_id");
    assert!(bad(&|p| p.from_id = 4).is_err(), "id below from_id");
    assert!(bad(&|p| p.from_id = 11).is_err(), "empty range");
    assert!(bad(&|p| p.trades.swap(0, 1)).is_err(), "not ascending");
    assert!(bad(&|p| p.trades.truncate(0)).is_err(), "no trade");
    assert!(bad(&|p| p.trades[0].2 = "-1".into()).is_err(), "negative");
    assert!(bad(&|p| p.trades[0].3 = "1e3".into()).is_err(), "not plain");
    assert!(bad(&|p| p.trades[0].8 = 4).is_err(), "unknown flag");
    assert!(
        bad(&|p| p.symbol = "btc usdt".into()).is_err(),
        "symbol name"
    );
    assert!(
        bad(&|p| p.trades[0].6 = String::new()).is_err(),
        "asset name"
    );
}

#[test]
fn a_full_segment_stays_well_under_the_limit_and_one_more_trade_is_refused() {
    let ids: Vec<u64> = (0..MAX_SEGMENT_TRADES as u64)
        .map(|i| 1_000_000_000 + i)
        .collect();
    let s = segment(0, ids[ids.len() - 1] + 1, &ids);
    let bytes = seal(&key(), ACCOUNT_A, &s, [1u8; NONCE_LEN]).unwrap();
    assert!(bytes.len() < MAX_SEALED_SEGMENT_LEN / 2, "{}", bytes.len());
    assert_eq!(
        open(&key(), ACCOUNT_A, &bytes).unwrap().trades.len(),
        MAX_SEGMENT_TRADES
    );
    let mut over = s.clone();
    over.trades.push(trade(over.next_id));
    over.next_id += 1;
    let plain = serde_cbor::to_vec(&over.to_plain()).unwrap();
    assert_eq!(
        open(&key(), ACCOUNT_A, &seal_raw(&plain)),
        Err(SegmentError)
    );
    // At the byte limit the layout is read; one byte over it is not.
    let at = vec![SEGMENT_FORMAT; MAX_SEALED_SEGMENT_LEN];
    assert_eq!(open(&key(), ACCOUNT_A, &at), Err(SegmentError));
    let over = vec![SEGMENT_FORMAT; MAX_SEALED_SEGMENT_LEN + 1];
    assert_eq!(open(&key(), ACCOUNT_A, &over), Err(SegmentError));
}

#[test]
fn new_trades_are_cut_into_contiguous_segments() {
    let ids: Vec<u64> = (100..12_100).collect();
    let trades: Vec<Trade> = ids.iter().map(|&i| trade(i)).collect();
    let out = segments_of("BTCUSDT", &info(), (50, 12_100), &trades, 5);
    let ranges: Vec<(u64, u64, usize)> = out
        .iter()
        .map(|s| (s.from_id, s.next_id, s.trades.len()))
        .collect();
    assert_eq!(
        ranges,
        [
            (50, 5_100, 5_000),
            (5_100, 10_100, 5_000),
            (10_100, 12_100, 2_000)
        ]
    );
    assert!(segments_of("BTCUSDT", &info(), (50, 50), &[], 5).is_empty());
    let mut stored = Stored::new();
    for s in out {
        let bytes = seal(&key(), ACCOUNT_A, &s, [1u8; NONCE_LEN]).unwrap();
        stored.insert(ACCOUNT_A, open(&key(), ACCOUNT_A, &bytes).unwrap());
    }
    let first = segment(0, 50, &[1, 2]);
    stored.insert(ACCOUNT_A, first);
    let chain = stored.chain(ACCOUNT_A, "BTCUSDT");
    assert_eq!(chain.cursor, 12_100);
    assert_eq!(chain.trades.len(), 12_002);
}

#[test]
fn the_chain_stops_at_a_gap_and_prefers_the_longest_segment() {
    let items = [
        sealed(ACCOUNT_A, &segment(0, 10, &[1, 9])),
        sealed(ACCOUNT_A, &segment(10, 20, &[15])),
        sealed(ACCOUNT_A, &segment(10, 30, &[15, 25])),
        sealed(ACCOUNT_A, &segment(40, 50, &[45])),
        sealed(ACCOUNT_A, &segment(30, 30 + 1, &[30])),
    ];
    let (stored, refused) = Stored::open_all(&key(), &items);
    assert_eq!(refused, 0);
    let chain = stored.chain(ACCOUNT_A, "BTCUSDT");
    let ids: Vec<u64> = chain.trades.iter().map(|t| t.id).collect();
    assert_eq!(ids, [1, 9, 15, 25, 30]);
    assert_eq!(chain.cursor, 31, "40..50 lies beyond the gap 31..40");
    // Without the first segment nothing chains: fetch from 0.
    let (stored, _) = Stored::open_all(&key(), &items[1..]);
    assert_eq!(stored.chain(ACCOUNT_A, "BTCUSDT").cursor, 0);
    assert!(stored.chain(ACCOUNT_A, "ETHUSDT").trades.is_empty());
}

#[test]
fn segments_filed_under_another_account_are_refused_and_others_ignored() {
    let mut misfiled = sealed(ACCOUNT_A, &segment(0, 10, &[1]));
    misfiled.account = ACCOUNT_B.into();
    let items = [
        misfiled,
        sealed(ACCOUNT_A, &segment(0, 10, &[1])),
        SealedHistory {
            account: ACCOUNT_A.into(),
            sealed: vec![SEGMENT_FORMAT; 40],
        },
    ];
    let (stored, refused) = Stored::open_all(&key(), &items);
    assert_eq!(refused, 2);
    assert_eq!(stored.chain(ACCOUNT_B, "BTCUSDT").cursor, 0);
    assert_eq!(stored.others(ACCOUNT_B), 1);
    assert_eq!(stored.others(ACCOUNT_A), 0);
}

/// RFC 5869 test case 3 (SHA-256, empty salt and info): the first 32
/// bytes of its OKM.
#[test]
fn hkdf_matches_rfc_5869() {
    let okm = hkdf_sha256(&[0x0b; 22], b"");
    assert_eq!(
        hex::encode(&okm[..]),
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
    );
}

#[test]
fn the_key_is_the_rings_and_shows_no_bytes() {
    let k = HistoryKey::derive(&[5u8; 32]);
    assert_eq!(format!("{k:?}"), "HistoryKey");
    let same = HistoryKey::derive(&[5u8; 32]);
    let s = segment(0, 2, &[1]);
    let bytes = seal(&k, ACCOUNT_A, &s, [1u8; NONCE_LEN]).unwrap();
    assert_eq!(open(&same, ACCOUNT_A, &bytes).unwrap(), s);
}
