//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod devchain;
pub mod http_server;
pub mod quote_fixture;
pub mod result_fixture;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// (file name, bytes) of every real Nitro document, sorted by name.
pub fn nitro_documents() -> Vec<(String, Vec<u8>)> {
    let mut docs: Vec<_> = std::fs::read_dir(data_dir().join("nitro"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cbor"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    docs.sort();
    assert_eq!(docs.len(), 9, "expected the nine evervault documents");
    docs
}

pub fn is_debug_name(name: &str) -> bool {
    name.contains("_debug_")
}

pub fn at_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

pub fn at_secs(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

/// The document's own timestamp (read without verification).
pub fn doc_time(doc: &[u8]) -> SystemTime {
    at_ms(
        strongroom_verifier::inspect_unverified(doc)
            .unwrap()
            .timestamp_ms,
    )
}
