//! The two halves of the crash-safety test: "SIGKILL the writer during a stream of writes,
//! reopen, and find every acknowledged record".
//!
//! * The **child** ([`write_until_killed`]) appends records through a [`Committer`] from
//!   several producer threads and, from each ack, prints one line `ACKED <seq> <run>
//!   <producer> <index>` to its stdout, flushed at once. A line is printed only after the
//!   record is durable, so every line the parent reads is a promise.
//! * The **parent** reads those lines ([`collect_acks`]), kills the child with SIGKILL in the
//!   middle of the stream, keeps reading to the end of the pipe (lines written before death
//!   are still in it), reopens the store and checks every promise ([`verify_acked`], or
//!   [`records_at`] to compare bodies another way).
//!
//! The store's own test re-executes its test binary as the child. The service-level test
//! kills the server instead, collects the seqs its HTTP client saw acknowledged, and reuses
//! [`verify_acked`]. What SIGKILL proves: nothing acknowledged is lost when the *process*
//! dies at any instant. It does not simulate power loss (the page cache survives a SIGKILL);
//! see `docs/store.md`.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use std::collections::{BTreeMap, BTreeSet};

use crate::{Committer, CommitterConfig, NewRecord, Record, Store, StoreError, open};

/// Start of an acknowledgement line.
pub const ACK_LINE_PREFIX: &str = "ACKED ";
/// `kind` of the records the child writes.
pub const RECORD_KIND: &str = "crash-test";

/// The record the child writes as `index` of `producer` in `run` (deterministic, so that the
/// parent can rebuild it from the ack line and compare bytes).
pub fn record_for(run: u32, producer: u32, index: u64) -> NewRecord {
    NewRecord::new(RECORD_KIND, format!("{{\"run\":{run},\"producer\":{producer},\"index\":{index}}}"))
}

/// What one child writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildPlan {
    /// Distinguishes the records of successive children on the same store.
    pub run: u32,
    /// Producer threads submitting at once.
    pub producers: u32,
    /// Records each producer writes before the child exits on its own (if not killed first).
    pub records_per_producer: u64,
    /// Every this many records a producer submits a batch of [`BATCH_RECORDS`] instead of a
    /// single record (0: singles only).
    pub batch_every: u64,
}

/// Records per `submit_batch` in the child.
pub const BATCH_RECORDS: u64 = 4;

/// The child half: opens `location`, writes as [`ChildPlan`] says, prints one ack line per
/// durable record to `out`, and returns how many records were acknowledged (if not killed).
pub fn write_until_killed(location: &str, plan: ChildPlan, out: Box<dyn Write + Send>) -> Result<u64, StoreError> {
    let committer = Committer::start(open(location)?, CommitterConfig::default())?;
    let out = Arc::new(Mutex::new(out));
    let failures = Arc::new(Mutex::new(Vec::<StoreError>::new()));
    std::thread::scope(|scope| {
        for producer in 0..plan.producers {
            let handle = committer.handle();
            let out = Arc::clone(&out);
            let failures = Arc::clone(&failures);
            scope.spawn(move || {
                let mut index = 0;
                let mut submitted = 0;
                while index < plan.records_per_producer {
                    let batch = plan.batch_every > 0 && submitted % plan.batch_every == plan.batch_every - 1;
                    let count = if batch { BATCH_RECORDS.min(plan.records_per_producer - index) } else { 1 };
                    let first_index = index;
                    let records: Vec<NewRecord> =
                        (first_index..first_index + count).map(|i| record_for(plan.run, producer, i)).collect();
                    let out = Arc::clone(&out);
                    let failures = Arc::clone(&failures);
                    let report = move |result: Result<std::ops::RangeInclusive<u64>, StoreError>| match result {
                        Ok(seqs) => {
                            let mut lines = String::new();
                            for (seq, i) in seqs.zip(first_index..) {
                                lines.push_str(&format!("{ACK_LINE_PREFIX}{seq} {} {producer} {i}\n", plan.run));
                            }
                            let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                            // The parent may have stopped reading; nothing useful to do then.
                            let _ = out.write_all(lines.as_bytes()).and_then(|()| out.flush());
                        }
                        Err(error) => failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(error),
                    };
                    if batch {
                        handle.submit_batch(records, Box::new(report));
                    } else {
                        let record = records.into_iter().next().expect("one record");
                        handle.submit(record, Box::new(move |result| report(result.map(|seq| seq..=seq))));
                    }
                    index += count;
                    submitted += 1;
                }
            });
        }
    });
    committer.shutdown()?;
    if let Some(error) = failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).first() {
        return Err(error.clone());
    }
    Ok(plan.producers as u64 * plan.records_per_producer)
}

