//! Criterion benchmarks of the simulator's hot loops (issue 6): one simulated day of a
//! population group by group (plan every group's actions, apply them through the engine,
//! close the day), on one thread and on all of them.
//!
//!     cargo bench -p xinyong-sim --bench day
//!
//! Throughput is reported in citizen-days (elements). `xinyong bench sim` measures whole
//! runs at scale; this isolates a steady-state day.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use xinyong_sim::{Scenario, Simulation};

const CITIZENS: u32 = 200_000;

fn simulation(threads: u32) -> Simulation {
    let mut s = Scenario::default();
    s.run.citizens = CITIZENS;
    s.run.days = 36_500; // the most allowed; each iteration steps one more day
    s.run.threads = threads;
    s.run.ledger_max_citizens = 0;
    let mut sim = Simulation::new(s).expect("the default scenario is valid");
    // Warm up past the first days, when no notices are open yet.
    for _ in 0..5 {
        sim.step();
    }
    sim
}

fn day(c: &mut Criterion) {
    let mut group = c.benchmark_group("day");
    group.throughput(Throughput::Elements(CITIZENS as u64));
    group.sample_size(20);
    for threads in [1, 0] {
        let mut sim = simulation(threads);
        let name = if threads == 1 { "200k citizens, 1 thread" } else { "200k citizens, all threads" };
        group.bench_function(name, |b| {
            b.iter(|| {
                let row = sim.step();
                std::hint::black_box(row.orders)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, day);
criterion_main!(benches);
