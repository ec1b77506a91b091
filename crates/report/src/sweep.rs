//! `sweep`: runs over a grid of parameter values (and seeds), each run's final values
//! drawn against each varied parameter as small multiples, plus a tidy CSV.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use crate::chart::{Chart, Layer, ValueFormat};
use crate::format::{self, escape};
use crate::html::{self, Block, Cell, Page};
use crate::metrics::{self, MetricKind};
use crate::{ReportError, Table, palette};

macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// The runs of a sweep: `parameters` names the varied settings (dotted scenario keys).
#[derive(Debug, Clone)]
pub struct SweepInput {
    pub parameters: Vec<String>,
    pub runs: Vec<SweepRun>,
}

/// One run of a sweep: the parameter values it used (one per parameter, as written in the
/// scenario), its seed and its daily metrics.
#[derive(Debug, Clone)]
pub struct SweepRun {
    pub values: Vec<String>,
    pub seed: u64,
    pub metrics: Table,
}

impl SweepInput {
    fn validate(&self) -> Result<(), ReportError> {
        if self.runs.is_empty() {
            return Err(ReportError::Invalid("the sweep has no runs".to_string()));
        }
        for (index, run) in self.runs.iter().enumerate() {
            if run.values.len() != self.parameters.len() {
                return Err(ReportError::Invalid(format!(
                    "sweep run {index} (seed {}) has {} parameter values for {} parameters",
                    run.seed,
                    run.values.len(),
                    self.parameters.len()
                )));
            }
        }
        Ok(())
    }

    /// Metric columns over all runs, in first-seen order (`day` first if present).
    fn all_columns(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for run in &self.runs {
            for name in run.metrics.names() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        if let Some(position) = names.iter().position(|n| n == metrics::DAY_COLUMN) {
            let day = names.remove(position);
            names.insert(0, day);
        }
        names
    }
}

/// `sweep.csv`, tidy: one row per run and day; the parameter columns first, then `seed`,
/// then every metric column seen in any run (empty where a run lacks it).
pub fn sweep_csv(input: &SweepInput) -> String {
    let columns = input.all_columns();
    let mut out = String::new();
    let header: Vec<String> = input
        .parameters
        .iter()
        .map(|p| format::csv_field(p))
        .chain(std::iter::once("seed".to_string()))
        .chain(columns.iter().map(|c| format::csv_field(c)))
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for run in &input.runs {
        let prefix: Vec<String> = input
            .parameters
            .iter()
            .enumerate()
            .map(|(index, _)| format::csv_field(run.values.get(index).map_or("", String::as_str)))
            .collect();
        let data: Vec<Option<&[f64]>> = columns.iter().map(|c| run.metrics.column(c)).collect();
        for row in 0..run.metrics.len() {
            out.push_str(&prefix.join(","));
            if !prefix.is_empty() {
                out.push(',');
            }
            put!(out, "{}", run.seed);
            for column in &data {
                out.push(',');
                if let Some(values) = column {
                    out.push_str(&format::machine(values[row]));
                }
            }
            out.push('\n');
        }
    }
    out
}

/// `sweep.html`: for each varied parameter, one small chart per key metric with each
/// run's final value (a point per seed) and the mean at each parameter value (a line).
/// With several parameters, the mean at a value averages over the others too.
pub fn render_sweep(input: &SweepInput) -> Result<String, ReportError> {
    input.validate()?;
    let seeds: BTreeSet<u64> = input.runs.iter().map(|r| r.seed).collect();
    let metrics_shown = shown_metrics(input);
    let mut page = Page::new(format!("xinyong sweep — {}", input.parameters.join(", ")));
    let mut facts =
        vec![("runs".to_string(), input.runs.len().to_string()), ("seeds".to_string(), seeds.len().to_string())];
    for (index, parameter) in input.parameters.iter().enumerate() {
        facts.push((parameter.clone(), distinct_values(input, index).join(", ")));
    }
    page.masthead(
        "xinyong · parameter sweep",
        &format!("Sweep over {}", input.parameters.join(" × ")),
        &format!(
            "{} runs: each varied parameter against each run's final values — totals for counts, the last day's value for states. Dots are single runs (one per seed), the line joins the means.",
            input.runs.len()
        ),
        &facts,
    );
    for (index, parameter) in input.parameters.iter().enumerate() {
        let figures: Vec<Block> = metrics_shown.iter().map(|metric| small_multiple(input, index, metric)).collect();
        page.section(
            &format!("parameter-{}", format::slug(parameter)),
            parameter,
            &format!("Against {parameter}"),
            &escape(&if input.parameters.len() > 1 {
                format!(
                    "Each dot is one run; the line is the mean of all runs at that value of {parameter}, averaged over seeds and over the other parameters."
                )
            } else {
                format!("Each dot is one run; the line is the mean over seeds at each value of {parameter}.")
            }),
            &html::grid(figures),
        );
    }
    page.section("runs", "All runs", "All runs", "", &runs_table(input, &metrics_shown));
    Ok(page.finish(&crate::run::footer(
        "sweep.html",
        "Written by <code>xinyong sweep</code> with sweep.csv (one row per run and day) beside it.",
    )))
}

/// Writes `sweep.csv` and `sweep.html` into `out_dir`.
pub fn write_sweep(out_dir: &Path, input: &SweepInput) -> Result<(), ReportError> {
    let html = render_sweep(input)?;
    crate::run::write_atomically(&out_dir.join("sweep.csv"), &sweep_csv(input))?;
    crate::run::write_atomically(&out_dir.join("sweep.html"), &html)
}

/// The key metrics present in every run, or (if none) up to twelve metric columns.
fn shown_metrics(input: &SweepInput) -> Vec<String> {
    let in_all = |name: &str| input.runs.iter().all(|run| run.metrics.has(name));
    let keys: Vec<String> =
        metrics::KEY_METRICS.iter().filter(|name| in_all(name)).map(|name| (*name).to_string()).collect();
    if !keys.is_empty() {
        return keys;
    }
    metrics::metric_columns(&input.runs[0].metrics).into_iter().filter(|name| in_all(name)).take(12).collect()
}

/// Distinct values of parameter `index`, numerically sorted when all are numbers,
/// otherwise in first-seen order.
fn distinct_values(input: &SweepInput, index: usize) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for run in &input.runs {
        if !values.contains(&run.values[index]) {
            values.push(run.values[index].clone());
        }
    }
    if values.iter().all(|v| v.trim().parse::<f64>().is_ok()) {
        values.sort_by(|a, b| {
            let (a, b) = (a.trim().parse::<f64>().unwrap_or(0.0), b.trim().parse::<f64>().unwrap_or(0.0));
            a.total_cmp(&b)
        });
    }
    values
}

