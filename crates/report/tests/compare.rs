//! `compare`: paired differences over seeds, and the outputs that carry them.

mod common;

use common::{assert_offline, chart_ids, synthetic_run};
use serde_json::json;
use xinyong_report::{
    CompareInput, MetricKind, Table, compare_csv, compare_metrics, compare_text_table, markup, render_compare,
};

const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

fn runs(days: usize) -> Vec<Table> {
    SEEDS.iter().map(|seed| synthetic_run(days, *seed).0).collect()
}

fn input(runs_a: Vec<Table>, runs_b: Vec<Table>) -> CompareInput {
    CompareInput {
        label_a: "default".into(),
        label_b: "harsh cameras".into(),
        runs_a,
        runs_b,
        seeds: SEEDS.to_vec(),
        scenario_a: json!({ "cameras": { "false_identification_rate": 0.00026 }, "days": 40 }),
        scenario_b: json!({ "cameras": { "false_identification_rate": 0.001 }, "days": 40 }),
    }
}

/// `table` with `delta` added to every value of `column`.
fn shifted(table: &Table, column: &str, delta: f64) -> Table {
    Table::from_columns(table.names().iter().map(|name| {
        let values = table.column(name).unwrap();
        let values = if name == column { values.iter().map(|v| v + delta).collect() } else { values.to_vec() };
        (name.clone(), values)
    }))
    .unwrap()
}

#[test]
fn a_scenario_compared_with_itself_differs_by_exactly_zero() {
    let runs = runs(40);
    let diffs = compare_metrics(&input(runs.clone(), runs));
    assert_eq!(diffs.len(), runs_metric_count());
    for diff in &diffs {
        assert_eq!(diff.mean_difference, 0.0, "{}", diff.metric);
        assert_eq!(diff.ci95_low, 0.0, "{}", diff.metric);
        assert_eq!(diff.ci95_high, 0.0, "{}", diff.metric);
        assert_eq!(diff.mean_a, diff.mean_b);
        assert_eq!(diff.n, SEEDS.len());
        assert!(!diff.is_significant());
    }
}

fn runs_metric_count() -> usize {
    synthetic_run(2, 1).0.names().len() - 1 // all but `day`
}

#[test]
fn a_known_shift_gives_the_known_difference() {
    let days = 40;
    let a = runs(days);
    // +2 expulsions every day (a flow: +80 in total) and +5 citizens (a stock: +5 at the end).
    let b: Vec<Table> = a.iter().map(|run| shifted(&shifted(run, "expulsions", 2.0), "citizens", 5.0)).collect();
    let diffs = compare_metrics(&input(a, b));
    let expulsions = diffs.iter().find(|d| d.metric == "expulsions").unwrap();
    assert_eq!(expulsions.kind, MetricKind::Flow);
    assert!((expulsions.mean_difference - 2.0 * days as f64).abs() < 1e-9);
    assert!((expulsions.ci95_high - expulsions.ci95_low).abs() < 1e-9, "a constant shift has no spread");
    assert!(expulsions.is_significant());
    let citizens = diffs.iter().find(|d| d.metric == "citizens").unwrap();
    assert_eq!(citizens.kind, MetricKind::Stock);
    assert!((citizens.mean_difference - 5.0).abs() < 1e-9);
    let orders = diffs.iter().find(|d| d.metric == "orders").unwrap();
    assert_eq!(orders.mean_difference, 0.0, "untouched metrics do not move");
}

#[test]
fn noisy_differences_get_an_interval_that_covers_them() {
    let a = runs(30);
    let b: Vec<Table> =
        a.iter().enumerate().map(|(index, run)| shifted(run, "citizens", 10.0 + index as f64)).collect();
    let diffs = compare_metrics(&input(a, b));
    let citizens = diffs.iter().find(|d| d.metric == "citizens").unwrap();
    // Differences 10..=14: mean 12, sd sqrt(2.5), t(4) = 2.7764.
    let half = 2.7764 * (2.5f64 / 5.0).sqrt();
    assert!((citizens.mean_difference - 12.0).abs() < 1e-9);
    assert!((citizens.ci95_low - (12.0 - half)).abs() < 1e-9);
    assert!((citizens.ci95_high - (12.0 + half)).abs() < 1e-9);
}

#[test]
fn csv_and_text_table_list_every_metric() {
    let a = runs(20);
    let b: Vec<Table> = a.iter().map(|run| shifted(run, "gmv", 100.0)).collect();
    let diffs = compare_metrics(&input(a, b));
    let csv = compare_csv(&diffs);
    let text = compare_text_table(&diffs);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "metric,kind,mean_a,mean_b,mean_difference,ci95_low,ci95_high,n");
    assert_eq!(lines.len(), diffs.len() + 1);
    for diff in &diffs {
        assert!(csv.contains(&format!("\n{},", diff.metric)), "csv lacks {}", diff.metric);
        assert!(
            text.lines().any(|line| line.starts_with(&format!("{} ", diff.metric))),
            "text table lacks {}",
            diff.metric
        );
    }
    let gmv = text.lines().find(|line| line.starts_with("gmv ")).unwrap();
    assert!(gmv.trim_end().ends_with('*'), "significant rows are marked: {gmv}");
    // Aligned: every data row has the same width up to the `n` column.
    let widths: Vec<usize> =
        text.lines().skip(2).take(diffs.len()).map(|l| l.trim_end_matches([' ', '*']).len()).collect();
    assert!(widths.windows(2).all(|w| w[0] == w[1]), "{text}");
}

#[test]
fn compare_html_has_paired_charts_the_table_and_the_scenario_difference() {
    let a = runs(30);
    let b: Vec<Table> = a.iter().map(|run| shifted(run, "expulsions_innocent", 1.0)).collect();
    let input = input(a, b);
    let diffs = compare_metrics(&input);
    let html = render_compare(&input, &diffs).unwrap();
    assert_offline(&html);
    assert_eq!(markup::check_well_formed(&html), Ok(()));
    let ids = chart_ids(&html);
    for id in [
        "chart-compare-forest",
        "chart-compare-expulsions-innocent",
        "chart-compare-travel-banned",
        "chart-compare-gmv",
        "chart-compare-score-p50",
    ] {
        assert!(ids.iter().any(|found| found == id), "missing {id} in {ids:?}");
    }
    assert!(html.contains("<td>cameras.false_identification_rate</td><td>0.00026</td><td>0.001</td>"));
    assert!(!html.contains("<td>days</td><td>40</td>"), "only what differs is listed");
    assert!(html.contains("Innocent people expelled (total) is higher under harsh cameras"));
}

#[test]
fn compare_needs_runs() {
    let input = input(Vec::new(), Vec::new());
    assert!(compare_metrics(&input).is_empty());
    assert!(render_compare(&input, &[]).is_err());
}
