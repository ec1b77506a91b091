//! `xinyong._xinyong`: the compiled half of the `xinyong` Python package.
//!
//! It is thin glue over the Rust crates, with no rule or statistic of its own: scenarios
//! are parsed and checked by `xinyong_sim::Scenario`, runs are `xinyong_sim::Simulation`,
//! comparisons and sweeps are `xinyong_sim::experiment::{run_seeds, sweep}` and
//! `xinyong_report::compare_metrics`, files are written by `xinyong_sim::output::write_run`
//! and `xinyong_report`. What it adds: the GIL is released while simulations run (they
//! re-attach once a day, briefly, to report progress and to notice Ctrl-C), and results
//! leave as typed columns that Python reads in place (see `columns.rs`). The pure-Python
//! half (`python/xinyong/`) turns those columns into pandas / pyarrow / numpy objects.

mod columns;
mod presets;
mod scenario;

use columns::{Col, metrics_columns, table_to_py};
use pyo3::exceptions::{PyIndexError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use scenario::{Scenario, ScenarioError, key_error, override_text, scenario_error};
use std::path::PathBuf;
use std::time::Instant;
use xinyong_engine::{AppealStatus, CitizenId};
use xinyong_sim::experiment::{self, ExperimentError, RunOutput, Vary};
use xinyong_sim::{Simulation, SimulationError};

pyo3::create_exception!(
    _xinyong,
    LedgerNotKeptError,
    pyo3::exceptions::PyRuntimeError,
    "The run kept ledger totals only (its population exceeds run.ledger_max_citizens), so \
     there is no entry to show. Raise run.ledger_max_citizens to keep every entry."
);

/// The ledger's cause kinds, in a fixed order (the categories of the `cause` column).
const CAUSES: &[&str] =
    &["incident", "vote_expel", "vote_keep", "abstain_counted_expel", "abstain_counted_keep", "appeal_granted"];

/// The appeal states of an incident (the categories of the `appeal` column).
const APPEALS: &[&str] = &["none", "filed", "granted", "rejected"];

/// Why a run could not finish.
enum Failure {
    Simulation(SimulationError),
    Experiment(ExperimentError),
    Python(PyErr),
}

impl Failure {
    fn into_py(self, py: Python<'_>, origin: &str) -> PyErr {
        match self {
            Failure::Simulation(e) => simulation_error(py, origin, e),
            Failure::Experiment(ExperimentError::Scenario(e)) => scenario_error(py, &e),
            Failure::Experiment(ExperimentError::Simulation(e)) => simulation_error(py, origin, e),
            Failure::Experiment(ExperimentError::Invalid(message)) => PyValueError::new_err(message),
            Failure::Python(e) => e,
        }
    }
}

fn simulation_error(py: Python<'_>, origin: &str, e: SimulationError) -> PyErr {
    match e {
        SimulationError::Scenario { key, message } => key_error(py, origin, &key, &message),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// Calls `progress()` (a Python callable) from any thread; errors in it are ignored so
/// that a broken progress bar never stops a run.
fn tick(progress: &Option<Py<PyAny>>) {
    if let Some(callback) = progress {
        Python::attach(|py| {
            if let Err(e) = callback.call0(py) {
                e.write_unraisable(py, None);
            }
        });
    }
}

/// A finished simulation: its metrics, ledger, summary, and the engine's final state.
#[pyclass(frozen, module = "xinyong._xinyong")]
pub struct RunHandle {
    sim: Simulation,
    scenario: Scenario,
    wall_time_seconds: f64,
}

#[pymethods]
impl RunHandle {
    /// Metrics columns (see `columns::metrics_columns`).
    fn metrics(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        table_to_py(py, metrics_columns(self.sim.metrics(), &self.sim.tier_names()))
    }

    /// The run's `metrics.csv`, byte for byte as `xinyong simulate` writes it.
    fn metrics_csv(&self) -> String {
        xinyong_sim::metrics::to_csv(self.sim.metrics(), &self.sim.tier_names())
    }

    /// Whether every ledger entry was kept (population ≤ run.ledger_max_citizens).
    #[getter]
    fn ledger_kept(&self) -> bool {
        self.sim.engine().ledger().mode() == xinyong_engine::LedgerMode::Full
    }

    /// Ledger columns: the same as `ledger.parquet` (`cause` as a category).
    fn ledger(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        if !self.ledger_kept() {
            return Err(LedgerNotKeptError::new_err(format!(
                "this run of {} citizens kept ledger totals only (run.ledger_max_citizens = {}); \
                 set run.ledger_max_citizens to at least {} to keep every entry",
                self.sim.scenario().run.citizens,
                self.sim.scenario().run.ledger_max_citizens,
                self.sim.scenario().run.citizens
            )));
        }
        let sim = &self.sim;
        let columns = py.detach(|| xinyong_sim::output::ledger_columns(sim));
        let columns = columns
            .into_iter()
            .map(|c| match c {
                xinyong_sim::output::Column::Int(n, v) => Col::Int(n, v),
                xinyong_sim::output::Column::Float(n, v) => Col::Float(n, v),
                xinyong_sim::output::Column::Label(n, v) => Col::category(&n, &v, CAUSES),
                xinyong_sim::output::Column::Text(n, v) => {
                    let labels: Vec<&str> = v.iter().map(String::as_str).collect();
                    Col::category(&n, &labels, &[])
                }
            })
            .collect();
        table_to_py(py, columns)
    }

    /// The incidents the engine still holds, with their group's answers.
    fn incidents(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        let engine = self.sim.engine();
        let kinds: Vec<&str> = engine.rules().policy.incident_kinds.iter().map(|k| k.name.as_str()).collect();
        let incidents: Vec<_> = engine.incidents().collect();
        let int = |f: &dyn Fn(&xinyong_engine::Incident) -> i64| incidents.iter().map(|i| f(i)).collect::<Vec<i64>>();
        let kind_labels: Vec<&str> =
            incidents.iter().map(|i| kinds.get(i.kind as usize).copied().unwrap_or("?")).collect();
        let appeal_labels: Vec<&str> = incidents
            .iter()
            .map(|i| match i.appeal {
                AppealStatus::NotAppealed => "none",
                AppealStatus::Filed { .. } => "filed",
                AppealStatus::Granted { .. } => "granted",
                AppealStatus::Rejected { .. } => "rejected",
            })
            .collect();
        let outcome = |f: fn(&xinyong_engine::VoteOutcome) -> i64| {
            incidents.iter().map(|i| i.outcome.as_ref().map_or(0, f)).collect::<Vec<i64>>()
        };
        let mut columns = Vec::with_capacity(16);
        columns.push(Col::Int("day".into(), int(&|i| i.id.day as i64)));
        columns.push(Col::Int("offender".into(), int(&|i| i.id.citizen.0 as i64)));
        columns.push(Col::Int("incident_seq".into(), int(&|i| i.id.seq as i64)));
        columns.push(Col::category("kind", &kind_labels, &kinds));
        columns.push(Col::Int("happened_day".into(), int(&|i| i.day as i64)));
        columns.push(Col::Int("group".into(), int(&|i| i.group.map_or(-1, |g| g.0 as i64))));
        columns.push(Col::Int("penalty".into(), int(&|i| i.penalty_applied as i64)));
        columns.push(Col::Int("was_false".into(), int(&|i| i64::from(self.sim.was_false(i.id)))));
        columns.push(Col::Int("tallied".into(), int(&|i| i64::from(i.outcome.is_some()))));
        columns.push(Col::Int("notified".into(), outcome(|o| o.notified as i64)));
        columns.push(Col::Int("answers_expel".into(), outcome(|o| o.expel as i64)));
        columns.push(Col::Int("answers_keep".into(), outcome(|o| o.keep as i64)));
        columns.push(Col::Int("answers_none".into(), outcome(|o| o.unanswered as i64)));
        columns.push(Col::Int("expelled".into(), outcome(|o| i64::from(o.expelled))));
        columns.push(Col::category("appeal", &appeal_labels, APPEALS));
        table_to_py(py, columns)
    }

    /// `summary.json` as JSON text (the Python side loads it).
    fn summary_json(&self) -> String {
        let summary = xinyong_sim::summary::summary_json(&self.sim, self.wall_time_seconds, None);
        serde_json::to_string(&summary).expect("a summary serializes")
    }

    /// What happened, in plain words (the CLI's printout).
    fn headline(&self) -> Vec<String> {
        xinyong_sim::summary::headline(&self.sim)
    }

    /// A citizen's state at the end of the run.
    fn citizen<'py>(&self, py: Python<'py>, citizen: u32) -> PyResult<Bound<'py, PyAny>> {
        let view = self.sim.engine().view(CitizenId(citizen)).map_err(|e| PyIndexError::new_err(e.to_string()))?;
        let value = serde_json::json!({
            "citizen": citizen,
            "score": view.score,
            "tier": view.tier,
            "restrictions": view.restrictions.iter().map(|r| r.name()).collect::<Vec<_>>(),
            "group": view.group.map(|g| g.0),
            "group_size": view.group_size,
            "regroup_day": view.regroup_day,
            "travel_score_needed": view.travel_score_needed,
        });
        py.import("json")?.call_method1("loads", (value.to_string(),))
    }

    /// Writes the CLI's files into `dir`; returns their paths.
    fn write(&self, py: Python<'_>, dir: PathBuf) -> PyResult<Vec<String>> {
        let sim = &self.sim;
        let wall = self.wall_time_seconds;
        let result = py.detach(|| -> Result<Vec<PathBuf>, String> {
            let summary = xinyong_sim::summary::summary_json(sim, wall, None);
            let written = xinyong_sim::output::write_run(sim, &dir, &summary).map_err(|e| e.to_string())?;
            let report = xinyong_report::write_run_report(&dir).map_err(|e| e.to_string())?;
            Ok(written.files.into_iter().chain(std::iter::once(report)).collect())
        });
        let files = result.map_err(PyOSError::new_err)?;
        Ok(files.into_iter().map(|p| p.display().to_string()).collect())
    }

    #[getter]
    fn tier_names(&self) -> Vec<String> {
        self.sim.tier_names()
    }

    #[getter]
    fn scenario(&self) -> Scenario {
        self.scenario.clone()
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.sim.scenario().run.seed
    }

    /// Days simulated.
    #[getter]
    fn days(&self) -> usize {
        self.sim.metrics().len()
    }

    #[getter]
    fn citizens(&self) -> u32 {
        self.sim.engine().citizen_count()
    }

    #[getter]
    fn wall_time_seconds(&self) -> f64 {
        self.wall_time_seconds
    }
}

/// Runs a scenario with the GIL released. `progress(days_done, days_total)` is called
/// after each day (with the GIL, briefly); Ctrl-C stops the run with KeyboardInterrupt.
#[pyfunction]
#[pyo3(signature = (scenario, progress = None))]
fn simulate(py: Python<'_>, scenario: PyRef<'_, Scenario>, progress: Option<Py<PyAny>>) -> PyResult<RunHandle> {
    let scenario: Scenario = scenario.clone();
    let parsed = scenario.parsed.clone();
    let started = Instant::now();
    let sim = py
        .detach(move || -> Result<Simulation, Failure> {
            let mut sim = Simulation::new(parsed).map_err(Failure::Simulation)?;
            let days = sim.scenario().run.days;
            // `Simulation::run`, with a chance each day to report and to be interrupted.
            while sim.engine().day() < days {
                sim.step();
                let done = sim.engine().day();
                Python::attach(|py| -> PyResult<()> {
                    if let Some(callback) = &progress {
                        callback.call1(py, (done, days))?;
                    }
                    py.check_signals()
                })
                .map_err(Failure::Python)?;
            }
            Ok(sim)
        })
        .map_err(|f| f.into_py(py, scenario.origin_str()))?;
    Ok(RunHandle { sim, scenario, wall_time_seconds: started.elapsed().as_secs_f64() })
}

/// A rayon pool of `threads` workers (None: one per core).
fn pool(threads: Option<usize>) -> PyResult<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start worker threads: {e}")))
}

