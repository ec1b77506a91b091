//! `sweep`: a tidy CSV and small multiples of final values against each parameter.

mod common;

use common::{assert_offline, chart_ids, synthetic_run};
use xinyong_report::{SweepInput, SweepRun, Table, markup, render_sweep, sweep_csv};

fn sweep(days: usize) -> SweepInput {
    let mut runs = Vec::new();
    for quorum in ["0.3", "0.5", "0.7"] {
        for preset in ["default", "rongcheng"] {
            for seed in [1, 2] {
                runs.push(SweepRun {
                    values: vec![quorum.to_string(), preset.to_string()],
                    seed,
                    metrics: synthetic_run(days, seed * 10 + quorum.len() as u64).0,
                });
            }
        }
    }
    SweepInput { parameters: vec!["vote.expel_quorum".into(), "preset".into()], runs }
}

#[test]
fn the_tidy_csv_has_one_row_per_run_and_day() {
    let days = 15;
    let input = sweep(days);
    let csv = sweep_csv(&input);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + input.runs.len() * days);
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(&header[..4], ["vote.expel_quorum", "preset", "seed", "day"]);
    let metrics = input.runs[0].metrics.names().len();
    assert_eq!(header.len(), 3 + metrics);
    assert!(lines[1].starts_with("0.3,default,1,0,"), "{}", lines[1]);
    assert!(lines.iter().skip(1).all(|line| line.split(',').count() == header.len()));
    // The metric cells read back as the run's table.
    let first_run: String = std::iter::once(lines[0].split(',').skip(3).collect::<Vec<_>>().join(","))
        .chain(lines[1..=days].iter().map(|l| l.split(',').skip(3).collect::<Vec<_>>().join(",")))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(Table::from_csv(&first_run).unwrap(), input.runs[0].metrics);
}

#[test]
fn runs_lacking_a_column_leave_it_empty() {
    let mut input = sweep(3);
    let mut extra = input.runs[0].metrics.clone();
    extra.push_column("vouchers_used", vec![1.0, 2.0, 3.0]).unwrap();
    input.runs[0].metrics = extra;
    let csv = sweep_csv(&input);
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with(",vouchers_used"));
    assert!(csv.lines().nth(1).unwrap().ends_with(",1"));
    assert!(csv.lines().nth(4).unwrap().ends_with(','), "other runs have it empty");
}

#[test]
fn sweep_html_draws_final_values_against_each_parameter() {
    let input = sweep(20);
    let html = render_sweep(&input).unwrap();
    assert_offline(&html);
    assert_eq!(markup::check_well_formed(&html), Ok(()));
    let ids = chart_ids(&html);
    for id in [
        "chart-sweep-vote-expel-quorum-expulsions-innocent",
        "chart-sweep-vote-expel-quorum-travel-banned",
        "chart-sweep-preset-gmv",
        "chart-sweep-preset-score-p50",
    ] {
        assert!(ids.iter().any(|found| found == id), "missing {id}");
    }
    // One point per run in each chart, with a tooltip naming the run.
    let chart = common::figure(&html, "chart-sweep-preset-gmv").unwrap();
    assert_eq!(chart.matches("<circle").count(), input.runs.len());
    assert!(chart.contains("<title>preset = rongcheng, vote.expel_quorum = 0.5, seed 2\n"));
    // Categorical axis: the preset names are the ticks.
    assert!(chart.contains(">rongcheng</text>"));
}

#[test]
fn a_run_with_the_wrong_number_of_values_is_an_error() {
    let mut input = sweep(3);
    input.runs[1].values.pop();
    let error = render_sweep(&input).unwrap_err().to_string();
    assert!(error.contains("1 parameter values for 2 parameters"), "{error}");
}
