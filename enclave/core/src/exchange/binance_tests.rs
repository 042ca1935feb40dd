//! The Binance client over a scripted transport: which connection each call
//! goes out on, and what it is told to wait.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::*;
use crate::exchange::History;
use crate::intake::credential::Plaintext;

/// Answers in script order; records (connection, path) per GET and sleeps.
#[derive(Default)]
pub(super) struct Scripted {
    pub answers: Mutex<VecDeque<Answer>>,
    pub connects: Mutex<u32>,
    pub gets: Mutex<Vec<(u32, String)>>,
    /// Every GET's path and query.
    pub targets: Mutex<Vec<String>>,
    pub sleeps: Mutex<Vec<Duration>>,
}

impl ExchangeTransport for Arc<Scripted> {
    type Connection = u32;

    async fn connect(&self) -> Result<u32, ExchangeError> {
        let mut n = self.connects.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        Ok(*n)
    }

    async fn get(
        &self,
        conn: &mut u32,
        target: &str,
        _: Option<&str>,
    ) -> Result<Answer, ExchangeError> {
        let path = target.split('?').next().unwrap_or_default().to_owned();
        self.targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(target.to_owned());
        self.gets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((*conn, path));
        let next = self
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        next.ok_or(ExchangeError::Unreachable)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        self.sleeps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(duration);
        std::future::ready(())
    }
}

pub(super) struct FixedClock(pub u64);

impl Clock for FixedClock {
    fn now_unix_ms(&self) -> u64 {
        self.0
    }
}

pub(super) fn credential() -> Credential {
    let plain = Plaintext {
        exchange: "binance".into(),
        api_key: "k".into(),
        api_secret: "s".into(),
        label: "main".into(),
        not_after: u64::MAX,
        owner: None,
        policy: None,
    };
    Credential::from_plaintext(
        plain,
        u64::MAX,
        "ab".repeat(32),
        crate::intake::CredentialVersion::V1,
    )
}

pub(super) fn ok(body: &str) -> Answer {
    Answer {
        status: 200,
        retry_after: None,
        used_weight: None,
        body: body.as_bytes().to_vec(),
    }
}

/// 200 reporting `used` weight for the address this minute.
pub(super) fn ok_used(body: &str, used: u32) -> Answer {
    Answer {
        used_weight: Some(used),
        ..ok(body)
    }
}

/// Polls a future whose every step is ready (the scripted transport never
/// waits).
pub(super) fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the scripted transport never waits"),
    }
}

pub(super) const TIME: &str = r#"{"serverTime":1000}"#;
pub(super) const INFO: &str =
    r#"{"symbols":[{"symbol":"BTCUSDT","baseAsset":"BTC","quoteAsset":"USDT"}]}"#;
pub(super) const ACCOUNT: &str = r#"{"uid":1001,"balances":[{"asset":"BTC"}]}"#;
pub(super) const READ_ONLY: &str =
    r#"{"ipRestrict":false,"enableReading":true,"enableSpotAndMarginTrading":false}"#;
pub(super) const NO_SNAPSHOTS: &str = r#"{"code":200,"msg":"","snapshotVos":[]}"#;

/// The flaky `retry_after_beyond_the_budget_is_rate_limited`: a Retry-After
/// within the budget is waited out, and the wait (up to a minute) outlasts
/// the server's idle timeout, so the retry must not go out on the connection
/// that was idle meanwhile.
#[test]
fn a_retry_after_wait_reconnects_before_retrying() {
    let t = Arc::new(Scripted::default());
    let limited = Answer {
        status: 429,
        retry_after: Some(20),
        used_weight: None,
        body: b"{}".to_vec(),
    };
    t.answers.lock().unwrap().extend([
        ok(TIME),
        limited,
        ok(INFO),
        ok(ACCOUNT),
        ok(READ_ONLY),
        ok(NO_SNAPSHOTS),
        ok("[]"),
    ]);
    let client = Binance::new(
        t.clone(),
        Arc::new(FixedClock(1000)),
        RetryPolicy::default(),
    );
    let symbols = ["BTCUSDT".to_owned()];
    let history = run(client.fetch_history(&credential(), Some(&symbols))).unwrap();
    assert!(history.trades.is_empty());
    assert_eq!(*t.sleeps.lock().unwrap(), [Duration::from_secs(20)]);
    let gets = t.gets.lock().unwrap().clone();
    let conns: Vec<u32> = gets.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        conns,
        [1, 1, 2, 2, 2, 2, 2],
        "the retry after the wait opens connection 2: {gets:?}"
    );
}

