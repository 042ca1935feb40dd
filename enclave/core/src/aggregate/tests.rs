#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::trade::MAX_TRADES_PAGE_BYTES;
use super::*;
use proptest::prelude::*;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn tr(
    sym: &str,
    id: u64,
    time: i64,
    buy: bool,
    qty: &str,
    price: &str,
    fee: &str,
    asset: &str,
) -> Trade {
    Trade {
        symbol: sym.into(),
        id,
        order_id: id as i64,
        price: d(price),
        qty: d(qty),
        quote_qty: d(qty) * d(price),
        commission: d(fee),
        commission_asset: asset.into(),
        time,
        is_buyer: buy,
        is_maker: false,
    }
}

fn info() -> BTreeMap<String, SymbolInfo> {
    [
        ("BTCUSDT", "BTC", "USDT"),
        ("ETHUSDT", "ETH", "USDT"),
        ("ETHBTC", "ETH", "BTC"),
    ]
    .into_iter()
    .map(|(s, b, q)| {
        (
            s.to_string(),
            SymbolInfo {
                base: b.into(),
                quote: q.into(),
            },
        )
    })
    .collect()
}

fn fixture_one() -> Vec<Trade> {
    vec![
        tr("BTCUSDT", 1, 1000, true, "1", "100", "0.1", "USDT"),
        tr("BTCUSDT", 2, 2000, true, "1", "200", "0.001", "BNB"),
        tr("BTCUSDT", 3, 3000, false, "1.5", "150", "0.2", "USDT"),
        tr("BTCUSDT", 4, 4000, false, "1", "100", "0.1", "USDT"),
        tr("BTCUSDT", 5, 5000, true, "2", "50", "0", "USDT"),
        tr("BTCUSDT", 6, 6000, false, "1", "80", "0", "USDT"),
    ]
}

#[test]
fn hand_computed_single_symbol() {
    // id3 sells 1.5 @150: 1 from the lot @100 (+50), 0.5 from the lot @200
    //   (-25) => +25, a win. cum 25, peak 25.
    // id4 sells 1 @100: 0.5 left @200 (-50), 0.5 unmatched => -50, a loss.
    //   cum -25, drawdown 25 - (-25) = 50.
    // id5 buys 2 @50; id6 sells 1 @80: +30, a win. cum 5.
    // volume 100+200+225+100+100+80 = 805; pnl 25-50+30 = 5.
    let (s, t) = aggregate(&fixture_one(), &info(), Window::default()).unwrap();
    let b = &s["BTCUSDT"];
    assert_eq!(b.trade_count, 6);
    assert_eq!(b.buy_qty.to_wire(), "4");
    assert_eq!(b.sell_qty.to_wire(), "3.5");
    assert_eq!(b.volume_quote.to_wire(), "805");
    assert_eq!(b.realized_pnl_quote.to_wire(), "5");
    assert_eq!(b.unmatched_sell_qty.to_wire(), "0.5");
    assert_eq!(b.fees["USDT"].to_wire(), "0.4");
    assert_eq!(b.fees["BNB"].to_wire(), "0.001");
    assert_eq!((b.wins, b.losses), (2, 1));
    assert_eq!(b.win_rate.unwrap().to_wire(), "0.666666666666666667");
    assert_eq!(b.max_drawdown_quote.to_wire(), "50");
    let u = &t["USDT"];
    assert_eq!(u.trade_count, 6);
    assert_eq!(u.max_drawdown_quote.to_wire(), "50");
    assert_eq!(t.len(), 1);
}

