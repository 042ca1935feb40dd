#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Log v2 with real processes: two `strongroom-witness`es with a quorum of
//! two, the simulator enclave and the host. A result comes with a
//! `c2sp.org/tlog-proof@v1` whose checkpoint the log's note key signed (the
//! key bound in the attestation as `note`) and both witnesses cosigned; a
//! witness that is down holds the log until it is back; a witness restarted
//! mid-run keeps its state. And the two forks a review reproduced against
//! log v1, played by a hostile host that rolls its database back: a
//! restarted enclave handed an old state, and a second live enclave on the
//! same ring, each sign a second history of one size, and neither gets a
//! cosigned result: the witnesses refuse it and the log stops there.

use std::time::Duration;

use serde_json::Value;
use strongroom_formats::c2sp::checkpoint::SignedCheckpoint;
use strongroom_formats::c2sp::cosignature::WitnessPolicy;
use strongroom_formats::c2sp::note::VerifierKey;
use strongroom_formats::c2sp::proof::{LogPolicy, TlogProof};
use strongroom_testkit::enclave::start_enclave;
use strongroom_testkit::host::Host;
use strongroom_testkit::hostile::roll_back_log;
use strongroom_testkit::http::{body_text, try_http};
use strongroom_testkit::stack::{Stack, StackOpts};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

async fn witnessed_stack(kms: bool) -> Stack {
    Stack::start(StackOpts {
        witnesses: 2,
        kms,
        ..Default::default()
    })
    .await
}

fn policy(s: &Stack, log_vkey: &str) -> LogPolicy {
    let log_key = VerifierKey::parse(log_vkey).expect("log vkey");
    let witnesses = s
        .witnesses
        .iter()
        .map(|w| VerifierKey::parse(&w.vkey).expect("witness vkey"))
        .collect();
    LogPolicy {
        origin: log_key.name().to_owned(),
        log_key,
        witnesses: WitnessPolicy::new(witnesses, 2).expect("2 of 2"),
    }
}

