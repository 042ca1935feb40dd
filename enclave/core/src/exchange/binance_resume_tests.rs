//! Incremental fetches over the scripted transport: what the client asks
//! the exchange for when the host hands in stored segments (all of them,
//! some, another account's), and a fetch the weight budget interrupts,
//! continued a minute later (a settable clock, no waiting).

use std::sync::Arc;

use super::scripted::{ACCOUNT, NO_SNAPSHOTS, READ_ONLY, Scripted, credential, ok, run};
use super::*;
use crate::clock::FixedClock as Settable;
use crate::exchange::History;
use crate::history::{self, HistoryKey, Segment, Stored};

const INFO2: &str = r#"{"symbols":[{"symbol":"BTCUSDT","baseAsset":"BTC","quoteAsset":"USDT"},{"symbol":"ETHUSDT","baseAsset":"ETH","quoteAsset":"USDT"}]}"#;

fn time(ms: u64) -> String {
    format!(r#"{{"serverTime":{ms}}}"#)
}

fn trades(symbol: &str, ids: &[u64]) -> String {
    let one = |id: &u64| {
        format!(
            r#"{{"symbol":"{symbol}","id":{id},"orderId":{id},"orderListId":-1,"price":"100.5","qty":"0.25","quoteQty":"25.125","commission":"0.01","commissionAsset":"USDT","time":{},"isBuyer":{},"isMaker":false,"isBestMatch":true}}"#,
            1_700_000_000_000u64 + id,
            id % 2 == 1
        )
    };
    format!("[{}]", ids.iter().map(one).collect::<Vec<_>>().join(","))
}

fn symbols() -> Vec<String> {
    vec!["BTCUSDT".to_owned(), "ETHUSDT".to_owned()]
}

fn client(t: &Arc<Scripted>, clock: &Arc<Settable>, limit: u32) -> Binance<Arc<Scripted>> {
    Binance::new(t.clone(), clock.clone(), RetryPolicy::default())
        .with_weight_limits(WeightLimits { limit, margin: 0 })
}

fn script(t: &Scripted, answers: &[&str]) {
    let mut a = t.answers.lock().unwrap();
    a.extend(answers.iter().map(|b| ok(b)));
}

/// The myTrades queries sent since `skip` targets, as `symbol@fromId`.
fn my_trades_sent(t: &Scripted, skip: usize) -> Vec<String> {
    t.targets.lock().unwrap()[skip..]
        .iter()
        .filter(|q| q.starts_with("/api/v3/myTrades?"))
        .map(|q| {
            let field = |k: &str| {
                q.split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix(k))
                    .unwrap_or_default()
                    .to_owned()
            };
            format!("{}@{}", field("symbol="), field("fromId="))
        })
        .collect()
}

fn account(uid: &str) -> String {
    crate::compute::account_pseudonym_v2("binance", uid)
}

/// What the host stores and hands back: the segments sealed and reopened.
fn stored(account: &str, segments: &[&[Segment]]) -> Stored {
    let key = HistoryKey::from_bytes([1u8; 32]);
    let sealed: Vec<_> = segments
        .iter()
        .flat_map(|s| s.iter())
        .map(|s| strongroom_protocol::messages::SealedHistory {
            account: account.to_owned(),
            sealed: history::seal(&key, account, s, [5u8; history::NONCE_LEN]).unwrap(),
        })
        .collect();
    let (stored, refused) = Stored::open_all(&key, &sealed);
    assert_eq!(refused, 0);
    stored
}

fn ids(h: &History) -> Vec<(String, u64)> {
    h.trades.iter().map(|t| (t.symbol.clone(), t.id)).collect()
}

fn complete(f: Fetched) -> History {
    match f {
        Fetched::Complete(h) => h,
        Fetched::Pending(p) => panic!("pending: {p:?}"),
    }
}

