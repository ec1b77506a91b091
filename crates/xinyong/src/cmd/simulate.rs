//! `xinyong simulate`: run a synthetic population through the engine.

use crate::cmd::scenarios;
use anyhow::Context;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `xinyong simulate`.
///
/// Runs a scenario (default: the article's rules on 100,000 synthetic citizens for a
/// year), prints what happened in plain words, and writes metrics.csv, metrics.parquet,
/// summary.json, ledger.parquet (small runs) and report.html into the output folder.
///
/// Examples:
///   xinyong simulate
///   xinyong simulate --scenario rongcheng --days 90
///   xinyong simulate --citizens 10000 --set world.voting.model=always_keep
///   xinyong simulate --scenario my.toml --seed 7 --out runs/mine
///
/// On a timely-dataflow cluster (same metrics.csv, byte for byte, whatever -w and -n):
/// start the same command on each of N machines, each with its own -p, and a hostfile
/// listing the N machines' host:port in process order (docs/cluster.md):
///   xinyong simulate --cluster -w 2 -n 3 -p 0 -h hosts.txt   (on the first machine)
///   xinyong simulate --cluster -w 2 -n 3 -p 1 -h hosts.txt   (on the second), …
/// Process 0 writes the outputs. -h is the hostfile here, as in timely: help is --help.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment, disable_help_flag = true)]
pub struct Args {
    /// Scenario file, or a preset name: default, rongcheng, sesame, guangdong, china-scale.
    #[arg(long, short = 's', default_value = "default")]
    pub scenario: String,
    /// Seed (overrides run.seed). Same scenario + seed = same bytes out.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Days to simulate (overrides run.days).
    #[arg(long)]
    pub days: Option<u32>,
    /// Population size (overrides run.citizens).
    #[arg(long)]
    pub citizens: Option<u32>,
    /// Worker threads (overrides run.threads; 0 = one per core). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<u32>,
    /// Override any scenario key, e.g. --set policy.sanction.keep_penalty=0 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Output folder (default: runs/<scenario name>-<seed>).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Run even when the memory estimate exceeds the available memory.
    #[arg(long)]
    pub ignore_memory_check: bool,
    #[command(flatten)]
    pub cluster: crate::cmd::cluster::ClusterArgs,
}

