//! The day loop: synthetic citizens act through engine commands, then the day closes.
//!
//! Each day, in this order: scandals come out; KOLs promote; appeals are decided and
//! filed; the cameras report incidents (true and false); recipients answer the notices
//! delivered yesterday; citizens order; the engine closes the day. Every decision is
//! made from the state as it stood at the start of the day, by draws keyed on
//! (seed, stream, day, entity) — so the actions of all groups are generated in parallel
//! and applied in a fixed order, and the result does not depend on the thread count.

use crate::metrics::{MetricsRow, percentile_sorted};
use crate::population::PROPENSITY_UNIT;
use crate::population::{Catalogue, Kols, People, SyntheticDirectory, topic_weights};
use crate::scenario::Scenario;
use crate::world::VotingModel;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use xinyong_engine::{
    Answer, CitizenId, Day, DayReport, Engine, EngineOptions, GroupId, IncidentId, KolId, LedgerMode, ProductId,
    Restriction, Rules,
};
use xinyong_random::{Draws, Key, Stream, dist::gamma, dist::poisson, math, pair};

/// Something a synthetic citizen does today.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    Incident { citizen: CitizenId, kind: u8, innocent: bool },
    Answer { citizen: CitizenId, incident: IncidentId, answer: Answer },
    Order { citizen: CitizenId, product: ProductId, units: u32, via: Option<KolId> },
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
}

fn bit_set(bits: &mut [u64], i: usize) -> bool {
    let (w, b) = (i / 64, 1u64 << (i % 64));
    let was = bits[w] & b != 0;
    bits[w] |= b;
    !was
}

fn bit_get(bits: &[u64], i: usize) -> bool {
    bits[i / 64] & (1u64 << (i % 64)) != 0
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
}

/// A running simulation.
pub struct Simulation {
    scenario: Scenario,
    rules: Rules,
    seed: u64,
    engine: Engine<SyntheticDirectory>,
    catalogue: Catalogue,
    kols: Kols,
    kind_weights: Vec<f64>,
    /// Incident kind of a judgement debtor's monthly report.
    debtor_kind: u8,
    truth: Truth,
    /// Appeal decisions waiting for their day: day → (incident, granted).
    decisions: BTreeMap<Day, Vec<(IncidentId, bool)>>,
    /// Each KOL's first promoted product today (what its followers may buy in place).
    promoted: Vec<ProductId>,
    metrics: Vec<MetricsRow>,
    totals: Totals,
    scandal_events: Vec<ScandalEvent>,
    pool: rayon::ThreadPool,
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
}

