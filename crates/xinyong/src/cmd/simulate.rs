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
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
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
            "this run needs about {estimate}, more than the {:.2} GiB available: lower run.citizens, \
             run.days or run.ledger_max_citizens (the ledger is kept in full up to that many citizens), \
             or pass --ignore-memory-check",
            available as f64 / (1u64 << 30) as f64
        );
    }
    Ok(estimate)
}

pub fn run(args: Args) -> anyhow::Result<()> {
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