#[test]
fn window_is_from_inclusive_to_exclusive() {
    // Trades 2..=5: buy 1 @200; sell 1.5 @150 => 1 @200 matched (-50), 0.5
    // unmatched; sell 1 @100 => no lot left, 1 unmatched, pnl 0 (neither win
    // nor loss); buy 2 @50. pnl -50, unmatched 1.5, drawdown 50.
    let w = Window {
        from_ms: Some(2000),
        to_ms: Some(6000),
    };
    let (s, _) = aggregate(&fixture_one(), &info(), w).unwrap();
    let b = &s["BTCUSDT"];
    assert_eq!(b.trade_count, 4);
    assert_eq!(b.volume_quote.to_wire(), "625");
    assert_eq!(b.realized_pnl_quote.to_wire(), "-50");
    assert_eq!(b.unmatched_sell_qty.to_wire(), "1.5");
    assert_eq!((b.wins, b.losses), (0, 1));
    assert_eq!(b.win_rate.unwrap().to_wire(), "0");
    assert_eq!(b.max_drawdown_quote.to_wire(), "50");
    let empty = Window {
        from_ms: Some(7000),
        to_ms: None,
    };
    let (s, t) = aggregate(&fixture_one(), &info(), empty).unwrap();
    assert!(
        s.is_empty() && t.is_empty(),
        "symbols without trades are left out"
    );
}

#[test]
fn hand_computed_totals_merge_sells_by_time() {
    // ETHUSDT: buy 1 @20 (t1000), sell 1 @10 (t1500) => -10; dd 10.
    // BTCUSDT: buy 1 @100 (t1000), sell @120 (t2000) => +20; buy @100
    //   (t3000), sell @60 (t4000) => -40. cum 20, -20 => dd 40.
    // Merged by time: -10, +20, -40 => cum -10, 10, -30: peak 10, dd 40
    // (not 10 + 40). ETHBTC is the only BTC-quoted symbol: no sells, dd 0.
    let trades = vec![
        tr("BTCUSDT", 7, 1000, true, "1", "100", "0", "BTC"),
        tr("ETHUSDT", 1, 1000, true, "1", "20", "0", "ETH"),
        tr("ETHUSDT", 2, 1500, false, "1", "10", "0", "USDT"),
        tr("BTCUSDT", 8, 2000, false, "1", "120", "0", "USDT"),
        tr("BTCUSDT", 9, 3000, true, "1", "100", "0", "BTC"),
        tr("BTCUSDT", 10, 4000, false, "1", "60", "0", "USDT"),
        tr("ETHBTC", 3, 4000, true, "2", "0.05", "0", "ETH"),
    ];
    let (s, t) = aggregate(&trades, &info(), Window::default()).unwrap();
    assert_eq!(s["BTCUSDT"].max_drawdown_quote.to_wire(), "40");
    assert_eq!(s["ETHUSDT"].max_drawdown_quote.to_wire(), "10");
    assert!(s["ETHBTC"].win_rate.is_none());
    assert_eq!(s["ETHBTC"].volume_quote.to_wire(), "0.1");
    let u = &t["USDT"];
    assert_eq!(u.trade_count, 6);
    assert_eq!(u.realized_pnl_quote.to_wire(), "-30");
    assert_eq!((u.wins, u.losses), (1, 2));
    assert_eq!(u.max_drawdown_quote.to_wire(), "40");
    // BTCUSDT 100+120+100+60 = 380, ETHUSDT 20+10 = 30.
    assert_eq!(u.volume_quote.to_wire(), "410");
    assert_eq!(t["BTC"].trade_count, 1);
    assert_eq!(t["BTC"].max_drawdown_quote.to_wire(), "0");
}

#[test]
fn unknown_symbol_and_duplicates_are_refused() {
    let mut t = fixture_one();
    t.push(tr("DOGEUSDT", 1, 1, true, "1", "1", "0", "USDT"));
    assert_eq!(
        aggregate(&t, &info(), Window::default()),
        Err(AggregateError::UnknownSymbol("DOGEUSDT".into()))
    );
    let mut t = fixture_one();
    t.push(tr("BTCUSDT", 2, 9000, true, "1", "1", "0", "USDT"));
    assert!(matches!(
        aggregate(&t, &info(), Window::default()),
        Err(AggregateError::DuplicateTrade { id: 2, .. })
    ));
}

