//! Schema, roles and row-level security, checked in real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, run_host};
use tokio_postgres::GenericClient;
use uuid::Uuid;

const TABLES: &[&str] = &[
    "tenants",
    "api_keys",
    "sessions",
    "credentials",
    "aggregates",
    "transparency_log",
    "tree_heads",
    "transparency_state",
    "audit_log",
    "auth_failures",
    "host_settings",
    "key_rings",
    "key_ring_state",
    "instances",
    "key_rotations",
    "transparency_log_archive",
    "tree_heads_archive",
    "transparency_tiles",
    "witness_sizes",
    "rate_limits",
];

async fn tenant_id(c: &tokio_postgres::Client, name: &str) -> Uuid {
    c.query_one("SELECT id FROM tenants WHERE name = $1", &[&name])
        .await
        .unwrap()
        .get(0)
}

/// Creates two tenants; the owner's client and their ids.
async fn two_tenants(db: &TestDb, a: &str, b: &str) -> (tokio_postgres::Client, Uuid, Uuid) {
    db.tenant(a).await;
    db.tenant(b).await;
    let owner = db.client().await;
    let (ta, tb) = (tenant_id(&owner, a).await, tenant_id(&owner, b).await);
    (owner, ta, tb)
}

/// Scopes the transaction to `tenant`, as the host does (`SET LOCAL`).
async fn scope(tx: &tokio_postgres::Transaction<'_>, tenant: Uuid) {
    tx.execute(
        "SELECT set_config('strongroom.tenant_id', $1, true)",
        &[&tenant.to_string()],
    )
    .await
    .unwrap();
}

/// Inserts a session row for `tenant` expiring in `expires_in_secs`.
async fn insert_session(c: &impl GenericClient, tenant: Uuid, expires_in_secs: f64) -> Uuid {
    let s = Uuid::new_v4();
    c.execute(
        "INSERT INTO sessions (id, tenant_id, exchange, label, key_id, expires_at) \
         VALUES ($1, $2, 'binance', 'main', 'k1', now() + make_interval(secs => $3))",
        &[&s, &tenant, &expires_in_secs],
    )
    .await
    .unwrap();
    s
}

/// Inserts the credential row of `session`.
async fn insert_credential(
    c: &impl GenericClient,
    session: Uuid,
) -> Result<u64, tokio_postgres::Error> {
    c.execute(
        "INSERT INTO credentials (session_id, key_id, sealed) VALUES ($1, 'k1', $2)",
        &[&session, &[vec![4u8; 65], vec![1u8; 56]].concat()],
    )
    .await
}

/// Inserts a session + credential for `tenant` as the owner.
async fn plant_session(c: &tokio_postgres::Client, tenant: Uuid, expires_in_secs: f64) -> Uuid {
    let s = insert_session(c, tenant, expires_in_secs).await;
    insert_credential(c, s).await.unwrap();
    s
}

#[tokio::test]
async fn migrations_apply_and_are_idempotent() {
    let db = TestDb::migrated().await;
    let c = db.client().await;
    for t in TABLES {
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = $1",
                &[t],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "table {t}");
    }
    let versions: i64 = c
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    // One row per migration file (V1.., numbered by the branches that add them).
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with('V') && name.ends_with(".sql")
        })
        .count();
    assert_eq!(versions, i64::try_from(files).unwrap());
    let again = run_host(&["migrate"], &db.env()).await;
    assert!(again.status.success());
    assert!(
        !String::from_utf8_lossy(&again.stdout).contains("applied V"),
        "nothing to apply twice"
    );
}

