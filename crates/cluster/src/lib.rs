//! Runs a xinyong simulation on a timely-dataflow cluster (issue 9): `-w` worker threads
//! in each of `-n` processes, possibly on `-n` machines, with the same results as one
//! process.
//!
//! Each timely worker holds one [`Shard`] of the run: the members of a contiguous range of
//! interest groups (everything else — the groupless, the KOLs, the catalogue, every group's
//! size — is replicated and kept identical by running the same steps on the same inputs).
//! One simulated day is one timely epoch: every worker runs its groups' day
//! ([`Simulation::step_local`]), broadcasts its [`DayPart`] (JSON bytes) to every worker
//! through a timely exchange, and, once the epoch is complete, merges all parts in shard
//! order ([`Simulation::step_finish`]). Regrouping, KOL credibility and scandals, appeals
//! and the day's metrics are then computed identically everywhere, so worker 0 holds the
//! whole run's rows and writes the outputs with the local run's code.
//!
//! Epoch 0 is a handshake (every worker checks that all load the same scenario); epochs
//! `1..=days` are the days; the last epoch carries the shares of the last row
//! ([`Simulation::row_part`]).
//!
//! When a process dies, its peers' timely connection threads fail ("timely communication
//! error"); a panic hook notes which process that connection led to, and [`run`] returns
//! [`ClusterError::ProcessLost`] naming it (the caller should then exit: the connection
//! threads of a failed run are left behind, not joined).

use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use xinyong_sim::{DayPart, RowPart, Scenario, Shard, Simulation};

/// Where the processes of a cluster run are and which one this is (timely's `-w -n -p -h`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Worker threads in each process (`-w`).
    pub workers: usize,
    /// This process, `0..addresses.len()` (`-p`).
    pub process: usize,
    /// `host:port` of every process, in process order (`-n` lines of the hostfile `-h`).
    pub addresses: Vec<String>,
}

impl ClusterConfig {
    /// `processes` processes on this machine, on ports 2101, 2102, … (timely's default
    /// without a hostfile).
    pub fn localhost(workers: usize, processes: usize, process: usize) -> ClusterConfig {
        let addresses = (0..processes).map(|i| format!("localhost:{}", 2101 + i)).collect();
        ClusterConfig { workers, process, addresses }
    }

    /// Reads the first `processes` lines of a hostfile (`host:port` per line; blank lines
    /// and lines starting with `#` are skipped).
    pub fn from_hostfile(
        workers: usize,
        processes: usize,
        process: usize,
        hostfile: &Path,
    ) -> Result<ClusterConfig, ClusterError> {
        let text = std::fs::read_to_string(hostfile)
            .map_err(|e| ClusterError::Config(format!("cannot read hostfile {}: {e}", hostfile.display())))?;
        let addresses: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .take(processes)
            .map(String::from)
            .collect();
        if addresses.len() < processes {
            return Err(ClusterError::Config(format!(
                "hostfile {} lists {} addresses, but -n is {processes}",
                hostfile.display(),
                addresses.len()
            )));
        }
        Ok(ClusterConfig { workers, process, addresses })
    }

    pub fn processes(&self) -> usize {
        self.addresses.len()
    }

    /// Workers in the whole run (= shards).
    pub fn peers(&self) -> usize {
        self.workers * self.processes()
    }

    fn check(&self) -> Result<(), ClusterError> {
        if self.workers == 0 {
            return Err(ClusterError::Config("-w must be at least 1".into()));
        }
        if self.addresses.is_empty() {
            return Err(ClusterError::Config("-n must be at least 1".into()));
        }
        if self.process >= self.processes() {
            return Err(ClusterError::Config(format!(
                "-p {} is not a process of -n {} (0..{})",
                self.process,
                self.processes(),
                self.processes()
            )));
        }
        Ok(())
    }

    fn timely(&self) -> timely::Config {
        let communication = if self.processes() > 1 {
            timely::CommunicationConfig::Cluster {
                threads: self.workers,
                process: self.process,
                addresses: self.addresses.clone(),
                report: false,
                zerocopy: false,
            }
        } else if self.workers > 1 {
            timely::CommunicationConfig::Process(self.workers)
        } else {
            timely::CommunicationConfig::Thread
        };
        timely::Config { communication, worker: timely::WorkerConfig::default() }
    }
}

/// Why a cluster run failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cluster configuration: {0}")]
    Config(String),
    #[error("cannot start the cluster: {0}")]
    Start(String),
    #[error("cannot start the simulation: {0}")]
    Simulation(#[from] xinyong_sim::SimulationError),
    #[error(
        "process {process} ({address}) failed or left the run: {cause}. The run is lost on every process; \
         start all processes again"
    )]
    ProcessLost { process: usize, address: String, cause: String },
    #[error("worker {worker} failed: {cause}")]
    WorkerFailed { worker: usize, cause: String },
    #[error(
        "processes disagree on the run: worker {worker} has scenario {theirs:016x}, this one {ours:016x} \
         (pass every process the same scenario, seed, sets and -w/-n)"
    )]
    ScenarioMismatch { worker: u32, ours: u64, theirs: u64 },
}

