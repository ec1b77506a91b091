//! The PostgreSQL backend: the same tables as SQLite, one round trip per append.
//!
//! An append is a single `INSERT … SELECT FROM unnest($seqs, $kinds, $bodies)` in autocommit
//! mode: one statement is one transaction, so the batch is atomic and costs one round trip
//! and one WAL flush however many records it holds. `synchronous_commit` is forced `on` for
//! the session, so a server configured with `off` cannot quietly turn acknowledgements into
//! promises.

use std::ops::RangeInclusive;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, NoTls, Statement};

use crate::location::redact;
use crate::{
    NewRecord, Record, SCHEMA_VERSION, SCHEMA_VERSION_KEY, SNAPSHOTS_KEPT, Store, StoreError, check_contiguous,
    check_snapshot, checksum, now_ms, parse_schema_version, seq_from_sql, seq_to_sql, validate_append, validate_meta,
    validate_snapshot,
};

/// `MIGRATIONS[v]` takes the schema from version `v` to `v + 1`. Never edit a released entry:
/// add one.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = ["
    CREATE TABLE xinyong_log (
        seq   BIGINT PRIMARY KEY CHECK (seq > 0),  -- 1, 2, 3, … without gaps
        at_ms BIGINT NOT NULL,                     -- wall clock at append, for people only
        kind  TEXT   NOT NULL,
        body  BYTEA  NOT NULL
    );
    CREATE TABLE xinyong_snapshot (
        seq      BIGINT PRIMARY KEY,  -- state after applying records <= seq
        at_ms    BIGINT NOT NULL,
        length   BIGINT NOT NULL,     -- checked on load
        checksum BIGINT NOT NULL,     -- FNV-1a 64 of bytes, as i64; checked on load
        bytes    BYTEA  NOT NULL
    );
"];

const BOOTSTRAP: &str = "
    CREATE TABLE IF NOT EXISTS xinyong_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
";

/// Serializes concurrent migrations of one database (two servers starting at once); held only
/// for the migration transaction. The bytes spell "xinyong".
const MIGRATION_LOCK_KEY: i64 = 0x0078_696e_796f_6e67;

const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

const INSERT_RECORDS: &str = "
    INSERT INTO xinyong_log (seq, at_ms, kind, body)
    SELECT record.seq, $2, record.kind, record.body
    FROM unnest($1::BIGINT[], $3::TEXT[], $4::BYTEA[]) AS record (seq, kind, body)";

