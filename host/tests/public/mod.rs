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

/// The owner key sealed in the two results' credential.
pub fn owner() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[0x21; 32]).expect("a key")
}

impl TwoResults {
    pub async fn start() -> Self {
        let stack = Stack::start(StackOpts::default()).await;
        let c = stack.client();
        let q = c.quote().await.expect("quote answered");
        assert_eq!(q.status, 200);
        let owner = strongroom_verifier::owner::owner_public_key(&owner());
        let body = strongroom_testkit::seal::submission_with(
            &q.json(),
            strongroom_testkit::stack::DEMO_KEY,
            strongroom_testkit::stack::DEMO_SECRET,
            "main",
            Some(strongroom_testkit::seal::open_policy()),
            Some(&owner),
        );
        let r = c.submit(&body).await.expect("submit answered");
        assert_eq!(
            r.status,
            201,
            "submit: {}",
            String::from_utf8_lossy(&r.body)
        );
        let session = r.json()["session_id"]
            .as_str()
            .expect("session_id")
            .to_owned();
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

    /// Publishes result `i` alone, with its owner's real consent: the
    /// owner's signed `publish` stored as `POST /enclave/publish` stores it,
    /// and only this row flagged (the route would publish every result of
    /// the credential; these tests need one public, one private).
    pub async fn publish(&self, i: usize) {
        use strongroom_verifier::owner::{Action, OwnerAction, owner_id, owner_public_key};
        let id = hex::decode(self.id(i)).expect("hex");
        let credential = self.answers[i]["aggregates"]["credential"]
            .as_str()
            .expect("a v2 result names its credential")
            .to_owned();
        let action = OwnerAction {
            action: Action::Publish,
            credential: credential.clone(),
            from: None,
            to: None,
            symbols: None,
            time: "2026-01-01T00:00:00Z".into(),
        };
        let auth = strongroom_verifier::owner::sign_action(&action, &owner()).expect("signed");
        let owner = owner_id(&owner_public_key(&owner()));
        let db = self.stack.db.client().await;
        db.execute(
            "INSERT INTO published_credentials (credential, owner, owner_authorization) \
             VALUES ($1, $2, $3)",
            &[&credential, &owner, &auth],
        )
        .await
        .expect("consent stored");
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