/// What crossed between workers, summed over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Simulated days.
    pub days: u32,
    /// Workers (shards) and processes.
    pub workers: u32,
    pub processes: u32,
    /// Encoded parts, one per worker per day (JSON bytes).
    pub part_bytes: u64,
    /// Largest single part.
    pub part_bytes_max: u64,
    /// Bytes delivered to other workers (each part goes to every other worker).
    pub worker_bytes: u64,
    /// Of those, bytes that crossed to another process (the network, between machines).
    pub network_bytes: u64,
}

impl Traffic {
    pub fn network_bytes_per_day(&self) -> f64 {
        self.network_bytes as f64 / self.days.max(1) as f64
    }

    pub fn worker_bytes_per_day(&self) -> f64 {
        self.worker_bytes as f64 / self.days.max(1) as f64
    }

    fn add_part(&mut self, bytes: usize, workers_per_process: usize) {
        let (b, peers, w) = (bytes as u64, self.workers as u64, workers_per_process as u64);
        self.part_bytes += b;
        self.part_bytes_max = self.part_bytes_max.max(b);
        self.worker_bytes += b * (peers - 1);
        self.network_bytes += b * (peers - w);
    }
}

/// What worker 0 (in process 0) hands back: the whole run, ready for the outputs.
pub struct Outcome {
    /// Worker 0's simulation: its rows, totals and ledger totals are the whole run's.
    pub simulation: Simulation,
    pub traffic: Traffic,
    /// From the end of the handshake to the last row (seconds).
    pub days_seconds: f64,
}

/// What a worker's dataflow has delivered to it and the worker has not read yet.
type Inbox<T> = Rc<RefCell<Vec<T>>>;

/// What one worker sends to every worker, once per epoch.
#[derive(Serialize, Deserialize)]
enum Message {
    /// Epoch 0: the scenario's fingerprint.
    Hello {
        scenario: u64,
    },
    Day(Box<DayPart>),
    LastRow(RowPart),
}

/// Runs `scenario` as this process's share of a cluster run; returns worker 0's outcome in
/// process 0, `None` in the others. `progress(days_done, days)` is called by worker 0.
/// Every process must be given the same scenario and `workers`/`addresses`.
pub fn run(
    scenario: Scenario,
    config: &ClusterConfig,
    progress: Arc<dyn Fn(u32, u32) + Send + Sync>,
) -> Result<Option<Outcome>, ClusterError> {
    config.check()?;
    watch_connections(config);
    let workers = config.workers;
    let fingerprint = fingerprint(&scenario);
    let (send, receive) = mpsc::channel::<(usize, Result<Option<Outcome>, ClusterError>)>();
    let send = Mutex::new(send);
    let guards = timely::execute(config.timely(), move |worker| {
        let index = worker.index();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_worker(worker, scenario.clone(), workers, fingerprint, progress.as_ref())
        }))
        .unwrap_or_else(|panic| Err(ClusterError::WorkerFailed { worker: index, cause: panic_text(&*panic) }));
        let failed = result.is_err();
        let _ = send.lock().unwrap_or_else(|e| e.into_inner()).send((index, result));
        if failed {
            // Leave nothing for timely to wait for (the run is over for this process).
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                for id in worker.installed_dataflows() {
                    worker.drop_dataflow(id);
                }
            }));
        }
    })
    .map_err(ClusterError::Start)?;
    gather(guards, receive, workers)
}

/// Waits for this process's workers' results; returns the one `Some` (worker 0's), or the
/// first failure, naming the lost process when a connection broke.
fn gather<T: Send + 'static, G>(
    guards: G,
    receive: mpsc::Receiver<(usize, Result<Option<T>, ClusterError>)>,
    workers: usize,
) -> Result<Option<T>, ClusterError> {
    let mut outcome = None;
    for _ in 0..workers {
        let (_, result) = loop {
            match receive.recv_timeout(Duration::from_millis(100)) {
                Ok(r) => break r,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(lost) = lost_process() {
                        // The connection threads cannot be joined cleanly: leave them.
                        std::mem::forget(guards);
                        return Err(lost);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::mem::forget(guards);
                    return Err(ClusterError::WorkerFailed { worker: usize::MAX, cause: "no result".into() });
                }
            }
        };
        match result {
            Ok(Some(o)) => outcome = Some(o),
            Ok(None) => {}
            Err(e) => {
                std::mem::forget(guards);
                // A worker that failed because a connection did names the process behind it.
                return Err(lost_process().unwrap_or(e));
            }
        }
    }
    drop(guards);
    Ok(outcome)
}