/// One acknowledged record, rebuilt from its ack line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    pub seq: u64,
    pub record: NewRecord,
}

/// Parses `ACKED <seq> <run> <producer> <index>`; anything else (test harness chatter, a line
/// cut short by the kill) is `None`.
pub fn parse_ack_line(line: &str) -> Option<Acked> {
    let fields: Vec<&str> = line.strip_prefix(ACK_LINE_PREFIX)?.split(' ').collect();
    let [seq, run, producer, index] = fields.as_slice() else {
        return None;
    };
    Some(Acked {
        seq: seq.parse().ok()?,
        record: record_for(run.parse().ok()?, producer.parse().ok()?, index.parse().ok()?),
    })
}

/// The parent half of the reading: collects ack lines from the child's stdout; once
/// `kill_after` acks have arrived, waits `kill_delay` (while still reading, so that the child
/// keeps committing and the kill lands anywhere in its commit/acknowledge cycle) and calls
/// `kill`; then reads on to the end of the pipe. Returns every ack, and whether `kill` was
/// called (false: the child ended first).
pub fn collect_acks(
    child_stdout: impl Read,
    kill_after: usize,
    kill_delay: Duration,
    kill: impl FnOnce() + Send,
) -> (Vec<Acked>, bool) {
    let (threshold_reached, threshold) = mpsc::channel::<()>();
    let killed = AtomicBool::new(false);
    let mut acked = Vec::new();
    std::thread::scope(|scope| {
        let killed = &killed;
        scope.spawn(move || {
            // An error means the reader finished first: the child ended on its own.
            if threshold.recv().is_ok() {
                std::thread::sleep(kill_delay);
                kill();
                killed.store(true, Ordering::SeqCst);
            }
        });
        let mut threshold_reached = Some(threshold_reached);
        let mut reader = BufReader::new(child_stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            // A line without its newline was cut by the kill: it promises nothing.
            if line.last() != Some(&b'\n') {
                break;
            }
            if let Some(ack) = std::str::from_utf8(&line).ok().and_then(|text| parse_ack_line(text.trim_end())) {
                acked.push(ack);
            }
            if acked.len() >= kill_after
                && let Some(signal) = threshold_reached.take()
            {
                let _ = signal.send(());
            }
        }
        // Dropping the sender (if the threshold was never reached) releases the killer thread.
        drop(threshold_reached);
    });
    (acked, killed.load(Ordering::SeqCst))
}

/// What [`verify_acked`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Acknowledged records, all found.
    pub acked: usize,
    /// Records in the log (acknowledged or committed just before the kill, plus others).
    pub records: u64,
}

/// Checks that every acknowledged record is in `store` at its seq with the same kind and body,
/// that no seq was acknowledged twice, that the log has no gaps, and that no crash-test record
/// was written twice. The error lists the first problems found.
pub fn verify_acked(store: &mut dyn Store, acked: &[Acked]) -> Result<Verified, String> {
    let mut expected: Vec<&Acked> = acked.iter().collect();
    expected.sort_by_key(|ack| ack.seq);
    if let Some(pair) = expected.windows(2).find(|pair| pair[0].seq == pair[1].seq) {
        return Err(format!("seq {} was acknowledged twice", pair[0].seq));
    }
    let mut problems = Vec::new();
    let mut expected = expected.into_iter().peekable();
    let mut bodies_seen = std::collections::HashSet::new();
    let mut after_seq = 0;
    loop {
        // read_after itself fails on a gap in the log.
        let chunk = store.read_after(after_seq, 10_000).map_err(|error| error.to_string())?;
        let Some(last) = chunk.last() else { break };
        after_seq = last.seq;
        for record in &chunk {
            if record.kind == RECORD_KIND && !bodies_seen.insert(record.body.clone()) {
                problems.push(format!(
                    "seq {}: record {:?} written twice",
                    record.seq,
                    String::from_utf8_lossy(&record.body)
                ));
            }
            while let Some(ack) = expected.next_if(|ack| ack.seq <= record.seq) {
                if ack.seq < record.seq {
                    problems.push(format!("acknowledged seq {} is missing", ack.seq));
                } else if ack.record.kind != record.kind || ack.record.body != record.body {
                    problems.push(format!(
                        "seq {} holds {:?}, but {:?} was acknowledged",
                        ack.seq,
                        String::from_utf8_lossy(&record.body),
                        String::from_utf8_lossy(&ack.record.body)
                    ));
                }
            }
        }
    }
    problems
        .extend(expected.map(|ack| format!("acknowledged seq {} is missing (the log ends at {after_seq})", ack.seq)));
    if problems.is_empty() {
        Ok(Verified { acked: acked.len(), records: after_seq })
    } else {
        let shown: Vec<String> = problems.iter().take(10).cloned().collect();
        Err(format!("{} problems, first ones: {}", problems.len(), shown.join("; ")))
    }
}

