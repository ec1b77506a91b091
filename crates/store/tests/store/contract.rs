//! What every [`Store`] promises, whatever the backend.

use xinyong_store::{MAX_KIND_BYTES, NewRecord, SCHEMA_VERSION, SCHEMA_VERSION_KEY, SNAPSHOTS_KEPT, StoreError};

use crate::common::{TestDb, on_every_backend};

on_every_backend!(
    appended_records_read_back_in_order,
    reads_are_paged_by_seq,
    reopening_finds_everything_and_continues_the_seqs,
    the_latest_snapshot_is_the_highest_seq,
    old_snapshots_are_pruned,
    a_snapshot_must_follow_a_record,
    meta_values_round_trip,
    store_meta_keys_are_reserved,
    invalid_records_write_nothing,
    a_newer_schema_is_refused,
    a_second_writer_is_detected_not_interleaved,
    a_gap_in_the_log_is_reported,
    a_damaged_snapshot_is_reported,
    the_backend_names_itself,
);

fn record(kind: &str, body: &[u8]) -> NewRecord {
    NewRecord::new(kind, body.to_vec())
}

fn appended_records_read_back_in_order(db: &TestDb) {
    let mut store = db.open();
    assert_eq!(store.last_seq().unwrap(), 0);
    assert!(store.read_after(0, 10).unwrap().is_empty());

    let binary: Vec<u8> = (0..=255).collect();
    let first = [record("order", br#"{"citizen":1}"#), record("vote", b""), record("blob", &binary)];
    assert_eq!(store.append(&first).unwrap(), 1..=3);
    assert_eq!(store.append(&[record("order", b"4")]).unwrap(), 4..=4);
    assert_eq!(store.last_seq().unwrap(), 4);

    let records = store.read_after(0, 100).unwrap();
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    for (read, written) in records.iter().zip(first.iter().chain([&record("order", b"4")])) {
        assert_eq!((&read.kind, &read.body), (&written.kind, &written.body));
        assert!(read.at_ms > 1_600_000_000_000, "at_ms is wall-clock milliseconds: {}", read.at_ms);
    }
    // One transaction, one timestamp.
    assert!(records[..3].iter().all(|r| r.at_ms == records[0].at_ms));
}

fn reads_are_paged_by_seq(db: &TestDb) {
    let mut store = db.open();
    let records: Vec<NewRecord> = (0..25).map(|i| record("k", format!("{i}").as_bytes())).collect();
    store.append(&records).unwrap();
    let page = store.read_after(10, 5).unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![11, 12, 13, 14, 15]);
    assert_eq!(page[0].body, b"10");
    assert_eq!(store.read_after(20, 100).unwrap().len(), 5);
    assert!(store.read_after(25, 100).unwrap().is_empty());
    assert!(store.read_after(1000, 100).unwrap().is_empty());
    assert!(store.read_after(0, 0).unwrap().is_empty());
}

fn reopening_finds_everything_and_continues_the_seqs(db: &TestDb) {
    {
        let mut store = db.open();
        store.append(&[record("a", b"1"), record("b", b"2")]).unwrap();
        store.save_snapshot(2, b"state after 2").unwrap();
        store.set_meta("scenario", "default.toml").unwrap();
    }
    let mut store = db.open();
    assert_eq!(store.last_seq().unwrap(), 2);
    let bodies: Vec<Vec<u8>> = store.read_after(0, 10).unwrap().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, vec![b"1".to_vec(), b"2".to_vec()]);
    assert_eq!(store.latest_snapshot().unwrap(), Some((2, b"state after 2".to_vec())));
    assert_eq!(store.get_meta("scenario").unwrap().as_deref(), Some("default.toml"));
    assert_eq!(store.append(&[record("c", b"3")]).unwrap(), 3..=3);
}

