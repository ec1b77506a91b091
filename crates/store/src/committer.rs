//! Group commit: many producers, one writer thread, one transaction per drained batch.
//!
//! A durable commit costs an fsync (SQLite) or a WAL flush and a round trip (PostgreSQL):
//! milliseconds, whatever the number of records. So the writer thread takes *everything*
//! queued while the previous commit was syncing (up to [`CommitterConfig::batch_records_max`]
//! records and [`CommitterConfig::batch_bytes_max`] bytes), appends it in one transaction,
//! then acknowledges each producer in seq order. Under load the batch grows by itself and the
//! cost per record falls; at low load a record waits for at most one commit in progress.
//!
//! Rules that callers can rely on:
//!
//! * **Exactly once.** Every ack and every task is called exactly once: `Ok` after the
//!   record is durable, or `Err` (invalid record, committer shut down or stopped, failed
//!   commit). An ack may be called before `submit` returns (on an immediate error).
//! * **Order.** Records get seqs in the order their submissions entered the queue: if
//!   `submit(a)` returns before `submit(b)` starts, then `seq(a) < seq(b)`. A batch gets
//!   contiguous seqs, never interleaved with others. Acks run on the writer thread, one after
//!   the other in seq order, so they must be quick (send on a channel); a slow ack delays the
//!   next commit. A panicking ack is caught and counted ([`CommitterStats::ack_panics`]). An
//!   ack or task must not call the blocking `submit*`/`run*` of its own committer: with a full
//!   queue the writer would wait for itself (use `try_submit*`).
//! * **Backpressure.** The queue holds at most [`CommitterConfig::queue_records_max`]
//!   records and [`CommitterConfig::queue_bytes_max`] body bytes. Beyond that `submit`
//!   blocks and `try_submit` hands the record back ([`QueueFull`]); an async caller should
//!   use the latter (or `spawn_blocking`) and answer "busy". Memory in use is bounded by the
//!   queue limits plus one batch in flight.
//! * **Fail-stop.** If a commit fails, its records are refused (`Err`) and the committer
//!   writes nothing more: every later submission gets [`StoreError::Stopped`]. After a
//!   failure the caller's in-memory state may be ahead of the log, and the fix (a full disk,
//!   a lost connection) needs a person anyway; restarting replays the log. Note that a failed
//!   commit is "not acknowledged", not "certainly absent": an I/O error during the fsync can
//!   leave the records on disk.
//! * **Clean shutdown.** [`Committer::shutdown`] refuses new submissions, commits everything
//!   already queued, acknowledges it, and hands the store back.

use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;

use crate::{MAX_APPEND_BYTES, MAX_APPEND_RECORDS, NewRecord, Store, StoreError, validate_append, validate_record};

/// Called once with the seq of the record, or why it was not written.
pub type Ack = Box<dyn FnOnce(Result<u64, StoreError>) + Send>;
/// Called once with the seqs of the whole batch, or why it was not written.
pub type BatchAck = Box<dyn FnOnce(Result<RangeInclusive<u64>, StoreError>) + Send>;
/// Runs once on the writer thread, in queue order, with the store (or why it cannot have it).
pub type Task = Box<dyn FnOnce(Result<&mut dyn Store, StoreError>) + Send>;

/// Limits of a [`Committer`]. The defaults suit the service; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitterConfig {
    /// Most records waiting in the queue (a task counts as one).
    pub queue_records_max: usize,
    /// Most record body bytes waiting in the queue.
    pub queue_bytes_max: usize,
    /// Most records in one commit (a larger `submit_batch` is committed alone, whole).
    pub batch_records_max: usize,
    /// Most body bytes in one commit (same exception).
    pub batch_bytes_max: usize,
}

impl Default for CommitterConfig {
    fn default() -> Self {
        CommitterConfig {
            queue_records_max: 65_536,
            queue_bytes_max: 64 << 20,
            batch_records_max: 4096,
            batch_bytes_max: 8 << 20,
        }
    }
}

