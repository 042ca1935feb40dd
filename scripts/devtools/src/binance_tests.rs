#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::fixture::Account;

const NOW: i64 = 1_735_689_600_000;

fn fixture() -> Fixture {
    let trades = (1..=25u64)
        .map(|i| {
            json!({"symbol": "BTCUSDT", "id": 100 + i, "orderId": i / 2, "price": "1.0",
            "qty": "1.0", "quoteQty": "1.0", "commission": "0", "commissionAsset": "BNB",
            "time": NOW - 100_000 + i as i64 * 1000, "isBuyer": true, "isMaker": false})
        })
        .collect();
    Fixture {
        symbols: vec![
            SymbolDef {
                symbol: "BTCUSDT".into(),
                base_asset: "BTC".into(),
                quote_asset: "USDT".into(),
            },
            SymbolDef {
                symbol: "ETHUSDT".into(),
                base_asset: "ETH".into(),
                quote_asset: "USDT".into(),
            },
        ],
        accounts: vec![Account {
            api_key: "k".into(),
            api_secret: "s".into(),
            balances: vec![json!({"asset": "BTC", "free": "1", "locked": "0"})],
            trades,
            ..Account::default()
        }],
        ..Fixture::default()
    }
}

fn exchange(budget: WeightBudget) -> Exchange {
    Exchange::new(
        &fixture(),
        ExchangeConfig {
            budget,
            clock_skew_ms: 0,
        },
    )
    .unwrap()
}

fn sign(secret: &str, payload: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    format!(
        "{payload}&signature={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn get(ex: &Exchange, path: &str, query: &str, key: Option<&str>) -> (u16, Value) {
    let r = ex.handle(
        &Request {
            method: "GET",
            path,
            query,
            api_key: key,
        },
        NOW,
    );
    (r.status, serde_json::from_str(&r.body).unwrap())
}

#[test]
fn signed_requests_are_checked_like_binance() {
    let ex = exchange(WeightBudget::default());
    let ok = sign("s", &format!("timestamp={NOW}"));
    let (st, body) = get(&ex, "/api/v3/account", &ok, Some("k"));
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["balances"][0]["asset"], "BTC");
    let bad = sign("wrong", &format!("timestamp={NOW}"));
    assert_eq!(
        get(&ex, "/api/v3/account", &bad, Some("k")),
        (
            400,
            json!({"code": -1022, "msg": "Signature for this request is not valid."})
        )
    );
    let tampered = ok.replacen("timestamp=", "recvWindow=100&timestamp=", 1);
    assert_eq!(
        get(&ex, "/api/v3/account", &tampered, Some("k")).1["code"],
        -1022
    );
    assert_eq!(get(&ex, "/api/v3/account", &ok, Some("other")).0, 401);
    assert_eq!(get(&ex, "/api/v3/account", &ok, None).1["code"], -2015);
    let stale = sign("s", &format!("timestamp={}", NOW - 5_001));
    assert_eq!(
        get(&ex, "/api/v3/account", &stale, Some("k")).1["code"],
        -1021
    );
    let stale_ok = sign("s", &format!("timestamp={}&recvWindow=6000", NOW - 5_001));
    assert_eq!(get(&ex, "/api/v3/account", &stale_ok, Some("k")).0, 200);
    let future = sign("s", &format!("timestamp={}", NOW + 1_000));
    assert_eq!(
        get(&ex, "/api/v3/account", &future, Some("k")).1["code"],
        -1021
    );
    let wide = sign("s", &format!("timestamp={NOW}&recvWindow=60001"));
    assert_eq!(
        get(&ex, "/api/v3/account", &wide, Some("k")).1["code"],
        -1131
    );
    assert_eq!(
        get(&ex, "/api/v3/account", "recvWindow=5000", Some("k")).1["code"],
        -1102
    );
    let unsigned = format!("timestamp={NOW}");
    assert_eq!(
        get(&ex, "/api/v3/account", &unsigned, Some("k")).1["code"],
        -1102
    );
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn my_trades_pages_ascending_by_id() {
    let ex = exchange(WeightBudget::default());
    let q = |extra: &str| sign("s", &format!("symbol=BTCUSDT{extra}&timestamp={NOW}"));
    let (_, page) = get(&ex, "/api/v3/myTrades", &q("&fromId=0&limit=10"), Some("k"));
    assert_eq!(ids(&page), (101..=110).collect::<Vec<_>>());
    let (_, page) = get(
        &ex,
        "/api/v3/myTrades",
        &q("&fromId=121&limit=10"),
        Some("k"),
    );
    assert_eq!(ids(&page), (121..=125).collect::<Vec<_>>());
    let (_, newest) = get(&ex, "/api/v3/myTrades", &q("&limit=3"), Some("k"));
    assert_eq!(ids(&newest), vec![123, 124, 125]);
    let (_, ranged) = get(
        &ex,
        "/api/v3/myTrades",
        &q(&format!(
            "&startTime={}&endTime={}",
            NOW - 98_000,
            NOW - 96_000
        )),
        Some("k"),
    );
    assert_eq!(ids(&ranged), vec![102, 103, 104]);
    let (_, by_order) = get(&ex, "/api/v3/myTrades", &q("&orderId=3"), Some("k"));
    assert_eq!(ids(&by_order), vec![106, 107]);
    let (_, eth) = get(
        &ex,
        "/api/v3/myTrades",
        &sign("s", &format!("symbol=ETHUSDT&timestamp={NOW}")),
        Some("k"),
    );
    assert_eq!(eth, json!([]));
    assert_eq!(
        get(&ex, "/api/v3/myTrades", &q("&limit=1001"), Some("k")).1["code"],
        -1130
    );
    assert_eq!(
        get(
            &ex,
            "/api/v3/myTrades",
            &q("&startTime=0&endTime=86400001"),
            Some("k")
        )
        .1["code"],
        -1127
    );
    let unknown = sign("s", &format!("symbol=DOGEUSDT&timestamp={NOW}"));
    assert_eq!(
        get(&ex, "/api/v3/myTrades", &unknown, Some("k")).1["code"],
        -1121
    );
    let dup = sign(
        "s",
        &format!("symbol=BTCUSDT&symbol=BTCUSDT&timestamp={NOW}"),
    );
    assert_eq!(
        get(&ex, "/api/v3/myTrades", &dup, Some("k")).1["code"],
        -1101
    );
}

#[test]
fn public_endpoints_and_weight_budget() {
    let ex = exchange(WeightBudget {
        limit: 45,
        window_ms: 60_000,
        ban_after: 0,
        background: 0,
    });
    assert_eq!(
        get(&ex, "/api/v3/time", "", None),
        (200, json!({"serverTime": NOW}))
    );
    let (st, info) = get(&ex, "/api/v3/exchangeInfo", "symbol=ETHUSDT", None);
    assert_eq!(st, 200);
    assert_eq!(info["symbols"].as_array().unwrap().len(), 1);
    assert_eq!(info["symbols"][0]["baseAsset"], "ETH");
    let r = ex.handle(
        &Request {
            method: "GET",
            path: "/api/v3/exchangeInfo",
            query: "",
            api_key: None,
        },
        NOW,
    );
    assert_eq!(r.status, 200);
    assert!(r.headers.contains(&("X-MBX-USED-WEIGHT-1M", "41".into())));
    let r = ex.handle(
        &Request {
            method: "GET",
            path: "/api/v3/exchangeInfo",
            query: "",
            api_key: None,
        },
        NOW,
    );
    assert_eq!(r.status, 429);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap()["code"],
        -1003
    );
    assert!(
        r.headers.contains(&("Retry-After", "60".into())),
        "{:?}",
        r.headers
    );
    let later = ex.handle(
        &Request {
            method: "GET",
            path: "/api/v3/time",
            query: "",
            api_key: None,
        },
        NOW + 60_000,
    );
    assert_eq!(later.status, 200);
    assert_eq!(get(&ex, "/nope", "", None).0, 404);
}

