//! `xinyong bench serve`: a load generator for `xinyong serve`, in its own process, over
//! loopback HTTP — what a real client pays (HTTP parsing, JSON, the group commit's fsync).

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use xinyong_service::client::Client;

/// The long help (`--help`): what it does, with examples.
const ABOUT: &str = r#"Loads a server with orders and prints requests/s, orders/s and latency percentiles.
The load always comes from this process; the server is either one you started
(--url and --token) or one this command starts as a child (--spawn DB) with a fresh log.

Set-up (through the API, not timed): a brand, --products products, --citizens citizens
(with tokens) grouped by the grouping crate. Then, for --duration:
  single  each of --concurrency clients sends one order per request (POST /v1/orders,
          as a citizen), waiting for each answer (closed loop), or paced at --rate
          requests/s in all (open loop; latency counted from when a request was due);
  batch   each client sends --batch orders per request (POST /v1/orders/batch).
Latency is request to response, which includes the durable commit.

Examples:
  xinyong bench serve --spawn sqlite
  xinyong bench serve --spawn sqlite --commit naive --mode single
  xinyong bench serve --spawn "postgres://postgres@127.0.0.1:55432/postgres?options=-c%20search_path%3Dbench"
  xinyong bench serve --url http://127.0.0.1:8080 --token $TOKEN --mode batch --batch 1000"#;

/// Options of `xinyong bench serve`; `--help` shows [`ABOUT`] after them.
#[derive(clap::Args, Debug)]
#[command(long_about = None, after_long_help = ABOUT)]
pub struct Args {
    /// A running server (its log must allow the set-up: a fresh one is best).
    #[arg(long, conflicts_with = "spawn", requires = "token")]
    pub url: Option<String>,
    /// The operator token of --url's server.
    #[arg(long, env = "XINYONG_OPERATOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Start `xinyong serve` as a child on this database: `sqlite` (a fresh temporary file),
    /// a file path, or a postgres:// URL whose schema is empty.
    #[arg(long)]
    pub spawn: Option<String>,
    /// The child server's commit mode: group or naive (one transaction per command).
    #[arg(long, default_value = "group", value_parser = ["group", "naive"])]
    pub commit: String,
    /// What to measure: single, batch, or both (one after the other).
    #[arg(long, default_value = "both", value_parser = ["single", "batch", "both"])]
    pub mode: String,
    /// Clients sending at once (threads, one keep-alive connection each).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Clients for the batch mode (default: 4).
    #[arg(long, default_value_t = 4)]
    pub batch_concurrency: usize,
    /// Seconds of load per mode.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Orders per batch request.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Citizens to create (each may place `policy.orders.max_orders_per_day` orders a day).
    #[arg(long, default_value_t = 50_000)]
    pub citizens: u32,
    /// Products in the catalogue (orders spread over them).
    #[arg(long, default_value_t = 20)]
    pub products: u32,
    /// Single mode, open loop: requests per second in all (0: closed loop).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
}

