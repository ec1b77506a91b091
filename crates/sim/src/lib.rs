//! The xinyong simulator: synthetic populations driven through the engine.
//!
//! A [`Scenario`] (TOML: `[run]`, `[policy]`, `[world]`) describes a population and the
//! rules; [`Simulation`] generates the people from the seed, forms their interest groups
//! and steps day by day: the synthetic citizens act through the engine's own commands
//! (report an incident, answer a notice, place an order), then the engine closes the day.
//! Every random draw is keyed by (seed, stream, day, entity), so the same scenario and
//! seed give the same bytes whatever the number of threads.
//!
//! ```no_run
//! use xinyong_sim::{Scenario, Simulation};
//! let scenario = Scenario::load("scenarios/default.toml".as_ref(), &[]).unwrap();
//! let mut sim = Simulation::new(scenario).unwrap();
//! sim.run(|_, _| {});
//! for line in xinyong_sim::summary::headline(&sim) {
//!     println!("{line}");
//! }
//! ```

pub mod behaviour;
pub mod experiment;
pub mod grouping;
pub mod memory;
pub mod metrics;
pub mod mixed;
pub mod output;
pub mod population;
pub mod scenario;
pub mod shortlist;
pub mod simulation;
pub mod summary;
pub mod world;

pub use memory::MemoryEstimate;
pub use metrics::MetricsRow;
pub use scenario::{RunConfig, Scenario, ScenarioError};
pub use simulation::{
    DayPart, Driver, Rayon, RowPart, ScandalEvent, Shard, Simulation, SimulationError, Timings, Totals,
};
pub use world::{GroupingMethod, VotingModel, WorldConfig};
