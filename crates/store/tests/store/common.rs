//! Databases for tests: a fresh SQLite file, or a fresh schema in the PostgreSQL server named
//! by `XINYONG_TEST_POSTGRES`.
//!
//! PostgreSQL tests never skip silently in CI: without the variable they fail when `CI` is
//! set, and print why they skip otherwise.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

use xinyong_store::{Store, open};

pub const POSTGRES_ENV: &str = "XINYONG_TEST_POSTGRES";

/// Runs each named `fn NAME(db: &TestDb)` of the enclosing module once per backend, as the
/// tests `on_sqlite::NAME` and `on_postgres::NAME`.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&crate::common::TestDb::sqlite());
                }
            )*
        }
        mod on_postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = crate::common::TestDb::postgres(stringify!($name)) {
                        super::$name(&db);
                    }
                }
            )*
        }
    };
}
pub(crate) use on_every_backend;

/// The server for PostgreSQL tests, or `None` (after saying why) when the test should skip.
pub fn postgres_base_url(test_name: &str) -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let in_ci = std::env::var("CI").is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"));
            if in_ci {
                panic!(
                    "{POSTGRES_ENV} is not set but CI is: the PostgreSQL tests must run in CI. \
                     Start a server with `eval \"$(bash .ci/postgres.sh)\"` before the tests"
                );
            }
            // Straight to stderr, past the test harness's capture, so that the skip is seen.
            let _ = writeln!(
                std::io::stderr(),
                "skipping PostgreSQL tests: set {POSTGRES_ENV}=postgres://... (test {test_name})"
            );
            None
        }
    }
}

/// A database that lives as long as the test.
pub struct TestDb {
    pub location: String,
    kind: Kind,
}

enum Kind {
    Sqlite { path: String, _dir: tempfile::TempDir },
    Postgres { base_url: String, schema: String },
}

static SCHEMA_COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("store.db").to_str().expect("UTF-8 path").to_string();
        TestDb { location: path.clone(), kind: Kind::Sqlite { path, _dir: dir } }
    }

    /// A fresh schema, selected through the URL's `options`, so that tests run in parallel.
    pub fn postgres(test_name: &str) -> Option<TestDb> {
        let base_url = postgres_base_url(test_name)?;
        let mut name: String = test_name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        name.truncate(30);
        let schema =
            format!("xinyong_test_{}_{}_{name}", std::process::id(), SCHEMA_COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut client = connect(&base_url);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
            .expect("create a test schema");
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let location = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
        Some(TestDb { location, kind: Kind::Postgres { base_url, schema } })
    }

    pub fn open(&self) -> Box<dyn Store> {
        open(&self.location).unwrap_or_else(|error| panic!("open {}: {error}", self.location))
    }

    pub fn backend(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite { .. } => "sqlite",
            Kind::Postgres { .. } => "postgres",
        }
    }

    /// Runs SQL behind the store's back (to damage it on purpose).
    pub fn raw_execute(&self, sql: &str) {
        match &self.kind {
            Kind::Sqlite { path, .. } => {
                let connection = rusqlite::Connection::open(path).expect("open SQLite directly");
                connection.execute_batch(sql).unwrap_or_else(|error| panic!("{sql}: {error}"));
            }
            Kind::Postgres { base_url, schema } => {
                let mut client = connect(base_url);
                client
                    .batch_execute(&format!("SET search_path TO {schema}; {sql}"))
                    .unwrap_or_else(|error| panic!("{sql}: {error}"));
            }
        }
    }

    /// A query returning one integer, behind the store's back.
    pub fn raw_count(&self, sql: &str) -> i64 {
        match &self.kind {
            Kind::Sqlite { path, .. } => {
                let connection = rusqlite::Connection::open(path).expect("open SQLite directly");
                connection.query_row(sql, [], |row| row.get(0)).unwrap_or_else(|error| panic!("{sql}: {error}"))
            }
            Kind::Postgres { base_url, schema } => {
                let mut client = connect(base_url);
                client.batch_execute(&format!("SET search_path TO {schema}")).expect("set search_path");
                client.query_one(sql, &[]).unwrap_or_else(|error| panic!("{sql}: {error}")).get(0)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Kind::Postgres { base_url, schema } = &self.kind
            && let Ok(mut client) = postgres::Client::connect(base_url, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

fn connect(base_url: &str) -> postgres::Client {
    postgres::Client::connect(base_url, postgres::NoTls)
        .unwrap_or_else(|error| panic!("cannot connect to {POSTGRES_ENV}={}: {error}", xinyong_store::redact(base_url)))
}
