//! `xinyong sweep SCENARIO --vary KEY=V1,V2 …`: a grid of runs, one tidy table.

use crate::cmd::scenarios;
use anyhow::Context;
use std::path::PathBuf;
use xinyong_sim::experiment::{self, Vary};

/// Options of `xinyong sweep`.
///
/// Runs SCENARIO for every combination of the varied values and every seed, in parallel,
/// and writes sweep.csv (one row per run and day, parameter columns first) and sweep.html
/// (the final value of each key metric against each varied parameter).
///
/// Example: what does the keep penalty do to expulsions and bans?
///   xinyong sweep default --vary policy.sanction.keep_penalty=0,1,3,6 --seeds 3
///
/// Over a timely-dataflow cluster (docs/cluster.md), the runs are spread over every worker
/// of every process, and process 0 writes the sweep (the same bytes as a local sweep):
///   xinyong sweep default --vary policy.sanction.keep_penalty=0,3 --cluster -w 2 -n 2 -p 0 -h hosts.txt
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment, disable_help_flag = true)]
pub struct Args {
    /// Scenario (file or preset name).
    pub scenario: String,
    /// A key and its values, e.g. --vary world.voting.intercept=-0.5,0,0.5 (repeatable: grid).
    #[arg(long = "vary", value_name = "KEY=V1,V2,…", required = true)]
    pub varies: Vec<Vary>,
    /// Seeds per combination, starting at the scenario's run.seed.
    #[arg(long, default_value_t = 3)]
    pub seeds: u32,
    /// Override a key in every run, e.g. --set run.days=180 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Output folder (default: runs/sweep-<scenario name>).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub cluster: crate::cmd::cluster::ClusterArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.seeds >= 1, "--seeds must be at least 1");
    let overrides = crate::cmd::simulate::parse_sets(&args.sets)?;
    let (text, origin) = scenarios::text(&args.scenario)?;
    let base = xinyong_sim::Scenario::parse(&text, &origin, &overrides).context("invalid scenario")?;
    let seeds = experiment::seeds_from(base.run.seed, args.seeds);
    let total: usize = args.varies.iter().map(|v| v.values.len()).product::<usize>() * seeds.len();
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(format!("sweep-{}", base.run.name)));
    let runs = if args.cluster.cluster {
        let config = args.cluster.config()?;
        let jobs = std::sync::Arc::new(experiment::sweep_jobs(&text, &origin, &overrides, &args.varies, &seeds)?);
        let count = jobs.len();
        let job = std::sync::Arc::new(move |j: usize| {
            let (scenario, values) = jobs[j].clone();
            experiment::run_job(scenario, values).map_err(|e| e.to_string())
        });
        match xinyong_cluster::run_jobs(&config, count, job)
            .with_context(|| format!("cluster sweep failed in process {} of {}", config.process, config.processes()))?
        {
            Some(runs) => runs,
            None => {
                if !args.quiet {
                    println!("Process {} of {}: done; process 0 wrote the sweep.", config.process, config.processes());
                }
                return Ok(());
            }
        }
    } else {
        let bar = crate::progress::bar(total as u64, "runs", args.quiet);
        let runs = experiment::sweep(&text, &origin, &overrides, &args.varies, &seeds, &|| bar.inc(1))?;
        bar.finish_and_clear();
        runs
    };
    let input = xinyong_report::SweepInput {
        parameters: args.varies.iter().map(|v| v.key.clone()).collect(),
        runs: runs
            .iter()
            .map(|r| {
                Ok(xinyong_report::SweepRun {
                    values: r.values.clone(),
                    seed: r.seed,
                    metrics: xinyong_report::Table::from_csv(&r.csv())?,
                })
            })
            .collect::<Result<_, xinyong_report::ReportError>>()?,
    };
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    xinyong_report::write_sweep(&out, &input).context("cannot write the sweep")?;
    if !args.quiet {
        println!("{} runs; wrote {}/sweep.csv and {}/sweep.html", runs.len(), out.display(), out.display());
    }
    Ok(())
}