#[tokio::test]
async fn credentials_table_holds_only_the_envelope_with_checked_lengths() {
    let db = TestDb::migrated().await;
    let c = db.client().await;
    let cols: Vec<String> = c
        .query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'credentials' ORDER BY ordinal_position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(cols, ["session_id", "key_id", "sealed"]);
    db.tenant("acme").await;
    let t = tenant_id(&c, "acme").await;
    let s = plant_session(&c, t, 60.0).await;
    c.execute("DELETE FROM credentials WHERE session_id = $1", &[&s])
        .await
        .unwrap();
    // The contract's stored form: 65 + 1..=4096 + 16 bytes, enc first (0x04),
    // key id 1..=64 bytes. At each limit and one past it.
    let insert = "INSERT INTO credentials (session_id, key_id, sealed) VALUES ($1, $2, $3)";
    let form = |len: usize, first: u8| [vec![first], vec![1u8; len - 1]].concat();
    for (key_id, len) in [
        ("k".repeat(64), 65 + 1 + 16),
        ("k".to_owned(), 65 + 4096 + 16),
    ] {
        c.execute(insert, &[&s, &key_id, &form(len, 4)])
            .await
            .unwrap();
        c.execute("DELETE FROM credentials WHERE session_id = $1", &[&s])
            .await
            .unwrap();
    }
    for (key_id, len, first) in [
        ("k".to_owned(), 65 + 16, 4u8),
        ("k".to_owned(), 65 + 4097 + 16, 4),
        ("k".to_owned(), 65 + 10 + 16, 2),
        ("k".repeat(65), 65 + 10 + 16, 4),
        (String::new(), 65 + 10 + 16, 4),
    ] {
        let err = c
            .execute(insert, &[&s, &key_id, &form(len, first)])
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION)
        );
    }
}

#[tokio::test]
async fn operator_readonly_reads_all_but_credentials() {
    let db = TestDb::migrated().await;
    let c = db.client().await;
    c.batch_execute("SET ROLE operator_readonly").await.unwrap();
    for t in TABLES
        .iter()
        .filter(|t| !matches!(**t, "credentials" | "host_settings"))
    {
        c.query(&format!("SELECT * FROM {t}"), &[])
            .await
            .unwrap_or_else(|e| panic!("{t}: {e}"));
    }
    for t in ["credentials", "host_settings"] {
        let err = c
            .query(&format!("SELECT * FROM {t}"), &[])
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{t}"
        );
    }
    let err = c.execute("DELETE FROM sessions", &[]).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
}

