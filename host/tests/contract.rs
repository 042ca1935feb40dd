//! One sealed-credential contract (SPEC.md §4.1): every boundary value goes
//! through the client's `seal`, the real host's `POST /enclave/submit_key`
//! and the real enclave's `open_credential` RPC (the simulator binary, no
//! host in between), and all three accept or refuse it alike. Before the
//! contract, a label "my main" or a 600-byte secret passed the client and
//! the host and failed only after an HPKE open inside the enclave.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::real::seal;
use common::{Host, TestDb};
use serde_json::json;
use strongroom_formats::credential::{MAX_CIPHERTEXT_LEN, SealedCredential};
use strongroom_protocol::ErrorCode;
use strongroom_protocol::client::{CallError, ClientConfig, RpcClient};
use strongroom_protocol::messages::{
    CredentialMetadata, OpenCredentialRequest, RequestBody, ResponseBody,
};
use strongroom_verifier::seal::{
    CredentialMetadata as ClientMetadata, CredentialPlaintext, SealRecipient, seal_credential,
};
use zeroize::Zeroizing;

/// One boundary value. `pad_to`: the plaintext JSON padded with trailing
/// spaces (still the same JSON) to exactly this many bytes, which the
/// client never produces: such cases go through the host and the enclave
/// only.
struct Case {
    name: &'static str,
    exchange: String,
    label: String,
    api_key: String,
    api_secret: String,
    key_id: Option<String>,
    pad_to: Option<usize>,
    ok: bool,
}

fn case(name: &'static str, ok: bool) -> Case {
    Case {
        name,
        exchange: "binance".into(),
        label: "main".into(),
        api_key: "KEY-contract".into(),
        api_secret: "SECRET-contract".into(),
        key_id: None,
        pad_to: None,
        ok,
    }
}