impl CommitterConfig {
    fn validate(&self) -> Result<(), StoreError> {
        let problem = if self.batch_records_max == 0 || self.batch_records_max > MAX_APPEND_RECORDS {
            Some(format!("batch_records_max must be 1..={MAX_APPEND_RECORDS}"))
        } else if self.batch_bytes_max == 0 || self.batch_bytes_max > MAX_APPEND_BYTES {
            Some(format!("batch_bytes_max must be 1..={MAX_APPEND_BYTES}"))
        } else if self.queue_records_max == 0 || self.queue_bytes_max == 0 {
            Some("queue limits must be positive".to_string())
        } else {
            None
        };
        match problem {
            Some(reason) => Err(StoreError::invalid("committer configuration", reason)),
            None => Ok(()),
        }
    }
}

/// Counters for monitoring (and for tests that check batching happened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitterStats {
    /// Successful `append` calls (transactions).
    pub commits: u64,
    /// Records in those commits.
    pub records_committed: u64,
    /// Seq of the last committed record (0 before the first commit of this committer).
    pub last_seq: u64,
    /// Records (and tasks) waiting in the queue now.
    pub records_queued: usize,
    /// Acks and tasks that panicked (caught; the writer went on).
    pub ack_panics: u64,
}

/// `try_submit*` found the queue full; here is what was not submitted (the ack was not called).
pub struct QueueFull<T>(pub T);

impl<T> std::fmt::Debug for QueueFull<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("QueueFull(..)")
    }
}

impl<T> std::fmt::Display for QueueFull<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("the commit queue is full: retry later")
    }
}

impl<T> std::error::Error for QueueFull<T> {}

enum Job {
    One { record: NewRecord, ack: Ack },
    Batch { records: Vec<NewRecord>, ack: BatchAck },
    Task(Task),
}

impl Job {
    /// Queue cost in records; a task counts as one so that tasks are bounded too.
    fn records(&self) -> usize {
        match self {
            Job::One { .. } | Job::Task(_) => 1,
            Job::Batch { records, .. } => records.len(),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Job::One { record, .. } => record.body.len(),
            Job::Batch { records, .. } => records.iter().map(|record| record.body.len()).sum(),
            Job::Task(_) => 0,
        }
    }

    /// Answers the job with an error, without touching the store.
    fn refuse(self, error: StoreError) -> Option<ThreadPanic> {
        match self {
            Job::One { ack, .. } => call_guarded(|| ack(Err(error))),
            Job::Batch { ack, .. } => call_guarded(|| ack(Err(error))),
            Job::Task(task) => call_guarded(|| task(Err(error))),
        }
    }
}

struct ThreadPanic;

/// Runs an ack or task, catching a panic so that one bad callback cannot stop the writer.
fn call_guarded(callback: impl FnOnce()) -> Option<ThreadPanic> {
    catch_unwind(AssertUnwindSafe(callback)).err().map(|_| ThreadPanic)
}

struct Queue {
    jobs: VecDeque<Job>,
    records: usize,
    bytes: usize,
    /// No new submissions (shutdown, or the writer thread is gone).
    closed: bool,
    /// The first failed commit; everything after it is refused.
    stopped: Option<StoreError>,
}

