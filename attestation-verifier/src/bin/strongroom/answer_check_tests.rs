#![allow(clippy::unwrap_used)]

use super::*;
use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

const NOW_MS: u64 = 1_760_000_000_000;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(NOW_MS)
}

fn payload() -> AggregatePayload {
    let session = hex::encode(Sha256::digest(b"s-1"));
    serde_json::from_value(serde_json::json!({
        "version": 1, "exchange": "binance", "label": "main", "account": "acct",
        "session": session, "from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z",
        "computed_at": crate::common::rfc3339_ms(NOW_MS - 10_000),
        "key_id": "k", "pcr0": "aa", "symbols": {}, "totals": {}
    }))
    .unwrap()
}

fn asked(symbols: &[String]) -> Asked<'_> {
    Asked {
        session: "s-1",
        credential: None,
        from: Some("2025-01-01T00:00:00.000Z"),
        to: Some("2025-02-01T00:00:00+00:00"),
        symbols,
        max_age: Duration::from_secs(DEFAULT_MAX_AGE_SECS),
    }
}

fn code(r: Result<(), CliError>) -> String {
    r.err().map(|e| e.code().to_owned()).unwrap_or_default()
}

#[test]
fn the_answer_asked_for_passes_whatever_the_time_spelling() {
    check(&payload(), &asked(&[]), now()).unwrap();
}

#[test]
fn another_session_window_or_symbol_is_refused() {
    let mut p = payload();
    p.session = Some(hex::encode(Sha256::digest(b"s-2")));
    assert_eq!(code(check(&p, &asked(&[]), now())), "answer_mismatch");
    let mut p = payload();
    p.from = None;
    assert_eq!(code(check(&p, &asked(&[]), now())), "answer_mismatch");
    let mut p = payload();
    p.to = Some("2025-03-01T00:00:00Z".into());
    assert_eq!(code(check(&p, &asked(&[]), now())), "answer_mismatch");
    let mut p = payload();
    let sym = serde_json::from_value(serde_json::json!({
        "base": "ETH", "quote": "USDT", "trade_count": 0, "buy_qty": "0", "sell_qty": "0",
        "volume_quote": "0", "realized_pnl_quote": "0", "unmatched_sell_qty": "0",
        "fees": {}, "wins": 0, "losses": 0, "win_rate": null, "max_drawdown_quote": "0"
    }))
    .unwrap();
    p.symbols = BTreeMap::from([("ETHUSDT".to_owned(), sym)]);
    let only_btc = ["BTCUSDT".to_owned()];
    assert_eq!(code(check(&p, &asked(&only_btc), now())), "answer_mismatch");
    check(&p, &asked(&["ETHUSDT".to_owned()]), now()).unwrap();
}

#[test]
fn a_stale_or_future_answer_is_refused() {
    let mut p = payload();
    p.computed_at = crate::common::rfc3339_ms(NOW_MS - (DEFAULT_MAX_AGE_SECS + 1) * 1000);
    assert_eq!(code(check(&p, &asked(&[]), now())), "answer_stale");
    p.computed_at = crate::common::rfc3339_ms(NOW_MS + 120_000);
    assert_eq!(code(check(&p, &asked(&[]), now())), "answer_stale");
    p.computed_at = crate::common::rfc3339_ms(NOW_MS - DEFAULT_MAX_AGE_SECS * 1000);
    check(&p, &asked(&[]), now()).unwrap();
}

#[test]
fn a_v2_payload_is_bound_by_its_credential() {
    let mut p = payload();
    p.version = 2;
    p.session = None;
    p.credential = Some("ab".repeat(32));
    let c = "ab".repeat(32);
    let mut a = asked(&[]);
    a.credential = Some(&c);
    check(&p, &a, now()).unwrap();
    let other = "cd".repeat(32);
    a.credential = Some(&other);
    assert_eq!(check(&p, &a, now()).unwrap_err().code(), "answer_mismatch");
}
