//! The binary as a user runs it: outputs, errors, and the experiment commands.

use std::path::Path;
use std::process::{Command, Output};

fn xinyong(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xinyong")).args(args).current_dir(dir).output().expect("the binary runs")
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

const SMALL: [&str; 6] =
    ["--set", "run.citizens=1500", "--set", "run.days=15", "--set", "world.misconduct.daily_rate_mean=0.004"];

#[test]
fn simulate_writes_every_output_and_a_plain_summary() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["simulate", "--seed", "3", "--out", "run"];
    args.extend(SMALL);
    let out = xinyong(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1,500 citizens in 6 interest groups, 15 days, seed 3."), "{stdout}");
    assert!(stdout.contains("flagged people who had done nothing"), "{stdout}");
    let run = dir.path().join("run");
    for file in ["metrics.csv", "metrics.parquet", "ledger.parquet", "summary.json", "report.html"] {
        let meta = std::fs::metadata(run.join(file)).unwrap_or_else(|_| panic!("{file} missing"));
        assert!(meta.len() > 100, "{file} is too small");
    }
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 16, "a header and one row per day");
    assert!(csv.starts_with("day,citizens,groups,groupless,incidents_true,incidents_false,notices,"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 3);
    assert_eq!(summary["scenario"]["run"]["citizens"], 1500);
    assert_eq!(summary["scenario"]["policy"]["sanction"]["keep_penalty"], 3, "the scenario is resolved in full");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("chart-"), "the report has charts");

    // `report` re-renders the same page from the stored metrics.
    std::fs::remove_file(run.join("report.html")).unwrap();
    let out = xinyong(&["report", "run"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(run.join("report.html")).unwrap(), html);
}

#[test]
fn the_same_seed_gives_the_same_bytes_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    for (threads, name) in [("1", "one"), ("2", "two")] {
        let mut args = vec!["simulate", "-q", "--threads", threads, "--out", name];
        args.extend(SMALL);
        assert!(xinyong(&args, dir.path()).status.success());
    }
    for file in ["metrics.csv", "metrics.parquet", "ledger.parquet"] {
        let a = std::fs::read(dir.path().join("one").join(file)).unwrap();
        let b = std::fs::read(dir.path().join("two").join(file)).unwrap();
        assert!(a == b, "{file} differs between 1 and 2 threads");
    }
}

#[test]
fn a_malformed_scenario_names_the_file_the_line_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[run]\ndays = 10\n\n[policy.groups]\nmin_size = 400\nmax_size = 300\n",
    )
    .unwrap();
    let out = xinyong(&["simulate", "--scenario", "bad.toml"], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("bad.toml:5: policy.groups.min_size: 400 is larger than max_size"), "{err}");

    std::fs::write(dir.path().join("typo.toml"), "[world.voting]\nmodel = \"always_kep\"\n").unwrap();
    let err = text(&xinyong(&["simulate", "--scenario", "typo.toml"], dir.path()).stderr);
    assert!(err.contains("typo.toml:2") && err.contains("always_kep"), "{err}");

    let err = text(&xinyong(&["simulate", "--set", "policy.sanction.keep_penalti=0"], dir.path()).stderr);
    assert!(err.contains("--set") && err.contains("keep_penalti"), "{err}");

    let err = text(&xinyong(&["simulate", "--scenario", "nowhere"], dir.path()).stderr);
    assert!(err.contains("no scenario file \"nowhere\"") && err.contains("rongcheng"), "{err}");
}

#[test]
fn comparing_a_scenario_with_itself_gives_zero_differences() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["compare", "default", "default", "--seeds", "2", "-q", "--out", "cmp"];
    args.extend(SMALL);
    let out = xinyong(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(dir.path().join("cmp/compare.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let diff = header.iter().position(|h| *h == "mean_difference").expect("a mean_difference column");
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[diff].parse::<f64>().unwrap(), 0.0, "{line}");
        rows += 1;
    }
    assert!(rows > 30, "every metric is compared");
    assert!(dir.path().join("cmp/compare.html").exists());
}

#[test]
fn sweep_writes_one_row_per_run_and_day() {
    let dir = tempfile::tempdir().unwrap();
    let mut args =
        vec!["sweep", "default", "--vary", "policy.sanction.keep_penalty=0,3", "--seeds", "2", "-q", "--out", "sw"];
    args.extend(SMALL);
    let out = xinyong(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(dir.path().join("sw/sweep.csv")).unwrap();
    assert!(csv.starts_with("policy.sanction.keep_penalty,seed,day,"), "{}", &csv[..80]);
    assert_eq!(csv.lines().count(), 1 + 2 * 2 * 15);
    assert!(dir.path().join("sw/sweep.html").exists());
}

#[test]
fn a_run_too_large_for_the_machine_is_refused_up_front_with_the_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        xinyong(&["simulate", "--citizens", "2000000000", "--set", "run.ledger_max_citizens=2000000000"], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("this run needs about") && err.contains("GiB available"), "{err}");
    assert!(err.contains("citizens in groups"), "the estimate lists its parts: {err}");
    assert!(!dir.path().join("runs").exists(), "nothing was written");
}

/// The binary's global allocator sends member lists (1-64 KiB) to their own heap, and the
/// benchmark reports where the bytes are: with it unplugged the heap would read zero.
#[test]
fn member_lists_live_on_the_mid_sized_heap() {
    let dir = tempfile::tempdir().unwrap();
    let out = xinyong(&["bench", "sim", "--citizens", "20000", "--days", "3", "--no-floor"], dir.path());
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let line = stdout.lines().find(|l| l.starts_with("allocators at the end")).expect("the allocators' line");
    let in_use: f64 = line
        .split("mid-sized heap ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no figure in {line:?}"));
    // Members are 6 B each and nearly every citizen is in a group.
    assert!(in_use >= 5.0, "mid-sized heap holds {in_use} B a citizen: {line}");
}

/// `bench sim` splits the groups' day into its parts (which add up to no more than the
/// whole), says how much CPU it used, and logs one line a day when asked.
#[test]
fn bench_sim_splits_the_groups_day_and_logs_each_day() {
    let dir = tempfile::tempdir().unwrap();
    let out = xinyong(
        &["bench", "sim", "--citizens", "20000", "--days", "4", "--no-floor", "--log", "xinyong=debug"],
        dir.path(),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    let seconds = |line: &str, after: &str| -> f64 {
        let rest = line.split(after).nth(1).unwrap_or_else(|| panic!("{after:?} in {line:?}"));
        rest.split(' ').next().and_then(|x| x.parse().ok()).unwrap_or_else(|| panic!("a figure after {after:?}"))
    };
    let time = stdout.lines().find(|l| l.starts_with("time:")).expect("the time line");
    let split = stdout.lines().find(|l| l.starts_with("groups' day:")).expect("the split line");
    let parts = seconds(split, "in parallel ") + seconds(split, "the groupless ") + seconds(split, "the close ");
    assert!(parts <= seconds(time, "(groups ") + 0.05, "{split} against {time}");
    let cpu = stdout.lines().find(|l| l.starts_with("cpu:")).expect("the cpu line");
    assert!(seconds(cpu, "user ") > 0.0, "{cpu}");
    let days: Vec<&str> = stderr.lines().filter(|l| l.contains("day done")).collect();
    assert_eq!(days.len(), 4, "{stderr}");
    let fields = ["parallel=", "close=", "rss_gib=", "groupless_citizens=", "expelled=", "regrouped="];
    assert!(days.iter().all(|l| fields.iter().all(|f| l.contains(f))), "{stderr}");
}