fn the_latest_snapshot_is_the_highest_seq(db: &TestDb) {
    let mut store = db.open();
    assert_eq!(store.latest_snapshot().unwrap(), None);
    store.append(&(0..5).map(|i| record("k", &[i])).collect::<Vec<_>>()).unwrap();
    store.save_snapshot(1, b"one").unwrap();
    store.save_snapshot(3, b"three").unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), Some((3, b"three".to_vec())));
    // Saved later but older: the highest seq still wins.
    store.save_snapshot(2, b"two").unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), Some((3, b"three".to_vec())));
    // The same seq again replaces it.
    store.save_snapshot(3, b"three, again").unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), Some((3, b"three, again".to_vec())));
    let big = vec![7u8; 3 << 20];
    store.save_snapshot(5, &big).unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), Some((5, big)));
}

fn old_snapshots_are_pruned(db: &TestDb) {
    let mut store = db.open();
    store.append(&(0..6).map(|i| record("k", &[i])).collect::<Vec<_>>()).unwrap();
    for seq in 1..=6 {
        store.save_snapshot(seq, format!("after {seq}").as_bytes()).unwrap();
    }
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM xinyong_snapshot"), SNAPSHOTS_KEPT as i64);
    assert_eq!(db.raw_count("SELECT MIN(seq) FROM xinyong_snapshot"), 6 - SNAPSHOTS_KEPT as i64 + 1);
}

fn a_snapshot_must_follow_a_record(db: &TestDb) {
    let mut store = db.open();
    assert!(matches!(store.save_snapshot(1, b"x"), Err(StoreError::Invalid { .. })));
    store.append(&[record("k", b"1")]).unwrap();
    assert!(matches!(store.save_snapshot(0, b"x"), Err(StoreError::Invalid { .. })));
    let error = store.save_snapshot(2, b"x").unwrap_err();
    assert!(error.to_string().contains("last seq is 1"), "{error}");
    assert_eq!(store.latest_snapshot().unwrap(), None);
}

fn meta_values_round_trip(db: &TestDb) {
    let mut store = db.open();
    assert_eq!(store.get_meta("token.admin").unwrap(), None);
    store.set_meta("token.admin", "sha256:abc").unwrap();
    store.set_meta("scenario", "信用 — crédit").unwrap();
    store.set_meta("token.admin", "sha256:def").unwrap();
    assert_eq!(store.get_meta("token.admin").unwrap().as_deref(), Some("sha256:def"));
    assert_eq!(store.get_meta("scenario").unwrap().as_deref(), Some("信用 — crédit"));
    assert_eq!(store.get_meta(SCHEMA_VERSION_KEY).unwrap(), Some(SCHEMA_VERSION.to_string()));
}

fn store_meta_keys_are_reserved(db: &TestDb) {
    let mut store = db.open();
    let error = store.set_meta(SCHEMA_VERSION_KEY, "999").unwrap_err();
    assert!(matches!(error, StoreError::ReservedMetaKey { .. }), "{error}");
    assert!(store.set_meta("", "x").is_err());
    assert_eq!(store.get_meta(SCHEMA_VERSION_KEY).unwrap(), Some(SCHEMA_VERSION.to_string()));
}

fn invalid_records_write_nothing(db: &TestDb) {
    let mut store = db.open();
    store.append(&[record("k", b"1")]).unwrap();
    let too_long_kind = "k".repeat(MAX_KIND_BYTES + 1);
    for bad in [vec![], vec![record("ok", b"x"), record("", b"x")], vec![record(&too_long_kind, b"x")]] {
        let error = store.append(&bad).unwrap_err();
        assert!(matches!(error, StoreError::Invalid { .. }), "{error}");
    }
    assert_eq!(store.last_seq().unwrap(), 1);
    assert_eq!(store.append(&[record("k", b"2")]).unwrap(), 2..=2);
}

