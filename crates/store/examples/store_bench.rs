//! Throughput and latency of the store, naive against batched against group commit.
//!
//! ```text
//! cargo run --release -p xinyong-store --example store_bench -- [--db PATH|URL] [options]
//!   --db LOCATION      store to append to (default: a fresh SQLite file in a temp directory)
//!   --naive N          records for the naive run, one transaction each   (default 2000)
//!   --batched N        records for the batched run, appends of 1000      (default 200000)
//!   --closed N         records per closed-loop committer run             (default 20000)
//!   --producers LIST   producer threads of the closed-loop runs          (default 1,16,256)
//!   --flood N          records for the flood run (4 threads, no waiting)  (default 200000)
//!   --paced LIST       rates (records/s) of the paced runs               (default 1000,10000,50000)
//!   --paced-seconds S  length of each paced run                          (default 3)
//!   --body-bytes B     size of each record body                          (default 120)
//! ```
//!
//! Every run appends real, durable records to the store: point it at a throwaway database.
//! Latencies are per record, from the moment it was handed over (for paced runs: from the
//! moment it was *due*, so a stalled writer cannot hide its queue) to its acknowledgement.
//! Percentiles are nearest-rank over the sorted samples.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use xinyong_store::{Committer, CommitterConfig, NewRecord, Store, StoreError, open};

struct Options {
    db: Option<String>,
    naive: usize,
    batched: usize,
    closed: usize,
    producers: Vec<usize>,
    flood: usize,
    paced: Vec<u64>,
    paced_seconds: u64,
    body_bytes: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        db: None,
        naive: 2000,
        batched: 200_000,
        closed: 20_000,
        producers: vec![1, 16, 256],
        flood: 200_000,
        paced: vec![1000, 10_000, 50_000],
        paced_seconds: 3,
        body_bytes: 120,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let mut value = || arguments.next().ok_or(format!("{flag} needs a value"));
        let number = |text: String| text.parse::<usize>().map_err(|_| format!("{flag}: {text:?} is not a number"));
        let list = |text: String| -> Result<Vec<usize>, String> {
            // An empty list skips those runs.
            text.split(',')
                .filter(|item| !item.is_empty())
                .map(|item| item.parse().map_err(|_| format!("{flag}: {item:?} is not a number")))
                .collect()
        };
        match flag.as_str() {
            "--db" => options.db = Some(value()?),
            "--naive" => options.naive = number(value()?)?,
            "--batched" => options.batched = number(value()?)?,
            "--closed" => options.closed = number(value()?)?,
            "--producers" => options.producers = list(value()?)?,
            "--flood" => options.flood = number(value()?)?,
            "--paced" => options.paced = list(value()?)?.into_iter().map(|rate| rate as u64).collect(),
            "--paced-seconds" => options.paced_seconds = number(value()?)? as u64,
            "--body-bytes" => options.body_bytes = number(value()?)?,
            "--help" | "-h" => return Err("see the top of crates/store/examples/store_bench.rs".to_string()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

fn main() {
    let options = parse_options().unwrap_or_else(|message| {
        eprintln!("store_bench: {message}");
        std::process::exit(2);
    });
    if let Err(error) = run(&options) {
        eprintln!("store_bench: {error}");
        std::process::exit(1);
    }
}

fn run(options: &Options) -> Result<(), StoreError> {
    let temporary = tempfile::tempdir().expect("temporary directory");
    let location = match &options.db {
        Some(location) => location.clone(),
        None => temporary.path().join("bench.db").to_str().expect("UTF-8 path").to_string(),
    };
    let mut store = open(&location)?;
    let records_before = store.last_seq()?;
    println!(
        "store_bench: backend {}, {}, {} records there already, bodies of {} bytes",
        store.backend(),
        store.location(),
        records_before,
        options.body_bytes
    );
    println!();
    println!("| run | records | records/s | p50 ms | p99 ms | max ms | records/commit |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let body = make_body(options.body_bytes);

    if options.naive > 0 {
        let report = appends(store.as_mut(), &body, options.naive, 1)?;
        report.print("naive: 1 record per transaction");
    }
    if options.batched > 0 {
        let report = appends(store.as_mut(), &body, options.batched, 1000)?;
        report.print("batched: appends of 1000");
    }
    let mut store = Some(store);
    for &producers in &options.producers {
        if options.closed == 0 {
            break;
        }
        let committer = Committer::start(store.take().expect("store"), CommitterConfig::default())?;
        let report = closed_loop(&committer, &body, options.closed, producers)?;
        report.print(&format!("committer, {producers} producers each waiting for its ack"));
        store = Some(committer.shutdown()?);
    }
    if options.flood > 0 {
        let committer = Committer::start(store.take().expect("store"), CommitterConfig::default())?;
        let report = flood(&committer, &body, options.flood, 4)?;
        report.print("committer, 4 producers not waiting (flood)");
        store = Some(committer.shutdown()?);
    }
    for &rate in &options.paced {
        let committer = Committer::start(store.take().expect("store"), CommitterConfig::default())?;
        let report = paced(&committer, &body, rate, Duration::from_secs(options.paced_seconds))?;
        report.print(&format!("committer, paced at {rate} records/s"));
        store = Some(committer.shutdown()?);
    }
    Ok(())
}

/// An order-like JSON body of about `bytes` bytes.
fn make_body(bytes: usize) -> Vec<u8> {
    let mut body = br#"{"type":"order","citizen":123456,"product":789,"units":2,"kol":null,"pad":""#.to_vec();
    while body.len() + 2 < bytes {
        body.push(b'x');
    }
    body.extend_from_slice(b"\"}");
    body
}

fn record(body: &[u8]) -> NewRecord {
    NewRecord { kind: "order".to_string(), body: body.to_vec() }
}

struct Report {
    records: usize,
    elapsed: Duration,
    /// Per-record latencies in microseconds.
    latencies_us: Vec<u64>,
    commits: u64,
}

impl Report {
    fn print(mut self, name: &str) {
        self.latencies_us.sort_unstable();
        let percentile = |p: f64| -> String {
            if self.latencies_us.is_empty() {
                return "-".to_string();
            }
            let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
            let index = rank.clamp(1, self.latencies_us.len()) - 1;
            format!("{:.2}", self.latencies_us[index] as f64 / 1000.0)
        };
        let per_second = self.records as f64 / self.elapsed.as_secs_f64();
        println!(
            "| {name} | {} | {:.0} | {} | {} | {} | {:.1} |",
            self.records,
            per_second,
            percentile(50.0),
            percentile(99.0),
            percentile(100.0),
            self.records as f64 / self.commits.max(1) as f64
        );
    }
}

/// Direct appends of `per_append` records each; latency is per append (each of its records
/// waits that long).
fn appends(store: &mut dyn Store, body: &[u8], records: usize, per_append: usize) -> Result<Report, StoreError> {
    let batch: Vec<NewRecord> = (0..per_append).map(|_| record(body)).collect();
    let appends = records.div_ceil(per_append);
    let mut latencies_us = Vec::with_capacity(appends);
    let start = Instant::now();
    for _ in 0..appends {
        let before = Instant::now();
        store.append(&batch)?;
        latencies_us.push(before.elapsed().as_micros() as u64);
    }
    Ok(Report { records: appends * per_append, elapsed: start.elapsed(), latencies_us, commits: appends as u64 })
}

/// `producers` threads, each submitting one record and waiting for its ack before the next.
fn closed_loop(committer: &Committer, body: &[u8], records: usize, producers: usize) -> Result<Report, StoreError> {
    let commits_before = committer.handle().stats().commits;
    let remaining = AtomicU64::new(records as u64);
    let latencies_us = Mutex::new(Vec::with_capacity(records));
    let failure = Mutex::new(None);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..producers {
            let handle = committer.handle();
            let (remaining, latencies_us, failure) = (&remaining, &latencies_us, &failure);
            scope.spawn(move || {
                let mut mine = Vec::new();
                while remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok() {
                    let before = Instant::now();
                    if let Err(error) = handle.submit_wait(record(body)) {
                        *failure.lock().unwrap() = Some(error);
                        break;
                    }
                    mine.push(before.elapsed().as_micros() as u64);
                }
                latencies_us.lock().unwrap().extend(mine);
            });
        }
    });
    let elapsed = start.elapsed();
    if let Some(error) = failure.into_inner().unwrap() {
        return Err(error);
    }
    let latencies_us = latencies_us.into_inner().unwrap();
    let commits = committer.handle().stats().commits - commits_before;
    Ok(Report { records: latencies_us.len(), elapsed, latencies_us, commits })
}

/// Acknowledgement collector shared by the open-loop runs: (latency µs) per record.
fn collecting_ack(
    due: Instant,
    sender: &mpsc::Sender<Result<u64, StoreError>>,
) -> Box<dyn FnOnce(Result<u64, StoreError>) + Send> {
    let sender = sender.clone();
    Box::new(move |result| {
        let _ = sender.send(result.map(|_| due.elapsed().as_micros() as u64));
    })
}

/// `producers` threads submitting without waiting: the committer's best throughput.
fn flood(committer: &Committer, body: &[u8], records: usize, producers: usize) -> Result<Report, StoreError> {
    let commits_before = committer.handle().stats().commits;
    let (sender, acks) = mpsc::channel();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for producer in 0..producers {
            let handle = committer.handle();
            let sender = sender.clone();
            let share = records / producers + usize::from(producer < records % producers);
            scope.spawn(move || {
                for _ in 0..share {
                    handle.submit(record(body), collecting_ack(Instant::now(), &sender));
                }
            });
        }
    });
    drop(sender);
    let latencies_us = acks.iter().collect::<Result<Vec<u64>, StoreError>>()?;
    let elapsed = start.elapsed();
    let commits = committer.handle().stats().commits - commits_before;
    Ok(Report { records: latencies_us.len(), elapsed, latencies_us, commits })
}

