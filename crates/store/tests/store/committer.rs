//! The committer's promises: exactly-once acks, seq order, group commit, backpressure,
//! fail-stop, clean shutdown.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xinyong_store::{CommitHandle, Committer, CommitterConfig, NewRecord, QueueFull, Record, Store, StoreError, open};

use crate::common::{TestDb, on_every_backend};

on_every_backend!(
    many_producers_get_contiguous_seqs_in_submission_order,
    records_queued_during_a_commit_share_the_next_one,
    shutdown_commits_everything_queued,
);

/// Holds the writer thread inside a task until the returned sender is dropped or sent to, so
/// that a test controls exactly what is queued when the next commit starts.
fn hold_writer(handle: &CommitHandle) -> mpsc::Sender<()> {
    let (started_sender, started) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    handle.run(Box::new(move |store| {
        store.expect("the committer is running");
        started_sender.send(()).unwrap();
        let _ = released.recv();
    }));
    started.recv().expect("the writer runs the holding task");
    release
}

type Acks<T> = Arc<Mutex<Vec<T>>>;

fn ack_into<T: Send + 'static>(
    acks: &Acks<(usize, Result<T, StoreError>)>,
    tag: usize,
) -> Box<dyn FnOnce(Result<T, StoreError>) + Send> {
    let acks = Arc::clone(acks);
    Box::new(move |result| acks.lock().unwrap().push((tag, result)))
}

fn body(producer: usize, index: usize) -> Vec<u8> {
    format!("{producer}/{index}").into_bytes()
}

/// (producer, submission number) -> the seqs it was acknowledged with.
type SeqsBySubmission = BTreeMap<(usize, usize), RangeInclusive<u64>>;

fn many_producers_get_contiguous_seqs_in_submission_order(db: &TestDb) {
    const PRODUCERS: usize = 8;
    const SUBMISSIONS: usize = 300;
    const BATCH: usize = 3;
    let committer = Committer::start(db.open(), CommitterConfig::default()).unwrap();
    // (producer, submission) -> seqs it got
    let acked: Arc<Mutex<SeqsBySubmission>> = Arc::default();
    let mut expected_bodies = BTreeMap::new();
    std::thread::scope(|scope| {
        for producer in 0..PRODUCERS {
            let handle = committer.handle();
            let acked = Arc::clone(&acked);
            scope.spawn(move || {
                let mut index = 0;
                for submission in 0..SUBMISSIONS {
                    let acked = Arc::clone(&acked);
                    if submission % 7 == 6 {
                        let records =
                            (index..index + BATCH).map(|i| NewRecord::new("batch", body(producer, i))).collect();
                        index += BATCH;
                        handle.submit_batch(
                            records,
                            Box::new(move |result| {
                                acked.lock().unwrap().insert((producer, submission), result.unwrap());
                            }),
                        );
                    } else {
                        let record = NewRecord::new("one", body(producer, index));
                        index += 1;
                        handle.submit(
                            record,
                            Box::new(move |result| {
                                let seq = result.unwrap();
                                acked.lock().unwrap().insert((producer, submission), seq..=seq);
                            }),
                        );
                    }
                }
            });
        }
    });
    let handle = committer.handle();
    let mut store = committer.shutdown().unwrap();
    let stats = handle.stats();
    let acked = acked.lock().unwrap();
    assert_eq!(acked.len(), PRODUCERS * SUBMISSIONS, "every submission acknowledged once");

    // Each producer's submissions got increasing seqs, in the order it submitted them.
    for producer in 0..PRODUCERS {
        let ranges: Vec<&RangeInclusive<u64>> = (0..SUBMISSIONS).map(|s| &acked[&(producer, s)]).collect();
        assert!(ranges.windows(2).all(|pair| pair[0].end() < pair[1].start()), "producer {producer} out of order");
        let mut index = 0;
        for range in ranges {
            for seq in range.clone() {
                expected_bodies.insert(seq, body(producer, index));
                index += 1;
            }
        }
    }
    // Together the seqs are exactly 1..=N, and each holds the body that was acknowledged.
    let total = expected_bodies.len() as u64;
    assert_eq!(expected_bodies.keys().copied().collect::<Vec<_>>(), (1..=total).collect::<Vec<_>>());
    let records: Vec<Record> = store.read_after(0, usize::MAX).unwrap();
    assert_eq!(records.len() as u64, total);
    for record in &records {
        assert_eq!(record.body, expected_bodies[&record.seq], "seq {}", record.seq);
    }
    assert_eq!(stats.records_committed, total);
    assert_eq!(stats.last_seq, total);
    assert_eq!(stats.ack_panics, 0);
}

