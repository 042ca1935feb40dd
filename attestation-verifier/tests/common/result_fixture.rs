//! A complete, valid `request_aggregates` answer built here: dev-root
//! attestation binding a P-256 signing key, nonce = SHA-256 of the signed
//! aggregate, the aggregate in a 7-leaf RFC 9162 log with a signed head.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::devchain::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::str::FromStr;
use strongroom_formats::aggregates::{AggregatePayload, Dec, QuoteTotals, SymbolAggregates};
use strongroom_formats::tlog::TreeHead;
use strongroom_verifier::merkle::{self, Frontier, Hash};
use strongroom_verifier::{AggregatesAnswer, LogEntry, Policy, TrustRoot, cose};

pub const KID: &str = "v1:2026";
pub const LOG_SIZE: u64 = 7;
pub const LEAF_INDEX: u64 = 4;

pub struct ResultFixture {
    pub pki: DevPki,
    pub sign_key: p256::ecdsa::SigningKey,
    /// Key id bound in the attestation's user_data.
    pub bound_kid: String,
    /// Key id in the protected header of the signed aggregate.
    pub cose_kid: String,
    pub payload: AggregatePayload,
    /// Attestation nonce; `None` = SHA-256 of the signed aggregate (valid).
    pub nonce: Option<Vec<u8>>,
}

fn d(s: &str) -> Dec {
    Dec::from_str(s).unwrap()
}

pub fn sample_payload() -> AggregatePayload {
    let btc = SymbolAggregates {
        base: "BTC".into(),
        quote: "USDT".into(),
        trade_count: 3,
        buy_qty: d("0.5"),
        sell_qty: d("0.3"),
        volume_quote: d("32100.5"),
        realized_pnl_quote: d("123.45"),
        unmatched_sell_qty: d("0"),
        fees: BTreeMap::from([("BNB".to_owned(), d("0.0123"))]),
        wins: 1,
        losses: 0,
        win_rate: Some(d("1")),
        max_drawdown_quote: d("0"),
    };
    let totals = QuoteTotals {
        trade_count: 3,
        volume_quote: d("32100.5"),
        realized_pnl_quote: d("123.45"),
        wins: 1,
        losses: 0,
        max_drawdown_quote: d("0"),
    };
    AggregatePayload {
        version: 1,
        exchange: "binance".into(),
        label: "main".into(),
        account: hex::encode([0x11; 32]),
        session: Some(hex::encode([0x22; 32])),
        credential: None,
        owner: None,
        policy: None,
        permissions: None,
        selection: None,
        methodology: None,
        returns: None,
        previous: None,
        from: Some("2026-01-01T00:00:00Z".into()),
        to: None,
        computed_at: "2027-01-15T08:00:59Z".into(),
        key_id: KID.into(),
        pcr0: hex::encode([0xaa; 48]),
        symbols: BTreeMap::from([("BTCUSDT".to_owned(), btc)]),
        totals: BTreeMap::from([("USDT".to_owned(), totals)]),
    }
}

impl Default for ResultFixture {
    fn default() -> Self {
        ResultFixture {
            pki: DevPki::new(),
            sign_key: p256::ecdsa::SigningKey::from_slice(&[5; 32]).unwrap(),
            bound_kid: KID.into(),
            cose_kid: KID.into(),
            payload: sample_payload(),
            nonce: None,
        }
    }
}

impl ResultFixture {
    pub fn root(&self) -> TrustRoot {
        TrustRoot::dev_from_pem(&self.pki.root_pem()).unwrap()
    }

    pub fn policy(&self) -> Policy {
        Policy::default()
    }

    pub fn signed(&self) -> Vec<u8> {
        cose::sign_es256(
            &self.payload.to_cbor().unwrap(),
            &self.cose_kid,
            &self.sign_key,
        )
    }

    pub fn attestation(&self, signed: &[u8]) -> Vec<u8> {
        let sign_pub = self.sign_key.verifying_key().to_sec1_point(false);
        let nonce = self
            .nonce
            .clone()
            .unwrap_or_else(|| Sha256::digest(signed).to_vec());
        let fields = DocFields {
            public_key: None,
            user_data: Some(binding(sign_pub.as_bytes(), &self.bound_kid)),
            nonce: Some(nonce),
            pcr_fill: 0xaa,
            indefinite_map: false,
        };
        document(&self.pki, &fields)
    }

    /// Leaf hashes of the log: filler entries around ours at LEAF_INDEX.
    pub fn leaves(&self, signed: &[u8]) -> Vec<Hash> {
        (0..LOG_SIZE)
            .map(|i| {
                if i == LEAF_INDEX {
                    merkle::leaf_hash(signed)
                } else {
                    merkle::leaf_hash(format!("other result {i}").as_bytes())
                }
            })
            .collect()
    }

    pub fn head(&self, size: u64, root: Hash) -> String {
        let head = TreeHead {
            size,
            root: root.to_vec(),
            time: "2027-01-15T08:01:00Z".into(),
            key_id: self.bound_kid.clone(),
        };
        STANDARD.encode(cose::sign_es256(
            &head.to_cbor().unwrap(),
            &self.bound_kid,
            &self.sign_key,
        ))
    }

    pub fn answer(&self) -> AggregatesAnswer {
        let signed = self.signed();
        let leaves = self.leaves(&signed);
        let mut frontier = Frontier::new();
        for leaf in &leaves {
            frontier.append(*leaf).unwrap();
        }
        assert_eq!(frontier.root(), merkle::root(&leaves));
        let proof = merkle::inclusion_proof(&leaves, LEAF_INDEX).unwrap();
        AggregatesAnswer {
            aggregates: serde_json::to_value(&self.payload).unwrap(),
            aggregates_signed: STANDARD.encode(&signed),
            attestation: STANDARD.encode(self.attestation(&signed)),
            log: LogEntry {
                leaf_index: LEAF_INDEX,
                tree_size: LOG_SIZE,
                tree_head: self.head(LOG_SIZE, frontier.root()),
                inclusion_proof: proof.iter().map(|h| STANDARD.encode(h)).collect(),
                checkpoint: None,
                tlog_proof: None,
            },
        }
    }
}

pub fn b64d(s: &str) -> Vec<u8> {
    STANDARD.decode(s).unwrap()
}

pub fn b64e(b: &[u8]) -> String {
    STANDARD.encode(b)
}