/// One record due every `1/rate` s for `length`, latency counted from when it was due.
fn paced(committer: &Committer, body: &[u8], rate: u64, length: Duration) -> Result<Report, StoreError> {
    let commits_before = committer.handle().stats().commits;
    let handle = committer.handle();
    let (sender, acks) = mpsc::channel();
    let records = (rate as f64 * length.as_secs_f64()) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let collector = {
        let latencies = Arc::clone(&latencies);
        std::thread::spawn(move || {
            for result in acks {
                latencies.lock().unwrap().push(result?);
            }
            Ok::<(), StoreError>(())
        })
    };
    let start = Instant::now();
    for index in 0..records {
        let due = start + interval.mul_f64(index as f64);
        // Sleep most of the way, then yield: sleep alone overshoots by tens of microseconds.
        loop {
            let now = Instant::now();
            if now >= due {
                break;
            }
            if due - now > Duration::from_micros(200) {
                std::thread::sleep(due - now - Duration::from_micros(100));
            } else {
                std::thread::yield_now();
            }
        }
        handle.submit(record(body), collecting_ack(due, &sender));
    }
    drop(sender);
    collector.join().expect("collector thread")?;
    let elapsed = start.elapsed();
    let latencies_us = std::mem::take(&mut *latencies.lock().unwrap());
    let commits = committer.handle().stats().commits - commits_before;
    Ok(Report { records: latencies_us.len(), elapsed, latencies_us, commits })
}