/// A second computation handed the first one's segments asks only for
/// trades after their cursors, and holds the stored trades plus the new.
#[test]
fn stored_segments_move_the_cursor_and_keep_their_trades() {
    let t = Arc::new(Scripted::default());
    let clock = Arc::new(Settable::new(1_000));
    let c = client(&t, &clock, 6_000);
    script(&t, &[&time(1_000), INFO2, ACCOUNT, READ_ONLY, NO_SNAPSHOTS]);
    script(&t, &[&trades("BTCUSDT", &[1, 2]), &trades("ETHUSDT", &[7])]);
    let first = complete(run(c.fetch(&credential(), Some(&symbols()), Resume::none())).unwrap());
    assert_eq!(my_trades_sent(&t, 0), ["BTCUSDT@0", "ETHUSDT@0"]);
    let ranges: Vec<_> = first
        .segments
        .iter()
        .map(|s| (s.symbol.as_str(), s.from_id, s.next_id))
        .collect();
    assert_eq!(ranges, [("BTCUSDT", 0, 3), ("ETHUSDT", 0, 8)]);

    let sent = t.targets.lock().unwrap().len();
    // The daily inputs are cached for the account: not asked again.
    script(&t, &[&time(1_000), INFO2, ACCOUNT, READ_ONLY]);
    script(&t, &[&trades("BTCUSDT", &[3]), "[]"]);
    let held = stored(&account("1001"), &[&first.segments]);
    let done = BTreeMap::new();
    let resume = Resume {
        stored: &held,
        done: &done,
    };
    let second = complete(run(c.fetch(&credential(), Some(&symbols()), resume)).unwrap());
    assert_eq!(my_trades_sent(&t, sent), ["BTCUSDT@3", "ETHUSDT@8"]);
    assert_eq!(
        ids(&second),
        [
            ("BTCUSDT".into(), 1),
            ("BTCUSDT".into(), 2),
            ("BTCUSDT".into(), 3),
            ("ETHUSDT".into(), 7)
        ]
    );
    let ranges: Vec<_> = second
        .segments
        .iter()
        .map(|s| (s.symbol.as_str(), s.from_id, s.next_id))
        .collect();
    assert_eq!(
        ranges,
        [("BTCUSDT", 3, 4)],
        "only the new trade is a new segment"
    );
    assert_eq!(second.symbols.len(), 2);
}

/// Segments of another account (here sealed for uid 2002, handed in while
/// the key belongs to 1001) contribute nothing: everything is fetched.
#[test]
fn another_accounts_segments_are_ignored() {
    let t = Arc::new(Scripted::default());
    let clock = Arc::new(Settable::new(1_000));
    let c = client(&t, &clock, 6_000);
    let foreign = history::segments_of(
        "BTCUSDT",
        &SymbolInfo {
            base: "BTC".into(),
            quote: "USDT".into(),
        },
        (0, 100),
        &crate::aggregate::parse_trades_page(trades("BTCUSDT", &[50, 99]).as_bytes()).unwrap(),
        0,
    );
    let held = stored(&account("2002"), &[&foreign]);
    let done = BTreeMap::new();
    script(&t, &[&time(1_000), INFO2, ACCOUNT, READ_ONLY, NO_SNAPSHOTS]);
    script(&t, &[&trades("BTCUSDT", &[1]), "[]"]);
    let resume = Resume {
        stored: &held,
        done: &done,
    };
    let h = complete(run(c.fetch(&credential(), Some(&symbols()), resume)).unwrap());
    assert_eq!(my_trades_sent(&t, 0), ["BTCUSDT@0", "ETHUSDT@0"]);
    assert_eq!(
        ids(&h),
        [("BTCUSDT".into(), 1)],
        "no trade of the other account"
    );
}

