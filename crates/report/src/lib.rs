//! # xinyong-report — self-contained HTML reports for runs, comparisons and sweeps
//!
//! The simulator writes, for every run, `metrics.csv` (one row per day) and
//! `summary.json` (the resolved scenario, seed, version, run time, totals). This crate
//! turns them into pages a researcher can open from disk and *look at*:
//!
//! * [`render_run`] / [`write_run_report`] (reading with [`read_run_dir`]) →
//!   `report.html`: a headline summary in plain words, then the charts the issue asks for
//!   (score fan and tier shares; incidents true vs false; answers; expulsions with the
//!   innocent highlighted; groupless citizens; the travel-banned share against the
//!   article's 23 million of 1.4 billion; orders, GMV, discounts by cause, refused orders
//!   by reason; KOL credibility with its scandals) and the scenario as resolved.
//! * [`compare_metrics`], [`render_compare`], [`compare_csv`], [`compare_text_table`]
//!   (all files at once: [`write_compare`]) → `xinyong compare`: per metric, the mean
//!   paired difference B − A over seeds with a 95 % Student-t interval.
//! * [`render_sweep`], [`sweep_csv`] (both: [`write_sweep`]) → `xinyong sweep`: final
//!   values against each varied parameter, and a tidy table.
//!
//! `docs/report.md` describes every chart and the columns it needs.
//!
//! Which columns are summed over a run (flows) and which are read on the last day (stocks)
//! is decided in one place: [`MetricKind::of`] (module [`metrics`]).
//!
//! ## What the pages are (and are not)
//!
//! One file each, no JavaScript, no fonts, no network: charts are SVG drawn by this crate
//! and inlined, styles are one inline stylesheet with phone and print rules. Every chart
//! is a `<figure id="chart-…">` holding an `<svg>` and a `<figcaption>`; hovering a chart
//! shows the values of a day (SVG `<title>`). A chart whose columns are missing is
//! replaced by a note naming them; unknown columns are ignored. Output is deterministic:
//! the same inputs give the same bytes (no clock, no randomness).
//!
//! This crate does no simulation and knows nothing of the engine: its inputs are tables
//! of numbers and a JSON summary.
//!
//! ```
//! use xinyong_report::{Table, render_run};
//!
//! let metrics = Table::from_csv("day,citizens,groupless\n0,1000,0\n1,1000,3\n")?;
//! let summary = serde_json::json!({ "seed": 7, "version": "0.1.0" });
//! let html = render_run(&metrics, &summary)?;
//! assert!(html.contains("id=\"chart-groupless\""));
//! # Ok::<(), xinyong_report::ReportError>(())
//! ```

use std::path::{Path, PathBuf};

mod chart;
mod compare;
mod format;
mod html;
pub mod markup;
pub mod metrics;
mod palette;
mod run;
mod sweep;
mod table;

pub use compare::{
    CompareInput, MetricDifference, compare_csv, compare_metrics, compare_text_table, render_compare, t_quantile_975,
    write_compare,
};
pub use metrics::MetricKind;
pub use run::{
    BLACKLISTED_PEOPLE_2018, CHINA_POPULATION, TRAVEL_REFUSALS_2018, read_run_dir, render_run, write_atomically,
    write_run_report,
};
pub use sweep::{SweepInput, SweepRun, render_sweep, sweep_csv, write_sweep};
pub use table::Table;

/// Everything that can go wrong while reading metrics or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The metrics CSV is malformed; `line` is 1-based.
    #[error("{file}, line {line}: {message}")]
    Csv { file: String, line: usize, message: String },
    /// `summary.json` is not valid JSON.
    #[error("{}: not valid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The inputs cannot make a report (no rows, mismatched lengths, …).
    #[error("{0}")]
    Invalid(String),
}

impl ReportError {
    /// Names the file a CSV error came from (instead of "metrics CSV").
    pub fn in_file(self, path: &Path) -> ReportError {
        match self {
            ReportError::Csv { line, message, .. } => {
                ReportError::Csv { file: path.display().to_string(), line, message }
            }
            other => other,
        }
    }
}