fn cases() -> Vec<Case> {
    let with = |name, ok, f: &dyn Fn(&mut Case)| {
        let mut c = case(name, ok);
        f(&mut c);
        c
    };
    vec![
        case("plain", true),
        with("label of 64", true, &|c| c.label = "l".repeat(64)),
        with("label of 65", false, &|c| c.label = "l".repeat(65)),
        with("label with a space", false, &|c| c.label = "my main".into()),
        with("label with a slash", false, &|c| c.label = "a/b".into()),
        with("label of every allowed character", true, &|c| {
            c.label = "Az09_.-".into()
        }),
        with("empty label", false, &|c| c.label = String::new()),
        with("exchange of 32", true, &|c| c.exchange = "b".repeat(32)),
        with("exchange of 33", false, &|c| c.exchange = "b".repeat(33)),
        with("exchange in capitals", true, &|c| {
            c.exchange = "Binance".into()
        }),
        with("exchange with a space", false, &|c| {
            c.exchange = "bin ance".into()
        }),
        with("secret of 512", true, &|c| c.api_secret = "s".repeat(512)),
        with("secret of 513", false, &|c| c.api_secret = "s".repeat(513)),
        with("secret of 600", false, &|c| c.api_secret = "s".repeat(600)),
        with("key of 512", true, &|c| c.api_key = "k".repeat(512)),
        with("key of 513", false, &|c| c.api_key = "k".repeat(513)),
        with("secret with a space and quotes", true, &|c| {
            c.api_secret = "a \"quoted\" \\ secret".into()
        }),
        with("secret with a tab", false, &|c| {
            c.api_secret = "a\tb".into()
        }),
        with("secret with a non-ASCII letter", false, &|c| {
            c.api_secret = "sécret".into()
        }),
        with("empty key", false, &|c| c.api_key = String::new()),
        with("key id of 65", false, &|c| c.key_id = Some("v".repeat(65))),
        with("key id with a space", false, &|c| {
            c.key_id = Some("v1 x".into())
        }),
        with("plaintext of 4096", true, &|c| {
            c.pad_to = Some(MAX_CIPHERTEXT_LEN)
        }),
        with("plaintext of 4097", false, &|c| {
            c.pad_to = Some(MAX_CIPHERTEXT_LEN + 1)
        }),
    ]
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn plaintext(c: &Case) -> Vec<u8> {
    let mut pt = json!({
        "exchange": c.exchange, "api_key": c.api_key, "api_secret": c.api_secret,
        "label": c.label, "not_after": now() + 3600,
    })
    .to_string()
    .into_bytes();
    if let Some(n) = c.pad_to {
        pt.resize(n, b' ');
    }
    pt
}

/// The client: `seal_credential` to the attested key (None for padded
/// plaintexts, which it cannot produce).
fn client_accepts(c: &Case, key_id: &str, pk: &[u8]) -> Option<bool> {
    if c.pad_to.is_some() {
        return None;
    }
    let Ok(recipient) = SealRecipient::danger_unattested(c.key_id.as_deref().unwrap_or(key_id), pk)
    else {
        return Some(false);
    };
    let credential = CredentialPlaintext {
        exchange: c.exchange.clone(),
        api_key: Zeroizing::new(c.api_key.clone()),
        api_secret: Zeroizing::new(c.api_secret.clone()),
        label: c.label.clone(),
        not_after: now() + 3600,
        owner: None,
        policy: None,
    };
    let metadata = ClientMetadata {
        exchange: c.exchange.clone(),
        label: c.label.clone(),
        ttl: 3600,
    };
    Some(seal_credential(&recipient, &credential, &metadata).is_ok())
}

/// The host over HTTP (then the enclave behind it). A value the host can
/// see (key id, metadata, lengths) must be refused by its own validation
/// (`invalid_length` / `invalid_field`), before the enclave; a value only
/// inside the plaintext (the secrets) is the enclave's 422
/// `malformed_credential`, since the host never sees it.
async fn host_accepts(host: &Host, api_key: &str, c: &Case, key_id: &str, pk: &[u8]) -> bool {
    let (enc, ct, tag) = seal(pk, &plaintext(c));
    let body = json!({
        "key_id": c.key_id.as_deref().unwrap_or(key_id),
        "ephemeral_pub": STANDARD.encode(enc),
        "ciphertext": STANDARD.encode(ct),
        "tag": STANDARD.encode(tag),
        "metadata": {"exchange": c.exchange, "label": c.label, "ttl": 600}
    });
    let r = host
        .post("/enclave/submit_key", api_key, &body.to_string())
        .await;
    if r.status == 201 {
        return true;
    }
    let inside_plaintext = c.api_key != case("", true).api_key
        || c.api_secret != case("", true).api_secret
        || c.pad_to.is_some_and(|n| n <= MAX_CIPHERTEXT_LEN);
    let want: &[&str] = if inside_plaintext {
        &["malformed_credential"]
    } else {
        &["invalid_length", "invalid_field"]
    };
    assert!(
        want.contains(&r.code().as_str()),
        "{}: refused where it first can be: {} {}",
        c.name,
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    false
}

/// The enclave over its RPC, with no host in front.
async fn enclave_accepts(rpc: &RpcClient, c: &Case, key_id: &str, pk: &[u8]) -> bool {
    let (enc, ct, tag) = seal(pk, &plaintext(c));
    let aead = [ct, tag].concat();
    let Ok(sealed) = SealedCredential::from_aead(c.key_id.as_deref().unwrap_or(key_id), enc, aead)
    else {
        return false; // the RPC decoder refuses it: it never reaches an HPKE open
    };
    let request = OpenCredentialRequest {
        tenant: None,
        session_id: uuid::Uuid::new_v4().to_string(),
        sealed,
        metadata: CredentialMetadata {
            exchange: c.exchange.clone(),
            label: c.label.clone(),
            ttl_seconds: 600,
        },
        check_key: false,
    };
    match rpc.call(RequestBody::OpenCredential(request)).await {
        Ok(ResponseBody::CredentialAccepted(_)) => true,
        Err(CallError::Remote(e)) => {
            assert_eq!(e.code, ErrorCode::MalformedCredential, "{}", c.name);
            false
        }
        other => panic!("{}: {other:?}", c.name),
    }
}

#[tokio::test]
async fn client_host_and_enclave_accept_and_refuse_the_same_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let enclave = common::real::start_enclave(dir.path(), &[]).await;
    let db = TestDb::migrated().await;
    // This enclave has no exchange: the key check at submit is off
    // (SUBMIT_CHECK_KEY=0), as it is about the credential contract alone.
    let host = Host::start(
        &db,
        &enclave.addr,
        &[("RATE_LIMIT_MAX", "10000"), ("SUBMIT_CHECK_KEY", "0")],
    )
    .await;
    common::wait_ready(&host).await;
    let api_key = db.tenant("acme").await;
    let quote = host.get("/attestation/quote", &[]).await.json();
    let pk = STANDARD
        .decode(quote["enclave_pubkey"].as_str().unwrap())
        .unwrap();
    let key_id = quote["key_id"].as_str().unwrap().to_owned();
    let rpc = RpcClient::new(enclave.addr.parse().unwrap(), ClientConfig::default());
    let mut refused = 0;
    for c in cases() {
        let client = client_accepts(&c, &key_id, &pk);
        let host_ok = host_accepts(&host, &api_key, &c, &key_id, &pk).await;
        let enclave_ok = enclave_accepts(&rpc, &c, &key_id, &pk).await;
        assert_eq!(
            (client.unwrap_or(c.ok), host_ok, enclave_ok),
            (c.ok, c.ok, c.ok),
            "{}: client, host, enclave",
            c.name
        );
        refused += usize::from(!c.ok);
    }
    assert!(refused >= 10, "the walk includes refusals");
}
