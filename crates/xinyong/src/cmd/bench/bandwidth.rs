//! `xinyong bench bandwidth`: the machine's sequential memory bandwidth.
//!
//! The China-scale figures compare a run's time with the time it would take just to
//! stream its mutable state through memory once a day; this probe measures that speed.

use rayon::prelude::*;
use std::time::Instant;

/// Options of `xinyong bench bandwidth`.
///
/// Streams a buffer (default 1 GiB) through memory: a read pass (sum) and a read+write pass
/// (increment), on one thread and on all threads; prints GB/s (10^9 bytes per second).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Buffer size in MiB.
    #[arg(long, default_value_t = 1024)]
    pub mib: usize,
    /// Passes of each kind (the best is reported).
    #[arg(long, default_value_t = 5)]
    pub passes: usize,
}

/// Best read and read+write bandwidth, in GB/s, on one thread and on all threads.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Bandwidth {
    pub read_one_thread: f64,
    pub read_write_one_thread: f64,
    pub read_all_threads: f64,
    pub read_write_all_threads: f64,
    pub threads: usize,
}

pub fn measure(mib: usize, passes: usize) -> Bandwidth {
    let words = mib * (1 << 20) / 8;
    let mut buffer: Vec<u64> = (0..words as u64).collect();
    let bytes = (words * 8) as f64;
    let best = |f: &mut dyn FnMut() -> u64, traffic: f64| {
        (0..passes.max(1))
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                traffic / t.elapsed().as_secs_f64() / 1e9
            })
            .fold(0.0, f64::max)
    };
    let read_one_thread = best(&mut || buffer.iter().copied().fold(0u64, u64::wrapping_add), bytes);
    let read_all_threads = best(&mut || buffer.par_iter().copied().reduce(|| 0, u64::wrapping_add), bytes);
    let read_write_one_thread = best(
        &mut || {
            buffer.iter_mut().for_each(|x| *x = x.wrapping_add(1));
            buffer[0]
        },
        2.0 * bytes,
    );
    let read_write_all_threads = best(
        &mut || {
            buffer.par_iter_mut().for_each(|x| *x = x.wrapping_add(1));
            buffer[0]
        },
        2.0 * bytes,
    );
    Bandwidth {
        read_one_thread,
        read_write_one_thread,
        read_all_threads,
        read_write_all_threads,
        threads: rayon::current_num_threads(),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.mib >= 16, "--mib must be at least 16");
    let b = measure(args.mib, args.passes);
    println!("memory bandwidth over {} MiB (best of {} passes), GB/s:", args.mib, args.passes);
    println!("  one thread:        read {:6.1}   read+write {:6.1}", b.read_one_thread, b.read_write_one_thread);
    println!(
        "  {} threads:         read {:6.1}   read+write {:6.1}",
        b.threads, b.read_all_threads, b.read_write_all_threads
    );
    Ok(())
}
