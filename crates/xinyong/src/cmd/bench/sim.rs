//! `xinyong bench sim`: how fast the simulator runs, and how far from the memory floor.

use crate::cmd::scenarios;
use std::time::Instant;

/// Options of `xinyong bench sim`.
///
/// Runs a scenario without writing anything and prints: setup and per-phase times (the
/// groups' day split into its parallel part, the groupless and the close), the CPU used,
/// citizen-days per second, events per second, peak memory against the estimate, the
/// heap the run holds at its end by part (members, notices, directory, ...: what RSS
/// holds beyond their sum is the allocator's free space and fragments), and the ratio
/// to the memory floor (the time to stream the mutable state touched each day
/// through memory once a day, at the bandwidth measured by `xinyong bench bandwidth`).
///
/// With `--log xinyong=debug`, one line a day: each part's seconds and the resident memory.
///
/// Examples:
///   xinyong bench sim --citizens 10000000 --days 30
///   xinyong bench sim --scenario china-scale --days 3
///   xinyong bench sim --scenario china-scale --citizens 100000000 --log xinyong=debug
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Scenario file or preset.
    #[arg(long, short = 's', default_value = "default")]
    pub scenario: String,
    #[arg(long)]
    pub citizens: Option<u32>,
    #[arg(long)]
    pub days: Option<u32>,
    #[arg(long)]
    pub threads: Option<u32>,
    /// Override any scenario key (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Skip the bandwidth probe (and the floor ratio).
    #[arg(long)]
    pub no_floor: bool,
    /// Run even when the memory estimate exceeds the available memory.
    #[arg(long)]
    pub ignore_memory_check: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut overrides = crate::cmd::simulate::parse_sets(&args.sets)?;
    overrides.push(("run.ledger_max_citizens".into(), "0".into()));
    if let Some(n) = args.citizens {
        overrides.push(("run.citizens".into(), n.to_string()));
    }
    if let Some(d) = args.days {
        overrides.push(("run.days".into(), d.to_string()));
    }
    if let Some(t) = args.threads {
        overrides.push(("run.threads".into(), t.to_string()));
    }
    let scenario = scenarios::load(&args.scenario, &overrides)?;
    let estimate = crate::cmd::simulate::check_memory(&scenario, args.ignore_memory_check)?;
    let (n, days) = (scenario.run.citizens as f64, scenario.run.days);
    println!("{} citizens, {} days, scenario {:?}", n as u64, days, args.scenario);
    let started = Instant::now();
    let mut sim = xinyong_sim::Simulation::new(scenario)?;
    let bar = crate::progress::bar(days as u64, "days", false);
    let mut before = sim.timings();
    for day in 0..days {
        let row = sim.step();
        let (groupless_citizens, expelled, regrouped) = (row.groupless, row.expulsions, row.regrouped);
        bar.set_position(day as u64 + 1);
        // One line a day with `--log xinyong=debug`: where a slow stretch of a long run went.
        let t = sim.timings();
        tracing::debug!(
            day,
            parallel = t.daily_parallel_seconds - before.daily_parallel_seconds,
            groupless = t.daily_groupless_seconds - before.daily_groupless_seconds,
            close = t.daily_close_seconds - before.daily_close_seconds,
            global = t.daily_global_seconds - before.daily_global_seconds,
            metrics = t.metrics_seconds - before.metrics_seconds,
            rss_gib = crate::progress::rss_bytes().unwrap_or(0) as f64 / (1u64 << 30) as f64,
            groupless_citizens,
            expelled,
            regrouped,
            "day done"
        );
        before = t;
    }
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    let cpu = crate::progress::cpu_seconds();
    let t = sim.timings();
    let daily = t.daily_global_seconds + t.daily_groups_seconds + t.metrics_seconds;
    let totals = sim.totals();
    let events = totals.incidents_true + totals.incidents_false + totals.notices + totals.orders;
    let citizen_days = n * days as f64;
    // Read the peak before the bandwidth probe allocates its own buffer.
    let peak = crate::progress::peak_rss_bytes();
    let resident = crate::progress::rss_bytes();
    let bandwidth = (!args.no_floor).then(|| crate::cmd::bench::bandwidth::measure(1024, 3));
    println!("threads: {}", sim.threads());
    println!(
        "time: {wall:.1} s = setup {:.1} s + days {daily:.1} s (groups {:.1} s, global {:.1} s, metrics {:.1} s)",
        t.setup_seconds, t.daily_groups_seconds, t.daily_global_seconds, t.metrics_seconds
    );
    println!(
        "groups' day: in parallel {:.1} s; the groupless {:.1} s (one thread); the close {:.1} s (merging, expelling, regrouping: one thread but for the regrouping's shortlists)",
        t.daily_parallel_seconds, t.daily_groupless_seconds, t.daily_close_seconds
    );
    if let Some((user, system)) = cpu {
        println!(
            "cpu: user {user:.1} s + system {system:.1} s = {:.2} of {} threads busy on average",
            (user + system) / wall,
            sim.threads()
        );
    }
    println!(
        "throughput: {:.3e} citizen-days/s over the days ({:.3e} with setup)",
        citizen_days / daily,
        citizen_days / wall
    );
    println!(
        "events: {:.3e}/s ({} incidents, {} notices, {} orders)",
        events as f64 / daily,
        totals.incidents_true + totals.incidents_false,
        totals.notices,
        totals.orders
    );
    let gib = |b: f64| b / (1u64 << 30) as f64;
    if let Some(peak) = peak {
        println!(
            "memory: peak RSS {:.2} GiB ({:.1} bytes a citizen); estimate {:.2} GiB",
            gib(peak as f64),
            peak as f64 / n,
            gib(estimate.total_bytes as f64)
        );
    }
    let parts = sim.heap_use();
    let held: u64 = parts.iter().map(|(_, b)| b).sum();
    println!(
        "heap held at the end: {:.2} GiB ({:.1} bytes a citizen; resident then {:.1}), by part:",
        gib(held as f64),
        held as f64 / n,
        resident.unwrap_or(0) as f64 / n
    );
    for (name, bytes) in parts.iter().filter(|(_, b)| *b as f64 >= n / 100.0) {
        println!("  {name}: {:.1} bytes a citizen", *bytes as f64 / n);
    }
    let usage = crate::ALLOCATOR.usage();
    println!(
        "allocators at the end (bytes a citizen): mid-sized heap {:.1} in use + {:.1} free of {:.1} taken; \
         C library {:.1} in use + {:.1} free in its arenas, {:.1} mapped",
        usage.mid_allocated as f64 / n,
        usage.mid_free as f64 / n,
        usage.mid_claimed as f64 / n,
        usage.c_allocated as f64 / n,
        usage.c_free as f64 / n,
        usage.c_mapped as f64 / n,
    );
    if let Some(b) = bandwidth {
        // Each day the close reads every member of every group (tiers) and the metrics read
        // them again; members that changed are written: at least two members' bytes a
        // citizen a day (14 B; 16 B before `Member` was packed to 7).
        let touched_per_day = 2.0 * std::mem::size_of::<xinyong_engine::Member>() as f64 * n;
        let floor = touched_per_day * days as f64 / (b.read_write_all_threads * 1e9);
        println!(
            "memory floor: {:.1} GB touched a day x {days} days / {:.1} GB/s = {floor:.2} s; ratio {:.1}x",
            touched_per_day / 1e9,
            b.read_write_all_threads,
            daily / floor
        );
    }
    Ok(())
}
