//! The default backend: one SQLite file, WAL mode, `synchronous=FULL`.
//!
//! WAL because appends are sequential writes to one file and readers (an audit tool, a
//! backup) never block the writer. `synchronous=FULL` because in WAL mode the default
//! (`NORMAL`) skips the fsync at commit: a committed transaction could then vanish on power
//! loss, and "acknowledged" would be a lie.

use std::ops::RangeInclusive;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

use crate::{
    NewRecord, Record, SCHEMA_VERSION, SCHEMA_VERSION_KEY, SNAPSHOTS_KEPT, Store, StoreError, check_contiguous,
    check_snapshot, checksum, now_ms, parse_schema_version, seq_from_sql, seq_to_sql, validate_append, validate_meta,
    validate_snapshot,
};

/// `MIGRATIONS[v]` takes the schema from version `v` to `v + 1`. Never edit a released entry:
/// add one.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = ["
    CREATE TABLE xinyong_log (
        seq   INTEGER PRIMARY KEY NOT NULL CHECK (seq > 0),  -- 1, 2, 3, … without gaps; the rowid
        at_ms INTEGER NOT NULL,              -- wall clock at append, for people only
        kind  TEXT    NOT NULL,
        body  BLOB    NOT NULL
    ) STRICT;
    CREATE TABLE xinyong_snapshot (
        seq      INTEGER PRIMARY KEY NOT NULL,  -- state after applying records <= seq
        at_ms    INTEGER NOT NULL,
        length   INTEGER NOT NULL,              -- checked on load
        checksum INTEGER NOT NULL,              -- FNV-1a 64 of bytes, as i64; checked on load
        bytes    BLOB    NOT NULL
    ) STRICT;
"];

const BOOTSTRAP: &str = "
    CREATE TABLE IF NOT EXISTS xinyong_meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;
";

/// How long a statement waits for a lock held by another connection (a reader checkpointing,
/// a backup) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const HINT_OPEN: &str = "Check that the directory exists and is writable, and that the file, if \
                         it exists, is an SQLite database written by xinyong";

/// The SQLite [`Store`]. Use [`crate::open`] unless you need the concrete type.
pub struct SqliteStore {
    connection: Connection,
    location: String,
    /// Seq the next appended record gets. The primary key catches a stale value (another
    /// writer), see [`StoreError::ConcurrentWriter`].
    next_seq: u64,
}

impl SqliteStore {
    /// Opens or creates the database file at `path` (its directory must exist).
    pub fn open(path: &str) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(|source| open_error(path, source))?;
        Self::set_up(connection, path.to_string(), true)
    }

    /// A private database in memory: same behaviour, nothing durable.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let connection = Connection::open_in_memory().map_err(|source| open_error(":memory:", source))?;
        Self::set_up(connection, ":memory:".to_string(), false)
    }

    fn set_up(connection: Connection, location: String, durable: bool) -> Result<Self, StoreError> {
        let path = location.as_str();
        connection.busy_timeout(BUSY_TIMEOUT).map_err(|source| open_error(path, source))?;
        if durable {
            // The first statement that reads the file: "file is not a database" shows up here.
            let journal_mode: String = connection
                .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
                .map_err(|source| open_error(path, source))?;
            if !journal_mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::SqliteSetting {
                    path: location,
                    setting: "journal_mode=WAL",
                    got: journal_mode,
                });
            }
            connection.pragma_update(None, "synchronous", "FULL").map_err(|source| open_error(path, source))?;
            let synchronous: i64 = connection
                .query_row("PRAGMA synchronous", [], |row| row.get(0))
                .map_err(|source| open_error(path, source))?;
            // 2 = FULL, 3 = EXTRA: both fsync the WAL at every commit.
            if synchronous < 2 {
                return Err(StoreError::SqliteSetting {
                    path: location,
                    setting: "synchronous=FULL",
                    got: synchronous.to_string(),
                });
            }
        }
        let mut store = SqliteStore { connection, location, next_seq: 0 };
        store.migrate()?;
        store.next_seq = store.last_seq()? + 1;
        Ok(store)
    }

    /// Creates the tables, or brings older ones up to [`SCHEMA_VERSION`], in one transaction.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let location = self.location.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| open_error(&location, source))?;
        transaction.execute_batch(BOOTSTRAP).map_err(|source| open_error(&location, source))?;
        let stored: Option<String> = transaction
            .query_row("SELECT value FROM xinyong_meta WHERE key = ?1", [SCHEMA_VERSION_KEY], |row| row.get(0))
            .optional()
            .map_err(|source| StoreError::sqlite("reading the schema version", source))?;
        let found = parse_schema_version(&location, stored.as_deref())?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew { location, found, supported: SCHEMA_VERSION });
        }
        for migration in &MIGRATIONS[found as usize..] {
            transaction.execute_batch(migration).map_err(|source| StoreError::SchemaInvalid {
                location: location.clone(),
                detail: format!("migrating from schema version {found} failed: {source}"),
            })?;
        }
        if found < SCHEMA_VERSION {
            transaction
                .execute(
                    "INSERT INTO xinyong_meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![SCHEMA_VERSION_KEY, SCHEMA_VERSION.to_string()],
                )
                .map_err(|source| StoreError::sqlite("recording the schema version", source))?;
        }
        transaction.commit().map_err(|source| StoreError::sqlite("committing the schema", source))?;
        Ok(())
    }
}

