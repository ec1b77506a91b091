//! `xinyong report RUN_DIR`: render report.html from a run's stored metrics.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Options of `xinyong report`.
///
/// Re-renders RUN_DIR/report.html from RUN_DIR/metrics.csv and RUN_DIR/summary.json,
/// e.g. after an upgrade of xinyong or to rebuild a deleted report. The page is one
/// self-contained file: it opens from disk, offline.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A run folder written by `xinyong simulate`.
    pub run_dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = render(&args.run_dir)?;
    println!("{}", path.display());
    Ok(())
}

/// Writes `dir/report.html`; returns its path.
pub fn render(dir: &Path) -> anyhow::Result<PathBuf> {
    xinyong_report::write_run_report(dir).with_context(|| format!("cannot render the report of {}", dir.display()))
}