/// quote -> submit -> request_aggregates through `host`; the answer.
async fn aggregate(s: &Stack, host: &str, session: &str) -> (u16, Value) {
    let body = format!(r#"{{"session_id":"{session}"}}"#);
    let auth = format!("Bearer {}", s.key);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let r = try_http(
        host,
        "POST",
        "/enclave/request_aggregates",
        &headers,
        Some(body.as_bytes()),
        Duration::from_secs(90),
    )
    .await
    .expect("request_aggregates answered");
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

/// Checks the result's tlog-proof: the leaf is the signed result, the
/// checkpoint is signed by the log and cosigned by both witnesses.
fn check_proof(s: &Stack, log_vkey: &str, answer: &Value) -> u64 {
    let proof = answer["log"]["tlog_proof"].as_str().expect("tlog_proof");
    let leaf = STANDARD
        .decode(answer["aggregates_signed"].as_str().expect("signed"))
        .expect("base64");
    let parsed = TlogProof::parse(proof.as_bytes()).expect("tlog-proof parses");
    let ok = parsed
        .verify(&leaf, &policy(s, log_vkey))
        .expect("tlog-proof verifies with both cosignatures");
    assert_eq!(ok.cosignatures.len(), 2);
    assert_eq!(ok.index, answer["log"]["leaf_index"].as_u64().unwrap());
    ok.tree_size
}

/// A tlog-policy file for the stack's log: its key, both witnesses, `k` of them.
fn policy_file(s: &Stack, log_vkey: &str, k: &str) -> std::path::PathBuf {
    let mut text = format!("log {log_vkey}\n");
    let mut names = Vec::new();
    for (i, w) in s.witnesses.iter().enumerate() {
        text.push_str(&format!("witness W{i} {}\n", w.vkey));
        names.push(format!("W{i}"));
    }
    text.push_str(&format!(
        "group all-of-them {k} {}\nquorum all-of-them\n",
        names.join(" ")
    ));
    let path = s.dir.path().join(format!("tlog-policy-{k}"));
    std::fs::write(&path, text).unwrap();
    path
}

/// `strongroom verify-result --tlog-policy` on a saved answer: (exit, stdout).
fn verify_result(s: &Stack, answer: &Value, policy: &std::path::Path) -> (i32, String) {
    let file = s.dir.path().join("answer.json");
    std::fs::write(&file, answer.to_string()).unwrap();
    let out = std::process::Command::new(strongroom_testkit::bin::verifier_cli())
        .arg("verify-result")
        .arg(&file)
        .arg("--pcrs")
        .arg(s.dir.path().join("pcrs.json"))
        .arg("--trust-dev-root")
        .arg(&s.enclave.root_pem)
        .arg("--tlog-policy")
        .arg(policy)
        .arg("--json")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_carry_cosigned_tlog_proofs_and_a_witness_down_holds_the_log() {
    let mut s = witnessed_stack(false).await;
    let log_vkey = s.log_vkey().await;
    let (_, session) = s.submit_demo("witnessed").await;
    let host = s.host.addr.clone();
    let mut first = Value::Null;
    for n in 1..=2u64 {
        let (status, answer) = aggregate(&s, &host, &session).await;
        assert_eq!(status, 200, "{answer}{}", s.logs_tail());
        assert_eq!(check_proof(&s, &log_vkey, &answer), n);
        first = answer;
    }
    // The CLI checks it too, against the note key the attestation binds.
    let both = policy_file(&s, &log_vkey, "all");
    let (code, out) = verify_result(&s, &first, &both);
    assert_eq!(code, 0, "{out}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["witnessed"]["tree_size"], 2, "{out}");
    // A proof whose checkpoint lost a cosignature is refused.
    let proof = first["log"]["tlog_proof"].as_str().unwrap().to_owned();
    let cut = proof
        .trim_end_matches('\n')
        .rsplit_once('\n')
        .unwrap()
        .0
        .to_owned()
        + "\n";
    let mut stripped = first.clone();
    stripped["log"]["tlog_proof"] = Value::String(cut);
    let (code, out) = verify_result(&s, &stripped, &both);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("tlog_proof_refused"), "{out}");
    // So is an answer without a proof (a v1 host), when a policy is given.
    let mut bare = first.clone();
    bare["log"].as_object_mut().unwrap().remove("tlog_proof");
    let (code, out) = verify_result(&s, &bare, &both);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no_tlog_proof"), "{out}");
    // /checkpoint serves the newest cosigned checkpoint, signed by the key
    // the quote names.
    let r = try_http(
        &host,
        "GET",
        "/checkpoint",
        &[],
        None,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", body_text(&r));
    let cp = SignedCheckpoint::parse(&r.body).unwrap();
    let vkey = VerifierKey::parse(&log_vkey).unwrap();
    assert_eq!(cp.verify_log(vkey.name(), &vkey).unwrap().size(), 2);
    // An independent implementation (Python `cryptography` Ed25519, the
    // note and cosignature/v1 formats as the specs define them) agrees.
    let note = s.dir.path().join("checkpoint.txt");
    std::fs::write(&note, &r.body).unwrap();
    let python = std::env::var("STRONGROOM_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/checks/c2sp_check.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg("verify")
        .arg(&note)
        .arg(&log_vkey)
        .args(s.witnesses.iter().map(|w| w.vkey.clone()))
        .output()
        .unwrap();
    assert!(out.status.success(), "c2sp_check.py: {out:?}");

    // Witness 2 down: the result is logged but not handed out.
    s.witnesses[1].kill().await;
    let (status, answer) = aggregate(&s, &host, &session).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "witness_unavailable");
    // Back (same database: it kept its state across the restart): the
    // pending checkpoint is cosigned first, then the log goes on.
    s.witnesses[1].restart().await;
    let (status, answer) = aggregate(&s, &host, &session).await;
    assert_eq!(status, 200, "{answer}{}", s.logs_tail());
    assert_eq!(check_proof(&s, &log_vkey, &answer), 4);
    // Witness 1 restarted mid-run: it still knows size 4 and goes on.
    s.witnesses[0].restart().await;
    let (status, answer) = aggregate(&s, &host, &session).await;
    assert_eq!(status, 200, "{answer}{}", s.logs_tail());
    assert_eq!(check_proof(&s, &log_vkey, &answer), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_log_gets_no_cosigned_result_from_a_restarted_or_a_second_enclave() {
    let mut s = witnessed_stack(true).await;
    let (_, session) = s.submit_demo("fork").await;
    let host = s.host.addr.clone();
    for _ in 0..2 {
        let (status, answer) = aggregate(&s, &host, &session).await;
        assert_eq!(status, 200, "{answer}{}", s.logs_tail());
    }

    // 1. A restarted enclave (ring back from KMS, nothing in memory) handed
    //    the cosigned state of size 1 signs a second size 2. v1 would have
    //    published it; the witnesses, at size 2 with another root, refuse.
    s.kill_enclave().await;
    s.restart_enclave().await;
    s.wait_ready(Duration::from_secs(120)).await;
    roll_back_log(&s.db.client().await, 1).await;
    let (status, answer) = aggregate(&s, &host, &session).await;
    assert_eq!(status, 503, "{answer}{}", s.logs_tail());
    assert_eq!(answer["error"]["code"], "witness_unavailable");
    // It signed the fork (the enclave alone cannot know better)...
    let forked: Option<String> =
        s.db.client()
            .await
            .query_one("SELECT checkpoint FROM transparency_state WHERE id", &[])
            .await
            .unwrap()
            .get(0);
    let forked = SignedCheckpoint::parse(forked.unwrap().as_bytes()).unwrap();
    assert_eq!(forked.checkpoint().size(), 2);
    assert_eq!(
        forked.note().signatures().len(),
        1,
        "no witness cosigned it"
    );
    // ...and the log cannot be extended past it: the enclave wants the quorum.
    let (status, answer) = aggregate(&s, &host, &session).await;
    assert_eq!(status, 503, "{answer}");
    let evidence = s.witnesses[0]
        .db
        .count("SELECT count(*) FROM witness_evidence")
        .await;
    assert!(evidence >= 1, "the witness kept the fork as evidence");

    // 2. A second live enclave on the same ring (its own host on the same
    //    database; the ring comes from KMS), handed the rolled-back state:
    //    the same refusal, with no restart anywhere.
    roll_back_log(&s.db.client().await, 1).await;
    let dir2 = tempfile::tempdir().unwrap();
    let args: Vec<&str> = s.enclave_args.iter().map(String::as_str).collect();
    let enclave2 = start_enclave(dir2.path(), &args).await;
    let egress2 = format!("unix://{}", dir2.path().join("egress.sock").display());
    let mut env: Vec<(&str, &str)> = s
        .host_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("EGRESS_LISTEN", egress2.as_str()));
    let host2 = Host::start(s.db.test_db(), &enclave2.addr, &env).await;
    strongroom_testkit::host::wait_ready(&host2).await;
    let (status, answer) = aggregate(&s, &host2.addr, &session).await;
    assert_eq!(status, 503, "{answer}\n{}", host2.logs());
    assert_eq!(answer["error"]["code"], "witness_unavailable");
}

/// Issue 15.2, ring rollback: after a rotation retired key v1 and a result
/// was logged under the new ring, the hostile host brings back the old
/// sealed ring (its `key_ring_state` points at version 1 again), restarts
/// the enclave (KMS unseals what it is given) and hands it a ciphertext it
/// kept from before the rotation, sealed to the retired key. The enclave
/// opens it — the old ring has the key — but the log's cosigned checkpoint
/// names the newer ring, so nothing it signs can be logged: no result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_key_ring_gets_no_result_logged() {
    let mut s = witnessed_stack(true).await;
    let (_, session) = s.submit_demo("rollback").await;
    let host = s.host.addr.clone();
    let (status, answer) = aggregate(&s, &host, &session).await;
    assert_eq!(status, 200, "{answer}{}", s.logs_tail());
    let db = s.db.client().await;
    let kept = db
        .query_one(
            "SELECT key_id, sealed FROM credentials WHERE session_id = $1::text::uuid",
            &[&session],
        )
        .await
        .unwrap();
    let (old_key, old_sealed): (String, Vec<u8>) = (kept.get(0), kept.get(1));
    let out = tokio::process::Command::new(strongroom_testkit::bin::host())
        .args(["keys", "rotate"])
        .envs(s.db.test_db().env())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "keys rotate: {out:?}");
    let ring_now: i64 = db
        .query_one("SELECT ring_version FROM key_ring_state", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        ring_now >= 3,
        "rotation added and retired a version: {ring_now}"
    );
    // A result under the new ring: the cosigned checkpoint names it.
    let (status, answer) = aggregate(&s, &host, &session).await;
    assert_eq!(status, 200, "{answer}{}", s.logs_tail());
    let leaves_before = s.db.count("SELECT count(*) FROM transparency_log").await;
    // The attack.
    db.execute("UPDATE key_ring_state SET ring_version = 1", &[])
        .await
        .unwrap();
    db.execute(
        "UPDATE credentials SET key_id = $2, sealed = $3 WHERE session_id = $1::text::uuid",
        &[&session, &old_key, &old_sealed],
    )
    .await
    .unwrap();
    s.kill_enclave().await;
    s.restart_enclave().await;
    s.wait_ready(Duration::from_secs(120)).await;
    let (status, answer) = aggregate(&s, &host, &session).await;
    assert_eq!(status, 500, "{answer}{}", s.logs_tail());
    assert_eq!(answer["error"]["code"], "log_state_invalid", "{answer}");
    assert_eq!(
        s.db.count("SELECT count(*) FROM transparency_log").await,
        leaves_before,
        "nothing logged under the rolled-back ring"
    );
    let enclave_log = std::fs::read_to_string(&s.enclave.log).unwrap();
    assert!(
        enclave_log.contains("key ring is older than the log's"),
        "{enclave_log}"
    );
}
