//! `openapi.yaml` stays true: every route and every error code (with its status)
//! the code can answer is described, and nothing described is missing from the code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_yaml::Value;
use strongroom_host::http::ROUTES;
use strongroom_host::http::error::Code;

fn spec() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn every_route_is_described_and_nothing_else() {
    let spec = spec();
    let paths = spec["paths"].as_mapping().unwrap();
    let mut described = BTreeSet::new();
    for (path, ops) in paths {
        for (method, _) in ops.as_mapping().unwrap() {
            described.insert((
                method.as_str().unwrap().to_uppercase(),
                path.as_str().unwrap().to_owned(),
            ));
        }
    }
    let served: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(described, served);
}

#[test]
fn every_error_code_and_status_is_described() {
    let spec = spec();
    let schema = &spec["components"]["schemas"]["ErrorCode"];
    let listed: BTreeSet<String> = schema["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let emitted: BTreeSet<String> = Code::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    assert_eq!(listed, emitted);
    for c in Code::ALL {
        let status = schema["x-status"][c.as_str()].as_u64();
        assert_eq!(
            status,
            Some(u64::from(c.status())),
            "status of {}",
            c.as_str()
        );
    }
}

#[test]
fn route_statuses_name_codes_of_that_status() {
    // Each documented error status of a route mentions only codes answering that status.
    let spec = spec();
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    for (_, ops) in spec["paths"].as_mapping().unwrap() {
        for (_, op) in ops.as_mapping().unwrap() {
            for (status, resp) in op["responses"].as_mapping().unwrap() {
                let status: u16 = status.as_str().unwrap().parse().unwrap();
                let Some(desc) = resp["description"].as_str() else {
                    continue;
                };
                for c in Code::ALL {
                    let word = c.as_str();
                    let mentioned = desc
                        .split(|ch: char| {
                            !(ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
                        })
                        .any(|w| w == word);
                    if mentioned {
                        assert_eq!(c.status(), status, "{word} under {status}");
                    }
                }
            }
        }
    }
    assert!(text.contains("Retry-After"));
}