fn small_multiple(input: &SweepInput, parameter_index: usize, metric: &str) -> Block {
    let parameter = &input.parameters[parameter_index];
    let values = distinct_values(input, parameter_index);
    let numeric = values.iter().all(|v| v.trim().parse::<f64>().is_ok());
    let x_of = |value: &str| -> f64 {
        if numeric {
            value.trim().parse::<f64>().unwrap_or(f64::NAN)
        } else {
            values.iter().position(|v| v == value).map_or(f64::NAN, |i| i as f64)
        }
    };
    let kind = MetricKind::of(metric).unwrap_or(MetricKind::Flow);
    let (label, unit) = metrics::describe(metric);
    let mut points = Vec::new();
    let mut sums = vec![(0.0, 0usize); values.len()];
    for run in &input.runs {
        let value = metrics::run_value(&run.metrics, metric).unwrap_or(f64::NAN);
        let x = x_of(&run.values[parameter_index]);
        let others: Vec<String> = input
            .parameters
            .iter()
            .zip(&run.values)
            .enumerate()
            .filter(|(index, _)| *index != parameter_index)
            .map(|(_, (p, v))| format!("{p} = {v}"))
            .collect();
        let mut tip = format!("{parameter} = {}", run.values[parameter_index]);
        for other in others {
            put!(tip, ", {other}");
        }
        put!(tip, ", seed {}\n{label}: {}", run.seed, format::number(value));
        points.push((x, value, tip));
        if value.is_finite()
            && let Some(slot) = values.iter().position(|v| *v == run.values[parameter_index])
        {
            sums[slot].0 += value;
            sums[slot].1 += 1;
        }
    }
    let xs: Vec<f64> = values.iter().map(|v| x_of(v)).collect();
    let means: Vec<f64> =
        sums.iter().map(|(total, count)| if *count > 0 { total / *count as f64 } else { f64::NAN }).collect();
    let y_label =
        if unit.is_empty() { kind.aggregate_name().to_string() } else { format!("{unit}, {}", kind.aggregate_name()) };
    let mut chart = Chart::over_days(xs, y_label)
        .describe(format!("{label} at the end of each run against {parameter}"))
        .layer(Layer::Line {
            name: "mean".into(),
            color: palette::PRIMARY.into(),
            values: means.clone(),
            dashed: false,
        })
        .layer(Layer::Points { name: "one run (seed)".into(), color: palette::PRIMARY.into(), points });
    chart.x_label = parameter.clone();
    chart.x_name = parameter.clone();
    chart.hover = false;
    chart.height = 250.0;
    if !numeric {
        chart.x_categories = Some(values.clone());
    } else if values.len() <= 12 {
        chart.x_ticks = Some(chart.xs.clone());
    }
    if metric.starts_with("score_") {
        chart = chart.free_y();
    }
    if unit == "yuan" {
        chart = chart.format(ValueFormat::Yuan);
    }
    let range: Vec<String> =
        values.iter().zip(&means).map(|(value, mean)| format!("{value}: {}", format::number(*mean))).collect();
    let caption =
        format!("{} ({}) by {parameter}. Means — {}.", capitalize(&label), kind.aggregate_name(), range.join("; "));
    Block::figure(
        &format!("chart-sweep-{}-{}", format::slug(parameter), format::slug(metric)),
        &capitalize(&label),
        chart,
        escape(&caption),
    )
}

fn capitalize(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().collect::<String>() + characters.as_str(),
        None => String::new(),
    }
}

fn runs_table(input: &SweepInput, shown: &[String]) -> String {
    let mut header: Vec<(&str, bool)> = input.parameters.iter().map(|p| (p.as_str(), false)).collect();
    header.push(("seed", true));
    for metric in shown {
        header.push((metric.as_str(), true));
    }
    let rows: Vec<(Vec<Cell>, bool)> = input
        .runs
        .iter()
        .map(|run| {
            let mut cells: Vec<Cell> = run.values.iter().map(|v| Cell::Text(v.clone())).collect();
            cells.push(Cell::Number(run.seed.to_string()));
            for metric in shown {
                cells.push(Cell::Number(format::number(metrics::run_value(&run.metrics, metric).unwrap_or(f64::NAN))));
            }
            (cells, false)
        })
        .collect();
    format!(
        "<details open=\"open\"><summary>Final values of every run ({} runs)</summary><div class=\"table-wrap\">{}</div></details>",
        input.runs.len(),
        html::data_table(&header, &rows)
    )
}
