//! Cluster runs inside one process (timely worker threads): the same metrics.csv bytes as
//! the local run. (Runs over several processes: crates/xinyong/tests/cluster.rs.)

use std::sync::Arc;
use xinyong_cluster::{ClusterConfig, run};
use xinyong_sim::{Scenario, Simulation, metrics};

/// Expulsions with regrouping, KOLs followed from every shard, scandals, appeals, bans.
fn busy() -> Scenario {
    let pairs: Vec<(String, String)> = [
        ("run.citizens", "4000"),
        ("run.days", "30"),
        ("run.threads", "1"),
        ("policy.sanction.regroup_after_days", "3"),
        ("policy.sanction.keep_penalty", "80"),
        ("world.commerce.scandal_rate", "0.01"),
        ("world.kols.per_million", "5000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Scenario::parse("", "cluster", &pairs).unwrap()
}

fn local_csv(s: &Scenario) -> String {
    let mut sim = Simulation::new(s.clone()).unwrap();
    sim.run(|_, _| {});
    metrics::to_csv(sim.metrics(), &sim.tier_names())
}

fn cluster_csv(s: &Scenario, workers: usize) -> (String, xinyong_cluster::Traffic) {
    let outcome = run(s.clone(), &ClusterConfig::localhost(workers, 1, 0), Arc::new(|_, _| {}))
        .unwrap()
        .expect("process 0 gets the outcome");
    let sim = &outcome.simulation;
    (metrics::to_csv(sim.metrics(), &sim.tier_names()), outcome.traffic)
}

#[test]
fn workers_in_one_process_write_the_local_runs_metrics() {
    let s = busy();
    let local = local_csv(&s);
    for workers in [1, 2, 3] {
        let (csv, traffic) = cluster_csv(&s, workers);
        assert!(csv == local, "{workers} workers: metrics.csv differs from the local run's");
        assert_eq!(traffic.days, 30);
        assert_eq!(traffic.network_bytes, 0, "one process: nothing crosses the network");
        if workers > 1 {
            assert_eq!(traffic.worker_bytes, traffic.part_bytes * (workers as u64 - 1));
        }
    }
}

#[test]
fn a_bad_configuration_is_refused_before_starting() {
    let mut c = ClusterConfig::localhost(1, 2, 0);
    c.process = 2;
    let e = run(busy(), &c, Arc::new(|_, _| {})).err().expect("refused");
    assert!(e.to_string().contains("-p 2"), "{e}");
}