/// Spreads `count` independent jobs over every worker of the cluster (job `j` on worker
/// `j mod workers`) and gathers their results, in job order, in process 0 (`None` in the
/// others): `xinyong sweep --cluster`. Every process must be given the same jobs.
pub fn run_jobs<R>(
    config: &ClusterConfig,
    count: usize,
    job: Arc<dyn Fn(usize) -> Result<R, String> + Send + Sync>,
) -> Result<Option<Vec<R>>, ClusterError>
where
    R: Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    config.check()?;
    watch_connections(config);
    let workers = config.workers;
    let (send, receive) = mpsc::channel::<(usize, Result<Option<Vec<R>>, ClusterError>)>();
    let send = Mutex::new(send);
    let guards = timely::execute(config.timely(), move |worker| {
        let index = worker.index();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| jobs_worker(worker, count, job.as_ref())))
                .unwrap_or_else(|panic| Err(ClusterError::WorkerFailed { worker: index, cause: panic_text(&*panic) }));
        let failed = result.is_err();
        let _ = send.lock().unwrap_or_else(|e| e.into_inner()).send((index, result));
        if failed {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                for id in worker.installed_dataflows() {
                    worker.drop_dataflow(id);
                }
            }));
        }
    })
    .map_err(ClusterError::Start)?;
    gather(guards, receive, workers)
}

fn jobs_worker<R>(
    worker: &mut timely::worker::Worker,
    count: usize,
    job: &(dyn Fn(usize) -> Result<R, String> + Send + Sync),
) -> Result<Option<Vec<R>>, ClusterError>
where
    R: Serialize + serde::de::DeserializeOwned,
{
    let index = worker.index();
    let peers = worker.peers();
    let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<(u32, Vec<u8>)>>>::new();
    let received: Inbox<(u32, Vec<u8>)> = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&received);
    let probe = worker.dataflow::<u64, _, _>(|scope| {
        scope
            .input_from(&mut input)
            .container::<Vec<_>>()
            .exchange(|_| 0)
            .inspect(move |x: &(u32, Vec<u8>)| sink.borrow_mut().push(x.clone()))
            .probe()
            .0
    });
    let mut mine = Vec::new();
    for j in (index..count).step_by(peers) {
        let r =
            job(j).map_err(|cause| ClusterError::WorkerFailed { worker: index, cause: format!("job {j}: {cause}") });
        mine.push((j, r?));
    }
    input.send((index as u32, serde_json::to_vec(&mine).expect("results serialize")));
    drop(input);
    while worker.step_or_park(Some(Duration::from_millis(50))) {
        if lost_process().is_some() {
            panic!("a connection to another process failed");
        }
    }
    let _ = probe;
    if index != 0 {
        return Ok(None);
    }
    let mut all: Vec<(usize, R)> = Vec::with_capacity(count);
    for (_, bytes) in received.borrow_mut().drain(..) {
        all.extend(serde_json::from_slice::<Vec<(usize, R)>>(&bytes).expect("results deserialize"));
    }
    all.sort_by_key(|(j, _)| *j);
    assert_eq!(all.len(), count, "every job's result arrived");
    Ok(Some(all.into_iter().map(|(_, r)| r).collect()))
}

