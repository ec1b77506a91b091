//! The one error type of the crate.
//!
//! Every variant says what happened *and* what to do about it, because these messages end up
//! in front of an operator who typed `--db …`. Sources are behind `Arc` so that the error is
//! `Clone`: one failed group commit has to be reported to every producer in the batch.

use std::sync::Arc;

/// What went wrong in the store, with a hint for the user.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The `--db` value is not something [`crate::open`] understands.
    #[error(
        "cannot use database location {location:?}: {reason}. Accepted: a file path, \
         `sqlite://PATH`, `:memory:`, or `postgres://USER@HOST:PORT/DB`"
    )]
    InvalidLocation { location: String, reason: String },

    /// SQLite could not open or set up the database file.
    #[error("cannot open SQLite database {path:?}: {source}. {hint}")]
    OpenSqlite {
        path: String,
        hint: &'static str,
        #[source]
        source: Arc<rusqlite::Error>,
    },

    /// The SQLite file opened but does not give the durability this crate promises.
    #[error(
        "SQLite database {path:?} refused {setting} (got {got:?}); the file system may not \
         support it (network file systems often do not): put the database on a local disk"
    )]
    SqliteSetting { path: String, setting: &'static str, got: String },

    /// No connection to the PostgreSQL server. The URL in the message has its password removed.
    #[error(
        "cannot connect to PostgreSQL at {url}: {source}. Is the server running and reachable, \
         and are user, database and password right? (TLS is not supported by this build: use \
         sslmode=disable on a trusted network.) For tests, start one with \
         `eval \"$(bash .ci/postgres.sh)\"`"
    )]
    ConnectPostgres {
        url: String,
        #[source]
        source: Arc<postgres::Error>,
    },

    /// The database was written by a newer xinyong; this one will not guess at its meaning.
    #[error(
        "the database at {location} has store schema version {found}, but this build only \
         knows versions up to {supported}: run a newer xinyong, or point --db at another database"
    )]
    SchemaTooNew { location: String, found: u32, supported: u32 },

    /// The database holds something that is not a xinyong store we can use.
    #[error("the database at {location} is not a usable xinyong store: {detail}")]
    SchemaInvalid { location: String, detail: String },

    /// An SQLite statement failed while doing `operation`.
    #[error("SQLite failed while {operation}: {source}")]
    Sqlite {
        operation: &'static str,
        #[source]
        source: Arc<rusqlite::Error>,
    },

    /// A PostgreSQL statement failed while doing `operation`.
    #[error(
        "PostgreSQL failed while {operation}: {source}. If the connection was lost, restart: \
         the state is replayed from the log"
    )]
    Postgres {
        operation: &'static str,
        #[source]
        source: Arc<postgres::Error>,
    },

    /// Someone else appended to the log: seq `seq` was already taken when we wrote it.
    #[error(
        "another writer appended to this log (seq {seq} is already taken): only one process \
         may write a given log; stop the other one and restart this one so that it replays \
         the records it has not seen"
    )]
    ConcurrentWriter { seq: u64 },

    /// A record, batch or snapshot breaks one of the documented limits or rules.
    #[error("rejected {what}: {reason}")]
    Invalid { what: &'static str, reason: String },

    /// `set_meta` on a key the store keeps for itself.
    #[error("meta key {key:?} is reserved for the store itself (keys starting with \"store.\")")]
    ReservedMetaKey { key: String },

    /// What was read back is not what must have been written.
    #[error(
        "the store at {location} is corrupt: {detail}. Restore it from a backup; do not \
         append to it"
    )]
    Corrupt { location: String, detail: String },

    /// The [`crate::Committer`] was shut down before this record reached it.
    #[error("the committer is shut down: the record was not written")]
    Closed,

    /// The committer's writer thread panicked: a bug.
    #[error(
        "the committer's writer thread panicked ({message}): this is a bug, please report it; \
         restart, the state is replayed from the log"
    )]
    WriterPanicked { message: String },

    /// An earlier group commit failed, so the committer stopped writing (fail-stop).
    #[error(
        "the committer stopped after a failed commit and wrote nothing more (first failure: \
         {first}); fix the cause and restart, the state is replayed from the log"
    )]
    Stopped { first: Box<StoreError> },
}

impl StoreError {
    pub(crate) fn sqlite(operation: &'static str, source: rusqlite::Error) -> Self {
        StoreError::Sqlite { operation, source: Arc::new(source) }
    }

    pub(crate) fn postgres(operation: &'static str, source: postgres::Error) -> Self {
        StoreError::Postgres { operation, source: Arc::new(source) }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        StoreError::Invalid { what, reason: reason.into() }
    }
}
