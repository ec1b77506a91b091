//! Experiments: many runs of one or two scenarios over seeds and parameter grids.
//!
//! Common random numbers come for free: every draw is keyed by (seed, stream, day,
//! entity), so two scenarios run with the same seed share the same synthetic world and
//! the same draws wherever their rules do not make them diverge. Comparing a scenario
//! with itself therefore gives exactly zero differences.
//!
//! Runs go in parallel (one thread each; a run's output does not depend on threads).

use crate::metrics::{self, MetricsRow};
use crate::scenario::{Scenario, ScenarioError};
use crate::simulation::{Simulation, SimulationError};
use rayon::prelude::*;

/// One finished run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunOutput {
    pub seed: u64,
    /// Values of the varied parameters (sweeps), in the order of the `--vary` keys.
    pub values: Vec<String>,
    pub tier_names: Vec<String>,
    pub metrics: Vec<MetricsRow>,
}

impl RunOutput {
    /// The run's metrics.csv text (same bytes as `xinyong simulate` writes).
    pub fn csv(&self) -> String {
        metrics::to_csv(&self.metrics, &self.tier_names)
    }
}

/// Why an experiment failed.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Simulation(#[from] SimulationError),
    #[error("{0}")]
    Invalid(String),
}

/// Runs `scenario` once per seed; `on_done` is called after each run (for progress).
pub fn run_seeds(
    scenario: &Scenario,
    seeds: &[u64],
    on_done: &(dyn Fn() + Sync),
) -> Result<Vec<RunOutput>, ExperimentError> {
    let jobs: Vec<(Scenario, Vec<String>)> = seeds
        .iter()
        .map(|&seed| {
            let mut s = scenario.clone();
            s.run.seed = seed;
            (s, Vec::new())
        })
        .collect();
    run_all(jobs, on_done)
}

/// Seeds `first, first + 1, …` (`count` of them).
pub fn seeds_from(first: u64, count: u32) -> Vec<u64> {
    (0..count as u64).map(|i| first.wrapping_add(i)).collect()
}

/// A parameter to vary: a dotted scenario key and its values (as `--set` would take them).
#[derive(Clone, Debug, PartialEq)]
pub struct Vary {
    pub key: String,
    pub values: Vec<String>,
}

impl std::str::FromStr for Vary {
    type Err = String;
    /// Parses `key=v1,v2,v3`.
    fn from_str(s: &str) -> Result<Vary, String> {
        let (key, values) = s.split_once('=').ok_or_else(|| format!("--vary {s:?}: expected KEY=V1,V2,…"))?;
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
        if key.trim().is_empty() || values.is_empty() {
            return Err(format!("--vary {s:?}: expected KEY=V1,V2,…"));
        }
        Ok(Vary { key: key.trim().to_string(), values })
    }
}

/// Most runs one sweep may ask for (an explicit bound on a grid that grows fast).
pub const SWEEP_RUNS_MAX: usize = 10_000;

/// Every combination of the varied values (first key slowest), each with every seed.
/// The scenario text is re-parsed with the combination as overrides, so a bad key or
/// value is refused exactly as `--set` would refuse it.
pub fn sweep(
    scenario_text: &str,
    origin: &str,
    base_overrides: &[(String, String)],
    varies: &[Vary],
    seeds: &[u64],
    on_done: &(dyn Fn() + Sync),
) -> Result<Vec<RunOutput>, ExperimentError> {
    run_all(sweep_jobs(scenario_text, origin, base_overrides, varies, seeds)?, on_done)
}

/// The runs of a sweep, in order: every combination of the varied values (the last key
/// varying fastest), each with every seed. (`xinyong sweep --cluster` spreads them over
/// processes and runs each with [`run_job`].)
pub fn sweep_jobs(
    scenario_text: &str,
    origin: &str,
    base_overrides: &[(String, String)],
    varies: &[Vary],
    seeds: &[u64],
) -> Result<Vec<(Scenario, Vec<String>)>, ExperimentError> {
    if varies.is_empty() {
        return Err(ExperimentError::Invalid("a sweep needs at least one --vary KEY=V1,V2".into()));
    }
    let combinations: usize = varies.iter().map(|v| v.values.len()).product();
    if combinations * seeds.len() > SWEEP_RUNS_MAX {
        return Err(ExperimentError::Invalid(format!(
            "{} runs requested; at most {SWEEP_RUNS_MAX} per sweep",
            combinations * seeds.len()
        )));
    }
    let mut jobs = Vec::with_capacity(combinations * seeds.len());
    for index in 0..combinations {
        let mut rest = index;
        let mut values = vec![String::new(); varies.len()];
        for (i, vary) in varies.iter().enumerate().rev() {
            values[i] = vary.values[rest % vary.values.len()].clone();
            rest /= vary.values.len();
        }
        let mut overrides = base_overrides.to_vec();
        overrides.extend(varies.iter().zip(&values).map(|(v, x)| (v.key.clone(), x.clone())));
        let scenario = Scenario::parse(scenario_text, origin, &overrides)?;
        for &seed in seeds {
            let mut s = scenario.clone();
            s.run.seed = seed;
            jobs.push((s, values.clone()));
        }
    }
    Ok(jobs)
}

fn run_all(jobs: Vec<(Scenario, Vec<String>)>, on_done: &(dyn Fn() + Sync)) -> Result<Vec<RunOutput>, ExperimentError> {
    jobs.into_par_iter()
        .map(|(scenario, values)| {
            let out = run_job(scenario, values)?;
            on_done();
            Ok(out)
        })
        .collect()
}

/// One run of an experiment, on one thread.
pub fn run_job(mut scenario: Scenario, values: Vec<String>) -> Result<RunOutput, ExperimentError> {
    scenario.run.threads = 1;
    let seed = scenario.run.seed;
    let mut sim = Simulation::new(scenario)?;
    sim.run(|_, _| {});
    Ok(RunOutput { seed, values, tier_names: sim.tier_names(), metrics: sim.metrics().to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_parses_keys_and_values() {
        let v: Vary = "policy.sanction.keep_penalty=0, 3,6".parse().unwrap();
        assert_eq!(v.key, "policy.sanction.keep_penalty");
        assert_eq!(v.values, ["0", "3", "6"]);
        assert!("nokey".parse::<Vary>().is_err());
        assert!("k=".parse::<Vary>().is_err());
    }

    #[test]
    fn seeds_are_consecutive() {
        assert_eq!(seeds_from(7, 3), [7, 8, 9]);
    }
}