struct Shared {
    config: CommitterConfig,
    queue: Mutex<Queue>,
    /// Signalled when a job is queued or the queue is closed.
    work_ready: Condvar,
    /// Signalled when the writer takes jobs out of the queue.
    space_ready: Condvar,
    commits: AtomicU64,
    records_committed: AtomicU64,
    last_seq: AtomicU64,
    ack_panics: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // No callback ever runs under this lock, so a poisoned lock only means a panic in this
        // module's own bookkeeping; the queue is still consistent enough to drain.
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `job`, waiting for room if `wait`; gives it back if the queue is full and not
    /// `wait`. Refuses it (calling its ack) if the committer is closed or stopped.
    fn enqueue(&self, job: Job, wait: bool) -> Result<(), Job> {
        if let Err(error) = check_submission(&job) {
            self.count_panic(job.refuse(error));
            return Ok(());
        }
        let records = job.records();
        let bytes = job.bytes();
        let config = &self.config;
        if records > config.queue_records_max || bytes > config.queue_bytes_max {
            let reason = format!(
                "a submission of {records} records and {bytes} bytes can never fit the queue \
                 (queue_records_max = {}, queue_bytes_max = {}): split it",
                config.queue_records_max, config.queue_bytes_max
            );
            self.count_panic(job.refuse(StoreError::invalid("submission", reason)));
            return Ok(());
        }
        let mut queue = self.lock();
        loop {
            if queue.closed {
                drop(queue);
                self.count_panic(job.refuse(StoreError::Closed));
                return Ok(());
            }
            if let Some(first) = &queue.stopped {
                let error = StoreError::Stopped { first: Box::new(first.clone()) };
                drop(queue);
                self.count_panic(job.refuse(error));
                return Ok(());
            }
            let fits =
                queue.records + records <= config.queue_records_max && queue.bytes + bytes <= config.queue_bytes_max;
            if fits {
                break;
            }
            if !wait {
                return Err(job);
            }
            queue = self.space_ready.wait(queue).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        queue.records += records;
        queue.bytes += bytes;
        queue.jobs.push_back(job);
        drop(queue);
        self.work_ready.notify_one();
        Ok(())
    }

    fn count_panic(&self, panic: Option<ThreadPanic>) {
        if panic.is_some() {
            self.ack_panics.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.work_ready.notify_all();
        self.space_ready.notify_all();
    }
}

/// Owns the store on a dedicated writer thread. See the module docs.
///
/// ```
/// use xinyong_store::{open, Committer, CommitterConfig, NewRecord};
///
/// let committer = Committer::start(open(":memory:")?, CommitterConfig::default())?;
/// let handle = committer.handle(); // Clone it into every producer.
/// let seq = handle.submit_wait(NewRecord::new("order", "{}"))?;
/// assert_eq!(seq, 1);
/// let mut store = committer.shutdown()?; // Flushes, then gives the store back.
/// assert_eq!(store.last_seq()?, 1);
/// # Ok::<(), xinyong_store::StoreError>(())
/// ```
pub struct Committer {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<Box<dyn Store>>>,
}

/// Cheap, cloneable access to a [`Committer`] for producers.
#[derive(Clone)]
pub struct CommitHandle {
    shared: Arc<Shared>,
}

impl Committer {
    /// Starts the writer thread, which owns `store` until [`Committer::shutdown`].
    pub fn start(store: Box<dyn Store>, config: CommitterConfig) -> Result<Committer, StoreError> {
        config.validate()?;
        let shared = Arc::new(Shared {
            config,
            queue: Mutex::new(Queue { jobs: VecDeque::new(), records: 0, bytes: 0, closed: false, stopped: None }),
            work_ready: Condvar::new(),
            space_ready: Condvar::new(),
            commits: AtomicU64::new(0),
            records_committed: AtomicU64::new(0),
            last_seq: AtomicU64::new(0),
            ack_panics: AtomicU64::new(0),
        });
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("xinyong-store-writer".to_string())
            .spawn(move || write_loop(&writer_shared, store))
            .map_err(|error| StoreError::invalid("committer", format!("cannot start the writer thread: {error}")))?;
        Ok(Committer { shared, writer: Some(writer) })
    }

    /// A handle for producers; it stays valid (refusing with [`StoreError::Closed`]) after
    /// shutdown.
    pub fn handle(&self) -> CommitHandle {
        CommitHandle { shared: Arc::clone(&self.shared) }
    }

    /// Refuses new submissions, commits and acknowledges everything already queued, stops the
    /// writer thread and returns the store. Errs only if the writer thread panicked (a bug).
    pub fn shutdown(mut self) -> Result<Box<dyn Store>, StoreError> {
        self.shared.close();
        let writer = self.writer.take().expect("the writer is joined only here or in drop");
        writer.join().map_err(|panic| StoreError::WriterPanicked { message: panic_message(&panic) })
    }
}

impl Drop for Committer {
    /// Same as [`Committer::shutdown`], dropping the store.
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            self.shared.close();
            let _ = writer.join();
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_string()
    }
}

impl CommitHandle {
    /// Queues one record (blocking while the queue is full); `ack` gets its seq once durable.
    pub fn submit(&self, record: NewRecord, ack: Ack) {
        let _ = self.shared.enqueue(Job::One { record, ack }, true);
    }

    /// Queues records to be appended together, in one transaction, with contiguous seqs.
    pub fn submit_batch(&self, records: Vec<NewRecord>, ack: BatchAck) {
        let _ = self.shared.enqueue(Job::Batch { records, ack }, true);
    }