fn open_error(path: &str, source: rusqlite::Error) -> StoreError {
    StoreError::OpenSqlite { path: path.to_string(), hint: HINT_OPEN, source: source.into() }
}

fn is_primary_key_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation
                && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

impl Store for SqliteStore {
    fn append(&mut self, records: &[NewRecord]) -> Result<RangeInclusive<u64>, StoreError> {
        validate_append(records)?;
        let first = self.next_seq;
        let last = first + records.len() as u64 - 1;
        let at_ms = now_ms();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| StoreError::sqlite("beginning an append", source))?;
        {
            let mut insert = transaction
                .prepare_cached("INSERT INTO xinyong_log (seq, at_ms, kind, body) VALUES (?1, ?2, ?3, ?4)")
                .map_err(|source| StoreError::sqlite("preparing an append", source))?;
            for (seq, record) in (first..=last).zip(records) {
                insert.execute(params![seq_to_sql(seq), at_ms, record.kind, record.body]).map_err(|source| {
                    if is_primary_key_violation(&source) {
                        StoreError::ConcurrentWriter { seq }
                    } else {
                        StoreError::sqlite("appending a record", source)
                    }
                })?;
            }
        }
        // Dropping the transaction on an error above rolls it back; next_seq stays put.
        transaction.commit().map_err(|source| StoreError::sqlite("committing an append", source))?;
        self.next_seq = last + 1;
        Ok(first..=last)
    }

    fn read_after(&mut self, after_seq: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let location = self.location.clone();
        let mut select = self
            .connection
            .prepare_cached("SELECT seq, at_ms, kind, body FROM xinyong_log WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(|source| StoreError::sqlite("preparing a read", source))?;
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = select
            .query_map(params![seq_to_sql(after_seq), limit_sql], |row| {
                Ok((row.get::<_, i64>(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .map_err(|source| StoreError::sqlite("reading records", source))?;
        let mut records = Vec::new();
        for row in rows {
            let (seq, at_ms, kind, body) = row.map_err(|source| StoreError::sqlite("reading a record", source))?;
            records.push(Record { seq: seq_from_sql(&location, seq)?, at_ms, kind, body });
        }
        check_contiguous(&location, after_seq, &records)?;
        Ok(records)
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        let last: i64 = self
            .connection
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM xinyong_log", [], |row| row.get(0))
            .map_err(|source| StoreError::sqlite("reading the last seq", source))?;
        seq_from_sql(&self.location, last)
    }

    fn save_snapshot(&mut self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let location = self.location.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| StoreError::sqlite("beginning a snapshot", source))?;
        let last: i64 = transaction
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM xinyong_log", [], |row| row.get(0))
            .map_err(|source| StoreError::sqlite("reading the last seq", source))?;
        validate_snapshot(seq, bytes, seq_from_sql(&location, last)?)?;
        transaction
            .execute(
                "INSERT INTO xinyong_snapshot (seq, at_ms, length, checksum, bytes) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (seq) DO UPDATE SET at_ms = excluded.at_ms, length = excluded.length,
                     checksum = excluded.checksum, bytes = excluded.bytes",
                params![seq_to_sql(seq), now_ms(), bytes.len() as i64, checksum(bytes) as i64, bytes],
            )
            .map_err(|source| StoreError::sqlite("saving a snapshot", source))?;
        transaction
            .execute(
                "DELETE FROM xinyong_snapshot WHERE seq NOT IN
                     (SELECT seq FROM xinyong_snapshot ORDER BY seq DESC LIMIT ?1)",
                [SNAPSHOTS_KEPT as i64],
            )
            .map_err(|source| StoreError::sqlite("deleting old snapshots", source))?;
        transaction.commit().map_err(|source| StoreError::sqlite("committing a snapshot", source))
    }

    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let row: Option<(i64, i64, i64, Vec<u8>)> = self
            .connection
            .query_row(
                "SELECT seq, length, checksum, bytes FROM xinyong_snapshot ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()
            .map_err(|source| StoreError::sqlite("loading the latest snapshot", source))?;
        let Some((seq, length, checksum_stored, bytes)) = row else {
            return Ok(None);
        };
        let seq = seq_from_sql(&self.location, seq)?;
        check_snapshot(&self.location, seq, &bytes, length, checksum_stored)?;
        Ok(Some((seq, bytes)))
    }

    fn get_meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.connection
            .query_row("SELECT value FROM xinyong_meta WHERE key = ?1", [key], |row| row.get(0))
            .optional()
            .map_err(|source| StoreError::sqlite("reading meta", source))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        validate_meta(key, value)?;
        self.connection
            .execute(
                "INSERT INTO xinyong_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map_err(|source| StoreError::sqlite("writing meta", source))?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> &str {
        &self.location
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_store_syncs_the_wal_at_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
        let mode: String = store.connection.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
        let synchronous: i64 = store.connection.query_row("PRAGMA synchronous", [], |row| row.get(0)).unwrap();
        assert_eq!((mode.as_str(), synchronous), ("wal", 2), "WAL with synchronous=FULL");
    }
}