/// Other tenants behind the same egress address have used 5,390 of 6,000:
/// the next 20-weight call would pass 5,400 (limit − margin) and is not
/// sent; the refusal names the seconds to the exchange's next minute.
#[test]
fn a_request_that_would_pass_the_margin_is_not_sent() {
    let t = Arc::new(Scripted::default());
    t.answers
        .lock()
        .unwrap()
        .extend([ok_used(TIME, 5_371), ok_used(INFO, 5_391), ok("[]")]);
    // Enclave and exchange clocks agree (serverTime 1000 = 1 s into a minute).
    let client = Binance::new(
        t.clone(),
        Arc::new(FixedClock(1000)),
        RetryPolicy::default(),
    );
    let symbols = ["BTCUSDT".to_owned()];
    let err = run(client.fetch_history(&credential(), Some(&symbols))).unwrap_err();
    assert_eq!(err, ExchangeError::WeightBudget { retry_after_s: 59 });
    assert_eq!(err.code(), strongroom_protocol::ErrorCode::ExchangeBudget);
    let paths: Vec<String> = t
        .gets
        .lock()
        .unwrap()
        .iter()
        .map(|(_, p)| p.clone())
        .collect();
    assert_eq!(
        paths,
        ["/api/v3/time", "/api/v3/exchangeInfo"],
        "myTrades never sent"
    );
    assert!(
        t.sleeps.lock().unwrap().is_empty(),
        "refused at once, no waiting"
    );
}

fn kline(day: i64, close: &str) -> String {
    let open = day * 86_400_000;
    format!(
        r#"[{open},"1","1","1","{close}","1",{},"1",1,"1","1","0"]"#,
        open + 86_399_999
    )
}

/// Daily equity over the session: snapshots, both flow histories, then
/// klines of DEMOUSDT (unknown: -1121), DEMOBTC and BTCUSDT; the second
/// computation of the same account reuses them (accountSnapshot costs
/// 2,400 of a 12,000-a-minute budget).
#[test]
fn daily_inputs_are_fetched_once_per_account_and_routed_through_btc() {
    let t = Arc::new(Scripted::default());
    let (d0, d1) = (20_089i64, 20_090i64);
    let snap = |day: i64, ms: i64| {
        format!(
            r#"{{"type":"spot","updateTime":{},"data":{{"balances":[{{"asset":"DEMO","free":"100","locked":"0"}},{{"asset":"USDT","free":"5","locked":"0"}}]}}}}"#,
            day * 86_400_000 + ms
        )
    };
    let snaps = format!(
        r#"{{"code":200,"msg":"","snapshotVos":[{},{}]}}"#,
        snap(d0, 86_399_000),
        snap(d1, 86_399_000)
    );
    let unknown = Answer {
        status: 400,
        retry_after: None,
        used_weight: None,
        body: br#"{"code":-1121,"msg":"Invalid symbol."}"#.to_vec(),
    };
    let demo_btc = format!("[{},{}]", kline(d0, "0.0001"), kline(d1, "0.0002"));
    let btc_usdt = format!("[{},{}]", kline(d0, "100000"), kline(d1, "100000"));
    t.answers.lock().unwrap().extend([
        ok(TIME),
        ok(INFO),
        ok(ACCOUNT),
        ok(READ_ONLY),
        ok(&snaps),
        ok("[]"),
        ok("[]"),
        unknown,
        ok(&demo_btc),
        ok(&btc_usdt),
        ok("[]"),
        ok(TIME),
        ok(INFO),
        ok(ACCOUNT),
        ok(READ_ONLY),
        ok("[]"),
    ]);
    let client = Binance::new(
        t.clone(),
        Arc::new(FixedClock(1000)),
        RetryPolicy::default(),
    );
    let symbols = ["BTCUSDT".to_owned()];
    let history = run(client.fetch_history(&credential(), Some(&symbols))).unwrap();
    let daily = history.daily.unwrap();
    let eq = crate::equity::build(&daily).unwrap().unwrap();
    let figures: Vec<String> = eq.series.iter().map(|d| d.equity.to_string()).collect();
    assert_eq!(figures, ["1005", "2005"]);
    let again = run(client.fetch_history(&credential(), Some(&symbols))).unwrap();
    assert_eq!(
        again.daily.unwrap(),
        daily,
        "the same inputs, not fetched again"
    );
    let paths: Vec<String> = t
        .gets
        .lock()
        .unwrap()
        .iter()
        .map(|(_, p)| p.clone())
        .collect();
    assert_eq!(
        paths[4..10],
        [
            "/sapi/v1/accountSnapshot",
            "/sapi/v1/capital/deposit/hisrec",
            "/sapi/v1/capital/withdraw/history",
            "/api/v3/klines",
            "/api/v3/klines",
            "/api/v3/klines",
        ]
    );
    assert_eq!(paths.len(), 16, "{paths:?}");
}

