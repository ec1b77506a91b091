//! Mixed worlds: real people living among simulated citizens (`xinyong serve --synthetic`).
//!
//! A classroom of 30 cannot fill one interest group of 200–300. A mixed world generates the
//! scenario's synthetic population exactly as `simulate` does, and real people register
//! beside it: they get the next citizen ids, are placed into the formed groups by the
//! simulator's own placement (the nearest interest centroids of the balanced grouping), and
//! from then on are members like any other.
//!
//! Each day, when the live platform closes it, [`Simulation::step_on`] runs the simulated
//! citizens' day on the live engine: their actions go through [`Engine::apply`] as the same
//! [`Command`]s a person's requests become, and come back as a journal for the service to
//! log. Real people's own decisions (answers, orders, denunciations, appeals) are never
//! planned for them: their silence is silence, and the abstention rule applies to them as to
//! anyone. The cameras, though, see everybody: a real person can be flagged (rightly or
//! falsely, by the same camera model and from the same seed as a simulated citizen with
//! their id).
//!
//! With no real person, a mixed world's day is the simulator's own day (the citizen driver,
//! one command per action), so its metrics equal `simulate`'s for the same scenario and
//! seed (tested).

use crate::population::{Interests, SimDirectory, SyntheticDirectory};
use crate::scenario::Scenario;
use crate::simulation::{Driver, Shard, Simulation, SimulationError};
use serde::{Deserialize, Serialize};
use xinyong_engine::{
    CitizenId, Command, DayReport, Directory, Engine, EngineOptions, GroupId, KolId, ProductId, Refusal,
    StoredDirectory,
};

/// The live platform's directory: what real people declared (favourites, follows,
/// interests), and, in a mixed world, the synthetic population beside them.
///
/// Only the stored part is serialized: the synthetic part is regenerated from the scenario
/// and seed (which the service's log records), never saved.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MixedDirectory {
    stored: StoredDirectory,
    /// Citizens `0..simulated` are synthetic.
    simulated: u32,
    #[serde(skip)]
    synthetic: Option<SyntheticDirectory>,
}

impl MixedDirectory {
    /// A directory of real people only (the platform without a synthetic population).
    pub fn stored_only() -> MixedDirectory {
        MixedDirectory::default()
    }

    /// Whether this directory holds a synthetic population.
    pub fn is_mixed(&self) -> bool {
        self.synthetic.is_some()
    }

    /// How many citizens (the first ids) are simulated.
    pub fn simulated_count(&self) -> u32 {
        self.simulated
    }

    fn is_real(&self, citizen: CitizenId) -> bool {
        citizen.0 >= self.simulated
    }

    /// The interests a placement uses: a real person's declared profile, else the ones the
    /// seed gives the id.
    fn placement_interests(&self, synthetic: &SyntheticDirectory, citizen: CitizenId) -> Interests {
        match self.stored.interests(citizen).filter(|_| self.is_real(citizen)) {
            Some(profile) => synthetic.interests_of_profile(profile),
            None => synthetic.people.interests(citizen),
        }
    }

    /// Favourite products a real person declared (none for simulated citizens: theirs come
    /// from the seed and are not listed).
    pub fn favourites(&self, citizen: CitizenId) -> &[ProductId] {
        self.stored.favourites(citizen)
    }

    /// KOLs a real person follows.
    pub fn followed(&self, citizen: CitizenId) -> &[KolId] {
        self.stored.followed(citizen)
    }

    /// A real person's declared interests.
    pub fn interests(&self, citizen: CitizenId) -> Option<&[f32]> {
        self.stored.interests(citizen)
    }

    /// A group's mean interest profile: at formation in a mixed world, else the mean of
    /// its members' declared interests.
    pub fn group_interests(&self, group: GroupId) -> Option<Vec<f64>> {
        match &self.synthetic {
            Some(synthetic) => synthetic.centroid(group).map(|c| c.iter().map(|&x| x as f64).collect()),
            None => self.stored.group_interests(group),
        }
    }

    fn simulated_refusal(what: &str) -> Refusal {
        Refusal::Unsupported {
            what: what.into(),
            reason: "simulated citizens' choices come from the scenario's seed".into(),
        }
    }
}

impl Directory for MixedDirectory {
    fn is_favourite(&self, citizen: CitizenId, product: ProductId) -> bool {
        match &self.synthetic {
            Some(synthetic) if !self.is_real(citizen) => synthetic.is_favourite(citizen, product),
            _ => self.stored.is_favourite(citizen, product),
        }
    }

    fn follows(&self, citizen: CitizenId, kol: KolId) -> bool {
        match &self.synthetic {
            Some(synthetic) if !self.is_real(citizen) => synthetic.follows(citizen, kol),
            _ => self.stored.follows(citizen, kol),
        }
    }

    /// Simulated citizens: the simulator's placement. Real people in a mixed world: the
    /// same placement for the interests they declared (or, without any, for the interests
    /// the seed gives their id).
    fn placement_candidates(&self, citizen: CitizenId, attempt: u32, groups: u32, out: &mut Vec<GroupId>) {
        match &self.synthetic {
            Some(synthetic) => {
                synthetic.placement_for(&self.placement_interests(synthetic, citizen), attempt, groups, out)
            }
            None => self.stored.placement_candidates(citizen, attempt, groups, out),
        }
    }

