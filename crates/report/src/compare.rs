//! `compare`: two scenarios run on the same seeds, compared metric by metric.
//!
//! Each run is reduced to one number per metric (the total of a flow, the last value of a
//! stock: see [`crate::metrics`]). Runs are paired by seed (`runs_a[i]` and `runs_b[i]`
//! share `seeds[i]`), so the differences B − A cancel the seed's own luck; the 95 %
//! interval is Student's t over those paired differences.

use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

use crate::chart::{Chart, ForestRow, Layer};
use crate::format::{self, escape};
use crate::html::{self, Block, Cell, Page, Plot};
use crate::metrics::{self, MetricKind};
use crate::{ReportError, Table, palette};

macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// Two sets of runs to compare; `runs_a[i]` and `runs_b[i]` were run with `seeds[i]`.
#[derive(Debug, Clone)]
pub struct CompareInput {
    pub label_a: String,
    pub label_b: String,
    pub runs_a: Vec<Table>,
    pub runs_b: Vec<Table>,
    pub seeds: Vec<u64>,
    /// The resolved scenarios (as in `summary.json`), for the table of what differs.
    pub scenario_a: Value,
    pub scenario_b: Value,
}

/// The paired difference of one metric between B and A (serializes for `--json` output;
/// NaN becomes `null`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MetricDifference {
    pub metric: String,
    /// Flow (run value = total) or stock (run value = last day).
    pub kind: MetricKind,
    pub mean_a: f64,
    pub mean_b: f64,
    /// Mean over seeds of (B − A).
    pub mean_difference: f64,
    /// 95 % interval of the mean difference (Student t); NaN with fewer than two pairs.
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// Number of seed pairs.
    pub n: usize,
}

impl MetricDifference {
    /// Whether the 95 % interval excludes zero.
    pub fn is_significant(&self) -> bool {
        self.ci95_low > 0.0 || self.ci95_high < 0.0
    }
}

/// Two-sided 95 % Student t quantiles, t(0.975, df) for df = 1..=30.
const T_975: [f64; 30] = [
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010, 2.1788, 2.1604, 2.1448,
    2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484,
    2.0452, 2.0423,
];
/// The normal quantile used above 30 degrees of freedom.
const Z_975: f64 = 1.959964;

/// t(0.975, df): from the table up to 30, the normal quantile above; NaN for df = 0.
pub fn t_quantile_975(degrees_of_freedom: usize) -> f64 {
    match degrees_of_freedom {
        0 => f64::NAN,
        df if df <= T_975.len() => T_975[df - 1],
        _ => Z_975,
    }
}

/// Per metric present in every run of both sets (in A's column order, `day` excluded):
/// mean of A, mean of B, mean paired difference B − A and its 95 % interval.
///
/// Pairs are `(runs_a[i], runs_b[i])` for `i < min(len_a, len_b)`; a run whose value is
/// missing (NaN) drops its pair for that metric only.
pub fn compare_metrics(input: &CompareInput) -> Vec<MetricDifference> {
    let pairs = input.runs_a.len().min(input.runs_b.len());
    let Some(first) = input.runs_a.first() else {
        return Vec::new();
    };
    let runs = input.runs_a[..pairs].iter().chain(&input.runs_b[..pairs]);
    let shared: Vec<String> =
        metrics::metric_columns(first).into_iter().filter(|name| runs.clone().all(|run| run.has(name))).collect();
    shared
        .into_iter()
        .map(|metric| {
            let kind = MetricKind::of(&metric).expect("metric columns exclude the day index");
            let mut values_a = Vec::with_capacity(pairs);
            let mut values_b = Vec::with_capacity(pairs);
            for index in 0..pairs {
                let a = metrics::run_value(&input.runs_a[index], &metric).unwrap_or(f64::NAN);
                let b = metrics::run_value(&input.runs_b[index], &metric).unwrap_or(f64::NAN);
                if a.is_finite() && b.is_finite() {
                    values_a.push(a);
                    values_b.push(b);
                }
            }
            difference(metric, kind, &values_a, &values_b)
        })
        .collect()
}