/// The PostgreSQL [`Store`]. Use [`crate::open`] unless you need the concrete type.
pub struct PostgresStore {
    client: Client,
    /// The URL with its password removed.
    location: String,
    insert_records: Statement,
    /// Seq the next appended record gets; a stale value (another writer) hits the primary key.
    next_seq: u64,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?…]`), then creates or
    /// migrates the tables in the first schema of the `search_path`.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let location = redact(url);
        let mut config: postgres::Config = url.parse().map_err(|error| StoreError::InvalidLocation {
            location: location.clone(),
            reason: format!("not a valid PostgreSQL URL ({error})"),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT_DEFAULT);
        }
        if config.get_application_name().is_none() {
            config.application_name("xinyong");
        }
        let mut client = config
            .connect(NoTls)
            .map_err(|source| StoreError::ConnectPostgres { url: location.clone(), source: source.into() })?;
        client
            .batch_execute("SET synchronous_commit TO on")
            .map_err(|source| StoreError::postgres("forcing synchronous_commit", source))?;
        let schema: Option<String> = client
            .query_one("SELECT current_schema()::TEXT", &[])
            .and_then(|row| row.try_get(0))
            .map_err(|source| StoreError::postgres("reading the current schema", source))?;
        if schema.is_none() {
            return Err(StoreError::SchemaInvalid {
                location,
                detail: "no schema of the search_path exists, so there is nowhere to create the \
                         tables: create the schema first (CREATE SCHEMA …)"
                    .to_string(),
            });
        }
        migrate(&mut client, &location)?;
        let insert_records = client
            .prepare(INSERT_RECORDS)
            .map_err(|source| StoreError::postgres("preparing the append statement", source))?;
        let mut store = PostgresStore { client, location, insert_records, next_seq: 0 };
        store.next_seq = store.last_seq()? + 1;
        Ok(store)
    }
}

/// Creates the tables, or brings older ones up to [`SCHEMA_VERSION`], in one transaction.
fn migrate(client: &mut Client, location: &str) -> Result<(), StoreError> {
    let mut transaction =
        client.transaction().map_err(|source| StoreError::postgres("beginning the schema migration", source))?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .map_err(|source| StoreError::postgres("locking for the schema migration", source))?;
    transaction.batch_execute(BOOTSTRAP).map_err(|source| StoreError::postgres("creating the meta table", source))?;
    let stored: Option<String> = transaction
        .query_opt("SELECT value FROM xinyong_meta WHERE key = $1", &[&SCHEMA_VERSION_KEY])
        .map_err(|source| StoreError::postgres("reading the schema version", source))?
        .map(|row| row.get(0));
    let found = parse_schema_version(location, stored.as_deref())?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { location: location.to_string(), found, supported: SCHEMA_VERSION });
    }
    for migration in &MIGRATIONS[found as usize..] {
        transaction.batch_execute(migration).map_err(|source| StoreError::SchemaInvalid {
            location: location.to_string(),
            detail: format!("migrating from schema version {found} failed: {source}"),
        })?;
    }
    if found < SCHEMA_VERSION {
        transaction
            .execute(
                "INSERT INTO xinyong_meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&SCHEMA_VERSION_KEY, &SCHEMA_VERSION.to_string()],
            )
            .map_err(|source| StoreError::postgres("recording the schema version", source))?;
    }
    transaction.commit().map_err(|source| StoreError::postgres("committing the schema migration", source))
}

fn last_seq_of(client: &mut impl postgres::GenericClient, location: &str) -> Result<u64, StoreError> {
    let last: i64 = client
        .query_one("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM xinyong_log", &[])
        .and_then(|row| row.try_get(0))
        .map_err(|source| StoreError::postgres("reading the last seq", source))?;
    seq_from_sql(location, last)
}

impl Store for PostgresStore {
    fn append(&mut self, records: &[NewRecord]) -> Result<RangeInclusive<u64>, StoreError> {
        validate_append(records)?;
        let first = self.next_seq;
        let last = first + records.len() as u64 - 1;
        let seqs: Vec<i64> = (first..=last).map(seq_to_sql).collect();
        let kinds: Vec<&str> = records.iter().map(|record| record.kind.as_str()).collect();
        let bodies: Vec<&[u8]> = records.iter().map(|record| record.body.as_slice()).collect();
        let at_ms = now_ms();
        let inserted =
            self.client.execute(&self.insert_records, &[&seqs, &at_ms, &kinds, &bodies]).map_err(|source| {
                if source.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                    StoreError::ConcurrentWriter { seq: first }
                } else {
                    StoreError::postgres("appending records", source)
                }
            })?;
        // The statement was its own transaction and has committed: a short count would mean
        // the log now has a gap.
        if inserted != records.len() as u64 {
            return Err(StoreError::Corrupt {
                location: self.location.clone(),
                detail: format!("an append of {} records inserted {inserted} rows", records.len()),
            });
        }
        self.next_seq = last + 1;
        Ok(first..=last)
    }

    fn read_after(&mut self, after_seq: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query(
                "SELECT seq, at_ms, kind, body FROM xinyong_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&seq_to_sql(after_seq), &limit_sql],
            )
            .map_err(|source| StoreError::postgres("reading records", source))?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.get(0);
            records.push(Record {
                seq: seq_from_sql(&self.location, seq)?,
                at_ms: row.get(1),
                kind: row.get(2),
                body: row.get(3),
            });
        }
        check_contiguous(&self.location, after_seq, &records)?;
        Ok(records)
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        last_seq_of(&mut self.client, &self.location)
    }

    fn save_snapshot(&mut self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let mut transaction =
            self.client.transaction().map_err(|source| StoreError::postgres("beginning a snapshot", source))?;
        let last = last_seq_of(&mut transaction, &self.location)?;
        validate_snapshot(seq, bytes, last)?;
        transaction
            .execute(
                "INSERT INTO xinyong_snapshot (seq, at_ms, length, checksum, bytes) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (seq) DO UPDATE SET at_ms = excluded.at_ms, length = excluded.length,
                     checksum = excluded.checksum, bytes = excluded.bytes",
                &[&seq_to_sql(seq), &now_ms(), &(bytes.len() as i64), &(checksum(bytes) as i64), &bytes],
            )
            .map_err(|source| StoreError::postgres("saving a snapshot", source))?;
        transaction
            .execute(
                "DELETE FROM xinyong_snapshot WHERE seq NOT IN
                     (SELECT seq FROM xinyong_snapshot ORDER BY seq DESC LIMIT $1)",
                &[&(SNAPSHOTS_KEPT as i64)],
            )
            .map_err(|source| StoreError::postgres("deleting old snapshots", source))?;
        transaction.commit().map_err(|source| StoreError::postgres("committing a snapshot", source))
    }

    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let row = self
            .client
            .query_opt("SELECT seq, length, checksum, bytes FROM xinyong_snapshot ORDER BY seq DESC LIMIT 1", &[])
            .map_err(|source| StoreError::postgres("loading the latest snapshot", source))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let seq = seq_from_sql(&self.location, row.get(0))?;
        let bytes: Vec<u8> = row.get(3);
        check_snapshot(&self.location, seq, &bytes, row.get(1), row.get(2))?;
        Ok(Some((seq, bytes)))
    }

    fn get_meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .client
            .query_opt("SELECT value FROM xinyong_meta WHERE key = $1", &[&key])
            .map_err(|source| StoreError::postgres("reading meta", source))?;
        Ok(row.map(|row| row.get(0)))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        validate_meta(key, value)?;
        self.client
            .execute(
                "INSERT INTO xinyong_meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )
            .map_err(|source| StoreError::postgres("writing meta", source))?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> &str {
        &self.location
    }
}
