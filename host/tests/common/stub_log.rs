//! The stub enclave's signing: a fixed test P-256 key, plausible aggregate
//! payloads, and a transparency-log signer that checks the host's state the way
//! the real enclave does (built on the verifier's RFC 9162 and COSE code).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use p256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};
use strongroom_protocol::ErrorCode;
use strongroom_protocol::aggregates::{AggregatePayload, Dec, QuoteTotals, SymbolAggregates};
use strongroom_protocol::messages::{
    AggregatesResult, AppendLogRequest, ComputeAggregatesRequest, LogAppended,
};
use strongroom_protocol::tlog::TreeHead;
use strongroom_verifier::cose::{sign_es256, verify_es256};
use strongroom_verifier::merkle::{Frontier, Hash, leaf_hash};

pub const KEY_ID: &str = "stub-1";

pub fn signing_key() -> SigningKey {
    SigningKey::from_slice(&[0x5a; 32]).unwrap()
}

fn dec(s: &str) -> Dec {
    s.parse().unwrap()
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A payload whose figures depend on the request (symbols, window), signed.
pub fn aggregates(c: &ComputeAggregatesRequest) -> AggregatesResult {
    let symbols = c.symbols.clone().unwrap_or_else(|| vec!["BTCUSDT".into()]);
    let mut per = BTreeMap::new();
    for s in &symbols {
        per.insert(
            s.clone(),
            SymbolAggregates {
                base: s.trim_end_matches("USDT").into(),
                quote: "USDT".into(),
                trade_count: 2,
                buy_qty: dec("1.5"),
                sell_qty: dec("1.5"),
                volume_quote: dec("300.25"),
                realized_pnl_quote: dec("10"),
                unmatched_sell_qty: dec("0"),
                fees: BTreeMap::from([("BNB".into(), dec("0.001"))]),
                wins: 1,
                losses: 0,
                win_rate: Some(dec("1")),
                max_drawdown_quote: dec("0"),
            },
        );
    }
    let n = symbols.len() as u64;
    let payload = AggregatePayload {
        version: 1,
        exchange: c.metadata.exchange.clone(),
        label: c.metadata.label.clone(),
        account: hex::encode(Sha256::digest(c.sealed.aead())),
        session: Some(hex::encode(Sha256::digest(c.session_id.as_bytes()))),
        credential: None,
        owner: None,
        policy: None,
        permissions: None,
        selection: None,
        methodology: None,
        returns: None,
        previous: None,
        from: c.from_ms.map(rfc3339),
        to: c.to_ms.map(rfc3339),
        computed_at: rfc3339(1_790_000_000_000),
        key_id: KEY_ID.into(),
        pcr0: "ab".repeat(48),
        symbols: per,
        totals: BTreeMap::from([(
            "USDT".into(),
            QuoteTotals {
                trade_count: 2 * n,
                volume_quote: dec(&format!("{}.{:02}", 30025 * n / 100, 30025 * n % 100)),
                realized_pnl_quote: dec(&(10 * n).to_string()),
                wins: n,
                losses: 0,
                max_drawdown_quote: dec("0"),
            },
        )]),
    };
    let payload = if c.metadata.label.starts_with("v2") {
        as_v2(payload, c)
    } else {
        payload
    };
    let signed = sign_es256(&payload.to_cbor().unwrap(), KEY_ID, &signing_key());
    let mut attestation = b"stub-attestation:".to_vec();
    attestation.extend_from_slice(&Sha256::digest(&signed));
    AggregatesResult {
        signed,
        attestation,
        history: Vec::new(),
    }
}

/// The owner key of the stub's v2 credentials (labels `v2...`).
pub fn owner_key() -> SigningKey {
    SigningKey::from_slice(&[0x0e; 32]).unwrap()
}

/// Labels `v2...` get a version 2 payload naming the credential (SHA-256 of
/// the sealed bytes: the stub never re-seals), [`owner_key`] as owner (none
/// under `v2noowner...`), and under a label `v2pub...` a policy that says
/// `publish`.
fn as_v2(p: AggregatePayload, c: &ComputeAggregatesRequest) -> AggregatePayload {
    use strongroom_formats::policy::Policy;
    let owner = strongroom_verifier::owner::owner_public_key(&owner_key());
    AggregatePayload {
        version: 2,
        session: None,
        credential: Some(hex::encode(c.sealed.id())),
        // `v2noowner...`: sealed without an owner key.
        owner: (!c.metadata.label.starts_with("v2noowner"))
            .then(|| strongroom_formats::owner::owner_id(&owner)),
        policy: Some(Policy {
            publish: c.metadata.label.starts_with("v2pub"),
            ..Policy::DEFAULT
        }),
        selection: Some(strongroom_formats::aggregates::Selection {
            mode: strongroom_formats::aggregates::SelectionMode::All,
            considered: p.symbols.keys().cloned().collect(),
            complete: true,
        }),
        methodology: Some(strongroom_formats::returns::METHODOLOGY.into()),
        ..p
    }
}

/// A revocation entry for `credential`, signed like a result.
pub fn revocation_entry(credential: &str) -> Vec<u8> {
    let e = strongroom_formats::owner::RevocationEntry::new(credential, "2026-11-23T00:00:00Z");
    sign_es256(&e.to_cbor().unwrap(), KEY_ID, &signing_key())
}

/// The newest head signed: (size, root).
#[derive(Default)]
pub struct StubLog {
    newest: Mutex<Option<(u64, Hash)>>,
}

/// The stub log's checkpoint origin.
pub const STUB_ORIGIN: &str = "strongroom.test/stub-log";

/// The stub log's note key.
pub fn note_signer() -> strongroom_formats::c2sp::note::NoteSigner {
    strongroom_formats::c2sp::note::NoteSigner::from_seed(STUB_ORIGIN, &[3u8; 32]).unwrap()
}

impl StubLog {
    pub fn append(&self, req: &AppendLogRequest) -> Result<LogAppended, ErrorCode> {
        let key = signing_key();
        let invalid = ErrorCode::LogStateInvalid;
        verify_es256(&req.leaf, key.verifying_key(), None).map_err(|_| invalid)?;
        let hashes = req
            .frontier
            .iter()
            .map(|h| Hash::try_from(h.as_slice()).map_err(|_| invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let mut frontier = Frontier::from_parts(req.tree_size, hashes).map_err(|_| invalid)?;
        let root = frontier.root();
        match (&req.head, req.tree_size) {
            (None, 0) => {}
            (Some(head), size) if size > 0 => {
                let p =
                    verify_es256(head, key.verifying_key(), Some(KEY_ID)).map_err(|_| invalid)?;
                let head = TreeHead::from_cbor(&p).map_err(|_| invalid)?;
                if head.size != size || head.root != root {
                    return Err(invalid);
                }
            }
            _ => return Err(invalid),
        }
        let mut newest = self.newest.lock().unwrap();
        if let Some((size, r)) = *newest
            && (req.tree_size < size || (req.tree_size == size && r != root))
        {
            return Err(invalid);
        }
        frontier.append(leaf_hash(&req.leaf)).unwrap();
        let head = TreeHead {
            size: frontier.size(),
            root: frontier.root().to_vec(),
            time: "2026-11-23T00:00:00Z".into(),
            key_id: KEY_ID.into(),
        };
        let tree_head = sign_es256(&head.to_cbor().unwrap(), KEY_ID, &key);
        *newest = Some((frontier.size(), frontier.root()));
        let cp = strongroom_formats::c2sp::checkpoint::Checkpoint::new(
            STUB_ORIGIN,
            frontier.size(),
            frontier.root(),
            vec![],
        )
        .unwrap();
        let mut signed = strongroom_formats::c2sp::checkpoint::SignedCheckpoint::new(cp).unwrap();
        note_signer().sign(signed.note_mut()).unwrap();
        Ok(LogAppended {
            leaf_index: req.tree_size,
            tree_size: frontier.size(),
            tree_head,
            checkpoint: signed.format(),
            witness_quorum: 0,
        })
    }
}