    fn choose_group(
        &self,
        citizen: CitizenId,
        attempt: u32,
        groups: u32,
        refill: &[GroupId],
        has_room: &dyn Fn(GroupId) -> bool,
        scratch: &mut Vec<GroupId>,
    ) -> Option<GroupId> {
        match &self.synthetic {
            Some(synthetic) => {
                let interests = self.placement_interests(synthetic, citizen);
                synthetic.choose_for(&interests, attempt, groups, refill, has_room, scratch)
            }
            None => self.stored.choose_group(citizen, attempt, groups, refill, has_room, scratch),
        }
    }

    fn joined(&mut self, citizen: CitizenId, group: GroupId) {
        let real = self.is_real(citizen);
        if let Some(synthetic) = self.synthetic.as_mut() {
            // Everyone counts in the group's camera model, real people included.
            synthetic.joined(citizen, group);
        }
        if real {
            self.stored.joined(citizen, group);
        }
    }

    fn left(&mut self, citizen: CitizenId, group: GroupId) {
        let real = self.is_real(citizen);
        if let Some(synthetic) = self.synthetic.as_mut() {
            synthetic.left(citizen, group);
        }
        if real {
            self.stored.left(citizen, group);
        }
    }

    fn follow(&mut self, citizen: CitizenId, kol: KolId) -> Result<(), Refusal> {
        if !self.is_real(citizen) {
            return Err(Self::simulated_refusal("following a KOL"));
        }
        self.stored.follow(citizen, kol)
    }

    fn unfollow(&mut self, citizen: CitizenId, kol: KolId) -> Result<(), Refusal> {
        if !self.is_real(citizen) {
            return Err(Self::simulated_refusal("unfollowing a KOL"));
        }
        self.stored.unfollow(citizen, kol)
    }

    fn set_favourites(&mut self, citizen: CitizenId, products: &[ProductId]) -> Result<(), Refusal> {
        if !self.is_real(citizen) {
            return Err(Self::simulated_refusal("setting favourites"));
        }
        self.stored.set_favourites(citizen, products)
    }

    fn set_interests(&mut self, citizen: CitizenId, interests: &[f32]) -> Result<(), Refusal> {
        if !self.is_real(citizen) {
            return Err(Self::simulated_refusal("setting interests"));
        }
        self.stored.set_interests(citizen, interests)
    }

    /// Real followers only in a mixed world (simulated follows are not counted cheaply).
    fn follower_count(&self, kol: KolId) -> Option<u64> {
        if self.synthetic.is_some() { None } else { self.stored.follower_count(kol) }
    }
}

impl SimDirectory for MixedDirectory {
    fn synthetic(&self) -> &SyntheticDirectory {
        self.synthetic.as_ref().expect("a mixed world has a synthetic population")
    }

    fn synthetic_mut(&mut self) -> &mut SyntheticDirectory {
        self.synthetic.as_mut().expect("a mixed world has a synthetic population")
    }

    fn is_simulated(&self, citizen: CitizenId) -> bool {
        !self.is_real(citizen)
    }
}

/// What one simulated day did to the live engine.
#[derive(Clone, Debug)]
pub struct MixedDay {
    /// Every command the simulated citizens sent, in order, ending with the day's close.
    pub commands: Vec<Command>,
    /// The engine's report of the close.
    pub report: DayReport,
}

impl Simulation<MixedDirectory> {
    /// The synthetic world of `scenario` (its `run.citizens` and seed), ready to take real
    /// people: the engine keeps everything (`EngineOptions::default()`: full ledger and
    /// history, citizens indexed by id), as the live platform needs.
    pub fn mixed(scenario: Scenario) -> Result<Simulation<MixedDirectory>, SimulationError> {
        let simulated = scenario.run.citizens;
        Simulation::build(scenario, Driver::Citizens, Shard::WHOLE, Some(EngineOptions::default()), move |d| {
            MixedDirectory { stored: StoredDirectory::new(), simulated, synthetic: Some(d) }
        })
    }

    /// Swaps this simulation's engine with `other`: the live platform takes the generated
    /// world's engine once, at start, and lends it back for each day ([`Simulation::step_on`]).
    pub fn swap_engine(&mut self, other: &mut Engine<MixedDirectory>) {
        std::mem::swap(self.engine_slot(), other);
    }

    /// Runs the simulated citizens' day on `engine` (the live one, lent for the call) and
    /// closes the day: returns every command sent, in order, and the close's report. The
    /// day's metrics row is appended to [`Simulation::metrics`].
    pub fn step_on(&mut self, engine: &mut Engine<MixedDirectory>) -> MixedDay {
        std::mem::swap(self.engine_slot(), engine);
        self.start_journal();
        self.step();
        let journal = self.take_journal();
        std::mem::swap(self.engine_slot(), engine);
        MixedDay { commands: journal.commands, report: journal.report.expect("a simulated day closes") }
    }
}