    /// Like [`CommitHandle::submit`], but never blocks: a full queue hands record and ack back.
    pub fn try_submit(&self, record: NewRecord, ack: Ack) -> Result<(), QueueFull<(NewRecord, Ack)>> {
        match self.shared.enqueue(Job::One { record, ack }, false) {
            Ok(()) => Ok(()),
            Err(Job::One { record, ack }) => Err(QueueFull((record, ack))),
            Err(_) => unreachable!("enqueue gives back the job it was given"),
        }
    }

    /// Like [`CommitHandle::submit_batch`], but never blocks.
    pub fn try_submit_batch(
        &self,
        records: Vec<NewRecord>,
        ack: BatchAck,
    ) -> Result<(), QueueFull<(Vec<NewRecord>, BatchAck)>> {
        match self.shared.enqueue(Job::Batch { records, ack }, false) {
            Ok(()) => Ok(()),
            Err(Job::Batch { records, ack }) => Err(QueueFull((records, ack))),
            Err(_) => unreachable!("enqueue gives back the job it was given"),
        }
    }

    /// Runs `task` on the writer thread with the store, after every record submitted before it
    /// is committed and before any submitted after it: for snapshots and meta while the
    /// committer owns the store. The task gets `Err` instead if the committer is shut down or
    /// stopped. It holds up commits while it runs.
    pub fn run(&self, task: Task) {
        let _ = self.shared.enqueue(Job::Task(task), true);
    }

