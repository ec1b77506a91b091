//! The day loop: synthetic citizens act through engine commands, then the day closes.
//!
//! Each day, in this order: scandals come out; KOLs promote; appeals are decided and
//! filed; the cameras report incidents (true and false); recipients answer the notices
//! delivered yesterday; citizens order; the engine closes the day. Every decision is
//! made from the state as it stood at the start of the day, by draws keyed on
//! (seed, stream, day, entity) — so the actions of all groups are generated in parallel
//! and applied in a fixed order, and the result does not depend on the thread count.
//!
//! A run can also be split over several workers (threads, processes, machines: see the
//! `xinyong-cluster` crate): each [`Shard`] holds the members of a contiguous range of
//! groups, and a day splits into [`Simulation::step_local`] (the replicated global steps,
//! then this shard's groups) and [`Simulation::step_finish`] (every shard's [`DayPart`]
//! merged in group order). The whole run is the one-shard case of the same code.

use crate::behaviour::{Behaviour, DayKeys, Offer, Plan, VoteTables};
use crate::metrics::{DenunciationRow, MetricsRow, percentile_sorted};
use crate::population::{Catalogue, Kols, People, SimDirectory, SyntheticDirectory, topic_weights};
use crate::scenario::Scenario;
use crate::world::GroupingMethod;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use xinyong_engine::{
    CitizenId, Command, Day, DayReport, Engine, EngineOptions, Executor, GroupId, IncidentId, KolId, LedgerMode,
    LocalDay, Outcome, ProductId, Refusal, Restriction, Rules,
};
use xinyong_random::{Key, Stream};

/// How the simulator applies its citizens' actions to the engine. Both give the same
/// results (tested); they differ in speed and memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// Group by group through `Engine::run_day`, in parallel, without a citizen index:
    /// the default, and the only way to large populations.
    Groups,
    /// One engine command per action, addressed by citizen id, as the live service does:
    /// the reference the group-by-group driver is checked against.
    Citizens,
}

thread_local! {
    /// Each worker's plan of the group at hand, kept between groups (and days) so that its
    /// lists keep their capacity: see [`Behaviour::plan_group_into`].
    static PLAN: std::cell::Cell<Plan> = std::cell::Cell::new(Plan::default());
}

/// A rayon thread pool as the engine's executor.
pub struct Rayon;

impl Executor for Rayon {
    fn fold<T, A, I, F, M>(&self, items: &mut [T], init: I, f: F, merge: M) -> A
    where
        T: Send,
        A: Send,
        I: Fn() -> A + Sync + Send,
        F: Fn(usize, &mut T, &mut A) + Sync + Send,
        M: Fn(A, A) -> A + Sync + Send,
    {
        items
            .par_iter_mut()
            .enumerate()
            .fold(&init, |mut acc, (i, item)| {
                f(i, item, &mut acc);
                acc
            })
            .reduce(&init, &merge)
    }
}

/// Which part of a run one worker holds: the members of a contiguous, balanced range of
/// groups (see [`Shard::groups`]). Everything else — the groupless, the KOLs, the
/// catalogue, every group's size and centroid — is replicated on every shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u32,
    /// Shards in the run.
    pub count: u32,
}