impl Simulation {
    /// Builds the world and the engine for a scenario (its `run.seed` and sizes).
    pub fn new(scenario: Scenario) -> Result<Simulation, SimulationError> {
        let rules = scenario.check().map_err(|(key, message)| SimulationError::Scenario { key, message })?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(scenario.run.threads as usize)
            .build()
            .map_err(|e| SimulationError::Threads(e.to_string()))?;
        let (engine, catalogue, kols) = pool.install(|| build_world(&scenario, &rules))?;
        let kind_weights = rules
            .policy
            .incident_kinds
            .iter()
            .map(|k| scenario.world.misconduct.kinds.get(&k.name).copied().unwrap_or(0.0))
            .collect();
        let debtor_kind = rules.incident_kind_index(&scenario.world.misconduct.debtor_kind).unwrap_or(0);
        let words = (scenario.run.citizens as usize).div_ceil(64);
        let full_ledger = engine.ledger().mode() == LedgerMode::Full;
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
            truth: Truth {
                falsely_flagged: vec![0; words],
                offended: vec![0; words],
                all_false: full_ledger.then(BTreeSet::new),
                ..Truth::default()
            },
            decisions: BTreeMap::new(),
            promoted: Vec::new(),
            metrics: Vec::new(),
            scandal_events: Vec::new(),
            pool,
        })
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn engine(&self) -> &Engine<SyntheticDirectory> {
        &self.engine
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

    /// Simulates one day; returns its metrics.
    pub fn step(&mut self) -> &MetricsRow {
        let d = self.engine.day();
        let commerce = self.scenario.world.commerce.enabled;
        if commerce {
            self.scandals_and_promotions(d);
        }
        self.appeals(d);
        let (incidents, answers, orders) = self.pool.install(|| self.generate(d));
        for action in incidents.into_iter().chain(answers).chain(orders) {
            self.apply(action);
        }
        let report = self.engine.close_day();
        self.record(d, report);
        self.metrics.last().expect("a row was recorded")
    }

    fn scandals_and_promotions(&mut self, d: Day) {
        for (i, p) in self.catalogue.products.iter().enumerate() {
            if p.scandal_rate > 0.0
                && Key::new(self.seed, Stream::Scandal, d as u64, i as u64).uniform() < p.scandal_rate
            {
                self.engine.reveal_scandal(ProductId(i as u32)).expect("catalogue products exist");
            }
        }
        self.promoted.clear();
        for k in 0..self.kols.len() as u32 {
            let products = self.promotions_of(KolId(k), d);
            self.promoted.push(products.first().copied().unwrap_or(ProductId(u32::MAX)));
            for product in products {
                // The same product drawn twice is one promotion.
                let _ = self.engine.promote(KolId(k), product);
            }
        }
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
                self.engine.decide_appeal(incident, granted).expect("a filed appeal can be decided");
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
            if draws.bernoulli(file) && self.engine.file_appeal(incident.citizen, incident).is_ok() {
                self.decisions.entry(d + model.review_days).or_default().push((incident, draws.bernoulli(grant)));
            }
        }
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Incident { citizen, kind, innocent } => {
                let d = self.engine.day();
                let id = self.engine.report_incident(citizen, kind, d).expect("synthetic incidents are valid");
                if innocent {
                    self.truth.false_incidents.insert(id);
                    if let Some(all) = self.truth.all_false.as_mut() {
                        all.insert(id);
                    }
                    if bit_set(&mut self.truth.falsely_flagged, citizen.index()) {
                        self.truth.falsely_flagged_count += 1;
                    }
                } else {
                    bit_set(&mut self.truth.offended, citizen.index());
                }
                self.truth.yesterday.push((id, innocent));
            }
            Action::Answer { citizen, incident, answer } => {
                self.engine.answer_notice(citizen, incident, answer).expect("recipients answer their own open notices");
            }
            Action::Order { citizen, product, units, via } => {
                // Travel bans refuse some orders: that is the point, and the engine counts them.
                let _ = self.engine.place_order(citizen, product, units, via);
            }
        }
    }

    /// Generates today's actions for every group (in parallel) and the groupless.
    fn generate(&self, d: Day) -> (Vec<Action>, Vec<Action>, Vec<Action>) {
        let engine = &self.engine;
        let per_group: Vec<[Vec<Action>; 3]> =
            (0..engine.group_count()).into_par_iter().map(|g| self.group_actions(d, GroupId(g))).collect();
        let groupless = self.groupless_actions(d);
        let mut out: [Vec<Action>; 3] = Default::default();
        for [a, b, c] in per_group.into_iter().chain(std::iter::once(groupless)) {
            out[0].extend(a);
            out[1].extend(b);
            out[2].extend(c);
        }
        let [incidents, answers, orders] = out;
        (incidents, answers, orders)
    }

    /// Whether a judgement debtor's monthly report falls today.
    fn debt_due(&self, c: CitizenId, d: Day) -> bool {
        self.engine.directory().people.debt_offset(c) == Some(d % self.scenario.world.misconduct.debtor_report_days)
    }

    fn campaign_multiplier(&self, d: Day) -> f64 {
        let doy = (self.scenario.run.start_day_of_year + d) % 365;
        self.scenario.world.commerce.campaign_days.iter().filter(|c| c.covers(doy)).map(|c| c.multiplier).product()
    }

    fn random_kind(&self, draws: &mut Draws) -> u8 {
        draws.weighted_index(&self.kind_weights) as u8
    }

    fn group_actions(&self, d: Day, g: GroupId) -> [Vec<Action>; 3] {
        let engine = &self.engine;
        let world = &self.scenario.world;
        let directory = engine.directory();
        let people = &directory.people;
        let state = &directory.groups[g.index()];
        let group = engine.group(g).expect("group exists");
        let members = group.members();
        let mut incidents = Vec::new();
        let mut answers = Vec::new();
        let mut orders = Vec::new();
        if !members.is_empty() {
            // Cameras: true incidents (detected misconduct), offender in proportion to propensity.
            let total = state.propensity_sum;
            let mut draws = Key::new(self.seed, Stream::Incident, d as u64, g.0 as u64).draws();
            let mean = world.cameras.detection_rate * total as f64 * PROPENSITY_UNIT;
            let n_true = poisson(&mut draws, mean);
            for _ in 0..n_true {
                let mut target = (draws.uniform() * total as f64) as u64;
                let mut offender = members[members.len() - 1].citizen;
                for m in members {
                    let p = people.propensity_fixed(m.citizen);
                    if target < p {
                        offender = m.citizen;
                        break;
                    }
                    target -= p;
                }
                incidents.push(Action::Incident {
                    citizen: offender,
                    kind: self.random_kind(&mut draws),
                    innocent: false,
                });
            }
            // Judgement debtors are reported by the courts every `debtor_report_days`.
            let today = d % world.misconduct.debtor_report_days;
            for &(offset, citizen) in &state.debtors {
                if offset == today {
                    incidents.push(Action::Incident { citizen, kind: self.debtor_kind, innocent: false });
                }
            }
            let mut draws = Key::new(self.seed, Stream::FalseIdentification, d as u64, g.0 as u64).draws();
            let n_false = poisson(&mut draws, members.len() as f64 * world.cameras.false_identification_rate);
            for _ in 0..n_false {
                let victim = members[draws.below(members.len() as u64) as usize].citizen;
                incidents.push(Action::Incident {
                    citizen: victim,
                    kind: self.random_kind(&mut draws),
                    innocent: true,
                });
            }
            if world.commerce.enabled {
                self.orders_for(d, Some(g), members.iter().map(|m| m.citizen), members.len(), &mut orders);
            }
        }
        // Answers to the notices delivered at yesterday's close (due today).
        for batch in group.open_notices().iter().filter(|b| b.deadline == d) {
            for &recipient in &batch.recipients {
                if let Some(answer) = self.answer(d, g, batch.incident, recipient) {
                    answers.push(Action::Answer { citizen: recipient, incident: batch.incident, answer });
                }
            }
        }
        [incidents, answers, orders]
    }

    fn groupless_actions(&self, d: Day) -> [Vec<Action>; 3] {
        let engine = &self.engine;
        let world = &self.scenario.world;
        let people = &engine.directory().people;
        let mut incidents = Vec::new();
        let mut orders = Vec::new();
        for entry in engine.groupless() {
            let c = entry.member.citizen;
            let mut draws = Key::new(self.seed, Stream::Incident, d as u64, (1u64 << 40) | c.0 as u64).draws();
            let n_true = poisson(&mut draws, world.cameras.detection_rate * people.propensity(c));
            for _ in 0..n_true {
                incidents.push(Action::Incident { citizen: c, kind: self.random_kind(&mut draws), innocent: false });
            }
            if self.debt_due(c, d) {
                incidents.push(Action::Incident { citizen: c, kind: self.debtor_kind, innocent: false });
            }
            let n_false = poisson(&mut draws, world.cameras.false_identification_rate);
            for _ in 0..n_false {
                incidents.push(Action::Incident { citizen: c, kind: self.random_kind(&mut draws), innocent: true });
            }
        }
        if world.commerce.enabled {
            for entry in engine.groupless() {
                let c = entry.member.citizen;
                self.orders_for(d, None, std::iter::once(c), 1, &mut orders);
            }
        }
        [incidents, Vec::new(), orders]
    }

    /// Orders of a group's members (or of one groupless citizen) today: the group's deal
    /// of the day, and individual orders (tickets, KOL promotions, favourites).
    fn orders_for(
        &self,
        d: Day,
        group: Option<GroupId>,
        members: impl Iterator<Item = CitizenId> + Clone,
        size: usize,
        out: &mut Vec<Action>,
    ) {
        let world = &self.scenario.world;
        let c = &world.commerce;
        let people = &self.engine.directory().people;
        let multiplier = self.campaign_multiplier(d);
        if size == 0 {
            return;
        }
        let members: Vec<CitizenId> = members.collect();
        let max_units = self.rules.policy.orders.max_units_per_order;
        // The group buy: a deal of the day from the group's main topic; its appeal varies.
        if let Some(g) = group
            && c.deal_rate > 0.0
            && let Some(topic) = self.engine.directory().groups.get(g.index()).map(|s| s.main_topic)
        {
            let mut draws = Key::new(self.seed, Stream::Deal, d as u64, g.0 as u64).draws();
            let product = self.catalogue.popular_in(topic as usize, &mut draws);
            let appeal = gamma(&mut draws, c.deal_appeal_shape) / c.deal_appeal_shape;
            let n = poisson(&mut draws, size as f64 * c.deal_rate * multiplier * appeal);
            for _ in 0..n {
                let buyer = members[draws.below(size as u64) as usize];
                let units = (1 + poisson(&mut draws, c.extra_units_mean) as u32).min(max_units);
                out.push(Action::Order { citizen: buyer, product, units, via: None });
            }
        }
        let max_rate = 2.0 * c.buy_rate_mean * multiplier;
        if max_rate <= 0.0 {
            return;
        }
        let entity = match group {
            Some(g) => g.0 as u64,
            None => (1u64 << 40) | members[0].0 as u64,
        };
        let mut draws = Key::new(self.seed, Stream::Order, d as u64, entity).draws();
        let candidates = poisson(&mut draws, size as f64 * max_rate);
        for _ in 0..candidates {
            let buyer = members[draws.below(size as u64) as usize];
            // Thinning: each citizen buys at their own rate.
            let rate = people.buy_rate(buyer) * multiplier;
            if draws.uniform() * max_rate >= rate {
                continue;
            }
            let units = (1 + poisson(&mut draws, c.extra_units_mean) as u32).min(max_units);
            let (product, via) = if draws.uniform() < c.travel_share && !self.catalogue.travel.is_empty() {
                (self.catalogue.travel[draws.below(self.catalogue.travel.len() as u64) as usize], None)
            } else {
                self.kol_or_favourite(buyer, &mut draws)
            };
            if product.0 == u32::MAX {
                continue;
            }
            out.push(Action::Order { citizen: buyer, product, units, via });
        }
    }

    fn kol_or_favourite(&self, buyer: CitizenId, draws: &mut Draws) -> (ProductId, Option<KolId>) {
        let people = &self.engine.directory().people;
        let conversion = self.scenario.world.kols.conversion;
        let interests = people.interests(buyer);
        for j in 0..people.follow_count() {
            let Some(kol) = people.followed(buyer, &interests, j) else { continue };
            let credibility = self.engine.kols()[kol.index()].credibility;
            let product = self.promoted[kol.index()];
            if product.0 != u32::MAX && draws.bernoulli(conversion * credibility) {
                return (product, Some(kol));
            }
        }
        let i = draws.below(people.favourite_count() as u64) as usize;
        (people.favourite(buyer, &interests, i), None)
    }

    /// A recipient's answer to a notice, by the scenario's voting model.
    pub fn answer(&self, d: Day, g: GroupId, incident: IncidentId, voter: CitizenId) -> Option<Answer> {
        let v = &self.scenario.world.voting;
        match v.model {
            VotingModel::AlwaysExpel => return Some(Answer::Expel),
            VotingModel::AlwaysKeep => return Some(Answer::Keep),
            VotingModel::NeverAnswer => return None,
            VotingModel::Logistic => {}
        }
        let mut draws = Key::new(self.seed, Stream::Vote, d as u64, pair(incident.to_u64(), voter.0 as u64)).draws();
        if !draws.bernoulli(v.answer_rate) {
            return None;
        }
        let engine = &self.engine;
        let member = engine.member(voter).ok()?;
        let score = engine.score_of_member(&member);
        let rules = &self.rules;
        let tier = rules.tier(member.tier);
        let directory = engine.directory();
        let mut z = v.intercept + directory.people.disposition(voter);
        z += directory.groups.get(g.index()).map(|s| s.culture).unwrap_or(0.0) as f64;
        // The points matter when the voter is close to a tier boundary, up or down.
        let gap_down = (score - tier.min_score + 1) as f64;
        let gap_up =
            if member.tier > 0 { (rules.tier(member.tier - 1).min_score - score) as f64 } else { f64::INFINITY };
        let closeness = math::exp(-gap_up.min(gap_down) / v.boundary_scale);
        z += v.boundary_weight * closeness;
        // A voter banned from travel wants out of the tier, the more so the closer the exit.
        if tier.restrictions.contains(Restriction::Travel)
            && let Some(needed) = engine.travel_score_needed(score)
        {
            z += v.banned_weight * math::exp(-((needed - score) as f64) / (5.0 * v.boundary_scale));
        }
        // Ties: mostly weak; a close friend is hard to expel.
        let (a, b) = if voter < incident.citizen { (voter, incident.citizen) } else { (incident.citizen, voter) };
        let tie = Key::new(self.seed, Stream::Tie, 0, pair(a.0 as u64, b.0 as u64)).uniform();
        z -= v.tie_weight * tie * tie * tie * tie;
        // Conformity: a group that expelled before expels again.
        let history = engine.group(g).map(|x| x.history).unwrap_or_default();
        let rate = if history.votes == 0 { 0.5 } else { history.expulsions as f64 / history.votes as f64 };
        z += v.conformity_weight * (rate - 0.5);
        Some(if draws.uniform() < math::logistic(z) { Answer::Expel } else { Answer::Keep })
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
        // Forget truths no rule can ask about again (tallied and past the appeal window).
        let horizon = d.saturating_sub(rules.policy.appeals.window_days + 2);
        if horizon > 0 {
            let keep =
                self.truth.false_incidents.split_off(&IncidentId { day: horizon, citizen: CitizenId(0), seq: 0 });
            self.truth.false_incidents = keep;
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
        let mut banned_never_offended = 0;
        let banned = |m: &xinyong_engine::Member| rules.tier(m.tier).restrictions.contains(Restriction::Travel);
        for g in engine.groups() {
            for m in g.members() {
                if banned(m) && !bit_get(&self.truth.offended, m.citizen.index()) {
                    banned_never_offended += 1;
                }
            }
        }
        for e in engine.groupless() {
            if banned(&e.member) && !bit_get(&self.truth.offended, e.member.citizen.index()) {
                banned_never_offended += 1;
            }
        }
        for &p in &report.scandals {
            self.scandal_events.push(ScandalEvent {
                day: d,
                product: engine.products()[p.index()].name.clone(),
                kols_hit: report.kol_scandal_hits,
            });
        }
        let sizes: Vec<u64> = engine.groups().iter().map(|g| g.size() as u64).collect();
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
        let ledger = engine.ledger().totals();
        t.penalty_points = ledger.incident_sum + ledger.appeal_sum;
        t.vote_points = ledger.vote_sum;
        self.metrics.push(row);
    }
}

