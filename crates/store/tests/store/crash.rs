//! Crash safety: SIGKILL the writing process mid-stream, reopen, find every acknowledged record.
//!
//! The child is this very test binary, re-executed with `crash_child` as the only test and
//! the store location in the environment (see `xinyong_store::crash_test`).

use std::process::{Command, Stdio};
use std::time::Duration;

use xinyong_store::crash_test::{self, Acked, ChildPlan};

use crate::common::TestDb;

const CHILD_LOCATION_ENV: &str = "XINYONG_STORE_CRASH_CHILD_LOCATION";
const CHILD_RUN_ENV: &str = "XINYONG_STORE_CRASH_CHILD_RUN";
/// Killed children, each after a different number of acks and a different delay (so that the
/// kill lands at different points of the commit/acknowledge cycle), on the same store.
const ROUNDS: u32 = 4;
const KILL_DELAYS_MS: [u64; ROUNDS as usize] = [0, 3, 11, 29];
const PRODUCERS: u32 = 4;

/// The child half. Does nothing unless the parent set the environment; ignored so that a plain
/// `cargo test` does not even list it as run.
#[test]
#[ignore = "the child half of the crash tests, started by them"]
fn crash_child() {
    let Ok(location) = std::env::var(CHILD_LOCATION_ENV) else {
        return;
    };
    let run = std::env::var(CHILD_RUN_ENV).expect("run number").parse().expect("run number");
    // Far more than the parent lets it write before the kill.
    let plan = ChildPlan { run, producers: PRODUCERS, records_per_producer: 1_000_000, batch_every: 10 };
    crash_test::write_until_killed(&location, plan, Box::new(std::io::stdout())).expect("child writes");
}

fn killed_mid_stream_every_acknowledged_record_survives(db: &TestDb) {
    let mut all_acked: Vec<Acked> = Vec::new();
    for run in 0..ROUNDS {
        let kill_after = 1_500 + 1_000 * run as usize;
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "crash::crash_child", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_LOCATION_ENV, &db.location)
            .env(CHILD_RUN_ENV, run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the child");
        let stdout = child.stdout.take().expect("piped stdout");
        // Child::kill is SIGKILL on Unix.
        let kill_delay = Duration::from_millis(KILL_DELAYS_MS[run as usize]);
        let (acked, killed) =
            crash_test::collect_acks(stdout, kill_after, kill_delay, || child.kill().expect("SIGKILL the child"));
        let output = child.wait_with_output().expect("wait for the child");
        assert!(
            killed,
            "run {run}: the child stopped after {} acks, before the kill ({:?}); stderr:\n{}",
            acked.len(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(acked.len() >= kill_after);
        all_acked.extend(acked);

        // Reopen as the restarted service would, and check every promise made so far.
        let mut store = db.open();
        let verified = crash_test::verify_acked(store.as_mut(), &all_acked)
            .unwrap_or_else(|problems| panic!("run {run}: {problems}"));
        assert!(verified.records >= all_acked.len() as u64);
        eprintln!(
            "crash run {run} on {}: killed after {} acks; {} acknowledged in all, {} records in the log",
            db.backend(),
            kill_after,
            verified.acked,
            verified.records
        );
    }
}

#[test]
fn on_sqlite_killed_mid_stream_every_acknowledged_record_survives() {
    killed_mid_stream_every_acknowledged_record_survives(&TestDb::sqlite());
}

#[test]
fn on_postgres_killed_mid_stream_every_acknowledged_record_survives() {
    if let Some(db) = TestDb::postgres("crash") {
        killed_mid_stream_every_acknowledged_record_survives(&db);
    }
}