#[tokio::test]
async fn row_level_security_isolates_tenants_for_app_service() {
    let db = TestDb::migrated().await;
    let (owner, a, b) = two_tenants(&db, "alpha", "beta").await;
    let sa = plant_session(&owner, a, 600.0).await;
    let sb = plant_session(&owner, b, 600.0).await;

    let mut c = db.client().await;
    c.batch_execute("SET ROLE app_service").await.unwrap();
    // No tenant set: nothing visible.
    let n: i64 = c
        .query_one("SELECT count(*) FROM sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let tx = c.transaction().await.unwrap();
    scope(&tx, a).await;
    // A WHERE clause that "forgot" the tenant still sees only alpha's rows.
    let ids: Vec<Uuid> = tx
        .query("SELECT id FROM sessions", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [sa]);
    let creds: i64 = tx
        .query_one("SELECT count(*) FROM credentials", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(creds, 1);
    // Touching beta's rows does nothing, inserting for beta is refused.
    assert_eq!(
        tx.execute(
            "UPDATE sessions SET state = 'revoked' WHERE id = $1",
            &[&sb]
        )
        .await
        .unwrap(),
        0
    );
    assert_eq!(
        tx.execute("DELETE FROM credentials WHERE session_id = $1", &[&sb])
            .await
            .unwrap(),
        0
    );
    let err = tx
        .execute(
            "INSERT INTO sessions (id, tenant_id, exchange, label, key_id, expires_at) VALUES ($1, $2, 'binance', 'x', 'k', now())",
            &[&Uuid::new_v4(), &b],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    tx.rollback().await.unwrap();
    // app_service cannot read API key hashes or bypass the policies.
    let err = c.query("SELECT * FROM api_keys", &[]).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    assert!(
        c.batch_execute("ALTER TABLE sessions DISABLE ROW LEVEL SECURITY")
            .await
            .is_err()
    );
    let still: i64 = owner
        .query_one(
            "SELECT count(*) FROM credentials WHERE session_id = $1",
            &[&sb],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(still, 1);
}

#[tokio::test]
async fn purge_function_ends_only_expired_sessions() {
    let db = TestDb::migrated().await;
    db.tenant("gamma").await;
    let owner = db.client().await;
    let t = tenant_id(&owner, "gamma").await;
    let expired = plant_session(&owner, t, -1.0).await;
    let live = plant_session(&owner, t, 600.0).await;
    let c = db.client().await;
    c.batch_execute("SET ROLE app_service").await.unwrap();
    let rows = c
        .query("SELECT session_id FROM strongroom_purge_expired()", &[])
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.get::<_, Uuid>(0)).collect::<Vec<_>>(),
        [expired]
    );
    let left: Vec<Uuid> = owner
        .query("SELECT session_id FROM credentials", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, [live]);
    let state: String = owner
        .query_one("SELECT state FROM sessions WHERE id = $1", &[&expired])
        .await
        .unwrap()
        .get(0);
    assert_eq!(state, "expired");
}

#[tokio::test]
async fn tenant_cli_create_list_delete_erases_data_but_keeps_log_hashes() {
    let db = TestDb::migrated().await;
    let key = db.tenant("delta").await;
    assert!(key.starts_with("srk_") && key.len() == 68, "{key}");
    let owner = db.client().await;
    let stored: Vec<u8> = owner
        .query_one("SELECT key_hash FROM api_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(stored, key.as_bytes(), "only the hash is stored");
    let dup = run_host(&["tenant", "create", "delta"], &db.env()).await;
    assert!(!dup.status.success());
    let list = run_host(&["tenant", "list"], &db.env()).await;
    assert!(String::from_utf8_lossy(&list.stdout).contains("delta"));
    assert!(!String::from_utf8_lossy(&list.stdout).contains(&key));

    let t = tenant_id(&owner, "delta").await;
    let s = plant_session(&owner, t, 600.0).await;
    let agg = Uuid::new_v4();
    owner
        .execute(
            "INSERT INTO aggregates (id, tenant_id, session_id, cose) VALUES ($1, $2, $3, '\\x01')",
            &[&agg, &t, &s],
        )
        .await
        .unwrap();
    owner
        .execute(
            "INSERT INTO transparency_log (leaf_index, leaf_hash, aggregate_id) VALUES (0, $1, $2)",
            &[&vec![9u8; 32], &agg],
        )
        .await
        .unwrap();
    let del = run_host(&["tenant", "delete", "delta"], &db.env()).await;
    assert!(
        del.status.success(),
        "{}",
        String::from_utf8_lossy(&del.stderr)
    );
    for t in [
        "tenants",
        "api_keys",
        "sessions",
        "credentials",
        "aggregates",
    ] {
        let n: i64 = owner
            .query_one(&format!("SELECT count(*) FROM {t}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{t}");
    }
    let row = owner
        .query_one("SELECT leaf_hash, aggregate_id FROM transparency_log", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, Vec<u8>>(0), vec![9u8; 32]);
    assert_eq!(row.get::<_, Option<Uuid>>(1), None);
    let missing = run_host(&["tenant", "delete", "delta"], &db.env()).await;
    assert!(!missing.status.success());
}

#[tokio::test]
async fn invalid_configuration_exits_64_naming_the_variable() {
    let env = std::collections::HashMap::from([(
        "DATABASE_URL".to_owned(),
        "postgres://u:topsecret@[nope".to_owned(),
    )]);
    let out = run_host(&["migrate"], &env).await;
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DATABASE_URL") && !err.contains("topsecret"),
        "{err}"
    );
    let db = TestDb::new().await;
    let mut env = db.env();
    env.insert("ENCLAVE_ADDR".into(), "unix:///tmp/x.sock".into());
    env.insert("RATE_LIMIT_WINDOW".into(), "soon".into());
    let out = run_host(&["serve"], &env).await;
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RATE_LIMIT_WINDOW"));
}

#[tokio::test]
async fn a_non_superuser_owner_can_migrate_administer_and_become_app_service() {
    // Production shape: the migrating owner is not a superuser, so FORCE ROW LEVEL
    // SECURITY applies to it as well.
    let admin = common::connect(&common::with_dbname(&common::admin_url(), "postgres")).await;
    let suffix = Uuid::new_v4().simple().to_string();
    let (owner, dbname) = (format!("owner_{suffix}"), format!("test_{suffix}"));
    for sql in [
        format!("CREATE ROLE {owner} LOGIN CREATEROLE"),
        format!("CREATE DATABASE {dbname} OWNER {owner}"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    let url = common::with_dbname(&common::admin_url(), &dbname).replacen(
        "postgres@",
        &format!("{owner}@"),
        1,
    );
    let env = std::collections::HashMap::from([("DATABASE_URL".to_owned(), url.clone())]);
    let out = run_host(&["migrate"], &env).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        run_host(&["tenant", "create", "omega"], &env)
            .await
            .status
            .success()
    );
    let c = common::connect(&url).await;
    let t = tenant_id(&c, "omega").await;
    let expired = plant_session(&c, t, -1.0).await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the owner sees rows despite FORCE ROW LEVEL SECURITY");
    c.batch_execute("SET ROLE app_service").await.unwrap();
    let purged: Vec<Uuid> = c
        .query("SELECT session_id FROM strongroom_purge_expired()", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(purged, [expired]);
    drop(c);
    for sql in [
        format!("DROP DATABASE {dbname} WITH (FORCE)"),
        format!("REVOKE app_service FROM {owner}"),
        format!("DROP ROLE {owner}"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
}

/// The plans of every statement that touches `credentials` under its
/// row-level policy, as a generic (cached) plan would run them, joined.
async fn credential_plans(c: &tokio_postgres::Client, tenant: Uuid, session: Uuid) -> String {
    let statements = [
        ("d(uuid)", "DELETE FROM credentials WHERE session_id = $1"),
        (
            "i(uuid)",
            "INSERT INTO credentials (session_id, key_id, sealed) VALUES ($1, 'k1', '\\x04'::bytea)",
        ),
        (
            "s(uuid)",
            "SELECT c.sealed FROM sessions s JOIN credentials c ON c.session_id = s.id WHERE s.id = $1",
        ),
    ];
    let mut script = format!(
        "BEGIN; SET LOCAL ROLE app_service; SET LOCAL plan_cache_mode = force_generic_plan; \
         SELECT set_config('strongroom.tenant_id', '{tenant}', true);"
    );
    for (name, sql) in statements {
        script.push_str(&format!(
            " PREPARE {name} AS {sql}; EXPLAIN EXECUTE {}('{session}');",
            &name[..1]
        ));
    }
    script.push_str(" ROLLBACK; DEALLOCATE ALL;");
    let mut plan = String::new();
    for m in c.simple_query(&script).await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            plan.push_str(r.get(0).unwrap_or(""));
            plan.push('\n');
        }
    }
    plan
}

#[tokio::test]
async fn credentials_policy_looks_up_one_session_however_many_the_tenant_has() {
    let db = TestDb::migrated().await;
    let (owner, t, other) = two_tenants(&db, "many", "other").await;
    let mine = plant_session(&owner, t, 600.0).await;
    let theirs = plant_session(&owner, other, 600.0).await;
    // Before statistics exist (a new deployment) and after: a hashed subplan
    // would read every one of the tenant's sessions on each statement.
    for analyzed in [false, true] {
        let plan = credential_plans(&owner, t, mine).await;
        assert!(plan.contains("sessions_pkey"), "{plan}");
        assert!(!plan.to_lowercase().contains("hashed"), "{plan}");
        if !analyzed {
            owner
                .execute(
                    "INSERT INTO sessions (id, tenant_id, exchange, label, key_id, expires_at) \
                     SELECT gen_random_uuid(), $1, 'binance', 'main', 'k1', now() + interval '1 hour' \
                     FROM generate_series(1, 5000)",
                    &[&t],
                )
                .await
                .unwrap();
            owner
                .batch_execute("ANALYZE sessions, credentials")
                .await
                .unwrap();
        }
    }
    // The policy still decides by the session's tenant: a credential for
    // another tenant's session is refused, one for our own accepted.
    let fresh_other = insert_session(&owner, other, 3600.0).await;
    let mut c = db.client().await;
    c.batch_execute("SET ROLE app_service").await.unwrap();
    let tx = c.transaction().await.unwrap();
    scope(&tx, t).await;
    let err = insert_credential(&tx, fresh_other).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    tx.rollback().await.unwrap();
    let tx = c.transaction().await.unwrap();
    scope(&tx, t).await;
    let fresh_mine = insert_session(&tx, t, 3600.0).await;
    insert_credential(&tx, fresh_mine).await.unwrap();
    let visible: Vec<Uuid> = tx
        .query(
            "SELECT session_id FROM credentials ORDER BY session_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut expected = vec![mine, fresh_mine];
    expected.sort();
    assert_eq!(visible, expected);
    assert_eq!(
        tx.execute("DELETE FROM credentials WHERE session_id = $1", &[&theirs])
            .await
            .unwrap(),
        0
    );
    tx.commit().await.unwrap();
}
