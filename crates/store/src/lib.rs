//! Durable, append-only command log for the xinyong service, on SQLite or PostgreSQL.
//!
//! # Why a log
//!
//! The service's state is the deterministic engine *replayed* from the commands it accepted.
//! So the only thing that must survive a crash is the ordered list of accepted commands; the
//! state is a cache of it. This crate stores that list and nothing else: records are opaque
//! bytes with a `kind` string, numbered by a gap-free `seq` starting at 1. It knows nothing of
//! the engine, of HTTP, of JSON or of async runtimes. Snapshots (the engine state after
//! record `seq`, as opaque bytes) only shorten restarts; losing them loses no information.
//!
//! # The pieces
//!
//! * [`Store`]: the backend-neutral interface. [`open`] picks the backend from `--db`:
//!   `postgres://…` / `postgresql://…` → [`PostgresStore`]; a path, `sqlite://PATH` or
//!   `:memory:` → [`SqliteStore`] (the default: an embedded file, no set-up).
//! * [`Committer`]: group commit. One writer thread owns the store; any number of producers
//!   submit records through a [`CommitHandle`] and are called back (acknowledged) only once
//!   their record is durable. Whatever queued up while the previous transaction was being
//!   synced goes into the next transaction, so one fsync pays for many records.
//! * [`crash_test`]: the child/parent halves of the "SIGKILL during a stream of writes" test,
//!   reusable by the service-level test.
//!
//! # Guarantees
//!
//! * `append` is one transaction: all records or none, numbered contiguously after the
//!   current last seq. When it returns `Ok`, the records are durable: SQLite runs in WAL mode
//!   with `synchronous=FULL` (the WAL is fsynced at every commit); PostgreSQL commits with
//!   `synchronous_commit=on`, forced for the session. See `docs/store.md` for exactly which
//!   failures that covers.
//! * One writer per log. A second process appending to the same log is detected (its seq is
//!   taken) and reported as [`StoreError::ConcurrentWriter`], never silently interleaved:
//!   its in-memory engine would not have seen the other's commands.
//! * Reads check what writes promised: `read_after` fails with [`StoreError::Corrupt`] on a
//!   gap in the seqs, snapshots carry a length and checksum verified on load.
//! * Every size is bounded (see the `MAX_*` constants); out-of-bounds input is refused with
//!   [`StoreError::Invalid`] before anything is written.
//!
//! # Example
//!
//! ```
//! use xinyong_store::{open, NewRecord};
//!
//! let mut store = open(":memory:")?;
//! let seqs = store.append(&[NewRecord::new("order", br#"{"citizen":7}"#.to_vec())])?;
//! assert_eq!(seqs, 1..=1);
//! let records = store.read_after(0, 100)?;
//! assert_eq!(records[0].kind, "order");
//! # Ok::<(), xinyong_store::StoreError>(())
//! ```

mod committer;
pub mod crash_test;
mod error;
mod location;
mod pg;
mod sqlite;

use std::ops::RangeInclusive;

pub use committer::{Ack, BatchAck, CommitHandle, Committer, CommitterConfig, CommitterStats, QueueFull};
pub use error::StoreError;
pub use location::redact;
pub use pg::PostgresStore;
pub use sqlite::SqliteStore;

/// Version of the tables this build writes; kept in meta under [`SCHEMA_VERSION_KEY`].
/// A database with a higher version is refused ([`StoreError::SchemaTooNew`]).
pub const SCHEMA_VERSION: u32 = 1;
/// Meta key holding the schema version. Keys starting with `store.` are reserved.
pub const SCHEMA_VERSION_KEY: &str = "store.schema_version";
const RESERVED_META_PREFIX: &str = "store.";

/// Longest `kind`, in bytes.
pub const MAX_KIND_BYTES: usize = 64;
/// Largest record body, in bytes. A command is a few hundred bytes of JSON.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Most records in one `append` (one transaction).
pub const MAX_APPEND_RECORDS: usize = 65_536;
/// Most body bytes in one `append` (one transaction).
pub const MAX_APPEND_BYTES: usize = 64 << 20;
/// Largest snapshot, in bytes (PostgreSQL's `bytea` stops at 1 GiB).
pub const MAX_SNAPSHOT_BYTES: usize = 512 << 20;
/// How many snapshots are kept; older ones are deleted when a new one is saved.
pub const SNAPSHOTS_KEPT: usize = 2;
/// Longest meta key and value, in bytes.
pub const MAX_META_KEY_BYTES: usize = 128;
pub const MAX_META_VALUE_BYTES: usize = 64 << 10;

/// A record to append: `body` is the serialized command, opaque to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub kind: String,
    pub body: Vec<u8>,
}

impl NewRecord {
    pub fn new(kind: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        NewRecord { kind: kind.into(), body: body.into() }
    }
}

