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

pub fn run(args: Args) -> anyhow::Result<()> {
    let scenario = scenarios::load(&args.scenario, &overrides(&args)?)?;
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
        println!();
        println!("Wrote {} in {:.1} s:", written.dir.display(), wall);
        for f in written.files.iter().chain(std::iter::once(&report)) {
            println!("  {}", f.display());
        }
    }
    Ok(())
}
