//! Shared by `public_results.rs` and `browser.rs`: a stack with two signed
//! results in the log (so the second has a non-empty inclusion proof).

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use strongroom_testkit::{Stack, StackOpts};

/// A running stack and its two results (`request_aggregates` answers).
pub struct TwoResults {
    pub stack: Stack,
    pub session: String,
    pub answers: Vec<Value>,
}

impl TwoResults {
    pub async fn start() -> Self {
        let stack = Stack::start(StackOpts::default()).await;
        let (_, session) = stack.submit_demo("main").await;
        let mut answers = Vec::new();
        for _ in 0..2 {
            let r = stack.client().aggregates(&session).await.expect("answered");
            assert_eq!(
                r.status,
                200,
                "aggregates: {}",
                String::from_utf8_lossy(&r.body)
            );
            answers.push(r.json());
        }
        TwoResults {
            stack,
            session,
            answers,
        }
    }

    /// Hex SHA-256 of answer `i`'s COSE bytes: its public id.
    pub fn id(&self, i: usize) -> String {
        use base64::Engine as _;
        let b64 = self.answers[i]["aggregates_signed"].as_str().expect("cose");
        let cose = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        hex::encode(Sha256::digest(cose))
    }

    /// Publishes result `i` the only way there is before credential v2: SQL.
    pub async fn publish(&self, i: usize) {
        let id = hex::decode(self.id(i)).expect("hex");
        let db = self.stack.db.client().await;
        let n = db
            .execute(
                "UPDATE aggregates SET published = true WHERE result_id = $1",
                &[&id],
            )
            .await
            .expect("publish");
        assert_eq!(n, 1, "exactly one stored result has this id");
    }
}