/// The budget runs out after BTCUSDT (limit 70: time 1 + exchangeInfo 20 +
/// account 20 + myTrades 20; the next myTrades would make 81): pending,
/// with BTCUSDT's segment. A minute later the same job, handed that
/// segment, asks only for ETHUSDT; if the host withholds the segment,
/// BTCUSDT is fetched again (completeness first).
#[test]
fn a_spent_budget_is_progress_and_the_next_attempt_continues() {
    let t = Arc::new(Scripted::default());
    let clock = Arc::new(Settable::new(1_000));
    let c = client(&t, &clock, 70);
    script(
        &t,
        &[
            &time(1_000),
            INFO2,
            ACCOUNT,
            READ_ONLY,
            NO_SNAPSHOTS,
            &trades("BTCUSDT", &[1, 2]),
        ],
    );
    let p = match run(c.fetch(&credential(), Some(&symbols()), Resume::none())).unwrap() {
        Fetched::Pending(p) => p,
        Fetched::Complete(h) => panic!("complete: {h:?}"),
    };
    assert_eq!(my_trades_sent(&t, 0), ["BTCUSDT@0"]);
    assert_eq!(p.account_id, "1001");
    assert_eq!(p.done, BTreeMap::from([("BTCUSDT".to_owned(), 3)]));
    assert_eq!((p.symbols_total, p.retry_after_s), (2, 59));
    assert_eq!(
        p.weight_used,
        1 + 20 + 20 + 1 + 2_400 + 20,
        "apiRestrictions counts 1, accountSnapshot 2,400 (each on its own budget)"
    );
    assert_eq!(p.segments.len(), 1);

    clock.set(61_000);
    let sent = t.targets.lock().unwrap().len();
    script(
        &t,
        &[
            &time(61_000),
            INFO2,
            ACCOUNT,
            READ_ONLY,
            &trades("ETHUSDT", &[4]),
        ],
    );
    let held = stored(&account("1001"), &[&p.segments]);
    let resume = Resume {
        stored: &held,
        done: &p.done,
    };
    let h = complete(run(c.fetch(&credential(), Some(&symbols()), resume)).unwrap());
    assert_eq!(
        my_trades_sent(&t, sent),
        ["ETHUSDT@0"],
        "BTCUSDT not queried again"
    );
    assert_eq!(
        ids(&h),
        [
            ("BTCUSDT".into(), 1),
            ("BTCUSDT".into(), 2),
            ("ETHUSDT".into(), 4)
        ]
    );

    clock.set(121_000);
    let c = client(&t, &clock, 6_000);
    let sent = t.targets.lock().unwrap().len();
    script(
        &t,
        &[&time(121_000), INFO2, ACCOUNT, READ_ONLY, NO_SNAPSHOTS],
    );
    script(&t, &[&trades("BTCUSDT", &[1, 2]), &trades("ETHUSDT", &[4])]);
    let nothing = Stored::new();
    let resume = Resume {
        stored: &nothing,
        done: &p.done,
    };
    let h = complete(run(c.fetch(&credential(), Some(&symbols()), resume)).unwrap());
    assert_eq!(
        my_trades_sent(&t, sent),
        ["BTCUSDT@0", "ETHUSDT@0"],
        "withheld: refetched"
    );
    assert_eq!(h.trades.len(), 3);
}

/// Interrupted inside a symbol's paging: the full pages already received
/// are kept as a segment, and the symbol is not counted as done.
#[test]
fn pages_received_before_the_budget_ran_out_are_kept() {
    let t = Arc::new(Scripted::default());
    let clock = Arc::new(Settable::new(1_000));
    let c = client(&t, &clock, 70);
    let page: Vec<u64> = (10..10 + PAGE_LIMIT as u64).collect();
    script(
        &t,
        &[
            &time(1_000),
            INFO2,
            ACCOUNT,
            READ_ONLY,
            NO_SNAPSHOTS,
            &trades("BTCUSDT", &page),
        ],
    );
    let p = match run(c.fetch(&credential(), Some(&symbols()), Resume::none())).unwrap() {
        Fetched::Pending(p) => p,
        Fetched::Complete(_) => panic!("complete"),
    };
    assert!(p.done.is_empty());
    let ranges: Vec<_> = p
        .segments
        .iter()
        .map(|s| (s.from_id, s.next_id, s.trades.len()))
        .collect();
    assert_eq!(ranges, [(0, 1_010, 1_000)]);
    // The next attempt resumes inside the symbol.
    clock.set(61_000);
    let sent = t.targets.lock().unwrap().len();
    script(&t, &[&time(61_000), INFO2, ACCOUNT, READ_ONLY, "[]"]);
    let held = stored(&account("1001"), &[&p.segments]);
    let resume = Resume {
        stored: &held,
        done: &p.done,
    };
    let again = run(c.fetch(&credential(), Some(&symbols()), resume)).unwrap();
    assert_eq!(my_trades_sent(&t, sent), ["BTCUSDT@1010"]);
    assert!(matches!(again, Fetched::Pending(p) if p.done.len() == 1));
}

/// Refused at the first `myTrades` (nothing fetched, nothing up to date):
/// the error as before, not an empty pending.
#[test]
fn refused_before_anything_was_fetched_stays_the_error() {
    let t = Arc::new(Scripted::default());
    let clock = Arc::new(Settable::new(1_000));
    let c = client(&t, &clock, 50);
    script(&t, &[&time(1_000), INFO2, ACCOUNT, READ_ONLY, NO_SNAPSHOTS]);
    let err = run(c.fetch(&credential(), Some(&symbols()), Resume::none())).unwrap_err();
    assert_eq!(err, ExchangeError::WeightBudget { retry_after_s: 59 });
    assert!(my_trades_sent(&t, 0).is_empty());
}
