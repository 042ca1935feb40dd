//! Issue 7 end to end, with real processes only: several host+enclave pairs
//! on one PostgreSQL database, each host running its own egress proxy and
//! key-sync listener, the enclaves in simulator mode sharing one dev root
//! (`--dev-root-key`, as real enclaves share the AWS root), the real mock
//! exchange and, where a test says so, the real KMS double.
//!
//! - a credential submitted through pair A is aggregated through pair B;
//! - enclave A killed (SIGKILL) and started again recovers the ring from the
//!   KMS double, or with KMS off from peer B, and serves the old session;
//! - a peer whose PCR0 differs (another enclave binary) is refused;
//! - `keys rotate` under continuous traffic through both pairs finishes with
//!   zero failed requests and no credential left under the old version;
//! - `pg_dump` afterwards holds no plaintext;
//! - an owner-signed revoke through pair A (credential v2) is refused by
//!   pair B once it reloaded the ring, and by B's enclave after it crashed
//!   and got the ring again from A by attested sync; before B reloaded, no
//!   result of the revoked credential is logged through B either.
//!
//! Needs `cargo build -p strongroom-enclave -p strongroom-devtools` (scripts/test does).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::real::{
    self as real, KmsDouble, MockExchange, pg_dump, start_kms_double, start_mock_exchange_with,
};
use common::{HOST_BIN, Host, TestDb, workspace_root};
use serde_json::{Value, json};

/// The mock exchange's demo account (scripts/fixtures/demo.json).
const API_KEY: &str = "demo-api-key";
/// Must never appear on the host side.
const API_SECRET: &str = "demo-api-secret";

const KMS_KEY: &str = "instances-test-key";

/// What every pair of one test shares.
struct World {
    dir: tempfile::TempDir,
    db: TestDb,
    tenant_key: String,
    mock: MockExchange,
    kms: Option<KmsDouble>,
}

