//! PostgreSQL for tests. [`TestDb`]: a fresh database per test on the cluster
//! named by `DATABASE_URL` (else `scripts/pg start`'s private cluster), dropped
//! at the end. [`PrivatePg`]: a cluster of one test that it may stop and start.

mod private;

pub use private::PrivatePg;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::host::run_host;
use crate::workspace_root;

/// The admin URL of the cluster: `DATABASE_URL` when set, else `scripts/pg start`.
pub fn admin_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => scripts_pg_start(),
    })
    .clone()
}

fn scripts_pg_start() -> String {
    let out = std::process::Command::new(workspace_root().join("scripts/pg"))
        .arg("start")
        .output()
        .expect("run scripts/pg start");
    assert!(
        out.status.success(),
        "scripts/pg start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 from scripts/pg");
    text.lines()
        .find_map(|l| l.strip_prefix("DATABASE_URL="))
        .expect("scripts/pg printed no DATABASE_URL")
        .trim()
        .to_owned()
}

/// `url` with its database name replaced (URL form `postgres://auth@host/db?params`).
pub fn with_dbname(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("DATABASE_URL must be a URL");
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or_default();
    let mut out = format!("{scheme}://{authority}/{db}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A client of `url`; its connection runs on a spawned task.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A database for one test: its own, dropped at the end, or one it was given
/// ([`TestDb::existing`], never dropped).
pub struct TestDb {
    pub name: String,
    pub url: String,
    owned: bool,
}

impl TestDb {
    /// A fresh, empty database on the shared cluster.
    pub async fn new() -> Self {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&with_dbname(&admin_url(), "postgres")).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        let url = with_dbname(&admin_url(), &name);
        Self {
            name,
            url,
            owned: true,
        }
    }

    /// A fresh database, migrated by `strongroom-host migrate`.
    pub async fn migrated() -> Self {
        Self::new().await.migrate().await
    }

    /// The database at `url` (e.g. of a [`PrivatePg`]), migrated; not dropped.
    pub async fn existing(url: String) -> Self {
        let db = Self {
            name: String::new(),
            url,
            owned: false,
        };
        db.migrate().await
    }

    async fn migrate(self) -> Self {
        let out = run_host(&["migrate"], &self.env()).await;
        assert!(
            out.status.success(),
            "migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self
    }

    /// `DATABASE_URL` for a process.
    pub fn env(&self) -> HashMap<String, String> {
        HashMap::from([("DATABASE_URL".to_owned(), self.url.clone())])
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// The single `bigint` that `sql` selects.
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self.client().await.query_one(sql, &[]).await;
        row.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
    }

    /// Creates a tenant through the CLI and returns its API key.
    pub async fn tenant(&self, name: &str) -> String {
        let out = run_host(&["tenant", "create", name], &self.env()).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.owned {
            drop_database(self.name.clone());
        }
    }
}

/// `DROP DATABASE … WITH (FORCE)` on a thread of its own (drop may run
/// inside a runtime, which cannot block).
fn drop_database(name: String) {
    let url = with_dbname(&admin_url(), "postgres");
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if let Ok((c, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                tokio::spawn(conn);
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = c.batch_execute(&sql).await;
            }
        });
    })
    .join();
}

/// The newest installed PostgreSQL program `prog` (Debian puts them under
/// /usr/lib/postgresql/N/bin; `scripts/pg` installs them).
pub fn pg_program(prog: &str) -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| {
                    let v = e.file_name().to_str()?.parse().ok()?;
                    let p = e.path().join("bin").join(prog);
                    p.exists().then_some((v, p))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// `pg_dump` of the database at `url`, as text.
pub fn pg_dump(url: &str) -> String {
    let bin = pg_program("pg_dump").unwrap_or_else(|| "pg_dump".into());
    let out = std::process::Command::new(bin)
        .arg("--dbname")
        .arg(url)
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn the_database_name_is_replaced_and_the_parameters_kept() {
        let url = "postgres://postgres@/strongroom?host=/run/pg&port=54329";
        assert_eq!(
            with_dbname(url, "test_1"),
            "postgres://postgres@/test_1?host=/run/pg&port=54329"
        );
        assert_eq!(
            with_dbname("postgres://u:p@127.0.0.1:5432/db", "postgres"),
            "postgres://u:p@127.0.0.1:5432/postgres"
        );
    }
}