fn a_newer_schema_is_refused(db: &TestDb) {
    drop(db.open());
    let newer = SCHEMA_VERSION + 1;
    db.raw_execute(&format!("UPDATE xinyong_meta SET value = '{newer}' WHERE key = '{SCHEMA_VERSION_KEY}'"));
    let error = xinyong_store::open(&db.location).err().expect("a newer schema must be refused");
    assert!(
        matches!(error, StoreError::SchemaTooNew { found, supported, .. } if found == newer && supported == SCHEMA_VERSION)
    );
    let message = error.to_string();
    assert!(message.contains("run a newer xinyong"), "{message}");
}

fn a_second_writer_is_detected_not_interleaved(db: &TestDb) {
    let mut first = db.open();
    let mut second = db.open();
    first.append(&[record("first", b"1"), record("first", b"2")]).unwrap();
    let error = second.append(&[record("second", b"1")]).unwrap_err();
    assert!(matches!(error, StoreError::ConcurrentWriter { seq: 1 }), "{error}");
    assert!(error.to_string().contains("only one process may write"), "{error}");
    let kinds: Vec<String> = first.read_after(0, 10).unwrap().into_iter().map(|r| r.kind).collect();
    assert_eq!(kinds, vec!["first", "first"]);
    // A reopened store starts after what is there.
    assert_eq!(db.open().append(&[record("third", b"3")]).unwrap(), 3..=3);
}

fn a_gap_in_the_log_is_reported(db: &TestDb) {
    let mut store = db.open();
    store.append(&(0..5).map(|i| record("k", &[i])).collect::<Vec<_>>()).unwrap();
    db.raw_execute("DELETE FROM xinyong_log WHERE seq = 3");
    assert_eq!(store.read_after(0, 2).unwrap().len(), 2);
    let error = store.read_after(0, 10).unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("expected record seq 3, found 4"), "{error}");
}

fn a_damaged_snapshot_is_reported(db: &TestDb) {
    let mut store = db.open();
    store.append(&[record("k", b"1")]).unwrap();
    store.save_snapshot(1, b"the state").unwrap();
    db.raw_execute("UPDATE xinyong_snapshot SET checksum = checksum + 1");
    let error = store.latest_snapshot().unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
}

fn the_backend_names_itself(db: &TestDb) {
    let store = db.open();
    assert_eq!(store.backend(), db.backend());
    assert!(!store.location().is_empty());
}

#[test]
fn memory_stores_are_private() {
    let mut one = xinyong_store::open(":memory:").unwrap();
    let mut two = xinyong_store::open("sqlite::memory:").unwrap();
    one.append(&[record("k", b"1")]).unwrap();
    assert_eq!(two.last_seq().unwrap(), 0);
    assert_eq!(one.backend(), "sqlite");
}

#[test]
fn a_missing_directory_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/store.db");
    let error = xinyong_store::open(path.to_str().unwrap()).err().expect("cannot create the file");
    assert!(matches!(error, StoreError::OpenSqlite { .. }), "{error}");
    assert!(error.to_string().contains("directory exists"), "{error}");
}

#[test]
fn a_file_that_is_not_a_database_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "not a database, just some text that is long enough to have a header....").unwrap();
    let error = xinyong_store::open(path.to_str().unwrap()).err().expect("not a database");
    assert!(error.to_string().contains("is an SQLite database"), "{error}");
}

#[test]
fn an_unreachable_postgres_is_explained_without_the_password() {
    // Port 9 (discard) on loopback: nothing listens there.
    let error = xinyong_store::open("postgres://alice:hunter2@127.0.0.1:9/xinyong?connect_timeout=5")
        .err()
        .expect("nothing listens on port 9");
    let message = error.to_string();
    assert!(matches!(error, StoreError::ConnectPostgres { .. }), "{message}");
    assert!(message.contains("postgres://alice:***@127.0.0.1:9/xinyong"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains("Is the server running"), "{message}");
}

#[test]
fn sqlite_runs_in_wal_mode_with_full_sync() {
    let db = TestDb::sqlite();
    let _store = db.open();
    let connection = rusqlite::Connection::open(&db.location).unwrap();
    let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
    assert_eq!(mode, "wal");
}