fn tables(runs: &[RunOutput]) -> Result<Vec<xinyong_report::Table>, String> {
    runs.iter().map(|r| xinyong_report::Table::from_csv(&r.csv()).map_err(|e| e.to_string())).collect()
}

/// Scenario A and B on the same seeds; per metric B − A with a 95 % interval, exactly as
/// `xinyong compare` computes it. With `out`, also writes compare.csv and compare.html.
#[pyfunction]
#[pyo3(signature = (a, b, seeds, threads = None, progress = None, out = None))]
fn compare(
    py: Python<'_>,
    a: PyRef<'_, Scenario>,
    b: PyRef<'_, Scenario>,
    seeds: Vec<u64>,
    threads: Option<usize>,
    progress: Option<Py<PyAny>>,
    out: Option<PathBuf>,
) -> PyResult<Vec<Py<PyAny>>> {
    if seeds.is_empty() {
        return Err(PyValueError::new_err("compare needs at least one seed"));
    }
    let (a, b): (Scenario, Scenario) = (a.clone(), b.clone());
    let workers = pool(threads)?;
    let origin = format!("{} / {}", a.origin_str(), b.origin_str());
    let diffs = py
        .detach(|| -> Result<Vec<xinyong_report::MetricDifference>, Failure> {
            let done = || tick(&progress);
            let (runs_a, runs_b) = workers
                .install(|| -> Result<_, ExperimentError> {
                    Ok((
                        experiment::run_seeds(&a.parsed, &seeds, &done)?,
                        experiment::run_seeds(&b.parsed, &seeds, &done)?,
                    ))
                })
                .map_err(Failure::Experiment)?;
            let input = xinyong_report::CompareInput {
                label_a: a.parsed.run.name.clone(),
                label_b: b.parsed.run.name.clone(),
                runs_a: tables(&runs_a).map_err(|e| Failure::Python(PyRuntimeError::new_err(e)))?,
                runs_b: tables(&runs_b).map_err(|e| Failure::Python(PyRuntimeError::new_err(e)))?,
                seeds: seeds.clone(),
                scenario_a: a.parsed.resolved_json(),
                scenario_b: b.parsed.resolved_json(),
            };
            match &out {
                Some(dir) => {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| Failure::Python(PyOSError::new_err(format!("{}: {e}", dir.display()))))?;
                    xinyong_report::write_compare(dir, &input)
                        .map_err(|e| Failure::Python(PyOSError::new_err(e.to_string())))
                }
                None => Ok(xinyong_report::compare_metrics(&input)),
            }
        })
        .map_err(|f| f.into_py(py, &origin))?;
    let metric: Vec<Py<PyAny>> =
        diffs.iter().map(|d| Ok(d.metric.clone().into_pyobject(py)?.into_any().unbind())).collect::<PyResult<_>>()?;
    let kinds: Vec<&str> = diffs
        .iter()
        .map(|d| match d.kind {
            xinyong_report::MetricKind::Flow => "flow",
            xinyong_report::MetricKind::Stock => "stock",
        })
        .collect();
    let float = |f: fn(&xinyong_report::MetricDifference) -> f64| diffs.iter().map(f).collect::<Vec<f64>>();
    let columns = vec![
        Col::Object("metric".into(), metric),
        Col::category("kind", &kinds, &["flow", "stock"]),
        Col::Float("mean_a".into(), float(|d| d.mean_a)),
        Col::Float("mean_b".into(), float(|d| d.mean_b)),
        Col::Float("mean_difference".into(), float(|d| d.mean_difference)),
        Col::Float("ci95_low".into(), float(|d| d.ci95_low)),
        Col::Float("ci95_high".into(), float(|d| d.ci95_high)),
        Col::Int("n".into(), diffs.iter().map(|d| d.n as i64).collect()),
    ];
    table_to_py(py, columns)
}