impl World {
    async fn new(kms: bool) -> World {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::migrated().await;
        let tenant_key = db.tenant("instances").await;
        let fixture = workspace_root().join("scripts/fixtures/demo.json");
        // Rotation under traffic is what these tests are about, not the
        // exchange's weight budget: with Binance's 6000 a minute, the
        // traffic's aggregates drew 429s and the enclave's waits outlasted
        // the test client's 20 s bound.
        let mock =
            start_mock_exchange_with(dir.path(), &fixture, &["--weight-limit", "1000000"]).await;
        let kms = if kms {
            let (root, pcrs) = (
                dir.path().join("dev-root.pem"),
                dir.path().join("pcrs.json"),
            );
            Some(start_kms_double(dir.path(), KMS_KEY, &root, &pcrs).await)
        } else {
            None
        };
        World {
            dir,
            db,
            tenant_key,
            mock,
            kms,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts pair `name`: its enclave (binary `enclave_bin`, default the
    /// built one) and its host.
    async fn pair(&self, name: &str, enclave_bin: Option<&Path>) -> Pair {
        self.pair_with(name, enclave_bin, &[]).await
    }

    /// [`World::pair`] with more host environment.
    async fn pair_with(
        &self,
        name: &str,
        enclave_bin: Option<&Path>,
        extra_env: &[(&str, &str)],
    ) -> Pair {
        let bin = enclave_bin
            .map(Path::to_path_buf)
            .unwrap_or_else(strongroom_testkit::bin::enclave);
        let sock = self.path(&format!("{name}-enclave.sock"));
        let egress = format!(
            "unix://{}",
            self.path(&format!("{name}-egress.sock")).display()
        );
        let mut args: Vec<String> = vec![
            "--dev-simulator".into(),
            "--listen".into(),
            format!("unix://{}", sock.display()),
            "--egress".into(),
            egress.clone(),
            "--dev-root-key".into(),
            self.path("dev-root.key").display().to_string(),
            "--dev-root-out".into(),
            self.path("dev-root.pem").display().to_string(),
            "--dev-pcrs-out".into(),
            self.path(&format!("{name}-pcrs.json"))
                .display()
                .to_string(),
            "--dev-exchange-url".into(),
            format!("https://localhost:{}", self.mock.port),
            "--dev-exchange-ca".into(),
            self.mock.ca_pem.display().to_string(),
            // As the mock's: the enclave's own weight budget (issue 15.5)
            // would otherwise refuse the traffic's aggregates too.
            "--exchange-weight-limit".into(),
            "1000000".into(),
        ];
        let mut allow = format!("localhost:{}", self.mock.port);
        let mut env: Vec<(String, String)> = vec![
            ("EGRESS_LISTEN".into(), egress),
            ("ENCLAVE_TIMEOUT_MS".into(), "60000".into()),
            ("REQUEST_TIMEOUT_MS".into(), "120000".into()),
            ("RATE_LIMIT_MAX".into(), "100000".into()),
            ("PEER_LISTEN".into(), "127.0.0.1:0".into()),
        ];
        if let Some(kms) = &self.kms {
            args.extend(kms.enclave_args());
            allow.push_str(&format!(",localhost:{}", kms.port));
            env.extend(kms.host_env(KMS_KEY));
        }
        env.push(("EGRESS_ALLOWLIST".into(), allow));
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let log = self.path(&format!("{name}-enclave.log"));
        let enclave = start_enclave_process(&bin, &args, &sock, &log).await;
        // The KMS double's policy is the PCRs every enclave of the world writes.
        let pcrs = self.path("pcrs.json");
        if !pcrs.exists() {
            std::fs::copy(self.path(&format!("{name}-pcrs.json")), &pcrs).unwrap();
        }
        let env_ref: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let host = Host::start(&self.db, &format!("unix://{}", sock.display()), &env_ref).await;
        Pair {
            name: name.to_owned(),
            bin,
            args,
            sock,
            log,
            enclave,
            host,
        }
    }
}

async fn start_enclave_process(
    bin: &Path,
    args: &[String],
    sock: &Path,
    log: &Path,
) -> tokio::process::Child {
    use strongroom_testkit::enclave::ENCLAVE_START_LIMIT;
    use strongroom_testkit::process;
    let _ = std::fs::remove_file(sock);
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args);
    // The log is appended to: a restarted enclave keeps its history.
    let mut child = process::spawn(&mut cmd, log, Stdio::null());
    process::wait_for_path(&mut child, sock, "enclave", log, ENCLAVE_START_LIMIT).await;
    child
}

struct Pair {
    name: String,
    bin: PathBuf,
    args: Vec<String>,
    sock: PathBuf,
    log: PathBuf,
    enclave: tokio::process::Child,
    host: Host,
}

impl Pair {
    /// Waits until the host reports ready (its enclave holds the ring).
    async fn ready(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.host.get("/readyz", &[]).await.status == 200 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    async fn expect_ready(&self) {
        assert!(
            self.ready(Duration::from_secs(90)).await,
            "pair {} did not become ready\nhost:\n{}\nenclave:\n{}",
            self.name,
            self.host.logs(),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// SIGKILL the enclave, then start the same binary with the same flags.
    async fn crash_and_restart_enclave(&mut self) {
        self.enclave.start_kill().unwrap();
        let _ = self.enclave.wait().await;
        // The host notices: not ready while its enclave is away.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.host.get("/readyz", &[]).await.status == 200 {
            assert!(tokio::time::Instant::now() < deadline, "host stayed ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.enclave = start_enclave_process(&self.bin, &self.args, &self.sock, &self.log).await;
    }

    async fn quote(&self) -> Value {
        let r = self.host.get("/attestation/quote", &[]).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    /// Quote, seal, submit; the session id, or the failing status and body.
    async fn submit(&self, tenant_key: &str, label: &str) -> Result<String, String> {
        let r = self.host.get("/attestation/quote", &[]).await;
        if r.status != 200 {
            return Err(format!(
                "quote {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
        let body = submission(&r.json(), label);
        let r = self
            .host
            .post("/enclave/submit_key", tenant_key, &body)
            .await;
        if r.status != 201 {
            return Err(format!(
                "submit {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
        Ok(r.json()["session_id"].as_str().unwrap().to_owned())
    }

    async fn aggregates(&self, tenant_key: &str, session: &str) -> Result<Value, String> {
        let body = json!({"session_id": session}).to_string();
        let r = self
            .host
            .post("/enclave/request_aggregates", tenant_key, &body)
            .await;
        if r.status != 200 {
            return Err(format!(
                "aggregates {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
        Ok(r.json())
    }
}

fn submission(quote: &Value, label: &str) -> String {
    real::submission(quote, API_KEY, API_SECRET, label)
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

fn totals(answer: &Value) -> Value {
    answer["aggregates"]["totals"].clone()
}

/// The planted secret is nowhere on the host side.
fn assert_no_plaintext(world: &World, pairs: &[&Pair]) {
    let dump = pg_dump(&world.db.url);
    assert!(dump.contains("key_rings"), "pg_dump looks empty");
    assert!(!dump.contains(API_SECRET), "the secret is in pg_dump");
    for p in pairs {
        assert!(!p.host.logs().contains(API_SECRET), "secret in host log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pairs_share_one_ring_and_a_crashed_enclave_recovers_it_from_kms() {
    let world = World::new(true).await;
    let a = world.pair("a", None).await;
    a.expect_ready().await;
    let mut b_pair = world.pair("b", None).await;
    b_pair.expect_ready().await;
    let b = &b_pair;

    // One ring: both quote the same key id.
    assert_eq!(a.quote().await["key_id"], b.quote().await["key_id"]);

    let session = a.submit(&world.tenant_key, "main").await.unwrap();
    let through_b = b.aggregates(&world.tenant_key, &session).await.unwrap();
    assert!(totals(&through_b).is_object(), "{through_b}");

    // A's enclave dies; its ring comes back from KMS (the double checks the
    // new enclave's attestation against the PCR policy).
    let mut a = a;
    a.crash_and_restart_enclave().await;
    a.expect_ready().await;
    let through_a = a.aggregates(&world.tenant_key, &session).await.unwrap();
    assert_eq!(totals(&through_a), totals(&through_b));
    // The log went on: the second result sits after the first.
    assert!(
        through_a["log"]["leaf_index"].as_u64().unwrap()
            > through_b["log"]["leaf_index"].as_u64().unwrap()
    );
    let kms_log = std::fs::read_to_string(&world.kms.as_ref().unwrap().log).unwrap_or_default();
    assert!(
        kms_log.contains("recipient attestation accepted"),
        "the ring did not come through KMS:\n{kms_log}"
    );
    b_pair.enclave.start_kill().unwrap();
    assert_no_plaintext(&world, &[&a, &b_pair]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_kms_a_crashed_enclave_recovers_the_ring_from_its_peer() {
    let world = World::new(false).await;
    let mut a = world.pair("a", None).await;
    a.expect_ready().await;
    let b = world.pair("b", None).await;
    b.expect_ready().await;
    let key_id = a.quote().await["key_id"].clone();
    assert_eq!(b.quote().await["key_id"], key_id);

    let session = a.submit(&world.tenant_key, "main").await.unwrap();
    let first = a.aggregates(&world.tenant_key, &session).await.unwrap();

    a.crash_and_restart_enclave().await;
    a.expect_ready().await;
    assert_eq!(a.quote().await["key_id"], key_id, "not the same ring");
    let again = a.aggregates(&world.tenant_key, &session).await.unwrap();
    assert_eq!(totals(&again), totals(&first));
    assert_no_plaintext(&world, &[&a, &b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_another_pcr0_gets_no_ring() {
    let world = World::new(false).await;
    let a = world.pair("a", None).await;
    a.expect_ready().await;
    // Another enclave build: the same program with one byte appended, so
    // the simulator measures a different PCR0.
    let other = world.path("strongroom-enclave-other");
    let mut bytes = std::fs::read(strongroom_testkit::bin::enclave()).unwrap();
    bytes.push(0);
    std::fs::write(&other, bytes).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let c = world.pair("c", Some(&other)).await;
    assert_ne!(
        std::fs::read_to_string(world.path("a-pcrs.json")).unwrap(),
        std::fs::read_to_string(world.path("c-pcrs.json")).unwrap()
    );
    assert!(
        !c.ready(Duration::from_secs(15)).await,
        "an enclave with another PCR0 got the ring"
    );
    let r = c.host.get("/attestation/quote", &[]).await;
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    let logs = c.host.logs();
    assert!(logs.contains("sync_refused"), "no refusal logged:\n{logs}");
    // A keeps serving.
    a.submit(&world.tenant_key, "main").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_traffic_through_two_pairs_fails_no_request() {
    let world = Arc::new(World::new(false).await);
    let a = world.pair("a", None).await;
    a.expect_ready().await;
    let b = world.pair("b", None).await;
    b.expect_ready().await;
    let old_key = a.quote().await["key_id"].as_str().unwrap().to_owned();
    // Credentials stored before the rotation.
    let mut sessions = Vec::new();
    for i in 0..6 {
        let p = if i % 2 == 0 { &a } else { &b };
        sessions.push(
            p.submit(&world.tenant_key, &format!("before{i}"))
                .await
                .unwrap(),
        );
    }
    let pairs = Arc::new([a, b]);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut traffic = Vec::new();
    for worker in 0..2usize {
        let (pairs, world, stop, done) = (pairs.clone(), world.clone(), stop.clone(), done.clone());
        let sessions = sessions.clone();
        traffic.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let p = &pairs[(n + worker) % 2];
                // Aggregates sparingly: the mock exchange enforces Binance's request
                // weight budget (6000 per minute) per API key.
                let outcome = if n % 20 == 19 {
                    p.aggregates(&world.tenant_key, &sessions[n % sessions.len()])
                        .await
                        .map(|_| ())
                } else {
                    p.submit(&world.tenant_key, &format!("w{worker}n{n}"))
                        .await
                        .map(|_| ())
                };
                if let Err(e) = outcome {
                    failures.push(e);
                }
                done.fetch_add(1, Ordering::Relaxed);
                n += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            failures
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let out = tokio::process::Command::new(HOST_BIN)
        .args(["keys", "rotate"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(world.db.env())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(240), out)
        .await
        .expect("rotation did not finish")
        .unwrap();
    assert!(
        out.status.success(),
        "keys rotate: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for t in traffic {
        match t.await {
            Ok(f) => failures.extend(f),
            Err(e) => {
                let _ = std::fs::write(
                    std::env::temp_dir().join("instances-host-a.log"),
                    pairs[0].host.logs(),
                );
                let _ = std::fs::write(
                    std::env::temp_dir().join("instances-host-b.log"),
                    pairs[1].host.logs(),
                );
                panic!(
                    "traffic worker died: {e}\nhost a:\n{}\nhost b:\n{}",
                    tail(&pairs[0].host.logs()),
                    tail(&pairs[1].host.logs())
                )
            }
        }
    }
    assert!(done.load(Ordering::Relaxed) > 10, "too little traffic");
    assert!(failures.is_empty(), "failed requests: {failures:#?}");

    let new_key = pairs[0].quote().await["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_key, old_key);
    assert_eq!(pairs[1].quote().await["key_id"].as_str().unwrap(), new_key);
    let client = world.db.client().await;
    let left: i64 = client
        .query_one(
            "SELECT count(*) FROM credentials WHERE key_id = $1",
            &[&old_key],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "credentials left under the old key version");
    // Credentials stored before the rotation still work, through either pair.
    for (i, s) in sessions.iter().enumerate() {
        pairs[i % 2].aggregates(&world.tenant_key, s).await.unwrap();
    }
    assert_no_plaintext(&world, &[&pairs[0], &pairs[1]]);
}

async fn submit_body(p: &Pair, key: &str, body: &str) -> String {
    let r = p.host.post("/enclave/submit_key", key, body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["session_id"].as_str().unwrap().to_owned()
}

/// The ring version of every ready instance.
async fn ring_versions(world: &World) -> Vec<i64> {
    let db = world.db.client().await;
    db.query(
        "SELECT ring_version FROM instances WHERE phase = 'ready'",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<_, Option<i64>>(0).unwrap_or(0))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_signed_revoke_reaches_the_peer_and_survives_its_sync() {
    use base64::Engine as _;
    use strongroom_verifier::owner::{Action, OwnerAction, owner_public_key, sign_action};
    let world = World::new(false).await;
    let a = world.pair("a", None).await;
    a.expect_ready().await;
    let mut b = world.pair("b", None).await;
    b.expect_ready().await;
    let owner = p256::ecdsa::SigningKey::from_slice(&[0x17; 32]).unwrap();
    let body = strongroom_testkit::seal::submission_with(
        &a.quote().await,
        API_KEY,
        API_SECRET,
        "main",
        Some(strongroom_testkit::seal::open_policy()),
        Some(&owner_public_key(&owner)),
    );
    let credential = strongroom_testkit::seal::credential_id(&body);
    let revoked_session = submit_body(&a, &world.tenant_key, &body).await;
    let kept = submit_body(&b, &world.tenant_key, &body).await;
    b.aggregates(&world.tenant_key, &kept).await.unwrap();
    let versions_before = ring_versions(&world).await;
    let action = OwnerAction {
        action: Action::Revoke,
        credential: credential.clone(),
        from: None,
        to: None,
        symbols: None,
        time: strongroom_verifier::owner::rfc3339_s(
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )
        .unwrap(),
    };
    let auth =
        base64::engine::general_purpose::STANDARD.encode(sign_action(&action, &owner).unwrap());
    let r = a
        .host
        .post(
            "/enclave/revoke",
            &world.tenant_key,
            &json!({"session_id": revoked_session, "owner_authorization": auth}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["logged"], true);
    // The revocation is a new ring version: every instance reloads it.
    let newest = versions_before.iter().max().copied().unwrap_or(0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = ring_versions(&world).await;
        if v.len() == 2 && v.iter().all(|x| *x > newest) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "instances at {v:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refused = |e: Result<Value, String>| {
        let e = e.expect_err("a revoked credential was used");
        assert!(
            e.starts_with("aggregates 403") && e.contains("credential_revoked"),
            "{e}"
        );
    };
    refused(b.aggregates(&world.tenant_key, &kept).await);
    // B's enclave dies and gets the ring back from A by attested sync: still refused.
    b.crash_and_restart_enclave().await;
    b.expect_ready().await;
    refused(b.aggregates(&world.tenant_key, &kept).await);
    let r = b
        .host
        .post("/enclave/submit_key", &world.tenant_key, &body)
        .await;
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.code(), "credential_revoked");
}

/// The window between a revocation through one instance and its peers'
/// reload of the ring: pair B's keys task looks at its enclave once a minute
/// only, so B's enclave still holds the ring from before the revocation and
/// computes with the revoked credential when B's host asks. The result must
/// not reach the log. Today the host guards it: the revocation is recorded
/// (`revoked_credentials`) in the transaction that logs its entry, under the
/// log's lock, and an append of a result naming it is refused. (Without that
/// guard this test failed: the result was logged after the revocation. A
/// hostile host drops the guard; the enclave's `AppendLog` does not yet
/// refuse such a leaf itself, and `strongroom monitor` reports it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_has_not_reloaded_yet_cannot_log_a_revoked_credentials_result() {
    use base64::Engine as _;
    use strongroom_verifier::owner::{Action, OwnerAction, owner_public_key, sign_action};
    let world = World::new(false).await;
    let a = world.pair("a", None).await;
    a.expect_ready().await;
    let b = world
        .pair_with("b", None, &[("KEYS_TICK_MS", "60000")])
        .await;
    b.expect_ready().await;
    let owner = p256::ecdsa::SigningKey::from_slice(&[0x17; 32]).unwrap();
    let body = strongroom_testkit::seal::submission_with(
        &a.quote().await,
        API_KEY,
        API_SECRET,
        "main",
        Some(strongroom_testkit::seal::open_policy()),
        Some(&owner_public_key(&owner)),
    );
    let credential = strongroom_testkit::seal::credential_id(&body);
    let revoked_session = submit_body(&a, &world.tenant_key, &body).await;
    let kept = submit_body(&b, &world.tenant_key, &body).await;
    b.aggregates(&world.tenant_key, &kept).await.unwrap();
    let action = OwnerAction {
        action: Action::Revoke,
        credential,
        from: None,
        to: None,
        symbols: None,
        time: strongroom_verifier::owner::rfc3339_s(
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )
        .unwrap(),
    };
    let auth =
        base64::engine::general_purpose::STANDARD.encode(sign_action(&action, &owner).unwrap());
    let r = a
        .host
        .post(
            "/enclave/revoke",
            &world.tenant_key,
            &json!({"session_id": revoked_session, "owner_authorization": auth}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let size = |v: &Value| v["log"]["tree_size"].as_u64().unwrap();
    let after_revocation = size(&r.json());
    match b.aggregates(&world.tenant_key, &kept).await {
        Ok(v) => panic!(
            "a result of the revoked credential was logged at size {} (the revocation at {after_revocation})",
            size(&v)
        ),
        Err(e) => assert!(e.contains("credential_revoked"), "{e}"),
    }
}