fn difference(metric: String, kind: MetricKind, a: &[f64], b: &[f64]) -> MetricDifference {
    let n = a.len();
    let differences: Vec<f64> = a.iter().zip(b).map(|(a, b)| b - a).collect();
    let mean_of = |values: &[f64]| {
        if values.is_empty() { f64::NAN } else { values.iter().sum::<f64>() / values.len() as f64 }
    };
    let mean_difference = mean_of(&differences);
    let (ci95_low, ci95_high) = if n >= 2 {
        let variance = differences.iter().map(|d| (d - mean_difference).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half_width = t_quantile_975(n - 1) * (variance / n as f64).sqrt();
        (mean_difference - half_width, mean_difference + half_width)
    } else {
        (f64::NAN, f64::NAN)
    };
    MetricDifference { metric, kind, mean_a: mean_of(a), mean_b: mean_of(b), mean_difference, ci95_low, ci95_high, n }
}

/// `compare.csv`: one row per metric, full precision; empty cells where undefined.
pub fn compare_csv(diffs: &[MetricDifference]) -> String {
    let mut out = String::from("metric,kind,mean_a,mean_b,mean_difference,ci95_low,ci95_high,n\n");
    for diff in diffs {
        put!(
            out,
            "{},{},{},{},{},{},{},{}\n",
            format::csv_field(&diff.metric),
            kind_word(diff.kind),
            format::machine(diff.mean_a),
            format::machine(diff.mean_b),
            format::machine(diff.mean_difference),
            format::machine(diff.ci95_low),
            format::machine(diff.ci95_high),
            diff.n
        );
    }
    out
}

fn kind_word(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Flow => "flow",
        MetricKind::Stock => "stock",
    }
}

/// A number for the text table: 6 significant digits, trailing zeros dropped, plain ASCII.
fn plain(value: f64) -> String {
    if value.is_nan() {
        return "-".to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    let order = value.abs().log10().floor() as i32;
    let decimals = (5 - order).clamp(0, 9) as usize;
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text };
    if text == "-0" { "0".to_string() } else { text }
}

