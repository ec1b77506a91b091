//! `xinyong`: one binary, thin glue over the library crates.
//!
//! Each subcommand lives in `cmd/<name>.rs` with its own `Args` and `run`.

use clap::{Parser, Subcommand};

mod allocator;
mod cmd;
mod logging;
mod progress;

#[global_allocator]
pub(crate) static ALLOCATOR: allocator::Segregated = allocator::Segregated::new();

/// xinyong (信用, "credit") runs the social-commerce social-credit system described in
/// L'ADN's article ("En Chine, les internautes pourraient dénoncer les « mauvais »
/// citoyens contre des bons de réduction") so that anyone can see what it does to people
/// before anything like it is deployed.
///
/// People are put by data into interest groups of 200-300; groups buy together for
/// 20-30 % off; influencers (KOLs) sell to their fans; when a camera flags someone, the
/// next day every member of their group must expel them (+3 points) or keep them
/// (-3 points); points move discounts and can bar a person from travelling.
///
/// Start with `xinyong simulate` (a synthetic population, default scenario) and open the
/// report it writes. Every subcommand has its own --help.
#[derive(Parser, Debug)]
#[command(name = "xinyong", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    /// Log filter (e.g. `info`, `xinyong_sim=debug`); also read from XINYONG_LOG.
    #[arg(long, global = true, env = "XINYONG_LOG", default_value = "warn")]
    log: String,

    /// Write logs as JSON lines (structured) instead of text.
    #[arg(long, global = true)]
    log_json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a synthetic population through the rules; write metrics, ledger and a report.
    Simulate(cmd::simulate::Args),
    /// Re-render report.html of a run folder from its stored metrics.
    Report(cmd::report::Args),
    /// Run two scenarios on the same seeds and report what changes, B − A, with intervals.
    Compare(cmd::compare::Args),
    /// Run a scenario over a grid of parameter values and seeds; one tidy table.
    Sweep(cmd::sweep::Args),
    /// Serve the live platform: HTTP API, accounts and roles, web app, durable log.
    Serve(cmd::serve::Args),
    /// Measure: print throughput, latency and memory figures.
    Bench(cmd::bench::Args),
    /// Partition synthetic citizens into interest groups and report the grouping's quality.
    Group(cmd::group::Args),
}

fn main() -> std::process::ExitCode {
    let held = allocator::hold_mmap_threshold();
    let cli = Cli::parse();
    logging::init(&cli.log, cli.log_json);
    if held {
        tracing::debug!("glibc mmap threshold held at 128 KiB");
    } else {
        tracing::debug!("allocator left as it is (MALLOC_MMAP_THRESHOLD_ is set, or the C library is not glibc)");
    }
    let result = match cli.command {
        Command::Simulate(args) => cmd::simulate::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Compare(args) => cmd::compare::run(args),
        Command::Sweep(args) => cmd::sweep::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Group(args) => cmd::group::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