/// Generates the population, forms the groups, fills the catalogue.
fn build_world(
    scenario: &Scenario,
    rules: &Rules,
) -> Result<(Engine<SyntheticDirectory>, Catalogue, Kols), SimulationError> {
    let seed = scenario.run.seed;
    let world = &scenario.world;
    let n = scenario.run.citizens;
    let weights = topic_weights(world);
    let catalogue = Catalogue::generate(world, seed);
    let kols = Kols::generate(world, n, seed, &weights);
    let people = People::new(world, n, seed, &catalogue, &kols);
    let assignments = crate::grouping::initial_groups(&people, rules).map_err(SimulationError::Grouping)?;
    let group_count = assignments.iter().map(|(_, g)| g.0 + 1).max().unwrap_or(0);
    let mut directory = SyntheticDirectory::new(people, &catalogue);
    directory.set_groups(&assignments, group_count, seed, world.voting.group_culture_sd);
    let ledger = if n <= scenario.run.ledger_max_citizens { LedgerMode::Full } else { LedgerMode::Totals };
    let mut engine = Engine::new(rules.clone(), directory, EngineOptions { ledger, keep_history: false });
    engine.register_citizens(n).map_err(|e| SimulationError::Grouping(e.to_string()))?;
    engine.form_groups(&assignments).map_err(|e| SimulationError::Grouping(e.to_string()))?;
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