impl Shard {
    /// The whole run in one place (the local run).
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count` (panics unless `index < count`).
    pub fn new(index: u32, count: u32) -> Shard {
        assert!(index < count, "shard {index} of {count}");
        Shard { index, count }
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// The group ids this shard holds, out of `groups`: contiguous, and balanced (sizes
    /// differ by at most one group), so that merging parts by shard is merging by group.
    pub fn groups(&self, groups: u32) -> std::ops::Range<u32> {
        let at = |i: u32| (groups as u64 * i as u64 / self.count as u64) as u32;
        at(self.index)..at(self.index + 1)
    }

    /// Whether this shard's copy of the groupless counts in the merged figures (exactly
    /// one does: shard 0).
    pub fn counts_groupless(&self) -> bool {
        self.index == 0
    }
}

/// One shard's part of a simulated day: the engine's [`LocalDay`] and what only the
/// simulator knows (which of the day's incidents were false). In a cluster this is what
/// crosses the network, to every other shard.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DayPart {
    pub shard: u32,
    pub day: Day,
    local: LocalDay,
    /// Incidents this shard's groups reported today, in group order: (incident, false?).
    truth: Vec<(IncidentId, bool)>,
    /// The groupless' incidents today (only from the shard that counts the groupless).
    groupless_truth: Vec<(IncidentId, bool)>,
    /// Incidents from confirmed denunciations against people who did nothing, in group order.
    denounced_false: Vec<IncidentId>,
    /// This shard's share of yesterday's row (None on the first day).
    row: Option<RowPart>,
}

/// One shard's share of the one column of a day's row that only a sum over shards gives:
/// `banned_never_offended` depends on members' tiers, and each member is held by one shard.
/// It is counted from the state at the end of the day, so it travels with the next day's
/// [`DayPart`] (and, after the last day, alone: [`Simulation::row_part`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowPart {
    pub shard: u32,
    pub day: Day,
    banned_never_offended: u64,
}

/// What the simulator knows that the engine does not: which incidents were false.
#[derive(Clone, Debug, Default)]
struct Truth {
    /// False incidents still within reach of a rule (pruned after the appeal window).
    false_incidents: BTreeSet<IncidentId>,
    /// Every false incident of the run, kept only with a full ledger (to mark its entries).
    all_false: Option<BTreeSet<IncidentId>>,
    falsely_flagged: Vec<u64>,
    falsely_flagged_count: u64,
    offended: Vec<u64>,
    /// Incidents reported yesterday: (id, innocent), for appeal filing.
    yesterday: Vec<(IncidentId, bool)>,
    /// False incidents that came from confirmed denunciations (pruned with `false_incidents`).
    denounced_false: BTreeSet<IncidentId>,
    /// Of those, how many were confirmed today.
    denounced_false_today: u64,
}

/// Sets bit `i` (growing the set: real people join a mixed world after it started);
/// returns whether it was clear.
fn bit_set(bits: &mut Vec<u64>, i: usize) -> bool {
    let (w, b) = (i / 64, 1u64 << (i % 64));
    if w >= bits.len() {
        bits.resize(w + 1, 0);
    }
    let was = bits[w] & b != 0;
    bits[w] |= b;
    !was
}

fn bit_get(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w & (1u64 << (i % 64)) != 0)
}

/// Running totals over the whole run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Totals {
    pub incidents_true: u64,
    pub incidents_false: u64,
    pub notices: u64,
    pub answers_expel: u64,
    pub answers_keep: u64,
    pub answers_none: u64,
    pub expulsions: u64,
    pub expulsions_innocent: u64,
    pub appeals: u64,
    pub appeals_granted: u64,
    pub orders: u64,
    pub orders_refused_travel: u64,
    pub gmv_fen: i64,
    pub discount_group_fen: i64,
    pub discount_credit_fen: i64,
    pub pools: u64,
    pub pools_by_tier: Vec<u64>,
    pub scandals: u64,
    pub penalty_points: i64,
    pub vote_points: i64,
    /// Run totals of the denunciation columns, when the policy enables denunciation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denunciation: Option<DenunciationRow>,
}

/// A running simulation. `D` is its engine's directory: the synthetic one, or a mixed
/// world's ([`crate::mixed`]), where real people live among the simulated citizens.
pub struct Simulation<D: SimDirectory = SyntheticDirectory> {
    scenario: Scenario,
    rules: Rules,
    seed: u64,
    engine: Engine<D>,
    catalogue: Catalogue,
    kols: Kols,
    kind_weights: Vec<f64>,
    /// Incident kind of a judgement debtor's monthly report.
    debtor_kind: u8,
    votes: VoteTables,
    driver: Driver,
    shard: Shard,
    truth: Truth,
    /// Appeal decisions waiting for their day: day → (incident, granted).
    decisions: BTreeMap<Day, Vec<(IncidentId, bool)>>,
    /// Each KOL's offer today (what its followers may buy in place, and how credibly).
    offers: Vec<Offer>,
    metrics: Vec<MetricsRow>,
    /// On a shard of several: the day whose row still waits for the other shards' counts.
    incomplete_row: Option<Day>,
    totals: Totals,
    scandal_events: Vec<ScandalEvent>,
    timings: Timings,
    pool: rayon::ThreadPool,
    /// When set, every engine command the simulated citizens send is kept here, in order
    /// (a mixed world logs them: [`Simulation::step_on`]).
    journal: Option<Journal>,
}

/// What the simulated citizens sent while a journal was kept, and the last close's report.
#[derive(Clone, Debug, Default)]
pub(crate) struct Journal {
    pub commands: Vec<Command>,
    pub report: Option<DayReport>,
}

/// Where the time went (wall clock), for `bench` and the end-of-run breakdown.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Timings {
    /// Generating the world and forming the groups.
    pub setup_seconds: f64,
    /// Scandals, promotions, appeals (sequential, before the groups' day).
    pub daily_global_seconds: f64,
    /// The groups' day: behaviour, engine commands and close (parallel), and the merge.
    /// The three fields below split it.
    pub daily_groups_seconds: f64,
    /// Of the groups' day: every group planning, acting and closing (on the run's threads).
    pub daily_parallel_seconds: f64,
    /// Of the groups' day: the groupless' day (one thread).
    pub daily_groupless_seconds: f64,
    /// Of the groups' day: the close's global steps (one thread, but for the regrouping's
    /// prepared shortlists): merging the groups' outputs in group order, expelling,
    /// regrouping, KOLs.
    pub daily_close_seconds: f64,
    /// Computing the day's metrics row.
    pub metrics_seconds: f64,
}

/// A product scandal and the KOLs it hit that day.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScandalEvent {
    pub day: Day,
    pub product: String,
    /// KOLs whose credibility fell that day (all of the day's scandals together).
    pub kols_hit: u64,
}

/// Why a simulation could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    #[error("scenario: {key}: {message}")]
    Scenario { key: String, message: String },
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    #[error("grouping failed: {0}")]
    Grouping(String),
    #[error("a shard of a run needs the group driver (the citizen driver holds the whole run)")]
    ShardNeedsGroups,
}

/// The day's [`Behaviour`] from a simulation's fields, borrowed one by one so that the
/// engine stays free to be borrowed mutably while it is alive.
macro_rules! behaviour {
    ($s:expr, $d:expr) => {
        Behaviour {
            seed: $s.seed,
            day: $d,
            world: &$s.scenario.world,
            rules: &$s.rules,
            catalogue: &$s.catalogue,
            kols_info: &$s.kols,
            kind_weights: &$s.kind_weights,
            debtor_kind: $s.debtor_kind,
            offers: &$s.offers,
            campaign_multiplier: $s.campaign_multiplier($d),
            votes: &$s.votes,
            keys: DayKeys::new($s.seed, $d),
        }
    };
}

impl Simulation<SyntheticDirectory> {
    /// Builds the world and the engine for a scenario (its `run.seed` and sizes).
    pub fn new(scenario: Scenario) -> Result<Simulation, SimulationError> {
        Simulation::with_driver(scenario, Driver::Groups)
    }

    /// [`Simulation::new`] with a chosen driver (the results are the same).
    pub fn with_driver(scenario: Scenario, driver: Driver) -> Result<Simulation, SimulationError> {
        Simulation::build(scenario, driver, Shard::WHOLE, None, |d| d)
    }

    /// One shard of a run split over `shard.count` workers: it holds the members of
    /// [`Shard::groups`] and steps with [`Simulation::step_local`] and
    /// [`Simulation::step_finish`], exchanging [`DayPart`]s with the other shards.
    pub fn with_shard(scenario: Scenario, shard: Shard) -> Result<Simulation, SimulationError> {
        Simulation::build(scenario, Driver::Groups, shard, None, |d| d)
    }
}

impl<D: SimDirectory> Simulation<D> {
    /// Builds the world; `wrap` makes the engine's directory from the synthetic one, and
    /// `options` replaces the simulator's engine options (a mixed world keeps everything).
    pub(crate) fn build(
        scenario: Scenario,
        driver: Driver,
        shard: Shard,
        options: Option<EngineOptions>,
        wrap: impl FnOnce(SyntheticDirectory) -> D + Send,
    ) -> Result<Simulation<D>, SimulationError> {
        if !shard.is_whole() && driver != Driver::Groups {
            return Err(SimulationError::ShardNeedsGroups);
        }
        let started = std::time::Instant::now();
        let rules = scenario.check().map_err(|(key, message)| SimulationError::Scenario { key, message })?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(scenario.run.threads as usize)
            .build()
            .map_err(|e| SimulationError::Threads(e.to_string()))?;
        let (engine, catalogue, kols) =
            pool.install(|| build_world(&scenario, &rules, driver, shard, options, wrap))?;
        let kind_weights = rules
            .policy
            .incident_kinds
            .iter()
            .map(|k| scenario.world.misconduct.kinds.get(&k.name).copied().unwrap_or(0.0))
            .collect();
        let debtor_kind = rules.incident_kind_index(&scenario.world.misconduct.debtor_kind).unwrap_or(0);
        let words = (scenario.run.citizens as usize).div_ceil(64);
        let full_ledger = engine.ledger().mode() == LedgerMode::Full;
        let votes = VoteTables::new(&scenario.world, &rules);
        Ok(Simulation {
            totals: Totals { pools_by_tier: vec![0; rules.group_discounts_bp.len()], ..Totals::default() },
            seed: scenario.run.seed,
            scenario,
            rules,
            engine,
            catalogue,
            kols,
            kind_weights,
            debtor_kind,
            votes,
            driver,
            shard,
            truth: Truth {
                falsely_flagged: vec![0; words],
                offended: vec![0; words],
                all_false: full_ledger.then(BTreeSet::new),
                ..Truth::default()
            },
            decisions: BTreeMap::new(),
            offers: Vec::new(),
            metrics: Vec::new(),
            incomplete_row: None,
            scandal_events: Vec::new(),
            timings: Timings { setup_seconds: started.elapsed().as_secs_f64(), ..Timings::default() },
            pool,
            journal: None,
        })
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Heap bytes held now, by part: the engine's ([`Engine::heap_use`]), the directory's
    /// and the simulator's own records of what was true. What the allocator keeps beyond
    /// these (freed but not returned, fragments) is the process's RSS minus their sum.
    pub fn heap_use(&self) -> Vec<(&'static str, u64)> {
        let set = |len: usize| (len * (std::mem::size_of::<IncidentId>() + 16)) as u64;
        let t = &self.truth;
        let decided: usize = self.decisions.values().map(Vec::capacity).sum();
        let truth =
            set(t.false_incidents.len() + t.all_false.as_ref().map_or(0, BTreeSet::len) + t.denounced_false.len())
                + ((t.falsely_flagged.capacity() + t.offended.capacity()) * 8) as u64
                + ((t.yesterday.capacity() + decided) * std::mem::size_of::<(IncidentId, bool)>()) as u64;
        let mut parts = self.engine.heap_use();
        parts.extend(self.engine.directory().synthetic().heap_use());
        parts.push(("simulator: what was true", truth));
        parts
    }

    pub fn engine(&self) -> &Engine<D> {
        &self.engine
    }

    pub(crate) fn engine_slot(&mut self) -> &mut Engine<D> {
        &mut self.engine
    }

    /// Keeps every engine command from now on (see [`Simulation::take_journal`]).
    pub(crate) fn start_journal(&mut self) {
        self.journal = Some(Journal::default());
    }

    /// The commands kept since [`Simulation::start_journal`] and the last close's report;
    /// stops keeping them.
    pub(crate) fn take_journal(&mut self) -> Journal {
        self.journal.take().unwrap_or_default()
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    pub fn metrics(&self) -> &[MetricsRow] {
        &self.metrics
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    pub fn scandal_events(&self) -> &[ScandalEvent] {
        &self.scandal_events
    }

    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// Worker threads of the run's pool (`run.threads`, 0 = one per core).
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    pub fn driver(&self) -> Driver {
        self.driver
    }

    pub fn shard(&self) -> Shard {
        self.shard
    }

    pub fn tier_names(&self) -> Vec<String> {
        self.rules.tiers.iter().map(|t| t.name.clone()).collect()
    }

    /// Whether a recent incident was a false identification (known to the simulator only).
    pub fn is_false(&self, incident: IncidentId) -> bool {
        self.truth.false_incidents.contains(&incident)
    }

    /// Whether any incident of the run was false (exact when the ledger is kept in full).
    pub fn was_false(&self, incident: IncidentId) -> bool {
        match &self.truth.all_false {
            Some(all) => all.contains(&incident),
            None => self.is_false(incident),
        }
    }

    /// Runs every remaining day, calling `progress(days_done, days_total)` after each.
    pub fn run(&mut self, mut progress: impl FnMut(u32, u32)) {
        let days = self.scenario.run.days;
        while self.engine.day() < days {
            self.step();
            progress(self.engine.day(), days);
        }
    }

    /// Simulates one day; returns its metrics. (For a whole run: a shard steps with
    /// [`Simulation::step_local`] and [`Simulation::step_finish`].)
    pub fn step(&mut self) -> &MetricsRow {
        assert!(self.shard.is_whole(), "a shard steps with step_local and step_finish");
        match self.driver {
            Driver::Groups => {
                let part = self.step_local();
                self.step_finish(vec![part])
            }
            Driver::Citizens => {
                let d = self.engine.day();
                let t0 = std::time::Instant::now();
                self.global_steps(d);
                let t1 = std::time::Instant::now();
                let report = self.step_by_citizens(d);
                if let Some(journal) = self.journal.as_mut() {
                    journal.report = Some(report.clone());
                }
                let t2 = std::time::Instant::now();
                self.record(d, report);
                let t3 = std::time::Instant::now();
                self.timings.daily_global_seconds += (t1 - t0).as_secs_f64();
                self.timings.daily_groups_seconds += (t2 - t1).as_secs_f64();
                self.timings.metrics_seconds += (t3 - t2).as_secs_f64();
                self.metrics.last().expect("a row was recorded")
            }
        }
    }

    /// The first half of a day on this shard: the global steps every shard runs alike
    /// (scandals, promotions, appeal decisions and filings: pure functions of the seed
    /// and of replicated state), then this shard's groups (and the groupless) act and
    /// close locally. Returns this shard's part, for [`Simulation::step_finish`] on every
    /// shard.
    pub fn step_local(&mut self) -> DayPart {
        assert_eq!(self.driver, Driver::Groups, "the citizen driver steps with step");
        let d = self.engine.day();
        let t0 = std::time::Instant::now();
        // Yesterday's share, counted before today changes anything.
        let row = self.row_part();
        self.global_steps(d);
        let t1 = std::time::Instant::now();
        let (local, truth, groupless_truth, denounced_false) = self.groups_day(d);
        self.timings.daily_global_seconds += (t1 - t0).as_secs_f64();
        self.timings.daily_groups_seconds += t1.elapsed().as_secs_f64();
        DayPart { shard: self.shard.index, day: d, local, truth, groupless_truth, denounced_false, row }
    }

    /// The second half of a day: merges every shard's part — in shard order, which is
    /// group order, whatever order they arrived in — closes the day and records its
    /// metrics. Every shard calls it with the same parts and reaches the same state.
    ///
    /// On a shard of several, the row's `banned_never_offended` is completed with the
    /// next day's parts (or [`Simulation::complete_row`] after the last day): until then
    /// the row returned here has 0 there ([`Simulation::is_complete`] says false).
    pub fn step_finish(&mut self, mut parts: Vec<DayPart>) -> &MetricsRow {
        let d = self.engine.day();
        let t0 = std::time::Instant::now();
        parts.sort_by_key(|p| p.shard);
        assert_eq!(parts.len(), self.shard.count as usize, "one part per shard");
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.shard, i as u32, "one part from each shard");
            assert_eq!(p.day, d, "parts of day {d}");
        }
        let rows: Vec<RowPart> = parts.iter_mut().filter_map(|p| p.row.take()).collect();
        if !rows.is_empty() {
            self.complete_row(rows);
        }
        assert!(self.incomplete_row.is_none(), "every part of day {d} carries yesterday's share");
        let mut locals = Vec::with_capacity(parts.len());
        let mut groupless_truth = Vec::new();
        for part in parts {
            for (id, innocent) in part.truth {
                self.learn(id, innocent);
            }
            for id in part.denounced_false {
                self.learn_denounced_false(id);
            }
            groupless_truth.extend(part.groupless_truth);
            locals.push(part.local);
        }
        // The groupless' incidents come after every group's (as in one engine's day).
        for (id, innocent) in groupless_truth {
            self.learn(id, innocent);
        }
        let closing = std::time::Instant::now();
        // On the run's threads: the directory prepares the regrouping's shortlists in parallel.
        let report = self.pool.install(|| self.engine.day_finish(locals));
        let t1 = std::time::Instant::now();
        self.record(d, report);
        self.timings.daily_close_seconds += (t1 - closing).as_secs_f64();
        self.timings.daily_groups_seconds += (t1 - t0).as_secs_f64();
        self.timings.metrics_seconds += t1.elapsed().as_secs_f64();
        self.metrics.last().expect("a row was recorded")
    }

    /// This shard's share of the last recorded row, while that row is incomplete (a shard
    /// of several, before the next day's exchange): after the last day, every shard sends
    /// it to every other, and passes all of them to [`Simulation::complete_row`].
    pub fn row_part(&self) -> Option<RowPart> {
        let day = self.incomplete_row?;
        Some(RowPart { shard: self.shard.index, day, banned_never_offended: self.banned_never_offended_here() })
    }

    /// Completes the last row with every shard's [`RowPart`] (in any order).
    pub fn complete_row(&mut self, mut parts: Vec<RowPart>) {
        let day = self.incomplete_row.take().expect("a row waits for its shares");
        parts.sort_by_key(|p| p.shard);
        assert_eq!(parts.len(), self.shard.count as usize, "one share per shard");
        for (i, p) in parts.iter().enumerate() {
            assert_eq!((p.shard, p.day), (i as u32, day), "one share of day {day} from each shard");
        }
        let row = self.metrics.last_mut().expect("a row was recorded");
        row.banned_never_offended = parts.iter().map(|p| p.banned_never_offended).sum();
    }

    /// Whether every recorded row is final (always, but on a shard of several between a
    /// day's [`Simulation::step_finish`] and the next exchange).
    pub fn is_complete(&self) -> bool {
        self.incomplete_row.is_none()
    }

    /// Citizens in a travel-banned tier who were never reported for a true offence, among
    /// those this shard holds (the members of its groups; the groupless on one shard).
    fn banned_never_offended_here(&self) -> u64 {
        let banned: Vec<bool> = self.rules.tiers.iter().map(|t| t.restrictions.contains(Restriction::Travel)).collect();
        if !banned.contains(&true) {
            return 0;
        }
        let offended = &self.truth.offended;
        let counts = |m: &xinyong_engine::Member| banned[m.tier() as usize] && !bit_get(offended, m.citizen.index());
        // Every member is read each day: on the run's threads, group by group (a sum, so
        // the count is the same whatever the threads).
        let groups = self.engine.groups();
        let mut n: u64 = self
            .pool
            .install(|| groups.par_iter().map(|g| g.members().iter().filter(|m| counts(m)).count() as u64).sum());
        // Every shard holds the groupless; one counts them.
        if self.shard.counts_groupless() {
            n += self.engine.groupless().iter().filter(|e| counts(&e.member)).count() as u64;
        }
        n
    }

    /// Scandals, promotions and appeals: run alike on every shard.
    fn global_steps(&mut self, d: Day) {
        if self.scenario.world.commerce.enabled {
            self.scandals_and_promotions(d);
        }
        self.appeals(d);
    }

    /// Every group this shard holds plans and acts in parallel inside the engine's day;
    /// then the groupless. Returns the engine's part and the truths (groups', groupless').
    #[allow(clippy::type_complexity)]
    fn groups_day(&mut self, d: Day) -> (LocalDay, Vec<(IncidentId, bool)>, Vec<(IncidentId, bool)>, Vec<IncidentId>) {
        // Field by field (not `self.behaviour(d)`): the engine is borrowed mutably below.
        let behaviour = behaviour!(self, d);
        let mut groupless_truth = Vec::new();
        let started = std::time::Instant::now();
        let mut groupless_span = (started, started);
        let (local, truths) = self.pool.install(|| {
            self.engine.day_local(
                &Rayon,
                |g| {
                    let directory = g.directory().synthetic();
                    let state = &directory.groups[g.id().index()];
                    // The worker's plan, reused from group to group (see `plan_group_into`).
                    let mut plan = PLAN.take();
                    behaviour.plan_group_into(
                        g.id(),
                        g.members(),
                        g.open_notices(),
                        g.group().history,
                        &directory.people,
                        state,
                        &mut plan,
                    );
                    let mut truth = Vec::new();
                    let mut denounced_false = Vec::new();
                    for &(slot, kind, innocent) in &plan.incidents {
                        let id = g.report_incident(slot, kind).expect("synthetic incidents are valid");
                        truth.push((id, innocent));
                    }
                    for n in &plan.denunciations {
                        // Past `max_reports_per_day` the engine refuses, as it would a person.
                        let Ok(report) = g.denounce(n.denouncer, n.accused, n.kind) else { continue };
                        let decided =
                            g.decide_report(report, n.confirmed).expect("a report filed today can be decided");
                        if let Some(id) = decided {
                            truth.push((id, n.innocent));
                            if n.innocent {
                                denounced_false.push(id);
                            }
                        }
                    }
                    for &(batch, recipient, answer) in &plan.answers {
                        g.answer(batch, recipient, answer).expect("recipients answer their own open notices");
                    }
                    for &(slot, product, units, via) in &plan.orders {
                        // Travel bans refuse some orders: that is the point, and the engine counts them.
                        let _ = g.put_order(slot, product, units, via);
                    }
                    PLAN.set(plan);
                    (!truth.is_empty()).then_some((truth, denounced_false))
                },
                |g| {
                    groupless_span.0 = std::time::Instant::now();
                    let plan = behaviour.plan_groupless(g.members(), &g.directory().synthetic().people);
                    for &(i, kind, innocent) in &plan.incidents {
                        let id = g.report_incident(i, kind).expect("synthetic incidents are valid");
                        groupless_truth.push((id, innocent));
                    }
                    for &(i, product, units, via) in &plan.orders {
                        let _ = g.place_order(i, product, units, via);
                    }
                    groupless_span.1 = std::time::Instant::now();
                },
            )
        });
        self.timings.daily_parallel_seconds += (groupless_span.0 - started).as_secs_f64();
        self.timings.daily_groupless_seconds += (groupless_span.1 - groupless_span.0).as_secs_f64();
        let mut truth = Vec::new();
        let mut denounced_false = Vec::new();
        for (_, (t, f)) in truths {
            truth.extend(t);
            denounced_false.extend(f);
        }
        if !self.shard.counts_groupless() {
            // Every shard runs the same groupless day; one reports it.
            groupless_truth.clear();
        }
        (local, truth, groupless_truth, denounced_false)
    }

    /// Plans every group in parallel, then applies each action as an engine command by
    /// citizen id ([`Simulation::exec`]). In a mixed world the plans of real people are
    /// dropped — their answers, orders, denunciations and appeals are their own — while the
    /// cameras see them like anyone.
    fn step_by_citizens(&mut self, d: Day) -> DayReport {
        let behaviour = behaviour!(self, d);
        let engine = &self.engine;
        let plans: Vec<(Vec<CitizenId>, Plan)> = self.pool.install(|| {
            (0..engine.group_count())
                .into_par_iter()
                .map(|g| {
                    let gid = GroupId(g);
                    let group = engine.group(gid).expect("group exists");
                    let directory = engine.directory().synthetic();
                    // A plan of its own for every group: the plans are kept until applied.
                    let mut plan = Plan::default();
                    behaviour.plan_group_into(
                        gid,
                        group.members(),
                        group.open_notices(),
                        group.history,
                        &directory.people,
                        &directory.groups[g as usize],
                        &mut plan,
                    );
                    (group.members().iter().map(|m| m.citizen).collect(), plan)
                })
                .collect()
        });
        let groupless: Vec<CitizenId> = engine.groupless().iter().map(|e| e.member.citizen).collect();
        let groupless_plan =
            self.pool.install(|| behaviour.plan_groupless(engine.groupless(), &engine.directory().synthetic().people));
        let notices: Vec<Vec<(IncidentId, Vec<CitizenId>)>> = engine
            .groups()
            .iter()
            .map(|g| {
                g.open_notices().iter().map(|b| (b.incident, b.recipients(g.members()).collect::<Vec<_>>())).collect()
            })
            .collect();
        let all = plans.iter().map(|(m, p)| (m, p)).chain(std::iter::once((&groupless, &groupless_plan)));
        let mut learned = Vec::new();
        let mut denounced_false = Vec::new();
        let kinds: Vec<String> = self.rules.policy.incident_kinds.iter().map(|k| k.name.clone()).collect();
        let kind_name = |k: u8| kinds[k as usize].clone();
        for (members, plan) in all.clone() {
            for &(slot, kind, innocent) in &plan.incidents {
                let command = Command::ReportIncident { citizen: members[slot], kind: kind_name(kind), day: Some(d) };
                let Ok(Outcome::Incident { incident }) = self.exec(command) else {
                    panic!("synthetic incidents are valid")
                };
                learned.push((incident, innocent));
            }
            for n in &plan.denunciations {
                if !self.engine.directory().is_simulated(members[n.denouncer]) {
                    continue;
                }
                let command = Command::Denounce {
                    citizen: members[n.denouncer],
                    accused: members[n.accused],
                    kind: kind_name(n.kind),
                    day: Some(d),
                };
                // Past `max_reports_per_day` the engine refuses, as it would a person.
                let Ok(Outcome::Report { report }) = self.exec(command) else { continue };
                let Ok(Outcome::ReportDecided { incident }) =
                    self.exec(Command::DecideReport { report, confirmed: n.confirmed })
                else {
                    panic!("a report filed today can be decided")
                };
                if let Some(id) = incident {
                    learned.push((id, n.innocent));
                    if n.innocent {
                        denounced_false.push(id);
                    }
                }
            }
        }
        for (g, (_, plan)) in plans.iter().enumerate() {
            for &(batch, recipient, answer) in &plan.answers {
                let (incident, recipients) = &notices[g][batch];
                let citizen = recipients[recipient];
                if self.engine.directory().is_simulated(citizen) {
                    self.exec(Command::AnswerNotice { citizen, incident: *incident, answer })
                        .expect("recipients answer their own open notices");
                }
            }
        }
        for (members, plan) in all {
            for &(slot, product, units, via) in &plan.orders {
                if self.engine.directory().is_simulated(members[slot]) {
                    // Travel bans refuse some orders: that is the point, and the engine counts them.
                    let _ = self.exec(Command::PlaceOrder { citizen: members[slot], product, units, via });
                }
            }
        }
        for (id, innocent) in learned {
            self.learn(id, innocent);
        }
        for id in denounced_false {
            self.learn_denounced_false(id);
        }
        if let Some(journal) = self.journal.as_mut() {
            journal.commands.push(Command::CloseDay);
        }
        self.pool.install(|| self.engine.close_day_with(&Rayon))
    }

    /// Applies one engine command, as the live service does, and keeps it in the journal
    /// when there is one.
    fn exec(&mut self, command: Command) -> Result<Outcome, Refusal> {
        let result = self.engine.apply(&command);
        if let Some(journal) = self.journal.as_mut() {
            journal.commands.push(command);
        }
        result
    }

    /// Remembers an incident the cameras (or courts) reported, and whether it was false.
    fn learn(&mut self, id: IncidentId, innocent: bool) {
        if innocent {
            self.truth.false_incidents.insert(id);
            if let Some(all) = self.truth.all_false.as_mut() {
                all.insert(id);
            }
            if bit_set(&mut self.truth.falsely_flagged, id.citizen.index()) {
                self.truth.falsely_flagged_count += 1;
            }
        } else {
            bit_set(&mut self.truth.offended, id.citizen.index());
        }
        self.truth.yesterday.push((id, innocent));
    }

    /// Remembers a false incident that came from a confirmed denunciation.
    fn learn_denounced_false(&mut self, id: IncidentId) {
        self.truth.denounced_false.insert(id);
        self.truth.denounced_false_today += 1;
    }

    fn scandals_and_promotions(&mut self, d: Day) {
        let seed = self.seed;
        let scandals: Vec<usize> = (self.catalogue.products.iter().enumerate())
            .filter(|(i, p)| {
                p.scandal_rate > 0.0 && Key::new(seed, Stream::Scandal, d as u64, *i as u64).uniform() < p.scandal_rate
            })
            .map(|(i, _)| i)
            .collect();
        for i in scandals {
            self.exec(Command::RevealScandal { product: ProductId(i as u32) }).expect("catalogue products exist");
        }
        let none = Offer { kol: KolId(u32::MAX), product: ProductId(u32::MAX), credibility: 0.0 };
        self.offers.clear();
        self.offers.resize(self.kols.len(), none);
        for k in 0..self.kols.len() as u32 {
            let products = self.promotions_of(KolId(k), d);
            let product = products.first().copied().unwrap_or(ProductId(u32::MAX));
            // The engine moves credibility only at the close: what the groups' day reads.
            let credibility = self.engine.kols()[k as usize].credibility;
            self.offers[self.kols.place(KolId(k))] = Offer { kol: KolId(k), product, credibility };
            for product in products {
                // The same product drawn twice is one promotion.
                let _ = self.exec(Command::Promote { kol: KolId(k), product });
            }
        }
        debug_assert!(self.offers.iter().all(|o| o.kol != none.kol), "every place holds its KOL's offer");
    }

    /// The products a KOL promotes on a day (a pure function of seed, KOL and day).
    pub fn promotions_of(&self, kol: KolId, d: Day) -> Vec<ProductId> {
        let n = self.scenario.world.kols.promotions_per_day;
        let topic = self.kols.topic[kol.index()] as usize;
        let mut draws = Key::new(self.seed, Stream::Promotion, d as u64, kol.0 as u64).draws();
        (0..n).map(|_| self.catalogue.popular_in(topic, &mut draws)).collect()
    }

    fn appeals(&mut self, d: Day) {
        if let Some(due) = self.decisions.remove(&d) {
            for (incident, granted) in due {
                // The incident may have been pruned only after its appeal is decided, so this holds.
                self.exec(Command::DecideAppeal { incident, granted }).expect("a filed appeal can be decided");
            }
        }
        let model = self.scenario.world.appeals.clone();
        let yesterday = std::mem::take(&mut self.truth.yesterday);
        for (incident, innocent) in yesterday {
            let mut draws = Key::new(self.seed, Stream::Appeal, d as u64, incident.to_u64()).draws();
            let (file, grant) = if innocent {
                (model.file_rate_false, model.grant_rate_false)
            } else {
                (model.file_rate_true, model.grant_rate_true)
            };
            // Real people file their own appeals.
            if draws.bernoulli(file)
                && self.engine.directory().is_simulated(incident.citizen)
                && self.exec(Command::FileAppeal { citizen: incident.citizen, incident }).is_ok()
            {
                self.decisions.entry(d + model.review_days).or_default().push((incident, draws.bernoulli(grant)));
            }
        }
    }

    fn campaign_multiplier(&self, d: Day) -> f64 {
        let doy = (self.scenario.run.start_day_of_year + d) % 365;
        self.scenario.world.commerce.campaign_days.iter().filter(|c| c.covers(doy)).map(|c| c.multiplier).product()
    }

    fn record(&mut self, d: Day, report: DayReport) {
        let engine = &self.engine;
        let rules = &self.rules;
        let scores = engine.scores();
        let (mut incidents_true, mut incidents_false) = (0u64, 0u64);
        for (id, innocent) in &self.truth.yesterday {
            debug_assert_eq!(id.day, d);
            if *innocent {
                incidents_false += 1;
            } else {
                incidents_true += 1;
            }
        }
        let expulsions_innocent =
            report.expelled.iter().filter(|(incident, _)| self.truth.false_incidents.contains(incident)).count() as u64;
        let denunciation = rules.policy.denunciation.enabled.then(|| {
            let innocent_denounced =
                report.expelled.iter().filter(|(incident, _)| self.truth.denounced_false.contains(incident)).count()
                    as u64;
            DenunciationRow {
                denunciations: report.denunciations,
                denunciations_confirmed: report.denunciations_confirmed,
                denunciations_false_confirmed: self.truth.denounced_false_today,
                vouchers_issued: report.vouchers_issued,
                vouchers_used: report.vouchers_used,
                vouchers_expired: report.vouchers_expired,
                discount_voucher: report.discount_voucher,
                expulsions_innocent_camera: expulsions_innocent - innocent_denounced,
                expulsions_innocent_denunciation: innocent_denounced,
            }
        });
        self.truth.denounced_false_today = 0;
        // Forget truths no rule can ask about again (tallied and past the appeal window).
        let horizon = d.saturating_sub(rules.policy.appeals.window_days + 2);
        if horizon > 0 {
            let first = IncidentId { day: horizon, citizen: CitizenId(0), seq: 0 };
            self.truth.false_incidents = self.truth.false_incidents.split_off(&first);
            self.truth.denounced_false = self.truth.denounced_false.split_off(&first);
        }
        let mut tiers = Vec::with_capacity(rules.tiers.len());
        let mut travel_banned = 0;
        for (i, t) in rules.tiers.iter().enumerate() {
            let high = if i == 0 { rules.policy.score_max } else { rules.tiers[i - 1].min_score - 1 };
            let n = scores.count_between(t.min_score, high);
            if t.restrictions.contains(Restriction::Travel) {
                travel_banned += n;
            }
            tiers.push(n);
        }
        // A whole run counts now; the shards of a run sum their shares with the next exchange.
        let banned_never_offended = if self.shard.is_whole() {
            self.banned_never_offended_here()
        } else {
            self.incomplete_row = Some(d);
            0
        };
        for &p in &report.scandals {
            self.scandal_events.push(ScandalEvent {
                day: d,
                product: engine.products()[p.index()].name.clone(),
                kols_hit: report.kol_scandal_hits,
            });
        }
        // Every shard knows every group's size (it holds the members of its own only).
        let sizes: Vec<u64> = (0..engine.group_count()).map(|g| engine.group_size(GroupId(g)) as u64).collect();
        let mut credibility: Vec<f64> = engine.kols().iter().map(|k| k.credibility).collect();
        let credibility_mean =
            if credibility.is_empty() { 0.0 } else { credibility.iter().sum::<f64>() / credibility.len() as f64 };
        credibility.sort_by(|a, b| a.total_cmp(b));
        let row = MetricsRow {
            day: d,
            citizens: engine.citizen_count() as u64,
            groups: engine.group_count() as u64,
            groupless: engine.groupless().len() as u64,
            incidents_true,
            incidents_false,
            notices: report.notices_delivered,
            answers_expel: report.answers_expel,
            answers_keep: report.answers_keep,
            answers_none: report.answers_none,
            expulsions: report.expelled.len() as u64,
            expulsions_innocent,
            appeals: report.appeals_filed,
            appeals_granted: report.appeals_granted,
            regrouped: report.regrouped,
            score_mean: scores.mean(),
            score_p10: scores.percentile(10) as i64,
            score_p50: scores.percentile(50) as i64,
            score_p90: scores.percentile(90) as i64,
            score_gini: scores.gini(),
            tiers,
            travel_banned,
            orders: report.orders,
            orders_refused_travel: report.orders_refused_travel,
            gmv: report.gmv,
            discount_group: report.discount_group,
            discount_credit: report.discount_credit,
            pools: report.pools,
            pools_by_tier: report.pools_by_tier[1..].to_vec(),
            kol_credibility_mean: credibility_mean,
            kol_credibility_p10: percentile_sorted(&credibility, 10),
            kol_credibility_p50: percentile_sorted(&credibility, 50),
            kol_credibility_p90: percentile_sorted(&credibility, 90),
            scandals: report.scandals.len() as u64,
            group_size_min: sizes.iter().copied().min().unwrap_or(0),
            group_size_mean: if sizes.is_empty() { 0.0 } else { sizes.iter().sum::<u64>() as f64 / sizes.len() as f64 },
            group_size_max: sizes.iter().copied().max().unwrap_or(0),
            people_falsely_flagged: self.truth.falsely_flagged_count,
            banned_never_offended,
            denunciation,
        };
        let t = &mut self.totals;
        t.incidents_true += row.incidents_true;
        t.incidents_false += row.incidents_false;
        t.notices += row.notices;
        t.answers_expel += row.answers_expel;
        t.answers_keep += row.answers_keep;
        t.answers_none += row.answers_none;
        t.expulsions += row.expulsions;
        t.expulsions_innocent += row.expulsions_innocent;
        t.appeals += row.appeals;
        t.appeals_granted += row.appeals_granted;
        t.orders += row.orders;
        t.orders_refused_travel += row.orders_refused_travel;
        t.gmv_fen += row.gmv;
        t.discount_group_fen += row.discount_group;
        t.discount_credit_fen += row.discount_credit;
        t.pools += row.pools;
        for (a, b) in t.pools_by_tier.iter_mut().zip(&row.pools_by_tier) {
            *a += b;
        }
        t.scandals += row.scandals;
        if let Some(n) = &row.denunciation {
            let sum = t.denunciation.get_or_insert_with(DenunciationRow::default);
            sum.denunciations += n.denunciations;
            sum.denunciations_confirmed += n.denunciations_confirmed;
            sum.denunciations_false_confirmed += n.denunciations_false_confirmed;
            sum.vouchers_issued += n.vouchers_issued;
            sum.vouchers_used += n.vouchers_used;
            sum.vouchers_expired += n.vouchers_expired;
            sum.discount_voucher += n.discount_voucher;
            sum.expulsions_innocent_camera += n.expulsions_innocent_camera;
            sum.expulsions_innocent_denunciation += n.expulsions_innocent_denunciation;
        }
        let ledger = engine.ledger().totals();
        t.penalty_points = ledger.incident_sum + ledger.appeal_sum;
        t.vote_points = ledger.vote_sum;
        self.metrics.push(row);
    }
}

/// Generates the population, forms the groups, fills the catalogue.
fn build_world<D: SimDirectory>(
    scenario: &Scenario,
    rules: &Rules,
    driver: Driver,
    shard: Shard,
    options: Option<EngineOptions>,
    wrap: impl FnOnce(SyntheticDirectory) -> D,
) -> Result<(Engine<D>, Catalogue, Kols), SimulationError> {
    let seed = scenario.run.seed;
    let world = &scenario.world;
    let n = scenario.run.citizens;
    let weights = topic_weights(world);
    let catalogue = Catalogue::generate(world, seed);
    let kols = Kols::generate(world, n, seed, &weights);
    let people = People::new(world, n, seed, &catalogue, &kols);
    let mut directory = SyntheticDirectory::new(people.clone(), &catalogue);
    directory.prepare_groups(0);
    let directory = wrap(directory);
    let ledger = if n <= scenario.run.ledger_max_citizens { LedgerMode::Full } else { LedgerMode::Totals };
    let options = options.unwrap_or(EngineOptions {
        ledger,
        keep_history: false,
        // The group driver never addresses citizens by id (4 bytes a citizen saved).
        index_citizens: driver == Driver::Citizens,
        // Simulated citizens appeal the day after the report: older incidents without a
        // pending appeal are never referred to again.
        incident_retention_days: Some(2),
    });
    let mut engine = Engine::new(rules.clone(), directory, options);
    // Every shard runs the same formation: its own groups get members, the others only
    // sizes (and centroids).
    let balanced = match world.grouping {
        GroupingMethod::Balanced => {
            Some(crate::grouping::balanced(&people, rules, seed).map_err(SimulationError::Grouping)?)
        }
        GroupingMethod::Sorted => None,
    };
    if !shard.is_whole() {
        let groups = match &balanced {
            Some(grouping) => grouping.groups(),
            None => {
                let (min, max) = (rules.policy.groups.min_size as u64, rules.policy.groups.max_size as u64);
                crate::grouping::balanced_sizes(n as u64, min, max).len() as u32
            }
        };
        let range = shard.groups(groups);
        engine.set_shard(range.start, range.end, shard.counts_groupless());
    }
    let centroids = match &balanced {
        Some(grouping) => crate::grouping::populate(&mut engine, &people, grouping),
        None => crate::grouping::form(&mut engine, &people, rules),
    }
    .map_err(SimulationError::Grouping)?;
    drop(balanced);
    engine.directory_mut().synthetic_mut().set_centroids(centroids, seed, world.voting.group_culture_sd);
    if world.commerce.enabled {
        for p in &catalogue.products {
            engine.add_product(p.spec.clone()).expect("generated products are valid");
        }
        for k in 0..kols.len() {
            engine.add_kol(format!("kol {k}")).expect("generated KOLs are valid");
        }
    }
    Ok((engine, catalogue, kols))
}