struct Spawned {
    child: Child,
    /// A temporary folder to remove afterwards.
    dir: Option<std::path::PathBuf>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn spawn_server(db: &str, commit: &str, token: &str) -> anyhow::Result<(Spawned, String)> {
    let (db, dir) = if db == "sqlite" {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("xinyong-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        (dir.join("bench.db").to_string_lossy().into_owned(), Some(dir))
    } else {
        (db.to_string(), None)
    };
    let exe = std::env::current_exe().context("cannot find this program to start the server")?;
    let mut child = Command::new(exe)
        .args(["serve", "--db", &db, "--listen", "127.0.0.1:0", "--snapshot-every", "0", "--commit", commit])
        .env("XINYONG_OPERATOR_TOKEN", token)
        .env("XINYONG_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start `xinyong serve`")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let spawned = Spawned { child, dir };
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let Some(line) = lines.next() else { bail!("the server exited before listening") };
        let line = line?;
        if let Some(url) = line.split("listening on ").nth(1) {
            break url.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((spawned, url))
}

fn check(response: xinyong_service::client::Response, what: &str) -> anyhow::Result<serde_json::Value> {
    if response.status >= 300 {
        bail!("{what}: {} {}", response.status, response.text());
    }
    Ok(response.json())
}

struct Population {
    citizens: Vec<(u32, String)>,
    products: Vec<u32>,
}

fn set_up(url: &str, token: &str, args: &Args) -> anyhow::Result<Population> {
    let mut op = Client::new(url)?.with_token(token);
    let brand = check(op.post("/v1/brands", &serde_json::json!({"name": "bench"}))?, "create a brand")?;
    let mut products = Vec::new();
    for i in 0..args.products {
        let body =
            serde_json::json!({"name": format!("product {i}"), "list_price_fen": 1000 + i, "brand": brand["brand"]});
        products.push(check(op.post("/v1/products", &body)?, "add a product")?["product"].as_u64().unwrap_or(0) as u32);
    }
    let mut citizens = Vec::with_capacity(args.citizens as usize);
    let mut left = args.citizens;
    while left > 0 {
        let count = left.min(10_000);
        let body = check(op.post("/v1/citizens", &serde_json::json!({"count": count}))?, "create citizens")?;
        for c in body["citizens"].as_array().into_iter().flatten() {
            citizens.push((c["citizen"].as_u64().unwrap_or(0) as u32, c["token"].as_str().unwrap_or("").to_string()));
        }
        left -= count;
    }
    let grouped = op.post_empty("/v1/groups/form")?;
    if grouped.status >= 300 {
        eprintln!("note: no groups formed ({}); orders are priced without pools", grouped.text());
    }
    Ok(Population { citizens, products })
}

/// Server-side counters, read from /metrics.
fn log_counters(url: &str) -> (f64, f64) {
    let text = Client::new(url).and_then(|mut c| c.get("/metrics")).map(|r| r.text()).unwrap_or_default();
    let read = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<f64>().ok())).unwrap_or(0.0)
    };
    (read("xinyong_log_commits "), read("xinyong_log_records_committed "))
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    requests: u64,
    orders_accepted: u64,
    refused: u64,
    errors: u64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1] as f64 / 1000.0
}

fn report(label: &str, tallies: Vec<Tally>, elapsed: f64, commits: (f64, f64)) {
    let mut all = Tally::default();
    for t in tallies {
        all.latencies_us.extend(t.latencies_us);
        all.requests += t.requests;
        all.orders_accepted += t.orders_accepted;
        all.refused += t.refused;
        all.errors += t.errors;
    }
    all.latencies_us.sort_unstable();
    let l = &all.latencies_us;
    let per_commit = if commits.0 > 0.0 { commits.1 / commits.0 } else { 0.0 };
    println!(
        "{label:<8} {:>9} req {:>10.0} req/s {:>11.0} orders/s   p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms   refused {}  errors {}  records/commit {:.1}",
        all.requests,
        all.requests as f64 / elapsed,
        all.orders_accepted as f64 / elapsed,
        percentile(l, 50.0),
        percentile(l, 90.0),
        percentile(l, 99.0),
        l.last().copied().unwrap_or(0) as f64 / 1000.0,
        all.refused,
        all.errors,
        per_commit,
    );
    if all.refused > 0 {
        println!("         (refused orders: raise --citizens; each citizen may order a limited number of times a day)");
    }
}