#[test]
fn trade_json_is_parsed_strictly() {
    let good = br#"[{"symbol":"BNBBTC","id":28457,"orderId":100234,"orderListId":-1,
        "price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012",
        "commission":"10.10000000","commissionAsset":"BNB","time":1499865549590,
        "isBuyer":true,"isMaker":false,"isBestMatch":true}]"#;
    let t = parse_trades_page(good).unwrap();
    assert_eq!(t[0].price, d("4.000001"));
    assert_eq!(t[0].time, 1_499_865_549_590);
    let text = std::str::from_utf8(good).unwrap();
    for (from, to) in [
        ("\"4.00000100\"", "4.000001"),
        ("\"12.00000000\"", "\"-12\""),
        ("\"48.000012\"", "\"4.8e1\""),
        ("\"BNB\"", "\"bnb\""),
        ("\"isBuyer\":true", "\"isBuyer\":1"),
        ("\"time\":1499865549590,", ""),
    ] {
        let bad = text.replace(from, to);
        assert!(parse_trades_page(bad.as_bytes()).is_err(), "accepted {to}");
    }
    assert_eq!(
        parse_trades_page(&vec![b' '; MAX_TRADES_PAGE_BYTES + 1]),
        Err(TradeParseError::TooLarge)
    );
}

fn arb_trades() -> impl Strategy<Value = Vec<Trade>> {
    let one = (
        0usize..3,
        0i64..40,
        any::<bool>(),
        1u32..500,
        1u32..300,
        0usize..2,
    );
    prop::collection::vec(one, 0..60).prop_map(|raw| {
        let syms = ["BTCUSDT", "ETHUSDT", "ETHBTC"];
        raw.into_iter()
            .enumerate()
            .map(|(i, (s, time, buy, q, p, a))| {
                let qty = Decimal::new(i64::from(q), 2);
                let price = Decimal::new(i64::from(p), 1);
                Trade {
                    symbol: syms[s].into(),
                    id: i as u64,
                    order_id: 0,
                    price,
                    qty,
                    quote_qty: qty * price,
                    commission: Decimal::new(i64::from(q), 5),
                    commission_asset: ["BNB", "USDT"][a].into(),
                    time,
                    is_buyer: buy,
                    is_maker: false,
                }
            })
            .collect()
    })
}

fn window_of(a: Option<i64>, b: Option<i64>) -> Window {
    Window {
        from_ms: a,
        to_ms: b,
    }
}

#[test]
fn finer_than_8_decimals_falls_back_to_decimal() {
    let mut t = fixture_one();
    t[0].price = d("100.000000001");
    t[0].quote_qty = t[0].price;
    let (s, _) = aggregate(&t, &info(), Window::default()).unwrap();
    // id3's first piece is now (150 - 100.000000001) x 1 = 49.999999999.
    assert_eq!(s["BTCUSDT"].realized_pnl_quote.to_wire(), "4.999999999");
    assert_eq!(s["BTCUSDT"].volume_quote.to_wire(), "805.000000001");
}

