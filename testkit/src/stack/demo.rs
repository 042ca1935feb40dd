//! The demo fixture (`scripts/fixtures/demo.json`) and its hand-computed figures.

use std::path::PathBuf;

use serde_json::Value;

use crate::http::{Reply, body_text};
use crate::workspace_root;

/// The demo fixture's API key.
pub const DEMO_KEY: &str = "demo-api-key";
/// The demo fixture's API secret.
pub const DEMO_SECRET: &str = "demo-api-secret";

/// `scripts/fixtures/demo.json`.
pub fn demo_fixture() -> PathBuf {
    workspace_root().join("scripts/fixtures/demo.json")
}

/// `scripts/fixtures/demo.expected.json`.
pub fn expected_demo() -> Value {
    let path = workspace_root().join("scripts/fixtures/demo.expected.json");
    serde_json::from_slice(&std::fs::read(path).expect("demo.expected.json"))
        .expect("demo.expected.json is JSON")
}

/// Asserts `r` is a 200 whose figures equal the hand-computed demo figures.
pub fn assert_demo_figures(r: &Reply, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", body_text(r));
    let v = r.json();
    let want = expected_demo();
    assert_eq!(
        v["aggregates"]["symbols"], want["symbols"],
        "{what}: wrong symbols"
    );
    assert_eq!(
        v["aggregates"]["totals"], want["totals"],
        "{what}: wrong totals"
    );
}