/// The comparison as an aligned plain-text table for a terminal. Rows whose interval
/// excludes zero are marked with `*`.
pub fn compare_text_table(diffs: &[MetricDifference]) -> String {
    let header = ["metric", "kind", "mean A", "mean B", "B - A", "95% CI low", "95% CI high", "n", ""];
    let mut rows: Vec<[String; 9]> = vec![header.map(str::to_string)];
    for diff in diffs {
        rows.push([
            diff.metric.clone(),
            kind_word(diff.kind).to_string(),
            plain(diff.mean_a),
            plain(diff.mean_b),
            plain(diff.mean_difference),
            plain(diff.ci95_low),
            plain(diff.ci95_high),
            diff.n.to_string(),
            if diff.is_significant() { "*".to_string() } else { String::new() },
        ]);
    }
    let mut widths = [0usize; 9];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (index, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (column, (cell, width)) in row.iter().zip(widths).enumerate() {
            if column > 0 {
                line.push_str("  ");
            }
            if column < 2 {
                put!(line, "{cell:<width$}");
            } else {
                put!(line, "{cell:>width$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if index == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            out.push_str(&"-".repeat(total.min(160)));
            out.push('\n');
        }
    }
    out.push_str(
        "* the 95 % interval of B - A excludes zero. Flows are totals over the run, stocks the last day's value.\n",
    );
    out
}

/// `compare.html`: what differs in the scenarios, a forest plot of relative differences,
/// the difference table, and for the key metrics A and B day by day (mean over seeds,
/// band from the lowest to the highest seed).
pub fn render_compare(input: &CompareInput, diffs: &[MetricDifference]) -> Result<String, ReportError> {
    let pairs = input.runs_a.len().min(input.runs_b.len());
    if pairs == 0 {
        return Err(ReportError::Invalid("compare needs at least one run of each scenario".to_string()));
    }
    let (a, b) = (&input.label_a, &input.label_b);
    let mut page = Page::new(format!("xinyong compare — {a} vs {b}"));
    let seeds: Vec<String> = input.seeds.iter().map(u64::to_string).collect();
    let significant: Vec<&MetricDifference> = diffs.iter().filter(|d| d.is_significant()).collect();
    page.masthead(
        "xinyong · comparison",
        &format!("{a} vs {b}"),
        &format!(
            "Both scenarios were run with the same {pairs} seeds; every difference below is B ({b}) minus A ({a}), paired seed by seed, with a 95 % interval."
        ),
        &[
            ("A".to_string(), a.clone()),
            ("B".to_string(), b.clone()),
            ("seeds".to_string(), abbreviate(&seeds, 12)),
            ("metrics".to_string(), diffs.len().to_string()),
            ("clear differences".to_string(), significant.len().to_string()),
        ],
    );

    let mut brief = String::from("<section class=\"brief\" id=\"brief\"><div><h2>In brief</h2><ul class=\"headline\">");
    let mut ranked: Vec<&MetricDifference> = significant.clone();
    ranked.sort_by(|x, y| relative(y).abs().total_cmp(&relative(x).abs()));
    if ranked.is_empty() {
        put!(brief, "<li>No metric differs clearly: every 95 % interval includes zero (over {pairs} seeds).</li>");
    }
    for diff in ranked.iter().take(6) {
        let (label, unit) = metrics::describe(&diff.metric);
        let direction = if diff.mean_difference > 0.0 { "higher" } else { "lower" };
        let rel = relative(diff);
        let relative_text = if rel.is_finite() {
            format!(" ({}{})", if rel > 0.0 { "+" } else { "−" }, format::percent(rel.abs()))
        } else {
            String::new()
        };
        put!(
            brief,
            "<li>{} ({}) is {direction} under {}: {} {unit} on average{relative_text}, 95 % interval {} to {}.</li>",
            escape(&capitalize(&label)),
            diff.kind.aggregate_name(),
            escape(b),
            escape(&format::number(diff.mean_difference)),
            escape(&format::number(diff.ci95_low)),
            escape(&format::number(diff.ci95_high))
        );
    }
    brief.push_str("</ul></div><div>");
    brief.push_str("<h2>What differs in the scenarios</h2>");
    brief.push_str(&scenario_differences(&input.scenario_a, &input.scenario_b, a, b));
    brief.push_str("</div></section>");
    page.raw(&brief);

    // Forest plot of relative differences.
    let rows: Vec<ForestRow> = diffs
        .iter()
        .filter(|d| d.mean_a.abs() > 0.0 && d.mean_difference.is_finite())
        .map(|d| {
            let scale = 100.0 / d.mean_a.abs();
            ForestRow {
                label: metrics::describe(&d.metric).0,
                estimate: d.mean_difference * scale,
                low: d.ci95_low * scale,
                high: d.ci95_high * scale,
                tooltip: format!(
                    "{}: A {}, B {}, B − A {} (95 % interval {} to {})",
                    d.metric,
                    format::number(d.mean_a),
                    format::number(d.mean_b),
                    format::number(d.mean_difference),
                    format::number(d.ci95_low),
                    format::number(d.ci95_high)
                ),
            }
        })
        .collect();
    let forest = if rows.is_empty() {
        Block::missing("Relative differences", &["(no metric with a non-zero mean in A)".to_string()])
    } else {
        let legend_html = format!(
            "<ul class=\"legend\"><li><span class=\"key key-line\" style=\"--key:{}\"></span>interval excludes zero</li><li><span class=\"key key-line\" style=\"--key:{}\"></span>interval includes zero</li></ul>",
            palette::PRIMARY,
            palette::AXIS
        );
        Block::Figure {
            id: "chart-compare-forest".to_string(),
            title: "Every metric: B − A relative to A".to_string(),
            plot: Plot::Forest {
                rows,
                x_label: format!("B − A, in % of A's mean ({b} vs {a})"),
                description: "Relative difference B minus A per metric with 95 % intervals".to_string(),
                legend_html,
            },
            caption_html: "Dots are the mean paired difference as a percentage of A's mean; bars are the 95 % interval over seeds. Blue rows differ clearly; grey rows could be seed noise. Flows are totals over the run, stocks the last day's value. Metrics that are zero in A are left out here but listed in the table.".to_string(),
        }
    };
    page.section(
        "differences",
        "Differences",
        "Differences, metric by metric",
        "",
        &format!(
            "{}<div class=\"table-wrap\" style=\"margin-top:22px\">{}</div>",
            html::grid(vec![forest]),
            difference_table(diffs)
        ),
    );

    // Paired charts.
    let mut figures = Vec::new();
    let keys: Vec<&str> =
        metrics::KEY_METRICS.iter().copied().filter(|metric| diffs.iter().any(|d| d.metric == *metric)).collect();
    let keys: Vec<String> = if keys.is_empty() {
        diffs.iter().take(8).map(|d| d.metric.clone()).collect()
    } else {
        keys.into_iter().map(str::to_string).collect()
    };
    for metric in &keys {
        figures.push(paired_chart(input, diffs, metric, pairs));
    }
    page.section(
        "paired",
        "Day by day",
        "Day by day",
        &escape(&format!(
            "Lines are the mean over the {pairs} seeds; the shaded band runs from the lowest to the highest seed. Flows (counts per day) are shown cumulated since day 0, so the final point is the total compared above."
        )),
        &html::grid(figures),
    );
    Ok(page.finish(&crate::run::footer(
        "compare.html",
        "Written by <code>xinyong compare A.toml B.toml</code> with compare.csv beside it.",
    )))
}

/// Writes `compare.csv` and `compare.html` into `out_dir` and returns the differences.
pub fn write_compare(out_dir: &Path, input: &CompareInput) -> Result<Vec<MetricDifference>, ReportError> {
    let diffs = compare_metrics(input);
    crate::run::write_atomically(&out_dir.join("compare.csv"), &compare_csv(&diffs))?;
    crate::run::write_atomically(&out_dir.join("compare.html"), &render_compare(input, &diffs)?)?;
    Ok(diffs)
}

fn relative(diff: &MetricDifference) -> f64 {
    if diff.mean_a.abs() > 0.0 { diff.mean_difference / diff.mean_a.abs() } else { f64::NAN }
}

fn capitalize(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().collect::<String>() + characters.as_str(),
        None => String::new(),
    }
}

fn abbreviate(items: &[String], shown: usize) -> String {
    if items.len() <= shown {
        items.join(", ")
    } else {
        format!("{}, … ({} in all)", items[..shown].join(", "), items.len())
    }
}

fn difference_table(diffs: &[MetricDifference]) -> String {
    let rows: Vec<(Vec<Cell>, bool)> = diffs
        .iter()
        .map(|d| {
            let rel = relative(d);
            (
                vec![
                    Cell::Text(d.metric.clone()),
                    Cell::Text(d.kind.aggregate_name().to_string()),
                    Cell::Number(format::number(d.mean_a)),
                    Cell::Number(format::number(d.mean_b)),
                    Cell::Number(signed(d.mean_difference)),
                    Cell::Number(if d.ci95_low.is_finite() {
                        format!("{} to {}", signed(d.ci95_low), signed(d.ci95_high))
                    } else {
                        "needs 2 seeds".to_string()
                    }),
                    Cell::Number(if rel.is_finite() { signed_percent(rel) } else { "–".to_string() }),
                    Cell::Number(d.n.to_string()),
                ],
                d.is_significant(),
            )
        })
        .collect();
    format!(
        "<h3 class=\"table-title\">All metrics (highlighted: the interval excludes zero)</h3>{}",
        html::data_table(
            &[
                ("metric", false),
                ("value", false),
                ("mean A", true),
                ("mean B", true),
                ("B − A", true),
                ("95 % interval", true),
                ("relative", true),
                ("seeds", true),
            ],
            &rows,
        )
    )
}

fn signed(value: f64) -> String {
    if value > 0.0 { format!("+{}", format::number(value)) } else { format::number(value) }
}

fn signed_percent(fraction: f64) -> String {
    if fraction > 0.0 {
        format!("+{}", format::percent(fraction))
    } else if fraction < 0.0 {
        format!("−{}", format::percent(-fraction))
    } else {
        format::percent(0.0)
    }
}

/// The dotted keys whose values differ between the two scenarios.
fn scenario_differences(a: &Value, b: &Value, label_a: &str, label_b: &str) -> String {
    let rows_a = html::flatten(a);
    let rows_b = html::flatten(b);
    let mut rows: Vec<(Vec<Cell>, bool)> = Vec::new();
    for (key, value_a) in &rows_a {
        let value_b = rows_b.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if value_b.as_deref() != Some(value_a.as_str()) {
            rows.push((
                vec![
                    Cell::Text(key.clone()),
                    Cell::Text(value_a.clone()),
                    Cell::Text(value_b.unwrap_or_else(|| "(absent)".into())),
                ],
                false,
            ));
        }
    }
    for (key, value_b) in &rows_b {
        if !rows_a.iter().any(|(k, _)| k == key) {
            rows.push((
                vec![Cell::Text(key.clone()), Cell::Text("(absent)".into()), Cell::Text(value_b.clone())],
                false,
            ));
        }
    }
    if rows.is_empty() {
        return "<p class=\"note\">The two scenarios resolve to the same settings (or were not recorded): any difference is seed noise.</p>".to_string();
    }
    format!(
        "<div class=\"kv\">{}</div>",
        html::data_table(
            &[("setting", false), (&format!("A: {label_a}"), false), (&format!("B: {label_b}"), false)],
            &rows
        )
    )
}

/// Mean over runs per day index (up to the shortest run), with min and max.
fn envelope(runs: &[Table], metric: &str, cumulative: bool) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let columns: Vec<Vec<f64>> = runs
        .iter()
        .map(|run| {
            run.column(metric).map(|daily| {
                if cumulative {
                    daily
                        .iter()
                        .scan(0.0, |total, value| {
                            if value.is_finite() {
                                *total += value;
                            }
                            Some(*total)
                        })
                        .collect()
                } else {
                    daily.to_vec()
                }
            })
        })
        .collect::<Option<_>>()?;
    let days = columns.iter().map(Vec::len).min()?;
    let mut mean = Vec::with_capacity(days);
    let mut low = Vec::with_capacity(days);
    let mut high = Vec::with_capacity(days);
    for day in 0..days {
        let values: Vec<f64> = columns.iter().map(|c| c[day]).filter(|v| v.is_finite()).collect();
        if values.is_empty() {
            mean.push(f64::NAN);
            low.push(f64::NAN);
            high.push(f64::NAN);
        } else {
            mean.push(values.iter().sum::<f64>() / values.len() as f64);
            low.push(values.iter().copied().fold(f64::INFINITY, f64::min));
            high.push(values.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        }
    }
    Some((mean, low, high))
}

fn paired_chart(input: &CompareInput, diffs: &[MetricDifference], metric: &str, pairs: usize) -> Block {
    let kind = MetricKind::of(metric).unwrap_or(MetricKind::Flow);
    let cumulative = kind == MetricKind::Flow;
    let (label, unit) = metrics::describe(metric);
    let title = if cumulative { format!("{} (cumulative)", capitalize(&label)) } else { capitalize(&label) };
    let (Some((mean_a, low_a, high_a)), Some((mean_b, low_b, high_b))) =
        (envelope(&input.runs_a[..pairs], metric, cumulative), envelope(&input.runs_b[..pairs], metric, cumulative))
    else {
        return Block::missing(&title, &[metric.to_string()]);
    };
    let days = mean_a.len().min(mean_b.len());
    let xs: Vec<f64> = input.runs_a[0].days().into_iter().take(days).collect();
    let truncate = |values: Vec<f64>| values.into_iter().take(days).collect::<Vec<f64>>();
    let y_label = if unit.is_empty() {
        label.clone()
    } else if cumulative {
        format!("{unit}, cumulative")
    } else {
        unit.to_string()
    };
    let mut chart = Chart::over_days(xs, y_label)
        .describe(format!("{title}: {} and {} over days", input.label_a, input.label_b))
        .layer(Layer::Band {
            name: String::new(),
            color: palette::PRIMARY_BAND.into(),
            low: truncate(low_a),
            high: truncate(high_a),
        })
        .layer(Layer::Band {
            name: String::new(),
            color: palette::SECONDARY_BAND.into(),
            low: truncate(low_b),
            high: truncate(high_b),
        })
        .layer(Layer::Line {
            name: format!("A: {}", input.label_a),
            color: palette::PRIMARY.into(),
            values: truncate(mean_a),
            dashed: false,
        })
        .layer(Layer::Line {
            name: format!("B: {}", input.label_b),
            color: palette::SECONDARY.into(),
            values: truncate(mean_b),
            dashed: false,
        });
    if metric.starts_with("score_") {
        chart = chart.free_y();
    }
    if unit == "yuan" {
        chart = chart.format(crate::chart::ValueFormat::Yuan);
    }
    let caption = {
        let mut caption = String::new();
        if let Some(diff) = diffs.iter().find(|d| d.metric == metric) {
            put!(
                caption,
                "{} of A {}, of B {}; B − A {}",
                capitalize(kind.aggregate_name()),
                format::number(diff.mean_a),
                format::number(diff.mean_b),
                signed(diff.mean_difference)
            );
            if diff.ci95_low.is_finite() {
                put!(caption, " (95 % interval {} to {})", signed(diff.ci95_low), signed(diff.ci95_high));
            }
            caption.push('.');
        }
        caption
    };
    Block::figure(&format!("chart-compare-{}", format::slug(metric)), &title, chart, escape(&caption))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_follow_the_table_then_the_normal() {
        assert_eq!(t_quantile_975(1), 12.7062);
        assert_eq!(t_quantile_975(9), 2.2622);
        assert_eq!(t_quantile_975(30), 2.0423);
        assert_eq!(t_quantile_975(31), Z_975);
        assert!(t_quantile_975(0).is_nan());
    }

    #[test]
    fn interval_matches_a_hand_computation() {
        // Differences 1, 2, 3: mean 2, sd 1, n 3 → half width t(2) / sqrt(3).
        let diff = difference("x".into(), MetricKind::Flow, &[0.0, 0.0, 0.0], &[1.0, 2.0, 3.0]);
        let half = 4.3027 / 3f64.sqrt();
        assert_eq!(diff.mean_difference, 2.0);
        assert!((diff.ci95_low - (2.0 - half)).abs() < 1e-12);
        assert!((diff.ci95_high - (2.0 + half)).abs() < 1e-12);
        assert_eq!(diff.n, 3);
    }

    #[test]
    fn one_pair_has_no_interval() {
        let diff = difference("x".into(), MetricKind::Stock, &[1.0], &[2.0]);
        assert_eq!(diff.mean_difference, 1.0);
        assert!(diff.ci95_low.is_nan() && diff.ci95_high.is_nan());
        assert!(!diff.is_significant());
    }
}