fn run_worker(
    worker: &mut timely::worker::Worker,
    scenario: Scenario,
    workers_per_process: usize,
    fingerprint: u64,
    progress: &(dyn Fn(u32, u32) + Send + Sync),
) -> Result<Option<Outcome>, ClusterError> {
    let index = worker.index();
    let peers = worker.peers();
    let days = scenario.run.days;
    let mut sim = Simulation::with_shard(scenario, Shard::new(index as u32, peers as u32))?;
    let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<(u64, u32, Vec<u8>)>>>::new();
    let received: Inbox<(u64, u32, Vec<u8>)> = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&received);
    let probe = worker.dataflow::<u64, _, _>(|scope| {
        scope
            .input_from(&mut input)
            .container::<Vec<_>>()
            .broadcast()
            .inspect(move |x: &(u64, u32, Vec<u8>)| sink.borrow_mut().push(x.clone()))
            .probe()
            .0
    });
    let mut traffic =
        Traffic { workers: peers as u32, processes: (peers / workers_per_process) as u32, ..Traffic::default() };
    // One epoch: send this worker's message, wait for everyone's, return them in worker order.
    let mut exchange = |epoch: u64, message: Message, traffic: Option<&mut Traffic>| -> Vec<Message> {
        let bytes = serde_json::to_vec(&message).expect("parts serialize");
        input.send((epoch, index as u32, bytes));
        input.advance_to(epoch + 1);
        while probe.less_than(input.time()) {
            if lost_process().is_some() {
                panic!("a connection to another process failed");
            }
            worker.step_or_park(Some(Duration::from_millis(50)));
        }
        // Faster workers' messages of the next epoch may already be here: keep them.
        let (mut got, later): (Vec<_>, Vec<_>) = received.borrow_mut().drain(..).partition(|m| m.0 == epoch);
        assert!(later.iter().all(|m| m.0 > epoch), "no message of a past epoch after epoch {epoch}");
        *received.borrow_mut() = later;
        got.sort_by_key(|m| m.1);
        assert_eq!(got.len(), peers, "one message from each worker in epoch {epoch}");
        if let Some(t) = traffic {
            for m in &got {
                t.add_part(m.2.len(), workers_per_process);
            }
        }
        got.iter().map(|m| serde_json::from_slice(&m.2).expect("parts deserialize")).collect()
    };
    for (w, m) in exchange(0, Message::Hello { scenario: fingerprint }, None).into_iter().enumerate() {
        match m {
            Message::Hello { scenario } if scenario == fingerprint => {}
            Message::Hello { scenario } => {
                return Err(ClusterError::ScenarioMismatch { worker: w as u32, ours: fingerprint, theirs: scenario });
            }
            _ => unreachable!("epoch 0 is the handshake"),
        }
    }
    let started = Instant::now();
    for d in 0..days {
        let part = sim.step_local();
        let parts = exchange(d as u64 + 1, Message::Day(Box::new(part)), Some(&mut traffic))
            .into_iter()
            .map(|m| match m {
                Message::Day(p) => *p,
                _ => unreachable!("epochs 1..=days carry days"),
            })
            .collect();
        sim.step_finish(parts);
        traffic.days += 1;
        if index == 0 {
            progress(d + 1, days);
        }
    }
    if let Some(row) = sim.row_part() {
        let rows = exchange(days as u64 + 1, Message::LastRow(row), None)
            .into_iter()
            .map(|m| match m {
                Message::LastRow(r) => r,
                _ => unreachable!("the last epoch carries the last row"),
            })
            .collect();
        sim.complete_row(rows);
    }
    let days_seconds = started.elapsed().as_secs_f64();
    drop(input);
    while worker.step_or_park(Some(Duration::from_millis(50))) {
        if lost_process().is_some() {
            panic!("a connection to another process failed");
        }
    }
    Ok((index == 0).then_some(Outcome { simulation: sim, traffic, days_seconds }))
}

/// A fingerprint of the scenario, to check that all processes run the same one.
fn fingerprint(scenario: &Scenario) -> u64 {
    use std::hash::Hasher;
    let mut h = xinyong_engine::Fnv64::default();
    // Threads may differ between processes: results do not depend on them.
    let mut s = scenario.clone();
    s.run.threads = 0;
    h.write(format!("{s:?}").as_bytes());
    h.finish()
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".into()
    }
}

// ----- naming the process that failed ---------------------------------------------------

static HOOKED: std::sync::Once = std::sync::Once::new();
static LOST: AtomicBool = AtomicBool::new(false);
static WATCH: Mutex<Option<Watch>> = Mutex::new(None);

struct Watch {
    addresses: Vec<String>,
    lost: Option<(usize, String)>,
}

/// Timely's connection threads are named `timely:recv-P` and `timely:send-P` (P: the
/// remote process) and panic with "timely communication error: …" when the connection
/// breaks: a panic hook notes the first such failure.
fn watch_connections(config: &ClusterConfig) {
    *WATCH.lock().unwrap_or_else(|e| e.into_inner()) = Some(Watch { addresses: config.addresses.clone(), lost: None });
    LOST.store(false, Ordering::SeqCst);
    HOOKED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let remote = thread
                .name()
                .and_then(|n| n.strip_prefix("timely:recv-").or_else(|| n.strip_prefix("timely:send-")))
                .and_then(|p| p.parse::<usize>().ok());
            if let Some(process) = remote {
                let cause = info
                    .payload()
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "connection failed".into());
                let mut watch = WATCH.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(w) = watch.as_mut()
                    && w.lost.is_none()
                {
                    w.lost = Some((process, cause));
                    LOST.store(true, Ordering::SeqCst);
                }
                return; // reported by `run`, naming the process
            }
            if LOST.load(Ordering::SeqCst) && thread.name().is_some_and(|n| n.starts_with("timely:work-")) {
                return; // a worker stopped by the lost connection: `run` says which process
            }
            previous(info);
        }));
    });
}

fn lost_process() -> Option<ClusterError> {
    if !LOST.load(Ordering::SeqCst) {
        return None;
    }
    let watch = WATCH.lock().unwrap_or_else(|e| e.into_inner());
    let w = watch.as_ref()?;
    let (process, cause) = w.lost.clone()?;
    let address = w.addresses.get(process).cloned().unwrap_or_default();
    Some(ClusterError::ProcessLost { process, address, cause })
}
