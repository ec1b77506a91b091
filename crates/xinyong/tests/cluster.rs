//! `xinyong simulate --cluster` over real processes on loopback (issue 9): the same
//! metrics.csv bytes as the local run, and a loud failure naming a process that dies.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_xinyong");

/// Expulsions with regrouping, KOLs followed from every shard, scandals, appeals, bans.
const BUSY: &[&str] = &[
    "--set",
    "run.citizens=3000",
    "--set",
    "run.days=25",
    "--set",
    "policy.sanction.regroup_after_days=3",
    "--set",
    "policy.sanction.keep_penalty=80",
    "--set",
    "world.commerce.scandal_rate=0.01",
    "--set",
    "world.kols.per_million=5000",
];

fn simulate(out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("simulate").args(BUSY).arg("-q").arg("-o").arg(out).args(extra);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// Waits for a child, killing it (and failing) after `limit`.
fn wait(mut child: Child, limit: Duration, what: &str) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what} did not finish within {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A hostfile of `n` free loopback ports.
fn hostfile(dir: &Path, n: usize) -> (PathBuf, Vec<String>) {
    let listeners: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let addresses: Vec<String> = listeners.iter().map(|l| l.local_addr().unwrap().to_string()).collect();
    drop(listeners);
    let path = dir.join("hosts.txt");
    std::fs::write(&path, addresses.join("\n") + "\n").unwrap();
    (path, addresses)
}

fn start_cluster(dir: &Path, processes: usize, workers: usize, extra: &[&str]) -> (Vec<Child>, Vec<String>) {
    let (hosts, addresses) = hostfile(dir, processes);
    let children = (0..processes)
        .map(|p| {
            let out = dir.join(format!("p{p}"));
            let (w, n, i) = (workers.to_string(), processes.to_string(), p.to_string());
            let mut args = vec!["--cluster", "-w", &w, "-n", &n, "-p", &i, "-h", hosts.to_str().unwrap()];
            args.extend_from_slice(extra);
            simulate(&out, &args).spawn().unwrap()
        })
        .collect();
    (children, addresses)
}

fn local_metrics(dir: &Path) -> Vec<u8> {
    let out = dir.join("local");
    let done = wait(simulate(&out, &[]).spawn().unwrap(), Duration::from_secs(120), "the local run");
    assert!(done.status.success(), "local run: {}", String::from_utf8_lossy(&done.stderr));
    std::fs::read(out.join("metrics.csv")).unwrap()
}

fn check_cluster(processes: usize, workers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let local = local_metrics(dir.path());
    let (children, _) = start_cluster(dir.path(), processes, workers, &[]);
    for (p, child) in children.into_iter().enumerate() {
        let done = wait(child, Duration::from_secs(120), &format!("process {p}"));
        assert!(done.status.success(), "process {p}: {}", String::from_utf8_lossy(&done.stderr));
    }
    let cluster = std::fs::read(dir.path().join("p0").join("metrics.csv")).unwrap();
    assert!(cluster == local, "{processes} processes x {workers} workers: metrics.csv differs from the local run's");
    for p in 1..processes {
        assert!(!dir.path().join(format!("p{p}")).join("metrics.csv").exists(), "only process 0 writes");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("p0").join("summary.json")).unwrap()).unwrap();
    let traffic = &summary["cluster"]["traffic"];
    assert_eq!(traffic["processes"], processes as u64);
    assert!(traffic["network_bytes"].as_u64().unwrap() > 0, "{summary}");
}

#[test]
fn two_processes_of_one_worker_write_the_local_runs_metrics() {
    check_cluster(2, 1);
}

#[test]
fn three_processes_of_two_workers_write_the_local_runs_metrics() {
    check_cluster(3, 2);
}

#[test]
fn a_process_that_dies_makes_the_others_fail_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough to be killed in the middle.
    let (mut children, addresses) = start_cluster(dir.path(), 2, 1, &["--days", "30000"]);
    std::thread::sleep(Duration::from_secs(4));
    let mut dead = children.pop().unwrap();
    dead.kill().unwrap();
    let _ = dead.wait();
    let survivor = wait(children.pop().unwrap(), Duration::from_secs(60), "process 0 after process 1 died");
    let stderr = String::from_utf8_lossy(&survivor.stderr);
    assert!(!survivor.status.success(), "process 0 must fail: {stderr}");
    assert!(stderr.contains(&format!("process 1 ({})", addresses[1])), "names the process: {stderr}");
    assert!(!dir.path().join("p0").join("metrics.csv").exists(), "no partial outputs");
}

#[test]
fn cluster_help_explains_the_timely_flags() {
    let out = Command::new(BIN).args(["simulate", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for flag in ["--cluster", "-w, --workers", "-n, --processes", "-p, --process", "-h, --hostfile"] {
        assert!(help.contains(flag), "{flag} in:\n{help}");
    }
}

#[test]
fn a_sweep_spread_over_two_processes_writes_the_local_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sweep = |out: &str, extra: &[&str]| {
        let mut c = Command::new(BIN);
        c.args(["sweep", "default", "--vary", "policy.sanction.keep_penalty=0,3", "--seeds", "2"])
            .args(["--set", "run.citizens=2000", "--set", "run.days=8", "-q", "-o"])
            .arg(d.join(out))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    };
    let local = wait(sweep("local", &[]), Duration::from_secs(120), "the local sweep");
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
    let (hosts, _) = hostfile(d, 2);
    let h = hosts.to_str().unwrap();
    let children: Vec<Child> = (0..2)
        .map(|p| sweep(&format!("c{p}"), &["--cluster", "-w", "2", "-n", "2", "-p", &p.to_string(), "-h", h]))
        .collect();
    for (p, child) in children.into_iter().enumerate() {
        let done = wait(child, Duration::from_secs(120), &format!("sweep process {p}"));
        assert!(done.status.success(), "process {p}: {}", String::from_utf8_lossy(&done.stderr));
    }
    for file in ["sweep.csv", "sweep.html"] {
        let a = std::fs::read(d.join("local").join(file)).unwrap();
        let b = std::fs::read(d.join("c0").join(file)).unwrap();
        assert!(a == b, "{file} differs from the local sweep's");
    }
}
