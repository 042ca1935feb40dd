//! Every figure of `strongroom_formats::returns` equals, as a string, the
//! figure of the independent 60-digit Python reference
//! (`scripts/checks/returns_reference.py`, written from METHODOLOGY.md).
//!
//! Fixtures are enumerated or drawn from a fixed-seed generator, so the
//! test is deterministic. It fails (does not skip) without `python3`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use rust_decimal::Decimal;
use serde_json::{Value, json};
use strongroom_formats::aggregates::Dec;
use strongroom_formats::returns::{DayInput, compute};

/// SplitMix64: a fixed, dependency-free generator (same stream every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in [lo, hi].
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

/// Consecutive dates from 2015-01-01.
fn dates(count: usize) -> Vec<String> {
    let (mut y, mut m, mut d) = (2015, 1, 1);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(format!("{y:04}-{m:02}-{d:02}"));
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let len = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ][m - 1];
        d += 1;
        if d > len {
            (m, d) = (m + 1, 1);
            if m == 13 {
                (y, m) = (y + 1, 1);
            }
        }
    }
    out
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn fixture(rows: &[(Decimal, Decimal)]) -> Vec<DayInput> {
    dates(rows.len())
        .into_iter()
        .zip(rows)
        .map(|(date, (e, f))| DayInput {
            date,
            equity: Dec(*e),
            net_flow: Dec(*f),
        })
        .collect()
}

fn literal(rows: &[(&str, &str)]) -> Vec<DayInput> {
    let rows: Vec<_> = rows.iter().map(|(e, f)| (dec(e), dec(f))).collect();
    fixture(&rows)
}

/// A random walk: daily move within ±`move_ppm` millionths, flows on some
/// days (deposit or withdrawal up to half the equity), equity rounded to
/// `dp` places, starting at `start`.
fn walk(
    seed: u64,
    days: usize,
    start: &str,
    move_ppm: i64,
    flow_every: i64,
    dp: u32,
) -> Vec<DayInput> {
    let mut rng = Rng(seed);
    let mut e = dec(start);
    let mut rows = vec![(e, Decimal::ZERO)];
    for _ in 1..days {
        let flow = if flow_every > 0 && rng.range(1, flow_every) == 1 {
            (e * Decimal::new(rng.range(-500, 1000), 3)).round_dp(dp)
        } else {
            Decimal::ZERO
        };
        let factor = Decimal::ONE + Decimal::new(rng.range(-move_ppm, move_ppm), 6);
        e = ((e + flow).max(Decimal::ZERO) * factor).round_dp(dp);
        rows.push((e, flow));
    }
    fixture(&rows)
}

fn cases() -> Vec<(&'static str, Vec<DayInput>, Decimal)> {
    let zero = Decimal::ZERO;
    let mut negative_only = vec![(dec("1000"), zero)];
    for i in 1..30 {
        let prev = negative_only[i - 1].0;
        negative_only.push((
            (prev * dec("0.97")).round_dp(10) - Decimal::new(i as i64, 4),
            zero,
        ));
    }
    vec![
        ("single day", literal(&[("100", "0")]), zero),
        ("two days", literal(&[("100", "0"), ("103.7", "0")]), zero),
        (
            "two days, loss",
            literal(&[("100", "0"), ("96.3", "0")]),
            zero,
        ),
        (
            "up down up",
            literal(&[("100", "0"), ("110", "0"), ("99", "0"), ("108.9", "0")]),
            zero,
        ),
        ("flat", literal(&[("42.5", "0"); 12]), zero),
        (
            "equal returns of 1/3",
            literal(&[("9", "0"), ("12", "0"), ("16", "0")]),
            zero,
        ),
        (
            "deposits and withdrawals",
            literal(&[
                ("1000", "0"),
                ("1012.5", "0"),
                ("2015.7", "1000"),
                ("1990.05", "0"),
                ("1493.1", "-500"),
                ("1501.25", "0"),
                ("3100", "1600.5"),
                ("3050.333", "0"),
            ]),
            zero,
        ),
        (
            "total loss then redeposit",
            literal(&[
                ("100", "0"),
                ("120", "0"),
                ("0", "0"),
                ("0", "0"),
                ("50", "50"),
                ("55", "0"),
            ]),
            zero,
        ),
        (
            "zero and negative bases",
            literal(&[
                ("100", "0"),
                ("0", "-100"),
                ("5", "-20"),
                ("55", "50"),
                ("54", "0"),
                ("56.1", "0"),
            ]),
            zero,
        ),
        ("negative returns only", fixture(&negative_only), zero),
        (
            "large equities",
            literal(&[
                ("987654321098765.4321", "0"),
                ("987654321123456.7891", "0"),
                ("999999999999999.9999", "12345678901.23"),
                ("899999999999999.1234", "0"),
            ]),
            zero,
        ),
        (
            "tiny equities",
            literal(&[
                ("0.000000012345", "0"),
                ("0.000000012346", "0"),
                ("0.00000002469", "0.000000012345"),
                ("0.000000024001", "0"),
                ("0.000000000001", "-0.000000024"),
            ]),
            zero,
        ),
        (
            "tiny moves",
            literal(&[
                ("1000000", "0"),
                ("1000000.000001", "0"),
                ("999999.999998", "0"),
                ("1000000.000003", "0"),
            ]),
            zero,
        ),
        (
            "risk-free rate",
            literal(&[
                ("100", "0"),
                ("101", "0"),
                ("100.5", "0"),
                ("102", "0"),
                ("101.2", "0"),
            ]),
            dec("0.0425"),
        ),
        (
            "walk 90 days, 16 places",
            walk(7, 90, "25000.123456789", 30_000, 9, 16),
            zero,
        ),
        (
            "walk 3650 days",
            walk(2026, 3650, "10000", 40_000, 30, 8),
            dec("0.03"),
        ),
        (
            "walk 3650 days, quiet",
            walk(42, 3650, "5000000", 2_000, 0, 2),
            zero,
        ),
        (
            "walk 36600 days",
            walk(19, 36_600, "1000", 20_000, 200, 8),
            zero,
        ),
    ]
}

fn reference(input: &Value) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/checks/returns_reference.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is required by this test (the reference implementation)");
    let body = serde_json::to_vec(input).unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_figure_matches_the_reference_to_the_last_digit() {
    for (name, series, rf) in cases() {
        let ours = compute("USDT", &series, rf).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ours = serde_json::to_value(&ours).unwrap();
        let input =
            json!({"valuation_asset": "USDT", "risk_free_rate": rf.to_string(), "series": series});
        let theirs = reference(&input);
        let (ours, theirs) = (ours.as_object().unwrap(), theirs.as_object().unwrap());
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (key, value) in ours {
            if key == "daily" {
                for (i, (a, b)) in value
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(theirs[key].as_array().unwrap())
                    .enumerate()
                {
                    assert_eq!(a, b, "{name}: daily[{i}]");
                }
            }
            assert_eq!(value, &theirs[key], "{name}: {key}");
        }
    }
}

#[test]
fn the_reference_refuses_what_the_module_refuses() {
    let mut gap = literal(&[("1", "0"), ("1", "0")]);
    gap[1].date = "2015-01-03".into();
    assert!(compute("USDT", &gap, Decimal::ZERO).is_err());
    let input = json!({"valuation_asset": "USDT", "series": gap});
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/checks/returns_reference.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is required by this test");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(&input).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"error": "not_consecutive"}"#
    );
}
