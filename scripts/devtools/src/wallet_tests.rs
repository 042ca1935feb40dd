#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The v2 endpoints through [`Exchange::handle`]: shapes, paging, windows,
//! signatures, absent-field defaults, per-endpoint budgets.

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use super::*;
use crate::binance::{Exchange, ExchangeConfig, Request, USED_WEIGHT_HEADER};
use crate::fixture::{Account, Fixture, SymbolDef, derived_uid, format_utc};
use crate::limiter::WeightBudget;

/// 2025-01-01T00:00:00Z.
const NOW: i64 = 1_735_689_600_000;

fn kline(day: i64) -> Value {
    let t = NOW - (10 - day) * DAY_MS;
    json!([
        t,
        "1.0",
        "2.0",
        "0.5",
        format!("{}.0", day + 1),
        "10",
        t + DAY_MS - 1,
        "10",
        5,
        "5",
        "5",
        "0"
    ])
}

fn fixture() -> Fixture {
    let deposits = (0..25)
        .map(|i| {
            json!({"id": format!("d{i}"), "coin": if i % 2 == 0 {"USDT"} else {"BTC"},
            "amount": "1", "status": 1, "txId": format!("tx{i}"),
            "insertTime": NOW - i * DAY_MS})
        })
        .collect();
    let withdrawals = (0..5)
        .map(|i| {
            json!({"id": format!("w{i}"), "coin": "BTC", "amount": "0.1", "status": 6,
            "applyTime": format_utc(NOW - i * 10 * DAY_MS), "withdrawOrderId": format!("o{i}")})
        })
        .collect();
    let snapshots = (0..40)
        .map(|d| {
            json!({"type": "spot", "updateTime": NOW - (40 - d) * DAY_MS + DAY_MS - 1000,
            "data": {"balances": [], "totalAssetOfBtc": "0"}})
        })
        .collect();
    let v2 = Account {
        api_key: "k2".into(),
        api_secret: "s2".into(),
        uid: Some(42),
        api_restrictions: Some(json!({"enableReading": true, "enableWithdrawals": true})),
        balances: vec![
            json!({"asset": "BTC", "free": "1.0", "locked": "0"}),
            json!({"asset": "XRP", "free": "0.00000000", "locked": "0.00000000"}),
        ],
        deposits,
        withdrawals,
        snapshots,
        ..Account::default()
    };
    let v1 = Account {
        api_key: "k1".into(),
        api_secret: "s1".into(),
        ..Account::default()
    };
    Fixture {
        symbols: vec![SymbolDef {
            symbol: "BTCUSDT".into(),
            base_asset: "BTC".into(),
            quote_asset: "USDT".into(),
        }],
        accounts: vec![v1, v2],
        klines: [("DEMOBTC".to_string(), (0..10).map(kline).collect())].into(),
    }
}

fn exchange() -> Exchange {
    Exchange::new(
        &fixture(),
        ExchangeConfig {
            budget: WeightBudget::default(),
            clock_skew_ms: 0,
        },
    )
    .unwrap()
}

fn signed(secret: &str, payload: &str) -> String {
    signed_at(secret, payload, NOW)
}