/// A grid of runs: every combination of the varied values, each with every seed.
/// Returns tidy columns: one per varied key (the values as given), `seed`, then every
/// metric column; one row per run and day. With `out`, also writes sweep.csv and sweep.html.
#[pyfunction]
#[pyo3(signature = (scenario, vary, seeds, threads = None, progress = None, out = None))]
fn sweep(
    py: Python<'_>,
    scenario: PyRef<'_, Scenario>,
    vary: Vec<(String, Vec<Bound<'_, PyAny>>)>,
    seeds: Vec<u64>,
    threads: Option<usize>,
    progress: Option<Py<PyAny>>,
    out: Option<PathBuf>,
) -> PyResult<Vec<Py<PyAny>>> {
    if seeds.is_empty() {
        return Err(PyValueError::new_err("sweep needs at least one seed"));
    }
    if vary.is_empty() {
        return Err(PyValueError::new_err("sweep needs at least one key to vary, e.g. vary={\"run.days\": [30, 60]}"));
    }
    let mut varies = Vec::with_capacity(vary.len());
    for (key, values) in &vary {
        if values.is_empty() {
            return Err(key_error(py, scenario::OVERRIDE_ORIGIN, key, "give at least one value to vary"));
        }
        let texts = values.iter().map(|v| override_text(key, v)).collect::<PyResult<Vec<String>>>()?;
        varies.push(Vary { key: key.trim().to_string(), values: texts });
    }
    let scenario: Scenario = scenario.clone();
    let workers = pool(threads)?;
    let runs = py
        .detach(|| -> Result<Vec<RunOutput>, Failure> {
            let done = || tick(&progress);
            workers
                .install(|| {
                    experiment::sweep(
                        scenario.text(),
                        scenario.origin_str(),
                        scenario.overrides_slice(),
                        &varies,
                        &seeds,
                        &done,
                    )
                })
                .map_err(Failure::Experiment)
        })
        .map_err(|f| f.into_py(py, scenario.origin_str()))?;
    if let Some(dir) = &out {
        let input = xinyong_report::SweepInput {
            parameters: varies.iter().map(|v| v.key.clone()).collect(),
            runs: runs
                .iter()
                .map(|r| {
                    Ok(xinyong_report::SweepRun {
                        values: r.values.clone(),
                        seed: r.seed,
                        metrics: xinyong_report::Table::from_csv(&r.csv())?,
                    })
                })
                .collect::<Result<_, xinyong_report::ReportError>>()
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?,
        };
        py.detach(|| {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))
                .and_then(|_| xinyong_report::write_sweep(dir, &input).map_err(|e| e.to_string()))
        })
        .map_err(PyOSError::new_err)?;
    }
    // Parameter columns: the caller's own values, repeated over each run's days.
    let mut parameter_columns: Vec<Vec<Py<PyAny>>> = varies.iter().map(|_| Vec::new()).collect();
    let mut seed_column = Vec::new();
    let per_run: Vec<Vec<Col>> = runs.iter().map(|r| metrics_columns(&r.metrics, &r.tier_names)).collect();
    for run in &runs {
        let days = run.metrics.len();
        for (i, ((vary, (_, objects)), value)) in varies.iter().zip(&vary).zip(&run.values).enumerate() {
            let index = vary.values.iter().position(|v| v == value).expect("a run's value is one of the varied values");
            let object = &objects[index];
            parameter_columns[i].extend((0..days).map(|_| object.clone().unbind()));
        }
        seed_column.extend(std::iter::repeat_n(run.seed as i64, days));
    }
    let mut columns: Vec<Col> =
        varies.iter().zip(parameter_columns).map(|(vary, values)| Col::Object(vary.key.clone(), values)).collect();
    columns.push(Col::Int("seed".into(), seed_column));
    columns.extend(concatenate(&per_run, &runs));
    table_to_py(py, columns)
}