/// A record as stored: `seq` counts from 1 without gaps; `at_ms` is the wall-clock time of the
/// append (milliseconds since the Unix epoch), the same for every record of one transaction.
/// `at_ms` is information for people; replay must not depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub at_ms: i64,
    pub kind: String,
    pub body: Vec<u8>,
}

/// The append-only log with snapshots and a small key/value table. See the crate docs.
pub trait Store: Send {
    /// Appends in order, in ONE transaction; returns the seq of each (contiguous, starting right
    /// after [`Store::last_seq`]). Durable when it returns Ok. At least one record.
    fn append(&mut self, records: &[NewRecord]) -> Result<RangeInclusive<u64>, StoreError>;
    /// Records with `seq > after_seq`, ascending, at most `limit` of them. Fewer than `limit`
    /// means the end of the log was reached.
    fn read_after(&mut self, after_seq: u64, limit: usize) -> Result<Vec<Record>, StoreError>;
    /// The seq of the last record, 0 when the log is empty.
    fn last_seq(&mut self) -> Result<u64, StoreError>;
    /// Saves the state after applying records `<= seq` (which must exist). Keeps the newest
    /// [`SNAPSHOTS_KEPT`]; saving the same seq again replaces it.
    fn save_snapshot(&mut self, seq: u64, bytes: &[u8]) -> Result<(), StoreError>;
    /// The snapshot with the highest seq, checked against its stored length and checksum.
    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError>;
    /// Small key/value data (token hashes, scenario, …).
    fn get_meta(&mut self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets (or replaces) a meta value, durably. Keys starting with `store.` are reserved.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError>;
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;
    /// Where the store is, for logs: a path, `:memory:`, or the URL with its password removed.
    fn location(&self) -> &str;
}

/// Opens (creating or migrating if needed) the store at `location`:
///
/// * `postgres://…` or `postgresql://…`: PostgreSQL (libpq-style URL; to use a schema other
///   than `public`, add `?options=-c%20search_path%3DNAME` — the schema must exist);
/// * `sqlite://PATH`, `sqlite:PATH` or a plain `PATH`: an SQLite file, created if absent
///   (its directory must exist);
/// * `:memory:` (or `sqlite::memory:`): a private in-memory SQLite database, not durable.
pub fn open(location: &str) -> Result<Box<dyn Store>, StoreError> {
    match location::parse(location)? {
        location::Location::Postgres(url) => Ok(Box::new(PostgresStore::open(&url)?)),
        location::Location::SqliteFile(path) => Ok(Box::new(SqliteStore::open(&path)?)),
        location::Location::SqliteMemory => Ok(Box::new(SqliteStore::open_in_memory()?)),
    }
}

/// Checks an append against the limits before anything is written.
pub(crate) fn validate_append(records: &[NewRecord]) -> Result<(), StoreError> {
    if records.is_empty() {
        return Err(StoreError::invalid("append", "no records: an append holds at least one"));
    }
    if records.len() > MAX_APPEND_RECORDS {
        return Err(StoreError::invalid(
            "append",
            format!("{} records, more than MAX_APPEND_RECORDS = {MAX_APPEND_RECORDS}", records.len()),
        ));
    }
    let mut bytes_total: usize = 0;
    for record in records {
        validate_record(record)?;
        bytes_total += record.body.len();
    }
    if bytes_total > MAX_APPEND_BYTES {
        return Err(StoreError::invalid(
            "append",
            format!("{bytes_total} body bytes, more than MAX_APPEND_BYTES = {MAX_APPEND_BYTES}"),
        ));
    }
    Ok(())
}

pub(crate) fn validate_record(record: &NewRecord) -> Result<(), StoreError> {
    let kind = &record.kind;
    if kind.is_empty() || kind.len() > MAX_KIND_BYTES || kind.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            "record",
            format!("kind {kind:?} must be 1..={MAX_KIND_BYTES} bytes without control characters"),
        ));
    }
    if record.body.len() > MAX_BODY_BYTES {
        return Err(StoreError::invalid(
            "record",
            format!("body of {} bytes, more than MAX_BODY_BYTES = {MAX_BODY_BYTES}", record.body.len()),
        ));
    }
    Ok(())
}

pub(crate) fn validate_snapshot(seq: u64, bytes: &[u8], last_seq: u64) -> Result<(), StoreError> {
    if seq == 0 || seq > last_seq {
        return Err(StoreError::invalid(
            "snapshot",
            format!("seq {seq} is not a record of the log (last seq is {last_seq})"),
        ));
    }
    if bytes.len() > MAX_SNAPSHOT_BYTES {
        return Err(StoreError::invalid(
            "snapshot",
            format!("{} bytes, more than MAX_SNAPSHOT_BYTES = {MAX_SNAPSHOT_BYTES}", bytes.len()),
        ));
    }
    Ok(())
}