fn records_queued_during_a_commit_share_the_next_one(db: &TestDb) {
    let committer = Committer::start(db.open(), CommitterConfig::default()).unwrap();
    let handle = committer.handle();
    let release = hold_writer(&handle);
    let acks: Acks<(usize, Result<u64, StoreError>)> = Arc::default();
    let batch_acks: Acks<(usize, Result<RangeInclusive<u64>, StoreError>)> = Arc::default();
    for i in 0..100 {
        handle.submit(NewRecord::new("one", body(0, i)), ack_into(&acks, i));
    }
    handle.submit_batch(vec![NewRecord::new("batch", "x"); 10], ack_into(&batch_acks, 100));
    assert!(acks.lock().unwrap().is_empty(), "nothing is acknowledged before it is committed");
    drop(release);
    let mut store = committer.shutdown().unwrap();

    let acks = acks.lock().unwrap();
    let seqs: Vec<u64> = acks.iter().map(|(_, result)| *result.as_ref().unwrap()).collect();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>(), "acked in seq order, which is submission order");
    assert_eq!(batch_acks.lock().unwrap()[0].1.as_ref().unwrap(), &(101..=110));
    assert_eq!(store.last_seq().unwrap(), 110);
    assert_eq!(handle.stats().commits, 1, "everything queued during the held commit went into one");
    let records = store.read_after(0, 200).unwrap();
    assert!(records.iter().all(|r| r.at_ms == records[0].at_ms), "one transaction");
}

fn shutdown_commits_everything_queued(db: &TestDb) {
    let committer = Committer::start(db.open(), CommitterConfig::default()).unwrap();
    let acks: Acks<(usize, Result<u64, StoreError>)> = Arc::default();
    std::thread::scope(|scope| {
        for producer in 0..2 {
            let handle = committer.handle();
            let acks = Arc::clone(&acks);
            scope.spawn(move || {
                for i in 0..1000 {
                    handle.submit(NewRecord::new("one", body(producer, i)), ack_into(&acks, i));
                }
            });
        }
    });
    // Submitted, not necessarily committed: shutdown must finish the job.
    let mut store = committer.shutdown().unwrap();
    let acks = acks.lock().unwrap();
    assert_eq!(acks.len(), 2000);
    assert!(acks.iter().all(|(_, result)| result.is_ok()));
    assert_eq!(store.last_seq().unwrap(), 2000);
}

fn memory_committer(config: CommitterConfig) -> Committer {
    Committer::start(open(":memory:").unwrap(), config).unwrap()
}

#[test]
fn commits_respect_the_batch_limits() {
    let config = CommitterConfig { batch_records_max: 10, ..CommitterConfig::default() };
    let committer = memory_committer(config);
    let handle = committer.handle();
    let release = hold_writer(&handle);
    let acks: Acks<(usize, Result<u64, StoreError>)> = Arc::default();
    for i in 0..35 {
        handle.submit(NewRecord::new("one", "x"), ack_into(&acks, i));
    }
    // Larger than a commit may be: committed alone, whole.
    let batch_acks: Acks<(usize, Result<RangeInclusive<u64>, StoreError>)> = Arc::default();
    handle.submit_batch(vec![NewRecord::new("batch", "x"); 25], ack_into(&batch_acks, 0));
    drop(release);
    assert_eq!(handle.submit_wait(NewRecord::new("last", "x")).unwrap(), 61);
    // 10 + 10 + 10 + 5, then the batch of 25 alone, then the last record.
    assert_eq!(handle.stats().commits, 6);
    assert_eq!(batch_acks.lock().unwrap()[0].1.as_ref().unwrap(), &(36..=60));

    let config = CommitterConfig { batch_bytes_max: 100, ..CommitterConfig::default() };
    let committer = memory_committer(config);
    let handle = committer.handle();
    let release = hold_writer(&handle);
    for i in 0..5 {
        handle.submit(NewRecord::new("one", vec![b'x'; 40]), ack_into(&acks, i));
    }
    drop(release);
    committer.shutdown().unwrap();
    assert_eq!(handle.stats().commits, 3, "two 40-byte records per 100-byte commit");
}

