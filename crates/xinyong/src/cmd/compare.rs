//! `xinyong compare A B`: policy A vs policy B on the same seeds.

use crate::cmd::scenarios;
use anyhow::Context;
use std::path::PathBuf;
use xinyong_sim::experiment::{self, RunOutput};

/// Options of `xinyong compare`.
///
/// Runs scenario A and scenario B on the same seeds with common random numbers (the same
/// synthetic people and the same draws wherever the two rule sets do not differ), then
/// reports, per metric, the mean difference B − A with a 95 % interval over the seeds:
/// a table on stdout, compare.csv and compare.html (paired charts) in the output folder.
///
/// Example: how many fewer expulsions without the -3 for "keep"?
///   xinyong compare default no-keep-penalty --seeds 10
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Scenario A (file or preset name).
    pub a: String,
    /// Scenario B (file or preset name).
    pub b: String,
    /// Number of seeds (runs per scenario), starting at A's run.seed.
    #[arg(long, default_value_t = 10)]
    pub seeds: u32,
    /// Override a key in both scenarios, e.g. --set run.citizens=20000 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Output folder (default: runs/compare-<A>-vs-<B>).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn tables(runs: &[RunOutput]) -> anyhow::Result<Vec<xinyong_report::Table>> {
    runs.iter().map(|r| xinyong_report::Table::from_csv(&r.csv()).context("metrics of a run")).collect()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.seeds >= 1, "--seeds must be at least 1");
    let overrides = crate::cmd::simulate::parse_sets(&args.sets)?;
    let a = scenarios::load(&args.a, &overrides)?;
    let b = scenarios::load(&args.b, &overrides)?;
    let seeds = experiment::seeds_from(a.run.seed, args.seeds);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("compare-{}-vs-{}", a.run.name, b.run.name)));
    let bar = crate::progress::bar(2 * seeds.len() as u64, "runs", args.quiet);
    let tick = || bar.inc(1);
    let runs_a = experiment::run_seeds(&a, &seeds, &tick)?;
    let runs_b = experiment::run_seeds(&b, &seeds, &tick)?;
    bar.finish_and_clear();
    let input = xinyong_report::CompareInput {
        label_a: a.run.name.clone(),
        label_b: b.run.name.clone(),
        runs_a: tables(&runs_a)?,
        runs_b: tables(&runs_b)?,
        seeds: seeds.clone(),
        scenario_a: a.resolved_json(),
        scenario_b: b.resolved_json(),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let diffs = xinyong_report::write_compare(&out, &input).context("cannot write the comparison")?;
    if !args.quiet {
        println!("B − A over {} seeds ({} vs {}), mean and 95 % interval:", seeds.len(), b.run.name, a.run.name);
        print!("{}", xinyong_report::compare_text_table(&diffs));
        println!();
        println!("Wrote {}/compare.csv and {}/compare.html", out.display(), out.display());
    }
    Ok(())
}
