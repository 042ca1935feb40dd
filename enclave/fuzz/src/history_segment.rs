//! `history::open`: a `SealedHistory.sealed` from the host, opened with a
//! fixed history key for a fixed account. Byte 0 selects the mode (mod 3),
//! the rest feeds it:
//!
//! - 0, raw: `rest` is the sealed bytes. Nothing may open (the GCM tag
//!   cannot be forged).
//! - 1, honest: `rest` is AES-256-GCM-sealed as the plaintext under the fixed
//!   key and the account's associated data, so it reaches the CBOR decoder
//!   and the segment rules. Whatever opens keeps every rule (1..=5,000
//!   trades, ids strictly ascending inside `from_id..next_id`) and seals
//!   and opens again to the same segment.
//! - 2, tampered: a genuine sealed segment edited by `rest` (see
//!   [`tamper`]). It must open exactly when the bytes are untouched, and
//!   never for another account.

use std::sync::OnceLock;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use strongroom_enclave_core::aggregate::{SymbolInfo, parse_trades_page};
use strongroom_enclave_core::history::{
    self, HistoryKey, MAX_SEGMENT_TRADES, NONCE_LEN, SEGMENT_FORMAT, Segment,
};

/// The fixed history key.
pub const KEY: [u8; 32] = [0x42; 32];
/// The fixed account pseudonym.
pub const ACCOUNT: &str = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";

fn key() -> HistoryKey {
    HistoryKey::from_bytes(KEY)
}

/// A genuine segment of three trades, sealed.
pub fn seed() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    SEED.get_or_init(|| {
        let page = br#"[{"symbol":"BTCUSDT","id":3,"orderId":1,"price":"100.5","qty":"0.25","quoteQty":"25.125","commission":"0.01","commissionAsset":"BNB","time":1700000000000,"isBuyer":true,"isMaker":false},
        {"symbol":"BTCUSDT","id":7,"orderId":2,"price":"101","qty":"1","quoteQty":"101","commission":"0","commissionAsset":"USDT","time":1700000001000,"isBuyer":false,"isMaker":true},
        {"symbol":"BTCUSDT","id":8,"orderId":3,"price":"99.00000001","qty":"2","quoteQty":"198.00000002","commission":"0.2","commissionAsset":"USDT","time":1700000002000,"isBuyer":true,"isMaker":true}]"#;
        let trades = parse_trades_page(page).expect("seed trades");
        let info = SymbolInfo {
            base: "BTC".into(),
            quote: "USDT".into(),
        };
        let segments = history::segments_of("BTCUSDT", &info, (0, 9), &trades, 1);
        history::seal(&key(), ACCOUNT, &segments[0], [3u8; NONCE_LEN]).expect("seal")
    })
}

/// The seed's plaintext (CBOR), for the honest mode's seeds.
pub fn seed_plaintext() -> Vec<u8> {
    let s = seed();
    let cipher = Aes256Gcm::new_from_slice(&KEY).expect("32-byte key");
    let nonce: [u8; NONCE_LEN] = s[1..1 + NONCE_LEN].try_into().expect("nonce");
    let (ct, tag) = s[1 + NONCE_LEN..].split_at(s.len() - 1 - NONCE_LEN - 16);
    let tag: [u8; 16] = tag.try_into().expect("tag");
    let mut buf = ct.to_vec();
    cipher
        .decrypt_inout_detached(
            &nonce.into(),
            &history::aad(ACCOUNT),
            buf.as_mut_slice().into(),
            &tag.into(),
        )
        .expect("the seed opens");
    buf
}

/// One input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => assert!(
            history::open(&key(), ACCOUNT, rest).is_err(),
            "arbitrary bytes opened"
        ),
        1 => honest(rest),
        _ => tampered(rest),
    }
}

fn check(s: &Segment) {
    assert!(!s.trades.is_empty() && s.trades.len() <= MAX_SEGMENT_TRADES);
    assert!(s.from_id < s.next_id);
    let mut floor = s.from_id;
    for t in &s.trades {
        assert!(t.id >= floor && t.id < s.next_id, "id out of range");
        assert_eq!(t.symbol, s.symbol);
        floor = t.id + 1;
    }
}

fn honest(plaintext: &[u8]) {
    let nonce = [2u8; NONCE_LEN];
    let cipher = Aes256Gcm::new_from_slice(&KEY).expect("32-byte key");
    let mut buf = plaintext.to_vec();
    let Ok(tag) = cipher.encrypt_inout_detached(
        &nonce.into(),
        &history::aad(ACCOUNT),
        buf.as_mut_slice().into(),
    ) else {
        return;
    };
    let sealed = [&[SEGMENT_FORMAT][..], &nonce, &buf, &tag].concat();
    let Ok(segment) = history::open(&key(), ACCOUNT, &sealed) else {
        return;
    };
    check(&segment);
    let again = history::seal(&key(), ACCOUNT, &segment, [4u8; NONCE_LEN]).expect("reseal");
    assert_eq!(
        history::open(&key(), ACCOUNT, &again).expect("a resealed segment opens"),
        segment
    );
}

/// Edits `sealed` by `ops`, two bytes per edit: (what, value).
pub fn tamper(sealed: &mut Vec<u8>, ops: &[u8]) {
    for op in ops.chunks(2) {
        let (what, v) = (op[0], op.get(1).copied().unwrap_or(0));
        let n = sealed.len().max(1);
        let i = usize::from(v) * 7 % n;
        match what % 4 {
            0 if !sealed.is_empty() => sealed[i] ^= v,
            1 => sealed.truncate(sealed.len().saturating_sub(usize::from(v))),
            2 => sealed.push(v),
            _ => sealed.insert(i.min(sealed.len()), v),
        }
    }
}

fn tampered(ops: &[u8]) {
    let mut sealed = seed().to_vec();
    tamper(&mut sealed, ops);
    let opened = history::open(&key(), ACCOUNT, &sealed);
    assert_eq!(
        opened.is_ok(),
        sealed == seed(),
        "open disagrees with the tampering"
    );
    if let Ok(s) = opened {
        check(&s);
    }
    let other = "1".repeat(64);
    assert!(
        history::open(&key(), &other, &sealed).is_err(),
        "another account"
    );
}