#[test]
fn a_full_queue_blocks_submit_and_hands_back_try_submit() {
    let config = CommitterConfig { queue_records_max: 4, ..CommitterConfig::default() };
    let committer = memory_committer(config);
    let handle = committer.handle();
    let release = hold_writer(&handle);
    let acks: Acks<(usize, Result<u64, StoreError>)> = Arc::default();
    for i in 0..4 {
        handle.try_submit(NewRecord::new("one", "x"), ack_into(&acks, i)).unwrap();
    }
    assert_eq!(handle.stats().records_queued, 4);
    let Err(QueueFull((record, ack))) = handle.try_submit(NewRecord::new("fifth", "5"), ack_into(&acks, 4)) else {
        panic!("the queue holds 4 records at most");
    };
    assert_eq!(record, NewRecord::new("fifth", "5"));
    assert!(acks.lock().unwrap().is_empty(), "a handed-back ack is not called");

    let submitted = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            handle.submit(record, ack);
            submitted.store(true, Ordering::SeqCst);
        });
        // Not a timing assertion: a blocked submit stays blocked however long we look.
        std::thread::sleep(Duration::from_millis(100));
        assert!(!submitted.load(Ordering::SeqCst), "submit waits while the queue is full");
        drop(release);
    });
    committer.shutdown().unwrap();
    let acks = acks.lock().unwrap();
    let seqs: BTreeMap<usize, u64> = acks.iter().map(|(tag, result)| (*tag, *result.as_ref().unwrap())).collect();
    assert_eq!(seqs, BTreeMap::from([(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]));

    // A submission larger than the whole queue could never go in: refused at once.
    let committer = memory_committer(config);
    let error = committer.handle().submit_batch_wait(vec![NewRecord::new("k", "x"); 5]).unwrap_err();
    assert!(error.to_string().contains("can never fit the queue"), "{error}");
}

#[test]
fn an_invalid_record_fails_alone_and_at_once() {
    let committer = memory_committer(CommitterConfig::default());
    let handle = committer.handle();
    let release = hold_writer(&handle);
    let acks: Acks<(usize, Result<u64, StoreError>)> = Arc::default();
    handle.submit(NewRecord::new("ok", "1"), ack_into(&acks, 0));
    handle.submit(NewRecord::new("", "bad"), ack_into(&acks, 1));
    {
        let acks = acks.lock().unwrap();
        assert_eq!(acks.len(), 1, "refused before the writer sees it");
        assert!(matches!(acks[0], (1, Err(StoreError::Invalid { .. }))));
    }
    handle.submit(NewRecord::new("ok", "2"), ack_into(&acks, 2));
    drop(release);
    assert!(matches!(handle.submit_batch_wait(Vec::new()), Err(StoreError::Invalid { .. })));
    committer.shutdown().unwrap();
    let acks = acks.lock().unwrap();
    assert!(matches!(acks[1], (0, Ok(1))) && matches!(acks[2], (2, Ok(2))), "{acks:?}");
}

/// A store whose `append` fails on call number `fail_on` (counting from 1).
struct FailingStore {
    inner: Box<dyn Store>,
    calls: usize,
    fail_on: usize,
}

impl Store for FailingStore {
    fn append(&mut self, records: &[NewRecord]) -> Result<RangeInclusive<u64>, StoreError> {
        self.calls += 1;
        if self.calls == self.fail_on {
            return Err(StoreError::Invalid { what: "test", reason: "injected failure".into() });
        }
        self.inner.append(records)
    }
    fn read_after(&mut self, after_seq: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.inner.read_after(after_seq, limit)
    }
    fn last_seq(&mut self) -> Result<u64, StoreError> {
        self.inner.last_seq()
    }
    fn save_snapshot(&mut self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.save_snapshot(seq, bytes)
    }
    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.inner.latest_snapshot()
    }
    fn get_meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.get_meta(key)
    }
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.inner.set_meta(key, value)
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn location(&self) -> &str {
        self.inner.location()
    }
}