/// The records at `seqs`, read by scanning the whole log (which also checks it has no gap);
/// fails naming the first missing seqs. For callers that check bodies their own way, e.g. a
/// service whose stored command is not byte for byte what its client sent.
pub fn records_at(store: &mut dyn Store, seqs: &[u64]) -> Result<BTreeMap<u64, Record>, String> {
    let wanted: BTreeSet<u64> = seqs.iter().copied().collect();
    let mut found = BTreeMap::new();
    let mut after_seq = 0;
    loop {
        let chunk = store.read_after(after_seq, 10_000).map_err(|error| error.to_string())?;
        let Some(last) = chunk.last() else { break };
        after_seq = last.seq;
        found
            .extend(chunk.into_iter().filter(|record| wanted.contains(&record.seq)).map(|record| (record.seq, record)));
    }
    let missing: Vec<u64> = wanted.iter().copied().filter(|seq| !found.contains_key(seq)).collect();
    if missing.is_empty() {
        Ok(found)
    } else {
        let shown: Vec<String> = missing.iter().take(10).map(u64::to_string).collect();
        Err(format!(
            "{} acknowledged seqs are missing (the log ends at {after_seq}), first ones: {}",
            missing.len(),
            shown.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_line_rebuilds_its_record() {
        let ack = parse_ack_line("ACKED 12 3 1 7").unwrap();
        assert_eq!(ack, Acked { seq: 12, record: record_for(3, 1, 7) });
        assert_eq!(parse_ack_line("running 1 test"), None);
        assert_eq!(parse_ack_line("ACKED 12 3 1"), None);
        assert_eq!(parse_ack_line("ACKED 12 3 1 x"), None);
    }

    #[test]
    fn a_line_cut_by_the_kill_promises_nothing() {
        let output = b"running 1 test\nACKED 1 0 0 0\nACKED 2 0 0 1\nACKED 3 0 1 0\nACKED 4 0";
        let (acked, killed) = collect_acks(&output[..], 2, Duration::ZERO, || {});
        assert_eq!(acked.iter().map(|ack| ack.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(killed);
        let (acked, killed) = collect_acks(&output[..], 4, Duration::ZERO, || panic!("never reached"));
        assert_eq!(acked.len(), 3);
        assert!(!killed);
    }

    #[test]
    fn verification_finds_missing_and_wrong_records() {
        let mut store = open(":memory:").unwrap();
        store.append(&[record_for(0, 0, 0), record_for(0, 0, 1)]).unwrap();
        let good = [Acked { seq: 1, record: record_for(0, 0, 0) }, Acked { seq: 2, record: record_for(0, 0, 1) }];
        assert_eq!(verify_acked(store.as_mut(), &good), Ok(Verified { acked: 2, records: 2 }));

        let missing = [Acked { seq: 3, record: record_for(0, 0, 2) }];
        let error = verify_acked(store.as_mut(), &missing).unwrap_err();
        assert!(error.contains("acknowledged seq 3 is missing"), "{error}");

        let wrong = [Acked { seq: 2, record: record_for(0, 0, 0) }];
        let error = verify_acked(store.as_mut(), &wrong).unwrap_err();
        assert!(error.contains("seq 2 holds"), "{error}");

        let twice = [good[0].clone(), good[0].clone()];
        assert!(verify_acked(store.as_mut(), &twice).unwrap_err().contains("acknowledged twice"));

        assert_eq!(records_at(store.as_mut(), &[2]).unwrap()[&2].body, record_for(0, 0, 1).body);
        let error = records_at(store.as_mut(), &[1, 5, 4]).unwrap_err();
        assert!(error.contains("2 acknowledged seqs are missing (the log ends at 2), first ones: 4, 5"), "{error}");

        store.append(&[record_for(0, 0, 1)]).unwrap();
        let error = verify_acked(store.as_mut(), &good).unwrap_err();
        assert!(error.contains("written twice"), "{error}");
    }
}