fn signed_at(secret: &str, payload: &str, now: i64) -> String {
    let payload = format!("{payload}&timestamp={now}");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    format!(
        "{payload}&signature={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn call(ex: &Exchange, path: &str, query: &str, key: Option<&str>) -> crate::binance::Response {
    ex.handle(
        &Request {
            method: "GET",
            path,
            query,
            api_key: key,
        },
        NOW,
    )
}

fn get(ex: &Exchange, path: &str, query: &str, key: Option<&str>) -> (u16, Value) {
    let r = call(ex, path, query, key);
    (r.status, serde_json::from_str(&r.body).unwrap())
}

fn v2(ex: &Exchange, path: &str, payload: &str) -> (u16, Value) {
    get(ex, path, &signed("s2", payload), Some("k2"))
}

fn ids(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect()
}

const DEP: &str = "/sapi/v1/capital/deposit/hisrec";
const WD: &str = "/sapi/v1/capital/withdraw/history";
const SNAP: &str = "/sapi/v1/accountSnapshot";
const RESTR: &str = "/sapi/v1/account/apiRestrictions";

#[test]
fn account_serves_uid_and_zero_balances() {
    let ex = exchange();
    let (st, a) = get(&ex, "/api/v3/account", &signed("s2", "x=1"), Some("k2"));
    assert_eq!((st, &a["uid"]), (200, &json!(42)));
    assert_eq!(
        a["balances"].as_array().unwrap().len(),
        2,
        "zero XRP listed"
    );
    let (_, a) = v2(&ex, "/api/v3/account", "omitZeroBalances=true");
    assert_eq!(
        a["balances"],
        json!([{"asset": "BTC", "free": "1.0", "locked": "0"}])
    );
    let (_, a) = get(&ex, "/api/v3/account", &signed("s1", "x=1"), Some("k1"));
    assert_eq!(a["uid"], derived_uid("k1"));
    assert!((100_000_000..1_000_000_000).contains(&derived_uid("k1")));
    assert_ne!(derived_uid("k1"), derived_uid("k2"));
}

#[test]
fn api_restrictions_fixture_or_read_only() {
    let ex = exchange();
    let (st, r) = v2(&ex, RESTR, "recvWindow=5000");
    assert_eq!(
        (st, r),
        (
            200,
            json!({"enableReading": true, "enableWithdrawals": true})
        )
    );
    let (_, r) = get(&ex, RESTR, &signed("s1", "recvWindow=5000"), Some("k1"));
    assert_eq!(r, read_only_restrictions());
    assert_eq!(r["enableReading"], true);
    assert_eq!(r["ipRestrict"], false);
    let falses = r.as_object().unwrap().iter().filter(|(_, v)| **v == false);
    assert_eq!(falses.count(), 11);
}

#[test]
fn sapi_endpoints_require_a_valid_signature() {
    let ex = exchange();
    for path in [RESTR, DEP, WD, SNAP] {
        let q = if path == SNAP { "type=SPOT" } else { "x=1" };
        let unsigned = format!("{q}&timestamp={NOW}");
        assert_eq!(
            get(&ex, path, &unsigned, Some("k2")).1["code"],
            -1102,
            "{path}"
        );
        assert_eq!(
            get(&ex, path, &signed("s1", q), Some("k2")).1["code"],
            -1022,
            "{path}"
        );
        assert_eq!(get(&ex, path, &signed("s2", q), None).0, 401, "{path}");
        assert_eq!(
            get(&ex, path, &signed("s2", q), Some("k2")).0,
            200,
            "{path}"
        );
    }
}

#[test]
fn deposits_page_newest_first_in_a_90_day_window() {
    let ex = exchange();
    let (st, all) = v2(&ex, DEP, "x=1");
    assert_eq!(st, 200);
    assert_eq!(ids(&all).len(), 25);
    assert_eq!(ids(&all)[..3], ["d0", "d1", "d2"]);
    let (_, p) = v2(&ex, DEP, "offset=20&limit=3");
    assert_eq!(ids(&p), ["d20", "d21", "d22"]);
    let (_, p) = v2(&ex, DEP, "coin=BTC&limit=2");
    assert_eq!(ids(&p), ["d1", "d3"]);
    let (_, p) = v2(&ex, DEP, "txId=tx7");
    assert_eq!(ids(&p), ["d7"]);
    let (_, p) = v2(
        &ex,
        DEP,
        &format!("startTime={}&endTime={}", NOW - 3 * DAY_MS, NOW - DAY_MS),
    );
    assert_eq!(ids(&p), ["d1", "d2", "d3"]);
    let wide = format!("startTime={}&endTime={NOW}", NOW - 90 * DAY_MS - 1);
    assert_eq!(v2(&ex, DEP, &wide).1["code"], -1127);
    let inverted = format!("startTime={NOW}&endTime={}", NOW - 1);
    assert_eq!(v2(&ex, DEP, &inverted).1["code"], -1127);
    let extreme = format!("startTime={}&endTime={}", i64::MIN, i64::MAX);
    assert_eq!(v2(&ex, DEP, &extreme).1["code"], -1127, "no overflow");
    assert_eq!(v2(&ex, DEP, &format!("endTime={}", i64::MIN)).0, 200);
    assert_eq!(v2(&ex, DEP, "limit=1001").1["code"], -1130);
    assert_eq!(v2(&ex, DEP, "limit=0").1["code"], -1130);
    // A v1 account: no flows.
    assert_eq!(get(&ex, DEP, &signed("s1", "x=1"), Some("k1")).1, json!([]));
}

#[test]
fn withdrawals_by_apply_time_with_order_id_window() {
    let ex = exchange();
    let (_, all) = v2(&ex, WD, "x=1");
    assert_eq!(ids(&all), ["w0", "w1", "w2", "w3", "w4"]);
    assert_eq!(all[0]["applyTime"], "2025-01-01 00:00:00");
    let (_, p) = v2(&ex, WD, "offset=1&limit=2");
    assert_eq!(ids(&p), ["w1", "w2"]);
    let (_, p) = v2(&ex, WD, "idList=w3,w0");
    assert_eq!(ids(&p), ["w0", "w3"]);
    // withdrawOrderId: the last 7 days by default, windows up to 7 days.
    assert_eq!(ids(&v2(&ex, WD, "withdrawOrderId=o0").1), ["w0"]);
    assert_eq!(v2(&ex, WD, "withdrawOrderId=o1").1, json!([]));
    let q = format!(
        "withdrawOrderId=o1&startTime={}&endTime={}",
        NOW - 12 * DAY_MS,
        NOW - 5 * DAY_MS
    );
    assert_eq!(ids(&v2(&ex, WD, &q).1), ["w1"]);
    let q = format!("withdrawOrderId=o1&startTime={}", NOW - 12 * DAY_MS);
    assert_eq!(v2(&ex, WD, &q).1["code"], -1127);
    let long: Vec<String> = (0..51).map(|i| format!("w{i}")).collect();
    assert_eq!(
        v2(&ex, WD, &format!("idList={}", long.join(","))).1["code"],
        -1100
    );
}

#[test]
fn snapshots_spot_limit_7_to_30_window_30_days() {
    let ex = exchange();
    // accountSnapshot weighs 2400 of 12,000 a minute: one call a minute.
    let minute = std::cell::Cell::new(0);
    let v2 = |_: &Exchange, path: &str, payload: &str| {
        minute.set(minute.get() + 60_000);
        let at = NOW + minute.get();
        let q = signed_at("s2", payload, at);
        let r = ex.handle(
            &Request {
                method: "GET",
                path,
                query: &q,
                api_key: Some("k2"),
            },
            at,
        );
        assert_ne!(r.status, 429);
        (r.status, serde_json::from_str::<Value>(&r.body).unwrap())
    };
    let (st, s) = v2(&ex, SNAP, "type=SPOT");
    assert_eq!((st, &s["code"], &s["msg"]), (200, &json!(200), &json!("")));
    let vos = s["snapshotVos"].as_array().unwrap();
    assert_eq!(vos.len(), 7, "default limit 7, the newest");
    assert_eq!(vos[6]["updateTime"], NOW - 1000);
    assert_eq!(vos[0]["type"], "spot");
    let (_, s) = v2(&ex, SNAP, "type=SPOT&limit=30");
    assert_eq!(s["snapshotVos"].as_array().unwrap().len(), 30);
    let q = format!("type=SPOT&limit=30&startTime={}", NOW - 40 * DAY_MS);
    let (_, s) = v2(&ex, SNAP, &q);
    let vos = s["snapshotVos"].as_array().unwrap();
    assert_eq!(vos.len(), 30, "the first 30 from startTime");
    assert_eq!(vos[0]["updateTime"], NOW - 39 * DAY_MS - 1000);
    for bad in ["limit=6", "limit=31"] {
        assert_eq!(v2(&ex, SNAP, &format!("type=SPOT&{bad}")).1["code"], -1130);
    }
    let wide = format!(
        "type=SPOT&startTime={}&endTime={NOW}",
        NOW - 30 * DAY_MS - 1
    );
    assert_eq!(v2(&ex, SNAP, &wide).1["code"], -1127);
    let extreme = format!("type=SPOT&startTime={}&endTime={}", i64::MIN, i64::MAX);
    assert_eq!(v2(&ex, SNAP, &extreme).1["code"], -1127, "no overflow");
    let (st, _) = v2(&ex, SNAP, &format!("type=SPOT&endTime={}", i64::MIN));
    assert_eq!(st, 200);
    assert_eq!(v2(&ex, SNAP, "limit=7").1["code"], -1102);
    assert_eq!(v2(&ex, SNAP, "type=OPTIONS").1["code"], -1100);
    let (_, m) = v2(&ex, SNAP, "type=MARGIN");
    assert_eq!(m["snapshotVos"], json!([]));
    let at = NOW + minute.get() + 60_000;
    let q = signed_at("s1", "type=SPOT", at);
    let r = ex.handle(
        &Request {
            method: "GET",
            path: SNAP,
            query: &q,
            api_key: Some("k1"),
        },
        at,
    );
    let none: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(none["snapshotVos"], json!([]), "absent: no snapshots");
}

#[test]
fn klines_daily_arrays_paged_like_binance() {
    let ex = exchange();
    let (st, k) = get(&ex, "/api/v3/klines", "symbol=DEMOBTC&interval=1d", None);
    assert_eq!(st, 200, "public: no key, no signature");
    let k = k.as_array().unwrap();
    assert_eq!(k.len(), 10);
    assert_eq!(k[0], kline(0));
    assert_eq!(k[0].as_array().unwrap().len(), 12);
    let q = |extra: &str| format!("symbol=DEMOBTC&interval=1d{extra}");
    let (_, p) = get(&ex, "/api/v3/klines", &q("&limit=2"), None);
    assert_eq!(p, json!([kline(8), kline(9)]), "newest without startTime");
    let (_, p) = get(
        &ex,
        "/api/v3/klines",
        &q(&format!("&startTime={}&limit=2", NOW - 8 * DAY_MS)),
        None,
    );
    assert_eq!(p, json!([kline(2), kline(3)]));
    let (_, p) = get(
        &ex,
        "/api/v3/klines",
        &q(&format!("&endTime={}", NOW - 9 * DAY_MS)),
        None,
    );
    assert_eq!(p, json!([kline(0), kline(1)]));
    let (_, listed) = get(&ex, "/api/v3/klines", "symbol=BTCUSDT&interval=1d", None);
    assert_eq!(listed, json!([]), "listed symbol without klines");
    let err = |query: &str| get(&ex, "/api/v3/klines", query, None).1["code"].clone();
    assert_eq!(err("symbol=DEMOBTC&interval=1h"), -1120);
    assert_eq!(err("symbol=DEMOBTC&interval=2d"), -1120);
    assert_eq!(err("symbol=NOPEUSDT&interval=1d"), -1121);
    assert_eq!(err("symbol=DEMOBTC"), -1102);
    assert_eq!(err("symbol=DEMOBTC&interval=1d&limit=1001"), -1130);
}

fn header<'a>(r: &'a crate::binance::Response, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(h, _)| *h == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn weights_and_per_endpoint_sapi_budgets() {
    let ex = exchange();
    let r = call(&ex, "/api/v3/klines", "symbol=DEMOBTC&interval=1d", None);
    assert_eq!(header(&r, USED_WEIGHT_HEADER), Some("2"));
    let r = call(&ex, "/api/v3/klines", "symbol=DEMOBTC&interval=1d", None);
    assert_eq!(header(&r, USED_WEIGHT_HEADER), Some("4"));
    let r = call(&ex, RESTR, &signed("s2", "x=1"), Some("k2"));
    assert_eq!(header(&r, "X-SAPI-USED-IP-WEIGHT-1M"), Some("1"));
    assert_eq!(
        header(&r, USED_WEIGHT_HEADER),
        Some("4"),
        "sapi: /api budget untouched"
    );
    // accountSnapshot weighs 2400 on its own 12,000 a minute: 5 calls.
    for n in 1..=5 {
        let r = call(&ex, SNAP, &signed("s2", "type=SPOT"), Some("k2"));
        assert_eq!(r.status, 200);
        let used = (n * 2400).to_string();
        assert_eq!(header(&r, "X-SAPI-USED-IP-WEIGHT-1M"), Some(used.as_str()));
    }
    let r = call(&ex, SNAP, &signed("s2", "type=SPOT"), Some("k2"));
    assert_eq!(r.status, 429);
    assert_eq!(header(&r, "X-SAPI-USED-IP-WEIGHT-1M"), Some("12000"));
    assert!(header(&r, "Retry-After").is_some());
    // Other endpoints keep their budgets.
    assert_eq!(call(&ex, DEP, &signed("s2", "x=1"), Some("k2")).status, 200);
    let r = call(&ex, WD, &signed("s2", "x=1"), Some("k2"));
    assert_eq!(header(&r, "X-SAPI-USED-IP-WEIGHT-1S"), Some("18000"));
    assert_eq!(header(&r, USED_WEIGHT_HEADER), Some("4"));
    // Unknown paths carry the header too, uncharged.
    let r = call(&ex, "/nope", "", None);
    assert_eq!((r.status, header(&r, USED_WEIGHT_HEADER)), (404, Some("4")));
}