pub(crate) fn validate_meta(key: &str, value: &str) -> Result<(), StoreError> {
    if key.starts_with(RESERVED_META_PREFIX) {
        return Err(StoreError::ReservedMetaKey { key: key.to_string() });
    }
    if key.is_empty() || key.len() > MAX_META_KEY_BYTES {
        return Err(StoreError::invalid("meta", format!("key must be 1..={MAX_META_KEY_BYTES} bytes")));
    }
    if value.len() > MAX_META_VALUE_BYTES {
        return Err(StoreError::invalid(
            "meta",
            format!("value of {} bytes, more than MAX_META_VALUE_BYTES = {MAX_META_VALUE_BYTES}", value.len()),
        ));
    }
    Ok(())
}

/// Checks that `records` are exactly the seqs `after_seq + 1, after_seq + 2, …`: the log never
/// has gaps, so a gap means the database was damaged or edited by hand.
pub(crate) fn check_contiguous(location: &str, after_seq: u64, records: &[Record]) -> Result<(), StoreError> {
    for (offset, record) in records.iter().enumerate() {
        let expected = after_seq + 1 + offset as u64;
        if record.seq != expected {
            return Err(StoreError::Corrupt {
                location: location.to_string(),
                detail: format!("expected record seq {expected}, found {}: the log has a gap", record.seq),
            });
        }
    }
    Ok(())
}

/// FNV-1a, 64 bits: enough to notice a truncated or damaged snapshot, not a security measure.
pub(crate) fn checksum(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The loaded snapshot must match the length and checksum stored beside it.
pub(crate) fn check_snapshot(
    location: &str,
    seq: u64,
    bytes: &[u8],
    length_stored: i64,
    checksum_stored: i64,
) -> Result<(), StoreError> {
    // The checksum is stored as the i64 with the same bits (neither SQL type has u64).
    if bytes.len() as i64 != length_stored || checksum(bytes) as i64 != checksum_stored {
        return Err(StoreError::Corrupt {
            location: location.to_string(),
            detail: format!(
                "snapshot at seq {seq} has {} bytes and checksum {:#x}, but {length_stored} bytes \
                 and checksum {:#x} were written",
                bytes.len(),
                checksum(bytes),
                checksum_stored as u64
            ),
        });
    }
    Ok(())
}

/// The schema version stored in meta; 0 means "no tables yet".
pub(crate) fn parse_schema_version(location: &str, stored: Option<&str>) -> Result<u32, StoreError> {
    match stored {
        None => Ok(0),
        Some(text) => match text.parse::<u32>() {
            Ok(version) if version >= 1 => Ok(version),
            _ => Err(StoreError::SchemaInvalid {
                location: location.to_string(),
                detail: format!("meta {SCHEMA_VERSION_KEY} = {text:?} is not a schema version"),
            }),
        },
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// Converts a stored (non-negative) `i64` seq to `u64`, refusing anything else as corruption.
pub(crate) fn seq_from_sql(location: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::Corrupt { location: location.to_string(), detail: format!("negative seq {value}") })
}

/// `u64` seq to SQL's signed 64-bit integer; seqs stay far below 2^63.
pub(crate) fn seq_to_sql(seq: u64) -> i64 {
    i64::try_from(seq).expect("seq below 2^63")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_enforced_before_writing() {
        assert!(validate_append(&[]).is_err());
        assert!(validate_append(&[NewRecord::new("", "x")]).is_err());
        assert!(validate_append(&[NewRecord::new("a\nb", "x")]).is_err());
        assert!(validate_append(&[NewRecord::new("k".repeat(MAX_KIND_BYTES + 1), "x")]).is_err());
        assert!(validate_append(&[NewRecord::new("k".repeat(MAX_KIND_BYTES), "")]).is_ok());
        assert!(validate_append(&[NewRecord::new("k", vec![0u8; MAX_BODY_BYTES + 1])]).is_err());
        let many = vec![NewRecord::new("k", ""); MAX_APPEND_RECORDS + 1];
        assert!(validate_append(&many).is_err());
        let big = vec![NewRecord::new("k", vec![0u8; MAX_BODY_BYTES]); MAX_APPEND_BYTES / MAX_BODY_BYTES + 1];
        assert!(validate_append(&big).is_err());
    }

    #[test]
    fn a_gap_in_the_log_is_corruption() {
        let record = |seq| Record { seq, at_ms: 0, kind: "k".into(), body: vec![] };
        assert!(check_contiguous("here", 4, &[record(5), record(6)]).is_ok());
        let error = check_contiguous("here", 4, &[record(5), record(7)]).unwrap_err();
        assert!(error.to_string().contains("expected record seq 6, found 7"), "{error}");
        assert!(check_contiguous("here", 4, &[record(4)]).is_err());
    }

    #[test]
    fn a_damaged_snapshot_is_noticed() {
        let bytes = b"state";
        let sum = checksum(bytes) as i64;
        assert!(check_snapshot("here", 1, bytes, 5, sum).is_ok());
        assert!(check_snapshot("here", 1, b"stat", 5, sum).is_err());
        assert!(check_snapshot("here", 1, b"stale", 5, sum).is_err());
    }
}
