#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn d(s: &str) -> Dec {
    s.parse().unwrap()
}

fn sample() -> AggregatePayload {
    let mut fees = BTreeMap::new();
    fees.insert("BNB".to_string(), d("0.00075"));
    fees.insert("USDT".to_string(), d("1.50"));
    let sym = SymbolAggregates {
        base: "BTC".into(),
        quote: "USDT".into(),
        trade_count: 12,
        buy_qty: d("1.000"),
        sell_qty: d("0.5"),
        volume_quote: d("45000.00"),
        realized_pnl_quote: d("-12.5"),
        unmatched_sell_qty: d("0"),
        fees,
        wins: 3,
        losses: 2,
        win_rate: Some(d("0.6")),
        max_drawdown_quote: d("-0.000"),
    };
    let tot = QuoteTotals {
        trade_count: 12,
        volume_quote: d("45000"),
        realized_pnl_quote: d("-12.5"),
        wins: 3,
        losses: 2,
        max_drawdown_quote: d("0"),
    };
    AggregatePayload {
        version: 1,
        exchange: "binance".into(),
        label: "main".into(),
        account: "ab".repeat(32),
        session: Some("cd".repeat(32)),
        credential: None,
        owner: None,
        policy: None,
        permissions: None,
        selection: None,
        methodology: None,
        returns: None,
        previous: None,
        from: None,
        to: Some("2026-01-01T00:00:00Z".into()),
        computed_at: "2026-01-02T03:04:05Z".into(),
        key_id: "k1".into(),
        pcr0: "00".repeat(48),
        symbols: BTreeMap::from([("BTCUSDT".to_string(), sym)]),
        totals: BTreeMap::from([("USDT".to_string(), tot)]),
    }
}

#[test]
fn decimals_are_normalized_on_the_wire() {
    assert_eq!(d("1.50").to_wire(), "1.5");
    assert_eq!(d("100").to_wire(), "100");
    assert_eq!(d("100.000").to_wire(), "100");
    assert_eq!(d("0.000").to_wire(), "0");
    assert_eq!(d("-0.00").to_wire(), "0");
    assert_eq!(d("-2.0100").to_wire(), "-2.01");
    assert_eq!(d("0.00000001").to_wire(), "0.00000001");
    assert_eq!(d("1.50"), d("1.5"), "compare by value");
}

#[test]
fn strict_decimal_syntax() {
    for bad in [
        "", "1e5", "+1", "1_000", " 1", "1.", ".5", "-", "0x10", "NaN", "1.2.3",
    ] {
        assert!(bad.parse::<Dec>().is_err(), "{bad:?} accepted");
    }
    let long = "1".repeat(MAX_DECIMAL_LEN + 1);
    assert!(long.parse::<Dec>().is_err());
    // Within the length limit but beyond Decimal's 28 digits: refused, not rounded.
    assert!("0.00000000000000000000000000001".parse::<Dec>().is_err());
    assert!(
        serde_json::from_str::<Dec>("1.5").is_err(),
        "JSON numbers refused"
    );
    assert_eq!(serde_json::from_str::<Dec>("\"1.5\"").unwrap(), d("1.5"));
}

#[test]
fn json_matches_design_shape() {
    let v = serde_json::to_value(sample()).unwrap();
    let s = &v["symbols"]["BTCUSDT"];
    assert_eq!(s["buy_qty"], "1");
    assert_eq!(s["volume_quote"], "45000");
    assert_eq!(s["fees"]["USDT"], "1.5");
    assert_eq!(s["win_rate"], "0.6");
    assert_eq!(s["max_drawdown_quote"], "0");
    assert_eq!(s["trade_count"], 12);
    assert!(v["from"].is_null());
    assert_eq!(v["version"], 1);
    let mut none = sample();
    none.symbols.get_mut("BTCUSDT").unwrap().win_rate = None;
    let v = serde_json::to_value(none).unwrap();
    assert!(v["symbols"]["BTCUSDT"]["win_rate"].is_null());
}

#[test]
fn cbor_is_the_same_map_as_json_and_round_trips() {
    let p = sample();
    let cbor = p.to_cbor().unwrap();
    let as_json: serde_json::Value = serde_cbor::from_slice(&cbor).unwrap();
    assert_eq!(as_json, serde_json::to_value(&p).unwrap());
    assert_eq!(AggregatePayload::from_cbor(&cbor).unwrap(), p);
    assert_eq!(p.to_cbor().unwrap(), cbor, "deterministic");
    // Equal values written differently encode identically.
    let mut q = p.clone();
    q.totals.get_mut("USDT").unwrap().volume_quote = d("45000.0000");
    assert_eq!(q.to_cbor().unwrap(), cbor);
}