proptest! {
    #[test]
    fn fixed_point_equals_decimal(trades in arb_trades()) {
        let infos = info();
        let prepared = prepare(&trades, &infos, Window::default()).unwrap();
        let fast = compute::<Fixed8>(&trades, &prepared).unwrap();
        let reference = compute::<Decimal>(&trades, &prepared).unwrap();
        prop_assert_eq!(fast, reference);
    }

    #[test]
    fn totals_equal_sum_of_symbols(trades in arb_trades(), a in prop::option::of(0i64..40), b in prop::option::of(0i64..40)) {
        let (s, t) = aggregate(&trades, &info(), window_of(a, b)).unwrap();
        for (quote, tot) in &t {
            let mine: Vec<_> = s.values().filter(|x| &x.quote == quote).collect();
            prop_assert_eq!(tot.trade_count, mine.iter().map(|x| x.trade_count).sum::<u64>());
            prop_assert_eq!(tot.wins, mine.iter().map(|x| x.wins).sum::<u64>());
            prop_assert_eq!(tot.losses, mine.iter().map(|x| x.losses).sum::<u64>());
            prop_assert_eq!(tot.volume_quote.0, mine.iter().map(|x| x.volume_quote.0).sum::<Decimal>());
            prop_assert_eq!(tot.realized_pnl_quote.0, mine.iter().map(|x| x.realized_pnl_quote.0).sum::<Decimal>());
            prop_assert!(!tot.max_drawdown_quote.0.is_sign_negative());
            if mine.len() == 1 {
                prop_assert_eq!(tot.max_drawdown_quote, mine[0].max_drawdown_quote);
            }
        }
        let in_window = trades.iter().filter(|x| window_of(a, b).contains(x.time)).count() as u64;
        prop_assert_eq!(s.values().map(|x| x.trade_count).sum::<u64>(), in_window);
    }

    #[test]
    fn permuting_input_changes_nothing(trades in arb_trades().prop_flat_map(|t| (Just(t.clone()), Just(t).prop_shuffle()))) {
        let (orig, shuffled) = trades;
        let a = aggregate(&orig, &info(), Window::default()).unwrap();
        let b = aggregate(&shuffled, &info(), Window::default()).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn round_trip_at_equal_price_adds_zero_pnl(trades in arb_trades(), q in 1u32..1000, p in 1u32..1000) {
        // A buy and a sell of the same quantity at the same price, before all
        // other trades: the sell consumes exactly that lot, so PnL, wins,
        // losses, unmatched and drawdown are unchanged.
        let (qty, price) = (Decimal::new(i64::from(q), 3), Decimal::new(i64::from(p), 2));
        let mut with = trades.clone();
        for (id, buy) in [(1_000_000u64, true), (1_000_001, false)] {
            with.push(Trade { symbol: "BTCUSDT".into(), id, order_id: 0, price, qty,
                quote_qty: qty * price, commission: Decimal::ZERO,
                commission_asset: "BNB".into(), time: -1, is_buyer: buy, is_maker: false });
        }
        let (s0, t0) = aggregate(&trades, &info(), Window::default()).unwrap();
        let (s1, t1) = aggregate(&with, &info(), Window::default()).unwrap();
        let b1 = &s1["BTCUSDT"];
        prop_assert_eq!(b1.realized_pnl_quote.0, s0.get("BTCUSDT").map_or(Decimal::ZERO, |b| b.realized_pnl_quote.0));
        prop_assert_eq!(b1.max_drawdown_quote.0, s0.get("BTCUSDT").map_or(Decimal::ZERO, |b| b.max_drawdown_quote.0));
        prop_assert_eq!(b1.wins + b1.losses, s0.get("BTCUSDT").map_or(0, |b| b.wins + b.losses));
        prop_assert_eq!(t1["USDT"].realized_pnl_quote.0, t0.get("USDT").map_or(Decimal::ZERO, |t| t.realized_pnl_quote.0));
        prop_assert_eq!(t1["USDT"].max_drawdown_quote.0, t0.get("USDT").map_or(Decimal::ZERO, |t| t.max_drawdown_quote.0));
    }
}

#[test]
fn demo_fixture_matches_hand_computed_expectation() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fixtures");
    let fx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("demo.json")).unwrap()).unwrap();
    let want: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("demo.expected.json")).unwrap()).unwrap();
    let infos: BTreeMap<String, SymbolInfo> = fx["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap().to_string();
            (
                f("symbol"),
                SymbolInfo {
                    base: f("baseAsset"),
                    quote: f("quoteAsset"),
                },
            )
        })
        .collect();
    let body = serde_json::to_vec(&fx["accounts"][0]["trades"]).unwrap();
    let trades = parse_trades_page(&body).unwrap();
    let (s, t) = aggregate(&trades, &infos, Window::default()).unwrap();
    assert_eq!(serde_json::to_value(&s).unwrap(), want["symbols"]);
    assert_eq!(serde_json::to_value(&t).unwrap(), want["totals"]);
}