#[test]
fn server_time_carries_the_configured_skew() {
    let config = ExchangeConfig {
        budget: WeightBudget::default(),
        clock_skew_ms: 10_000,
    };
    let ex = Exchange::new(&fixture(), config).unwrap();
    assert_eq!(
        get(&ex, "/api/v3/time", "", None).1["serverTime"],
        NOW + 10_000
    );
    // A client stamping with its own clock is 10 s behind the exchange...
    let local = sign("s", &format!("timestamp={NOW}"));
    assert_eq!(
        get(&ex, "/api/v3/account", &local, Some("k")).1["code"],
        -1021
    );
    // ...and succeeds once it applies the offset learned from /time.
    let synced = sign("s", &format!("timestamp={}", NOW + 10_000));
    assert_eq!(get(&ex, "/api/v3/account", &synced, Some("k")).0, 200);
}

#[test]
fn trades_after_now_are_not_served_yet() {
    // The fixture's trades are at NOW - 100 s + i s (ids 100 + i, i in 1..=25).
    let ex = exchange(WeightBudget::default());
    let at = |now: i64, extra: &str| {
        let query = sign("s", &format!("symbol=BTCUSDT{extra}&timestamp={now}"));
        let r = ex.handle(
            &Request {
                method: "GET",
                path: "/api/v3/myTrades",
                query: &query,
                api_key: Some("k"),
            },
            now,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        ids(&serde_json::from_str(&r.body).unwrap())
    };
    let early = NOW - 90_000;
    // Each way of asking sees only the trades up to its now (i <= 10) ...
    assert_eq!(
        at(early, "&fromId=0&limit=100"),
        (101..=110).collect::<Vec<_>>()
    );
    assert_eq!(at(early, "&limit=3"), vec![108, 109, 110]);
    assert_eq!(
        at(early, &format!("&startTime={}", NOW - 92_000)),
        vec![108, 109, 110]
    );
    assert_eq!(at(early, "&fromId=111"), Vec::<u64>::new());
    // ... a trade at exactly now is served, and later on the rest appear.
    assert_eq!(
        at(NOW - 85_000, "&fromId=111"),
        (111..=115).collect::<Vec<_>>()
    );
    assert_eq!(at(NOW, "&fromId=111"), (111..=125).collect::<Vec<_>>());
}