    /// Submits one record and blocks until it is durable. For tools and tests.
    pub fn submit_wait(&self, record: NewRecord) -> Result<u64, StoreError> {
        let (sender, receiver) = mpsc::sync_channel(1);
        self.submit(
            record,
            Box::new(move |result| {
                let _ = sender.send(result);
            }),
        );
        receiver.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// Submits a batch and blocks until it is durable. For tools and tests.
    pub fn submit_batch_wait(&self, records: Vec<NewRecord>) -> Result<RangeInclusive<u64>, StoreError> {
        let (sender, receiver) = mpsc::sync_channel(1);
        self.submit_batch(
            records,
            Box::new(move |result| {
                let _ = sender.send(result);
            }),
        );
        receiver.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// [`CommitHandle::run`], waiting for the task's result.
    pub fn run_wait<T: Send + 'static>(
        &self,
        task: impl FnOnce(&mut dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (sender, receiver) = mpsc::sync_channel(1);
        self.run(Box::new(move |store| {
            let _ = sender.send(store.and_then(task));
        }));
        receiver.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// Counters, read now.
    pub fn stats(&self) -> CommitterStats {
        let records_queued = self.shared.lock().records;
        CommitterStats {
            commits: self.shared.commits.load(Ordering::Relaxed),
            records_committed: self.shared.records_committed.load(Ordering::Relaxed),
            last_seq: self.shared.last_seq.load(Ordering::Relaxed),
            records_queued,
            ack_panics: self.shared.ack_panics.load(Ordering::Relaxed),
        }
    }
}

/// What the writer took from the queue in one go.
enum Work {
    Records(Vec<Job>),
    Task(Task),
}

/// Closes the queue and refuses what is left if the writer thread unwinds, so that no producer
/// waits forever on a dead writer.
struct WriterGuard<'a> {
    shared: &'a Shared,
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let jobs: Vec<Job> = {
            let mut queue = self.shared.lock();
            queue.closed = true;
            queue.records = 0;
            queue.bytes = 0;
            queue.jobs.drain(..).collect()
        };
        self.shared.space_ready.notify_all();
        for job in jobs {
            let error = StoreError::WriterPanicked { message: "while committing an earlier batch".to_string() };
            let _ = job.refuse(error);
        }
    }
}

fn write_loop(shared: &Shared, mut store: Box<dyn Store>) -> Box<dyn Store> {
    let _guard = WriterGuard { shared };
    while let Some((work, stopped)) = take_work(shared) {
        match (work, stopped) {
            (Work::Task(task), None) => shared.count_panic(call_guarded(|| task(Ok(store.as_mut())))),
            (Work::Task(task), Some(first)) => {
                shared.count_panic(call_guarded(|| task(Err(StoreError::Stopped { first: Box::new(first) }))))
            }
            (Work::Records(jobs), Some(first)) => {
                for job in jobs {
                    shared.count_panic(job.refuse(StoreError::Stopped { first: Box::new(first.clone()) }));
                }
            }
            (Work::Records(jobs), None) => commit(shared, store.as_mut(), jobs),
        }
    }
    store
}

/// Waits for work; `None` once the queue is closed and empty. Also returns the stop error, read
/// under the same lock.
fn take_work(shared: &Shared) -> Option<(Work, Option<StoreError>)> {
    let config = &shared.config;
    let mut queue = shared.lock();
    while queue.jobs.is_empty() && !queue.closed {
        queue = shared.work_ready.wait(queue).unwrap_or_else(|poisoned| poisoned.into_inner());
    }
    let stopped = queue.stopped.clone();
    let first = queue.jobs.pop_front()?;
    let mut records_taken = first.records();
    let mut bytes_taken = first.bytes();
    let work = match first {
        Job::Task(task) => Work::Task(task),
        first => {
            let mut jobs = vec![first];
            while let Some(next) = queue.jobs.front() {
                let fits = !matches!(next, Job::Task(_))
                    && records_taken + next.records() <= config.batch_records_max
                    && bytes_taken + next.bytes() <= config.batch_bytes_max;
                if !fits {
                    break;
                }
                records_taken += next.records();
                bytes_taken += next.bytes();
                jobs.push(queue.jobs.pop_front().expect("front exists"));
            }
            Work::Records(jobs)
        }
    };
    queue.records -= records_taken;
    queue.bytes -= bytes_taken;
    drop(queue);
    shared.space_ready.notify_all();
    Some((work, stopped))
}

/// The acknowledgement owed for `count` records of a commit.
enum PendingAck {
    One(Ack),
    Batch(BatchAck, usize),
}

/// Appends the records of `jobs` in one transaction, then acknowledges them in seq order.
fn commit(shared: &Shared, store: &mut dyn Store, jobs: Vec<Job>) {
    let mut records = Vec::with_capacity(jobs.iter().map(Job::records).sum());
    let mut acks = Vec::with_capacity(jobs.len());
    for job in jobs {
        match job {
            Job::One { record, ack } => {
                records.push(record);
                acks.push(PendingAck::One(ack));
            }
            Job::Batch { records: batch, ack } => {
                acks.push(PendingAck::Batch(ack, batch.len()));
                records.extend(batch);
            }
            Job::Task(_) => unreachable!("take_work never batches tasks"),
        }
    }
    // A panicking store must not take the acks down with the thread: treat it as a failure.
    let appended = catch_unwind(AssertUnwindSafe(|| store.append(&records)))
        .unwrap_or_else(|panic| Err(StoreError::WriterPanicked { message: panic_message(&panic) }));
    match appended {
        Ok(seqs) => {
            // Postcondition of append: one seq per record, contiguous.
            assert_eq!(
                seqs.end() - seqs.start() + 1,
                records.len() as u64,
                "append returned a range of the wrong length"
            );
            shared.commits.fetch_add(1, Ordering::Relaxed);
            shared.records_committed.fetch_add(records.len() as u64, Ordering::Relaxed);
            shared.last_seq.store(*seqs.end(), Ordering::Relaxed);
            drop(records);
            let mut next_seq = *seqs.start();
            for ack in acks {
                let first = next_seq;
                let panic = match ack {
                    PendingAck::One(ack) => {
                        next_seq += 1;
                        call_guarded(|| ack(Ok(first)))
                    }
                    PendingAck::Batch(ack, count) => {
                        next_seq += count as u64;
                        call_guarded(|| ack(Ok(first..=next_seq - 1)))
                    }
                };
                shared.count_panic(panic);
            }
            assert_eq!(next_seq, seqs.end() + 1, "every seq acknowledged once");
        }
        Err(error) => {
            shared.lock().stopped.get_or_insert_with(|| error.clone());
            for ack in acks {
                let panic = match ack {
                    PendingAck::One(ack) => call_guarded(|| ack(Err(error.clone()))),
                    PendingAck::Batch(ack, _) => call_guarded(|| ack(Err(error.clone()))),
                };
                shared.count_panic(panic);
            }
        }
    }
}

/// Validates what a producer submits before it takes queue space, so that one bad record
/// fails alone instead of failing (and stopping) a whole group commit.
fn check_submission(job: &Job) -> Result<(), StoreError> {
    match job {
        Job::One { record, .. } => validate_record(record),
        Job::Batch { records, .. } => validate_append(records),
        Job::Task(_) => Ok(()),
    }
}