fn info_of(symbols: &[(&str, &str, &str)]) -> String {
    let list: Vec<String> = symbols
        .iter()
        .map(|(s, b, q)| format!(r#"{{"symbol":"{s}","baseAsset":"{b}","quoteAsset":"{q}"}}"#))
        .collect();
    format!(r#"{{"symbols":[{}]}}"#, list.join(","))
}

fn paths(t: &Scripted) -> Vec<String> {
    t.gets
        .lock()
        .unwrap()
        .iter()
        .map(|(_, p)| p.clone())
        .collect()
}

/// Discovery (no symbols named) over a scripted exchange; `script` follows
/// time, exchangeInfo, account and apiRestrictions.
fn discover(info: &str, account: &str, script: Vec<Answer>) -> (History, Vec<String>) {
    let t = Arc::new(Scripted::default());
    let mut answers = vec![ok(TIME), ok(info), ok(account), ok(READ_ONLY)];
    answers.extend(script);
    t.answers.lock().unwrap().extend(answers);
    let limits = WeightLimits {
        limit: 1_000_000,
        margin: 0,
    };
    let client = Binance::new(
        t.clone(),
        Arc::new(FixedClock(1000)),
        RetryPolicy::default(),
    )
    .with_weight_limits(limits);
    let history = run(client.fetch_history(&credential(), None)).unwrap();
    assert!(
        t.answers.lock().unwrap().is_empty(),
        "every scripted answer asked for"
    );
    (history, paths(&t))
}

/// Zero balances count (Binance lists them unless `omitZeroBalances=true`,
/// which the enclave never sends), and a symbol is found by its quote
/// asset as well as by its base.
#[test]
fn zero_balances_and_quote_assets_are_discovered() {
    let info = info_of(&[
        ("BTCUSDT", "BTC", "USDT"),
        ("ETHBTC", "ETH", "BTC"),
        ("ETHUSDT", "ETH", "USDT"),
        ("XRPETH", "XRP", "ETH"),
    ]);
    let account = r#"{"uid":1,"balances":[{"asset":"BTC","free":"0.00000000","locked":"0.00000000"},{"asset":"USDT","free":"0","locked":"0"}]}"#;
    let mut script = vec![ok(NO_SNAPSHOTS)];
    script.extend((0..3).map(|_| ok("[]")));
    let (history, _) = discover(&info, account, script);
    assert_eq!(history.considered, ["BTCUSDT", "ETHBTC", "ETHUSDT"]);
    assert!(history.complete);
    // Only USDT held: BTCUSDT and ETHUSDT, by their quote.
    let account = r#"{"uid":1,"balances":[{"asset":"USDT","free":"0","locked":"0"}]}"#;
    let mut script = vec![ok(NO_SNAPSHOTS)];
    script.extend((0..2).map(|_| ok("[]")));
    let (history, _) = discover(&info, account, script);
    assert_eq!(history.considered, ["BTCUSDT", "ETHUSDT"]);
}

/// An asset the account no longer lists, known only from a withdrawal over
/// the snapshot run, still names its symbols (here only by base: XYZBNB).
#[test]
fn an_asset_known_only_from_a_withdrawal_is_discovered() {
    let d0 = 20_089i64; // 2025-01-01
    let info = info_of(&[("BTCUSDT", "BTC", "USDT"), ("XYZBNB", "XYZ", "BNB")]);
    let account = r#"{"uid":1,"balances":[]}"#;
    let snaps = format!(
        r#"{{"code":200,"msg":"","snapshotVos":[{{"type":"spot","updateTime":{},"data":{{"balances":[{{"asset":"USDT","free":"5","locked":"0"}}]}}}}]}}"#,
        d0 * 86_400_000 + 86_399_000
    );
    let withdrawal =
        r#"[{"coin":"XYZ","amount":"1","status":6,"applyTime":"2025-01-01 12:00:00"}]"#;
    let script = vec![
        ok(&snaps),
        ok("[]"),
        ok(withdrawal),
        ok(&format!("[{}]", kline(d0, "2"))),
        ok("[]"),
        ok("[]"),
    ];
    let (history, paths) = discover(&info, account, script);
    assert_eq!(history.considered, ["BTCUSDT", "XYZBNB"]);
    assert!(history.complete);
    assert_eq!(
        paths[4..7],
        [
            "/sapi/v1/accountSnapshot",
            "/sapi/v1/capital/deposit/hisrec",
            "/sapi/v1/capital/withdraw/history",
        ],
        "flows before any myTrades"
    );
}

/// Discovery is never truncated: 320 symbols on a held quote asset are all
/// queried (the 200 cap bounds only a request that names symbols).
#[test]
fn discovery_is_never_truncated() {
    let names: Vec<(String, String)> = (0..320)
        .map(|i| {
            let base = format!("A{i:03}X");
            (format!("{base}USDT"), base)
        })
        .collect();
    let list: Vec<(&str, &str, &str)> = names
        .iter()
        .map(|(s, b)| (s.as_str(), b.as_str(), "USDT"))
        .collect();
    let info = info_of(&list);
    let account = r#"{"uid":1,"balances":[{"asset":"USDT","free":"0","locked":"0"}]}"#;
    let mut script = vec![ok(NO_SNAPSHOTS)];
    script.extend((0..320).map(|_| ok("[]")));
    let (history, paths) = discover(&info, account, script);
    assert_eq!(history.considered.len(), 320);
    assert!(history.complete);
    assert_eq!(
        paths.iter().filter(|p| *p == "/api/v3/myTrades").count(),
        320
    );
}

/// `check_key`: time, apiRestrictions, then account for the uid; a key
/// that can trade is refused before its account is asked for.
#[test]
fn check_key_reads_restrictions_then_the_account() {
    let t = Arc::new(Scripted::default());
    let trading = r#"{"enableReading":true,"enableSpotAndMarginTrading":true}"#;
    t.answers
        .lock()
        .unwrap()
        .extend([ok(TIME), ok(READ_ONLY), ok(ACCOUNT), ok(TIME), ok(trading)]);
    let client = Binance::new(
        t.clone(),
        Arc::new(FixedClock(1000)),
        RetryPolicy::default(),
    );
    let checked = run(client.check_key(&credential())).unwrap();
    assert_eq!(checked.account_id, "1001");
    assert!(checked.permissions.read_only());
    assert_eq!(
        run(client.check_key(&credential())),
        Err(ExchangeError::KeyNotReadOnly)
    );
    assert_eq!(
        paths(&t),
        [
            "/api/v3/time",
            "/sapi/v1/account/apiRestrictions",
            "/api/v3/account",
            "/api/v3/time",
            "/sapi/v1/account/apiRestrictions",
        ]
    );
}