fn run_single(url: &str, people: &Population, args: &Args) -> anyhow::Result<()> {
    let n = args.concurrency.max(1);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let before = log_counters(url);
    let interval = (args.rate > 0.0).then(|| Duration::from_secs_f64(n as f64 / args.rate));
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|t| {
                let stop = Arc::clone(&stop);
                let mine: Vec<&(u32, String)> = people.citizens.iter().skip(t).step_by(n).collect();
                let products = &people.products;
                scope.spawn(move || {
                    let mut tally = Tally::default();
                    // One keep-alive connection per thread; each request carries the token of
                    // the next citizen of this thread's share.
                    let Ok(mut client) = Client::new(url) else { return tally };
                    let mut i = 0usize;
                    let mut due = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        if interval.is_some() {
                            let now = Instant::now();
                            if due > now {
                                std::thread::sleep(due - now);
                            }
                        }
                        let (_, token) = mine[i % mine.len()];
                        client.set_token(Some(token));
                        let product = products[i % products.len()];
                        let body = format!("{{\"product\":{product},\"units\":1}}");
                        let sent = if interval.is_some() { due } else { Instant::now() };
                        match client.send(
                            "POST",
                            "/v1/orders",
                            &[("content-type", "application/json")],
                            Some(body.as_bytes()),
                        ) {
                            Ok(r) if r.status == 201 => tally.orders_accepted += 1,
                            Ok(_) => tally.refused += 1,
                            Err(_) => tally.errors += 1,
                        }
                        tally.latencies_us.push(sent.elapsed().as_micros() as u64);
                        tally.requests += 1;
                        i += 1;
                        if let Some(every) = interval {
                            due += every;
                        }
                    }
                    tally
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs_f64(args.duration));
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let after = log_counters(url);
    let label = if args.rate > 0.0 { format!("single@{}", args.rate) } else { "single".into() };
    report(&label, tallies, elapsed, (after.0 - before.0, after.1 - before.1));
    Ok(())
}

/// Reads `"name":N` from a batch answer without parsing its results (the load generator
/// shares the machine with the server: its own CPU time is kept small). The answer's keys
/// are `accepted`, `refused`, `results`, and only the top level has the first two.
fn top_level_count(body: &[u8], name: &str) -> u64 {
    let key = format!("\"{name}\":");
    let Some(at) = body.windows(key.len()).position(|w| w == key.as_bytes()) else { return 0 };
    body[at + key.len()..].iter().take_while(|b| b.is_ascii_digit()).fold(0, |n, b| n * 10 + (b - b'0') as u64)
}

fn run_batch(url: &str, token: &str, people: &Population, args: &Args) -> anyhow::Result<()> {
    let n = args.batch_concurrency.max(1);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let before = log_counters(url);
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|t| {
                let stop = Arc::clone(&stop);
                let citizens: Vec<u32> = people.citizens.iter().skip(t).step_by(n).map(|c| c.0).collect();
                let products = &people.products;
                scope.spawn(move || {
                    let mut tally = Tally::default();
                    let Ok(client) = Client::new(url) else { return tally };
                    let mut client = client.with_token(token);
                    let mut next = 0usize;
                    let mut body = String::with_capacity(args.batch * 48);
                    while !stop.load(Ordering::Relaxed) {
                        body.clear();
                        body.push_str("{\"orders\":[");
                        for k in 0..args.batch {
                            if k > 0 {
                                body.push(',');
                            }
                            let citizen = citizens[next % citizens.len()];
                            let product = products[(next / citizens.len() + k) % products.len()];
                            body.push_str(&format!("{{\"citizen\":{citizen},\"product\":{product},\"units\":1}}"));
                            next += 1;
                        }
                        body.push_str("]}");
                        let sent = Instant::now();
                        match client.send(
                            "POST",
                            "/v1/orders/batch",
                            &[("content-type", "application/json")],
                            Some(body.as_bytes()),
                        ) {
                            Ok(r) if r.status == 200 => {
                                tally.orders_accepted += top_level_count(&r.body, "accepted");
                                tally.refused += top_level_count(&r.body, "refused");
                            }
                            Ok(_) => tally.refused += args.batch as u64,
                            Err(_) => tally.errors += 1,
                        }
                        tally.latencies_us.push(sent.elapsed().as_micros() as u64);
                        tally.requests += 1;
                    }
                    tally
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs_f64(args.duration));
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let after = log_counters(url);
    report(&format!("batch{}", args.batch), tallies, elapsed, (after.0 - before.0, after.1 - before.1));
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.batch == 0 || args.batch > 10_000 {
        bail!("--batch must be 1 to 10000");
    }
    if args.citizens == 0 || args.products == 0 {
        bail!("--citizens and --products must be at least 1");
    }
    let (spawned, url, token) = match (&args.spawn, &args.url) {
        (Some(db), _) => {
            let token = xinyong_service::Token::generate().map_err(anyhow::Error::msg)?.as_str().to_string();
            let (child, url) = spawn_server(db, &args.commit, &token)?;
            (Some(child), url, token)
        }
        (None, Some(url)) => (None, url.clone(), args.token.clone().context("--url needs --token")?),
        (None, None) => bail!("give --spawn DB (start a server) or --url URL --token TOKEN (a running one)"),
    };
    let set_up_started = Instant::now();
    let people = set_up(&url, &token, &args)?;
    let machine = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "xinyong bench serve: {url} ({}, commit {}), {} citizens, {} products, set up in {:.1} s; {machine} cores here",
        args.spawn.as_deref().unwrap_or("external server"),
        args.commit,
        people.citizens.len(),
        people.products.len(),
        set_up_started.elapsed().as_secs_f64()
    );
    println!(
        "load: {} s per mode; single: {} clients{}; batch: {} clients x {} orders",
        args.duration,
        args.concurrency,
        if args.rate > 0.0 { format!(" paced at {} req/s", args.rate) } else { " closed loop".into() },
        args.batch_concurrency,
        args.batch
    );
    if args.mode != "batch" {
        run_single(&url, &people, &args)?;
    }
    if args.mode != "single" {
        run_batch(&url, &token, &people, &args)?;
    }
    drop(spawned);
    Ok(())
}