/// Splits `--set KEY=VALUE` arguments into pairs.
pub fn parse_sets(sets: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    sets.iter()
        .map(|s| {
            let (k, v) = s.split_once('=').with_context(|| format!("--set {s:?}: expected KEY=VALUE"))?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Collects `--seed`-style flags and `--set` pairs into override pairs.
pub fn overrides(args: &Args) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = parse_sets(&args.sets)?;
    if let Some(seed) = args.seed {
        out.push(("run.seed".into(), seed.to_string()));
    }
    if let Some(days) = args.days {
        out.push(("run.days".into(), days.to_string()));
    }
    if let Some(n) = args.citizens {
        out.push(("run.citizens".into(), n.to_string()));
    }
    if let Some(t) = args.threads {
        out.push(("run.threads".into(), t.to_string()));
    }
    Ok(out)
}

/// Available memory (Linux: MemAvailable), in bytes.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Refuses, with the estimate, a run that would not fit in the machine's memory.
pub fn check_memory(scenario: &xinyong_sim::Scenario, ignore: bool) -> anyhow::Result<xinyong_sim::MemoryEstimate> {
    let estimate = xinyong_sim::memory::estimate(scenario);
    if let Some(available) = available_memory()
        && estimate.total_bytes > available / 10 * 9
        && !ignore
    {
        anyhow::bail!(
            "this run needs about {estimate}, more than {:.2} GiB (90 % of the {:.2} GiB available; \
             the rest is left to the system): lower run.citizens, run.days or run.ledger_max_citizens \
             (the ledger is kept in full up to that many citizens), or pass --ignore-memory-check",
            (available / 10 * 9) as f64 / (1u64 << 30) as f64,
            available as f64 / (1u64 << 30) as f64
        );
    }
    Ok(estimate)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.cluster.cluster {
        return run_cluster(args);
    }
    let scenario = scenarios::load(&args.scenario, &overrides(&args)?)?;
    check_memory(&scenario, args.ignore_memory_check)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-{}", scenario.run.name, scenario.run.seed)));
    let started = Instant::now();
    tracing::info!(scenario = %args.scenario, seed = scenario.run.seed, citizens = scenario.run.citizens, days = scenario.run.days, "starting");
    let mut sim = xinyong_sim::Simulation::new(scenario).context("cannot start the simulation")?;
    let days = sim.scenario().run.days;
    let bar = crate::progress::bar(days as u64, "days", args.quiet);
    sim.run(|done, _| bar.set_position(done as u64));
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    let summary = xinyong_sim::summary::summary_json(&sim, wall, crate::progress::peak_rss_bytes());
    let written = xinyong_sim::output::write_run(&sim, &out, &summary)?;
    let report = crate::cmd::report::render(&out)?;
    if !args.quiet {
        for line in xinyong_sim::summary::headline(&sim) {
            println!("{line}");
        }
        let t = sim.timings();
        println!();
        println!(
            "Time: {wall:.1} s = setup {:.1} s + days {:.1} s (groups {:.1} s, global {:.1} s, metrics {:.1} s).",
            t.setup_seconds,
            t.daily_groups_seconds + t.daily_global_seconds + t.metrics_seconds,
            t.daily_groups_seconds,
            t.daily_global_seconds,
            t.metrics_seconds
        );
        println!("Wrote {}:", written.dir.display());
        for f in written.files.iter().chain(std::iter::once(&report)) {
            println!("  {}", f.display());
        }
    }
    Ok(())
}

/// `--cluster`: this process's share of a run over timely-dataflow workers and processes.
fn run_cluster(args: Args) -> anyhow::Result<()> {
    let mut scenario = scenarios::load(&args.scenario, &overrides(&args)?)?;
    if args.threads.is_none() {
        // One thread per worker unless told otherwise (workers are the parallelism here).
        scenario.run.threads = 1;
    }
    let config = args.cluster.config()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-{}", scenario.run.name, scenario.run.seed)));
    let started = Instant::now();
    tracing::info!(
        scenario = %args.scenario, seed = scenario.run.seed, citizens = scenario.run.citizens,
        days = scenario.run.days, workers = config.workers, processes = config.processes(),
        process = config.process, "starting a cluster run"
    );
    let days = scenario.run.days;
    let quiet = args.quiet || config.process != 0;
    let bar = crate::progress::bar(days as u64, "days", quiet);
    let progress_bar = bar.clone();
    let progress = std::sync::Arc::new(move |done: u32, _: u32| progress_bar.set_position(done as u64));
    let outcome = xinyong_cluster::run(scenario, &config, progress)
        .with_context(|| format!("cluster run failed in process {} of {}", config.process, config.processes()))?;
    bar.finish_and_clear();
    let Some(outcome) = outcome else {
        if !args.quiet {
            println!("Process {} of {}: done; process 0 wrote the outputs.", config.process, config.processes());
        }
        return Ok(());
    };
    let sim = &outcome.simulation;
    let wall = started.elapsed().as_secs_f64();
    let mut summary = xinyong_sim::summary::summary_json(sim, wall, crate::progress::peak_rss_bytes());
    let t = outcome.traffic;
    if let Some(map) = summary.as_object_mut() {
        map.insert(
            "cluster".into(),
            serde_json::json!({
                "workers_per_process": config.workers,
                "processes": config.processes(),
                "days_seconds": outcome.days_seconds,
                "traffic": t,
                "worker_bytes_per_day": t.worker_bytes_per_day(),
                "network_bytes_per_day": t.network_bytes_per_day(),
            }),
        );
    }
    let written = xinyong_sim::output::write_run(sim, &out, &summary)?;
    let report = crate::cmd::report::render(&out)?;
    if !args.quiet {
        for line in xinyong_sim::summary::headline(sim) {
            println!("{line}");
        }
        println!();
        println!(
            "Cluster: {} process(es) x {} worker(s); days took {:.2} s; exchanged {:.0} bytes a day between \
             workers, {:.0} of them between processes (parts: {:.0} bytes a day, largest {}).",
            config.processes(),
            config.workers,
            outcome.days_seconds,
            t.worker_bytes_per_day(),
            t.network_bytes_per_day(),
            t.part_bytes as f64 / t.days.max(1) as f64,
            t.part_bytes_max
        );
        println!("Time: {wall:.1} s.");
        println!("Wrote {}:", written.dir.display());
        for f in written.files.iter().chain(std::iter::once(&report)) {
            println!("  {}", f.display());
        }
    }
    Ok(())
}