#[test]
fn non_canonical_encodings_are_refused() {
    let cbor = sample().to_cbor().unwrap();
    // "binance" as a byte string (0x47) instead of a text string (0x67).
    let pos = cbor.windows(8).position(|w| w == b"\x67binance").unwrap();
    let mut bstr = cbor.clone();
    bstr[pos] = 0x47;
    assert!(matches!(
        AggregatePayload::from_cbor(&bstr),
        Err(PayloadError::Malformed)
    ));
    // version 1 as a two-byte integer (0x18 0x01).
    let mut long_int = b"\xacgversion\x18\x01".to_vec();
    long_int.extend_from_slice(&cbor[10..]);
    assert!(matches!(
        AggregatePayload::from_cbor(&long_int),
        Err(PayloadError::Malformed)
    ));
}

#[test]
fn golden_cbor_prefix() {
    // Map of 12 entries (0xac), first key "version" (0x67 'version'), value 1.
    let cbor = sample().to_cbor().unwrap();
    assert_eq!(&cbor[..10], b"\xacgversion\x01");
}

#[test]
fn decoder_rejects_trailing_unknown_version_and_oversize() {
    let mut cbor = sample().to_cbor().unwrap();
    cbor.push(0);
    assert!(matches!(
        AggregatePayload::from_cbor(&cbor),
        Err(PayloadError::Malformed)
    ));
    let mut p = sample();
    p.version = 2;
    assert!(p.to_cbor().is_err(), "a v1 shape is not a v2 payload");
    let big = vec![0u8; MAX_PAYLOAD_BYTES + 1];
    assert!(matches!(
        AggregatePayload::from_cbor(&big),
        Err(PayloadError::TooLarge)
    ));
    let mut json = serde_json::to_value(sample()).unwrap();
    json["extra"] = serde_json::Value::Bool(true);
    assert!(serde_json::from_value::<AggregatePayload>(json).is_err());
    let mut json = serde_json::to_value(sample()).unwrap();
    json["symbols"]["BTCUSDT"]["buy_qty"] = serde_json::json!(1.0);
    assert!(serde_json::from_value::<AggregatePayload>(json).is_err());
}

proptest::proptest! {
    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let _ = AggregatePayload::from_cbor(&bytes);
    }

    #[test]
    fn one_flipped_bit_never_decodes_to_the_same_payload(pos in 0usize..4096, bit in 0u8..8) {
        let p = sample();
        let mut cbor = p.to_cbor().unwrap();
        let i = pos % cbor.len();
        cbor[i] ^= 1 << bit;
        if let Ok(q) = AggregatePayload::from_cbor(&cbor) {
            proptest::prop_assert_ne!(q, p);
        }
    }
}

fn sample_v2() -> AggregatePayload {
    AggregatePayload {
        version: 2,
        session: None,
        credential: Some("ef".repeat(32)),
        owner: None,
        policy: Some(Policy::DEFAULT),
        permissions: None,
        selection: Some(Selection {
            mode: SelectionMode::All,
            considered: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            complete: true,
        }),
        methodology: Some(crate::returns::METHODOLOGY.into()),
        ..sample()
    }
}

#[test]
fn version_2_round_trips_and_writes_nulls() {
    let p = sample_v2();
    let bytes = p.to_cbor().unwrap();
    assert_eq!(AggregatePayload::from_cbor(&bytes).unwrap(), p);
    let json = serde_json::to_value(&p).unwrap();
    assert!(json.get("session").is_none());
    assert_eq!(json["owner"], serde_json::Value::Null);
    assert_eq!(json["previous"], serde_json::Value::Null);
    assert_eq!(json["policy"]["windows"], "days");
    let back: AggregatePayload = serde_json::from_value(json).unwrap();
    assert_eq!(back, p);
}

#[test]
fn versions_do_not_mix() {
    // A v2 field on a v1 payload, or a v1 field on a v2 one, does not encode.
    let mut v1 = sample();
    v1.credential = Some("ef".repeat(32));
    assert!(v1.to_cbor().is_err());
    let mut v2 = sample_v2();
    v2.session = Some("cd".repeat(32));
    assert!(v2.to_cbor().is_err());
    let mut v2 = sample_v2();
    v2.policy = None;
    assert!(v2.to_cbor().is_err());
    // And a v1 map relabelled as 2 does not decode.
    let mut v1 = sample();
    let bytes = v1.to_cbor().unwrap();
    v1.version = 2;
    let mut relabelled = bytes.clone();
    let pos = relabelled
        .windows(8)
        .position(|w| w == b"version\x01")
        .unwrap();
    relabelled[pos + 7] = 0x02;
    assert!(matches!(
        AggregatePayload::from_cbor(&relabelled),
        Err(PayloadError::Malformed)
    ));
    let mut three = bytes;
    three[pos + 7] = 0x03;
    assert!(matches!(
        AggregatePayload::from_cbor(&three),
        Err(PayloadError::Version(3))
    ));
}