#[test]
fn a_failed_commit_stops_the_committer() {
    let store = FailingStore { inner: open(":memory:").unwrap(), calls: 0, fail_on: 2 };
    let config = CommitterConfig { batch_records_max: 2, ..CommitterConfig::default() };
    let committer = Committer::start(Box::new(store), config).unwrap();
    let handle = committer.handle();
    assert_eq!(handle.submit_wait(NewRecord::new("k", "1")).unwrap(), 1);

    let release = hold_writer(&handle);
    let acks: Acks<(usize, Result<u64, StoreError>)> = Arc::default();
    for i in 0..4 {
        handle.submit(NewRecord::new("k", "x"), ack_into(&acks, i));
    }
    drop(release);
    let error = handle.submit_wait(NewRecord::new("k", "late")).unwrap_err();
    assert!(matches!(&error, StoreError::Stopped { first } if first.to_string().contains("injected")), "{error}");
    assert!(matches!(handle.run_wait(|store| store.last_seq()), Err(StoreError::Stopped { .. })));

    let acks = acks.lock().unwrap();
    // The failed commit (records 0 and 1) gets the failure itself, the next one is not tried.
    assert!(acks[..2].iter().all(|(_, r)| matches!(r, Err(StoreError::Invalid { .. }))), "{acks:?}");
    assert!(acks[2..].iter().all(|(_, r)| matches!(r, Err(StoreError::Stopped { .. }))), "{acks:?}");
    let mut store = committer.shutdown().unwrap();
    assert_eq!(store.last_seq().unwrap(), 1);
}

#[test]
fn a_panicking_ack_does_not_stop_the_writer() {
    let committer = memory_committer(CommitterConfig::default());
    let handle = committer.handle();
    let release = hold_writer(&handle);
    handle.submit(NewRecord::new("k", "1"), Box::new(|_| panic!("a buggy ack (expected in this test)")));
    let acks: Acks<(usize, Result<u64, StoreError>)> = Arc::default();
    handle.submit(NewRecord::new("k", "2"), ack_into(&acks, 1));
    drop(release);
    assert_eq!(handle.submit_wait(NewRecord::new("k", "3")).unwrap(), 3);
    assert!(matches!(acks.lock().unwrap()[0], (1, Ok(2))), "the ack after the panicking one is called");
    assert_eq!(handle.stats().ack_panics, 1);
}

#[test]
fn tasks_run_between_commits_in_log_order() {
    let committer = memory_committer(CommitterConfig::default());
    let handle = committer.handle();
    let (sender, received) = mpsc::channel();
    handle.submit(NewRecord::new("k", "1"), Box::new(move |result| sender.send(result).unwrap()));
    let last_seen_by_task = handle
        .run_wait(|store| {
            let last = store.last_seq()?;
            store.save_snapshot(last, b"state after 1")?;
            store.set_meta("token", "abc")?;
            Ok(last)
        })
        .unwrap();
    assert_eq!(last_seen_by_task, 1, "the task runs after what was submitted before it");
    assert_eq!(received.recv().unwrap().unwrap(), 1);
    assert_eq!(handle.submit_wait(NewRecord::new("k", "2")).unwrap(), 2);
    let mut store = committer.shutdown().unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), Some((1, b"state after 1".to_vec())));
    assert_eq!(store.get_meta("token").unwrap().as_deref(), Some("abc"));
}

#[test]
fn a_shut_down_committer_refuses_everything() {
    let committer = memory_committer(CommitterConfig::default());
    let handle = committer.handle();
    handle.submit_wait(NewRecord::new("k", "1")).unwrap();
    let mut store = committer.shutdown().unwrap();
    assert!(matches!(handle.submit_wait(NewRecord::new("k", "2")), Err(StoreError::Closed)));
    assert!(matches!(handle.submit_batch_wait(vec![NewRecord::new("k", "2")]), Err(StoreError::Closed)));
    assert!(matches!(handle.run_wait(|store| store.last_seq()), Err(StoreError::Closed)));
    let (sender, received) = mpsc::channel();
    assert!(handle.try_submit(NewRecord::new("k", "3"), Box::new(move |r| sender.send(r).unwrap())).is_ok());
    assert!(matches!(received.recv().unwrap(), Err(StoreError::Closed)), "the ack is still called, with the refusal");
    assert_eq!(store.last_seq().unwrap(), 1);
}

#[test]
fn a_nonsensical_configuration_is_refused() {
    for config in [
        CommitterConfig { batch_records_max: 0, ..CommitterConfig::default() },
        CommitterConfig { batch_bytes_max: usize::MAX, ..CommitterConfig::default() },
        CommitterConfig { queue_records_max: 0, ..CommitterConfig::default() },
    ] {
        let error = Committer::start(open(":memory:").unwrap(), config).err().expect("refused");
        assert!(matches!(error, StoreError::Invalid { .. }), "{error}");
    }
}