/// Concatenates the runs' metrics columns. A column every run has, as integers in every
/// run, stays integer; any other column becomes float, NaN where a run lacks it (only
/// possible when a sweep changes the tier table or the pool tiers).
fn concatenate(per_run: &[Vec<Col>], runs: &[RunOutput]) -> Vec<Col> {
    let mut names: Vec<String> = Vec::new();
    for columns in per_run {
        for c in columns {
            if !names.iter().any(|n| n == c.name()) {
                names.push(c.name().to_string());
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let found: Vec<Option<&Col>> =
                per_run.iter().map(|columns| columns.iter().find(|c| c.name() == name)).collect();
            if found.iter().all(|c| matches!(c, Some(Col::Int(..)))) {
                let mut values = Vec::new();
                for c in found.iter().flatten() {
                    if let Col::Int(_, v) = c {
                        values.extend_from_slice(v);
                    }
                }
                Col::Int(name, values)
            } else {
                let mut values = Vec::new();
                for (c, run) in found.iter().zip(runs) {
                    match c {
                        Some(Col::Int(_, v)) => values.extend(v.iter().map(|&x| x as f64)),
                        Some(Col::Float(_, v)) => values.extend_from_slice(v),
                        _ => values.extend(std::iter::repeat_n(f64::NAN, run.metrics.len())),
                    }
                }
                Col::Float(name, values)
            }
        })
        .collect()
}

/// The compiled module. Its public face is the `xinyong` package (python/xinyong).
#[pymodule]
fn _xinyong(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ScenarioError", py.get_type::<ScenarioError>())?;
    m.add("LedgerNotKeptError", py.get_type::<LedgerNotKeptError>())?;
    m.add_class::<Scenario>()?;
    m.add_class::<RunHandle>()?;
    m.add_class::<columns::Buffer>()?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    Ok(())
}
