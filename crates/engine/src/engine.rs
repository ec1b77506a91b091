//! The state machine: commands in, outcomes (or refusals) out, and the day close.
//!
//! Everything that changes state goes through a method here; each validates first and
//! changes nothing when it refuses. The order of the day close is documented on
//! [`Engine::close_day`] and in docs/model.md.

use crate::directory::Directory;
use crate::ids::{CitizenId, DAY_MAX, Day, GroupId, IncidentId, KolId, OrderId, ProductId, PromotionId};
use crate::ledger::{Answer, Cause, Ledger, LedgerEntry, LedgerMode};
use crate::policy::{AbstainAs, Restriction, Rules};
use crate::pricing::{self, Fen, PriceBreakdown};
use crate::refusal::Refusal;
use crate::state::*;
use crate::stats::ScoreHistogram;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Location value for a citizen with no group.
const GROUPLESS: u32 = u32::MAX;
/// Most citizens one engine holds (ids are u32; the top value marks "groupless").
pub const CITIZENS_MAX: u32 = u32::MAX - 1;
/// Most incidents one citizen can be reported for in one day.
pub const INCIDENTS_PER_CITIZEN_PER_DAY_MAX: u32 = u8::MAX as u32;
/// Attempts the engine makes to place a groupless citizen before giving up for the day.
const PLACEMENT_ATTEMPTS_MAX: u32 = 16;

/// How much the engine remembers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineOptions {
    pub ledger: LedgerMode,
    /// Keep settled orders and old incidents forever (the service), or drop them once
    /// no rule can refer to them again (large simulations).
    pub keep_history: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { ledger: LedgerMode::Full, keep_history: true }
    }
}

/// What a placed order looks like before the day closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderReceipt {
    pub order: OrderId,
    /// The price if the day closed now (the pool may still grow).
    pub provisional: PriceBreakdown,
    pub provisional_total: Fen,
    /// Units in the buyer's group pool for this product today, this order included.
    pub pool_units: u64,
    /// Units still needed for the next pool tier and its discount.
    pub next_tier: Option<(u64, u32)>,
}

/// A quote: what an order would cost now, without placing it.
pub type Quote = OrderReceipt;

/// Counts and lists of one closed day (the engine's part of a run's metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayReport {
    pub day: Day,
    pub incidents_reported: u64,
    pub notices_delivered: u64,
    /// Answers tallied today (notices whose deadline was today).
    pub answers_expel: u64,
    pub answers_keep: u64,
    /// Recipients who never answered (counted per `abstain_as`).
    pub answers_none: u64,
    /// Offenders expelled today, with the incident that expelled them.
    pub expelled: Vec<(IncidentId, CitizenId)>,
    pub regrouped: u64,
    /// Eligible groupless citizens no group could take today.
    pub unplaced: u64,
    pub orders: u64,
    pub units: u64,
    pub gmv: Fen,
    pub discount_group: Fen,
    pub discount_credit: Fen,
    /// Order pools (group × product) settled today.
    pub pools: u64,
    /// `pools_by_tier[k]`: pools that reached pool tier k (0 = no discount).
    pub pools_by_tier: Vec<u64>,
    pub orders_refused_travel: u64,
    pub orders_refused_other: u64,
    pub scandals: Vec<ProductId>,
    pub kol_scandal_hits: u64,
    pub kol_successes: u64,
    pub appeals_filed: u64,
    pub appeals_granted: u64,
    pub appeals_rejected: u64,
    pub promotions: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Today {
    /// Incidents reported since the last close, waiting to be delivered.
    reported: Vec<IncidentId>,
    incident_counts: BTreeMap<CitizenId, u8>,
    orders: Vec<Order>,
    order_counts: BTreeMap<CitizenId, u16>,
    #[serde(with = "crate::state::map_as_pairs")]
    pools: BTreeMap<(GroupId, ProductId), u64>,
    scandals: BTreeSet<ProductId>,
    orders_refused_travel: u64,
    orders_refused_other: u64,
    appeals_filed: u64,
    appeals_granted: u64,
    appeals_rejected: u64,
    promotions: u64,
}

/// A citizen as they can see themselves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitizenView {
    pub citizen: CitizenId,
    pub score: i32,
    pub tier: String,
    pub tier_index: u8,
    pub restrictions: Vec<Restriction>,
    pub group: Option<GroupId>,
    pub group_size: Option<u32>,
    /// For a groupless citizen: the day at whose close they may be regrouped.
    pub regroup_day: Option<Day>,
    /// When travel is restricted: the score that would lift it.
    pub travel_score_needed: Option<i32>,
}

/// Why a score is what it is: the initial score, every entry, and what follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub citizen: CitizenId,
    pub initial_score: i32,
    pub entries: Vec<LedgerEntry>,
    /// `initial_score + Σ entries.delta`.
    pub score: i32,
    pub tier: String,
    pub restrictions: Vec<Restriction>,
    /// False only when the ledger keeps totals rather than entries.
    pub complete: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Location {
    Group { group: u32, slot: usize },
    Groupless { index: usize },
}

/// The engine. `D` supplies favourites, follows and group similarity.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Engine<D> {
    rules: Rules,
    options: EngineOptions,
    directory: D,
    day: Day,
    groups: Vec<Group>,
    /// Sorted by citizen id.
    groupless: Vec<GrouplessMember>,
    /// Group of each citizen, or GROUPLESS.
    locations: Vec<u32>,
    products: Vec<Product>,
    kols: Vec<Kol>,
    promotions: BTreeSet<PromotionId>,
    #[serde(with = "crate::state::map_as_pairs")]
    incidents: BTreeMap<IncidentId, Incident>,
    today: Today,
    settled: Vec<SettledOrder>,
    ledger: Ledger,
    scores: ScoreHistogram,
}

impl<D: Directory> Engine<D> {
    pub fn new(rules: Rules, directory: D, options: EngineOptions) -> Engine<D> {
        let scores = ScoreHistogram::new(rules.policy.score_min, rules.policy.score_max);
        Engine {
            rules,
            options,
            directory,
            day: 0,
            groups: Vec::new(),
            groupless: Vec::new(),
            locations: Vec::new(),
            products: Vec::new(),
            kols: Vec::new(),
            promotions: BTreeSet::new(),
            incidents: BTreeMap::new(),
            today: Today::default(),
            settled: Vec::new(),
            ledger: Ledger::new(options.ledger),
            scores,
        }
    }

    // ----- accessors -------------------------------------------------------------------

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn options(&self) -> EngineOptions {
        self.options
    }

    pub fn directory(&self) -> &D {
        &self.directory
    }

    pub fn directory_mut(&mut self) -> &mut D {
        &mut self.directory
    }

    /// The current (open) day.
    pub fn day(&self) -> Day {
        self.day
    }

    pub fn citizen_count(&self) -> u32 {
        self.locations.len() as u32
    }

    pub fn group_count(&self) -> u32 {
        self.groups.len() as u32
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    pub fn group(&self, group: GroupId) -> Option<&Group> {
        self.groups.get(group.index())
    }

    pub fn groupless(&self) -> &[GrouplessMember] {
        &self.groupless
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    pub fn kols(&self) -> &[Kol] {
        &self.kols
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn scores(&self) -> &ScoreHistogram {
        &self.scores
    }

    pub fn incident(&self, id: IncidentId) -> Option<&Incident> {
        self.incidents.get(&id)
    }

    pub fn incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.values()
    }

    /// Orders settled so far (kept when `keep_history`).
    pub fn settled_orders(&self) -> &[SettledOrder] {
        &self.settled
    }

    /// Orders placed today, not yet settled.
    pub fn pending_orders(&self) -> &[Order] {
        &self.today.orders
    }

    /// Units in a group's pool for a product today.
    pub fn pool_units(&self, group: GroupId, product: ProductId) -> u64 {
        self.today.pools.get(&(group, product)).copied().unwrap_or(0)
    }

    pub fn is_promoted_today(&self, kol: KolId, product: ProductId) -> bool {
        self.promotions.contains(&PromotionId { day: self.day, kol, product })
    }

    /// Promotions active today, in id order.
    pub fn promotions_today(&self) -> impl Iterator<Item = PromotionId> + '_ {
        let day = self.day;
        self.promotions
            .range(PromotionId { day, kol: KolId(0), product: ProductId(0) }..)
            .take_while(move |p| p.day == day)
            .copied()
    }

    pub fn score_of_member(&self, m: &Member) -> i32 {
        self.rules.policy.score_min + m.score_offset as i32
    }

    fn locate(&self, citizen: CitizenId) -> Result<Location, Refusal> {
        let Some(&g) = self.locations.get(citizen.index()) else {
            return Err(Refusal::UnknownCitizen { citizen });
        };
        if g == GROUPLESS {
            let index = self
                .groupless
                .binary_search_by_key(&citizen, |m| m.member.citizen)
                .expect("a groupless citizen is in the groupless list");
            Ok(Location::Groupless { index })
        } else {
            let slot = self.groups[g as usize].slot(citizen).expect("a grouped citizen is among its group's members");
            Ok(Location::Group { group: g, slot })
        }
    }

    fn member_at(&self, at: Location) -> &Member {
        match at {
            Location::Group { group, slot } => &self.groups[group as usize].members[slot],
            Location::Groupless { index } => &self.groupless[index].member,
        }
    }

    fn member_at_mut(&mut self, at: Location) -> &mut Member {
        match at {
            Location::Group { group, slot } => &mut self.groups[group as usize].members[slot],
            Location::Groupless { index } => &mut self.groupless[index].member,
        }
    }

    /// A citizen's current state.
    pub fn member(&self, citizen: CitizenId) -> Result<Member, Refusal> {
        Ok(*self.member_at(self.locate(citizen)?))
    }

    pub fn score(&self, citizen: CitizenId) -> Result<i32, Refusal> {
        Ok(self.score_of_member(&self.member(citizen)?))
    }

    pub fn group_of(&self, citizen: CitizenId) -> Result<Option<GroupId>, Refusal> {
        match self.locations.get(citizen.index()) {
            None => Err(Refusal::UnknownCitizen { citizen }),
            Some(&GROUPLESS) => Ok(None),
            Some(&g) => Ok(Some(GroupId(g))),
        }
    }

    /// The score at which travel is no longer restricted, for a citizen at `score`.
    pub fn travel_score_needed(&self, score: i32) -> Option<i32> {
        self.rules
            .tiers
            .iter()
            .filter(|t| !t.restrictions.contains(Restriction::Travel) && t.min_score > score)
            .map(|t| t.min_score)
            .min()
    }

    pub fn view(&self, citizen: CitizenId) -> Result<CitizenView, Refusal> {
        let at = self.locate(citizen)?;
        let m = *self.member_at(at);
        let tier = self.rules.tier(m.tier);
        let score = self.score_of_member(&m);
        let (group, regroup_day) = match at {
            Location::Group { group, .. } => (Some(GroupId(group)), None),
            Location::Groupless { index } => (None, Some(self.groupless[index].eligible_day)),
        };
        let travel_banned = tier.restrictions.contains(Restriction::Travel);
        Ok(CitizenView {
            citizen,
            score,
            tier: tier.name.clone(),
            tier_index: m.tier,
            restrictions: tier.restrictions.list(),
            group,
            group_size: group.map(|g| self.groups[g.index()].size()),
            regroup_day,
            travel_score_needed: if travel_banned { self.travel_score_needed(score) } else { None },
        })
    }

    /// Why `citizen`'s score is what it is.
    pub fn explain(&self, citizen: CitizenId) -> Result<Explanation, Refusal> {
        let m = self.member(citizen)?;
        let entries: Vec<LedgerEntry> = self.ledger.of(citizen).copied().collect();
        // The tier in force (tiers move at the day's close, not with each entry).
        let tier = self.rules.tier(m.tier);
        let complete = self.ledger.mode() == LedgerMode::Full;
        let score = self.score_of_member(&m);
        if complete {
            let folded: i64 =
                self.rules.policy.initial_score as i64 + entries.iter().map(|e| e.delta as i64).sum::<i64>();
            assert_eq!(folded, score as i64, "the score of {citizen} is the fold of its ledger");
        }
        Ok(Explanation {
            citizen,
            initial_score: self.rules.policy.initial_score,
            entries,
            score,
            tier: tier.name.clone(),
            restrictions: tier.restrictions.list(),
            complete,
        })
    }

    /// Notices addressed to `citizen` that are still open (delivered, deadline not passed).
    pub fn notices_for(&self, citizen: CitizenId) -> Result<Vec<NoticeView>, Refusal> {
        self.locate(citizen)?;
        let mut out = Vec::new();
        // A recipient may have left the group since delivery: look in every group's open notices
        // only when needed; normally they are in the citizen's own group.
        let mut visit = |g: usize| {
            for batch in &self.groups[g].open {
                if let Some(i) = batch.position(citizen) {
                    let incident = &self.incidents[&batch.incident];
                    out.push(NoticeView {
                        incident: batch.incident,
                        offender: batch.offender,
                        kind: incident.kind,
                        group: GroupId(g as u32),
                        deadline: batch.deadline,
                        answer: batch.answers[i].answer(),
                    });
                }
            }
        };
        match self.locations[citizen.index()] {
            GROUPLESS => (0..self.groups.len()).for_each(&mut visit),
            g => visit(g as usize),
        }
        out.sort_by_key(|n| n.incident);
        Ok(out)
    }

    // ----- set-up commands -------------------------------------------------------------

    /// Registers a new citizen at the initial score, groupless, placed at the next close.
    pub fn register_citizen(&mut self) -> Result<CitizenId, Refusal> {
        Ok(CitizenId(self.register_citizens(1)?.start))
    }

    /// Registers `n` citizens at once; returns their id range.
    pub fn register_citizens(&mut self, n: u32) -> Result<std::ops::Range<u32>, Refusal> {
        let first = self.locations.len() as u64;
        if first + n as u64 > CITIZENS_MAX as u64 {
            return Err(Refusal::LimitReached { what: "citizens".into(), max: CITIZENS_MAX as u64 });
        }
        let offset = (self.rules.policy.initial_score - self.rules.policy.score_min) as u16;
        let tier = self.rules.tier_index(self.rules.policy.initial_score);
        self.locations.reserve(n as usize);
        self.groupless.reserve(n as usize);
        for i in 0..n {
            let citizen = CitizenId(first as u32 + i);
            self.locations.push(GROUPLESS);
            // Ids only grow, so pushing keeps the groupless list sorted.
            self.groupless.push(GrouplessMember {
                member: Member { citizen, score_offset: offset, tier, flags: 0 },
                eligible_day: self.day,
            });
            self.scores.add(offset);
        }
        Ok(first as u32..first as u32 + n)
    }

    /// Creates an empty group.
    pub fn create_group(&mut self) -> Result<GroupId, Refusal> {
        if self.groups.len() as u64 >= GROUPLESS as u64 {
            return Err(Refusal::LimitReached { what: "groups".into(), max: GROUPLESS as u64 });
        }
        self.groups.push(Group::default());
        Ok(GroupId(self.groups.len() as u32 - 1))
    }

    /// Puts a groupless citizen into a group with room (operator's or grouping's decision).
    pub fn assign_group(&mut self, citizen: CitizenId, group: GroupId) -> Result<(), Refusal> {
        let at = self.locate(citizen)?;
        let Some(g) = self.groups.get(group.index()) else {
            return Err(Refusal::UnknownGroup { group });
        };
        if let Location::Group { group: current, .. } = at {
            return Err(Refusal::AlreadyInGroup { citizen, group: GroupId(current) });
        }
        if g.size() >= self.rules.policy.groups.max_size {
            return Err(Refusal::GroupFull { group, max: self.rules.policy.groups.max_size });
        }
        let Location::Groupless { index } = at else { unreachable!() };
        let entry = self.groupless.remove(index);
        self.insert_member(group, entry.member);
        Ok(())
    }

    /// Places many groupless citizens at once (the initial grouping): `assignments` lists
    /// (citizen, group) pairs; groups are created as needed up to the highest id named.
    /// Checked first, applied all together: either every pair is applied or none.
    pub fn form_groups(&mut self, assignments: &[(CitizenId, GroupId)]) -> Result<(), Refusal> {
        let max_size = self.rules.policy.groups.max_size;
        let highest = assignments.iter().map(|(_, g)| g.0).max();
        let existing = self.groups.len() as u64;
        let group_count = highest.map_or(existing, |h| (h as u64 + 1).max(existing));
        if group_count >= GROUPLESS as u64 {
            return Err(Refusal::LimitReached { what: "groups".into(), max: GROUPLESS as u64 - 1 });
        }
        let mut sizes: Vec<u32> = self.groups.iter().map(|g| g.size()).collect();
        sizes.resize(group_count as usize, 0);
        let mut listed = vec![false; self.locations.len()];
        for &(citizen, group) in assignments {
            match self.locations.get(citizen.index()) {
                None => return Err(Refusal::UnknownCitizen { citizen }),
                Some(&GROUPLESS) => {}
                Some(&g) => return Err(Refusal::AlreadyInGroup { citizen, group: GroupId(g) }),
            }
            if std::mem::replace(&mut listed[citizen.index()], true) {
                return Err(Refusal::InvalidValue {
                    field: "assignments".into(),
                    reason: format!("{citizen} is listed twice"),
                });
            }
            sizes[group.index()] += 1;
            if sizes[group.index()] > max_size {
                return Err(Refusal::GroupFull { group, max: max_size });
            }
        }
        self.groups.resize_with(group_count as usize, Group::default);
        let mut sorted = assignments.to_vec();
        sorted.sort();
        for &(citizen, group) in &sorted {
            let index = self.groupless.binary_search_by_key(&citizen, |e| e.member.citizen).expect("checked groupless");
            let member = self.groupless[index].member;
            let g = &mut self.groups[group.index()];
            // Citizens arrive in id order, so pushing keeps members sorted unless the group
            // already had members with larger ids.
            match g.members.last() {
                Some(last) if last.citizen > citizen => {
                    let at = g.members.binary_search_by_key(&citizen, |m| m.citizen).expect_err("new member");
                    g.members.insert(at, member);
                }
                _ => g.members.push(member),
            }
            self.locations[citizen.index()] = group.0;
            self.directory.joined(citizen, group);
        }
        let locations = &self.locations;
        self.groupless.retain(|e| locations[e.member.citizen.index()] == GROUPLESS);
        Ok(())
    }

    /// Takes a citizen out of their group; they may be placed again at the next close.
    pub fn remove_from_group(&mut self, citizen: CitizenId) -> Result<(), Refusal> {
        match self.locate(citizen)? {
            Location::Groupless { .. } => Err(Refusal::NotInGroup { citizen }),
            Location::Group { group, slot } => {
                self.take_member(group, slot, self.day);
                Ok(())
            }
        }
    }

    fn insert_member(&mut self, group: GroupId, member: Member) {
        let g = &mut self.groups[group.index()];
        let at = g.members.binary_search_by_key(&member.citizen, |m| m.citizen).expect_err("not yet a member");
        g.members.insert(at, member);
        assert!(g.members.len() as u32 <= self.rules.policy.groups.max_size, "group sizes never exceed max_size");
        self.locations[member.citizen.index()] = group.0;
        self.directory.joined(member.citizen, group);
    }

    fn take_member(&mut self, group: u32, slot: usize, eligible_day: Day) {
        let member = self.groups[group as usize].members.remove(slot);
        let at = self
            .groupless
            .binary_search_by_key(&member.citizen, |m| m.member.citizen)
            .expect_err("a member is not also groupless");
        self.groupless.insert(at, GrouplessMember { member, eligible_day });
        self.locations[member.citizen.index()] = GROUPLESS;
        self.directory.left(member.citizen, GroupId(group));
    }

    /// Adds a product to the catalogue.
    pub fn add_product(&mut self, spec: ProductSpec) -> Result<ProductId, Refusal> {
        if spec.list_price < 0 {
            return Err(Refusal::InvalidValue {
                field: "list_price".into(),
                reason: "a price cannot be negative".into(),
            });
        }
        if spec.list_price > 100_000_000_000 {
            return Err(Refusal::InvalidValue {
                field: "list_price".into(),
                reason: "at most 1,000,000,000 yuan".into(),
            });
        }
        if spec.name.trim().is_empty() || spec.name.len() > 200 {
            return Err(Refusal::InvalidValue { field: "name".into(), reason: "1 to 200 characters".into() });
        }
        if self.products.len() >= u32::MAX as usize {
            return Err(Refusal::LimitReached { what: "products".into(), max: u32::MAX as u64 });
        }
        self.products.push(Product {
            name: spec.name,
            brand: spec.brand,
            category: spec.category,
            list_price: spec.list_price,
            travel: spec.travel,
            scandals: Vec::new(),
        });
        Ok(ProductId(self.products.len() as u32 - 1))
    }

    /// Adds a KOL at the policy's initial credibility.
    pub fn add_kol(&mut self, name: String) -> Result<KolId, Refusal> {
        if name.trim().is_empty() || name.len() > 200 {
            return Err(Refusal::InvalidValue { field: "name".into(), reason: "1 to 200 characters".into() });
        }
        if self.kols.len() >= u32::MAX as usize {
            return Err(Refusal::LimitReached { what: "KOLs".into(), max: u32::MAX as u64 });
        }
        self.kols.push(Kol {
            name,
            credibility: self.rules.policy.kol.initial_credibility,
            promotions: 0,
            units_sold: 0,
            scandals_hit: 0,
        });
        Ok(KolId(self.kols.len() as u32 - 1))
    }

    pub fn follow(&mut self, citizen: CitizenId, kol: KolId) -> Result<(), Refusal> {
        self.locate(citizen)?;
        self.check_kol(kol)?;
        self.directory.follow(citizen, kol)
    }

    pub fn unfollow(&mut self, citizen: CitizenId, kol: KolId) -> Result<(), Refusal> {
        self.locate(citizen)?;
        self.check_kol(kol)?;
        self.directory.unfollow(citizen, kol)
    }

    pub fn set_favourites(&mut self, citizen: CitizenId, products: &[ProductId]) -> Result<(), Refusal> {
        self.locate(citizen)?;
        for &p in products {
            self.check_product(p)?;
        }
        self.directory.set_favourites(citizen, products)
    }

    pub fn set_interests(&mut self, citizen: CitizenId, interests: &[f32]) -> Result<(), Refusal> {
        self.locate(citizen)?;
        self.directory.set_interests(citizen, interests)
    }

    fn check_kol(&self, kol: KolId) -> Result<&Kol, Refusal> {
        self.kols.get(kol.index()).ok_or(Refusal::UnknownKol { kol })
    }

    fn check_product(&self, product: ProductId) -> Result<&Product, Refusal> {
        self.products.get(product.index()).ok_or(Refusal::UnknownProduct { product })
    }

    // ----- daily commands --------------------------------------------------------------

    /// A KOL promotes a product today; followers may buy it in place today.
    pub fn promote(&mut self, kol: KolId, product: ProductId) -> Result<PromotionId, Refusal> {
        self.check_kol(kol)?;
        self.check_product(product)?;
        let id = PromotionId { day: self.day, kol, product };
        if !self.promotions.insert(id) {
            return Err(Refusal::AlreadyPromoted { kol, product });
        }
        self.kols[kol.index()].promotions += 1;
        self.today.promotions += 1;
        Ok(id)
    }

    /// Prices an order as if placed now, without placing it.
    pub fn quote(
        &self,
        citizen: CitizenId,
        product: ProductId,
        units: u32,
        via: Option<KolId>,
    ) -> Result<Quote, Refusal> {
        let order = self.check_order(citizen, product, units, via)?;
        Ok(self.receipt(&order, self.pool_units_for(&order) + units as u64))
    }

    /// Places an order (optionally bought in place through a KOL's promotion). The order
    /// joins the buyer's group pool for the product; its price is final at the day's close.
    pub fn place_order(
        &mut self,
        citizen: CitizenId,
        product: ProductId,
        units: u32,
        via: Option<KolId>,
    ) -> Result<OrderReceipt, Refusal> {
        let order = match self.check_order(citizen, product, units, via) {
            Ok(order) => order,
            Err(refusal) => {
                if matches!(refusal, Refusal::TravelBanned { .. }) {
                    self.today.orders_refused_travel += 1;
                } else if !refusal.is_not_found() {
                    self.today.orders_refused_other += 1;
                }
                return Err(refusal);
            }
        };
        let pool = match order.group {
            Some(g) => {
                let units_now = self.today.pools.entry((g, product)).or_insert(0);
                *units_now += units as u64;
                *units_now
            }
            None => units as u64,
        };
        *self.today.order_counts.entry(citizen).or_insert(0) += 1;
        let receipt = self.receipt(&order, pool);
        self.today.orders.push(order);
        Ok(receipt)
    }

    fn pool_units_for(&self, order: &Order) -> u64 {
        order.group.map(|g| self.pool_units(g, order.product)).unwrap_or(0)
    }

    fn receipt(&self, order: &Order, pool_units: u64) -> OrderReceipt {
        let product = &self.products[order.product.index()];
        let (group_bp, _) = if order.group.is_some() { self.rules.group_discount(pool_units) } else { (0, 0) };
        let price =
            pricing::unit_price(product.list_price, group_bp, order.credit_discount_bp, self.rules.max_discount_bp);
        OrderReceipt {
            order: order.id,
            provisional: price,
            provisional_total: price.unit_price * order.units as i64,
            pool_units: if order.group.is_some() { pool_units } else { 0 },
            next_tier: if order.group.is_some() { self.rules.next_group_discount(pool_units) } else { None },
        }
    }

    fn check_order(
        &self,
        citizen: CitizenId,
        product: ProductId,
        units: u32,
        via: Option<KolId>,
    ) -> Result<Order, Refusal> {
        let at = self.locate(citizen)?;
        let p = self.check_product(product)?;
        let max_units = self.rules.policy.orders.max_units_per_order;
        if units == 0 || units > max_units {
            return Err(Refusal::InvalidUnits { units, max: max_units });
        }
        let placed = self.today.order_counts.get(&citizen).copied().unwrap_or(0) as u32;
        if placed >= self.rules.policy.orders.max_orders_per_day {
            return Err(Refusal::TooManyOrders { citizen, max: self.rules.policy.orders.max_orders_per_day });
        }
        if let Some(kol) = via {
            self.check_kol(kol)?;
            if !self.is_promoted_today(kol, product) {
                return Err(Refusal::PromotionNotActive { kol, product });
            }
            if !self.directory.follows(citizen, kol) {
                return Err(Refusal::NotFollowing { citizen, kol });
            }
        }
        let member = *self.member_at(at);
        let tier = self.rules.tier(member.tier);
        if p.travel && tier.restrictions.contains(Restriction::Travel) {
            let score = self.score_of_member(&member);
            return Err(Refusal::TravelBanned {
                citizen,
                tier: tier.name.clone(),
                score,
                score_needed: self.travel_score_needed(score).unwrap_or(i32::MAX),
            });
        }
        let credit_discount_bp =
            if self.directory.is_favourite(citizen, product) { tier.favourite_discount_bp } else { 0 };
        let group = match at {
            Location::Group { group, .. } => Some(GroupId(group)),
            Location::Groupless { .. } => None,
        };
        Ok(Order {
            id: OrderId { day: self.day, citizen, seq: placed as u16 },
            product,
            units,
            group,
            credit_discount_bp,
            promotion: via,
        })
    }

    /// Reports an incident against a citizen (the camera network or a reporter). The
    /// penalty applies now; the offender's group-mates are notified when today closes.
    pub fn report_incident(&mut self, citizen: CitizenId, kind: u8, incident_day: Day) -> Result<IncidentId, Refusal> {
        let at = self.locate(citizen)?;
        let kinds = &self.rules.policy.incident_kinds;
        let Some(spec) = kinds.get(kind as usize) else {
            return Err(Refusal::UnknownIncidentKind {
                kind: kind.to_string(),
                known: kinds.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", "),
            });
        };
        if incident_day > self.day {
            return Err(Refusal::IncidentInFuture { incident_day, today: self.day });
        }
        let count = self.today.incident_counts.get(&citizen).copied().unwrap_or(0);
        if count as u32 >= INCIDENTS_PER_CITIZEN_PER_DAY_MAX {
            return Err(Refusal::TooManyIncidents { citizen, max: INCIDENTS_PER_CITIZEN_PER_DAY_MAX });
        }
        let penalty = spec.penalty as i32;
        let id = IncidentId { day: self.day, citizen, seq: count };
        let group = match at {
            Location::Group { group, .. } => Some(GroupId(group)),
            Location::Groupless { .. } => None,
        };
        self.today.incident_counts.insert(citizen, count + 1);
        let applied = self.change_score(citizen, -penalty, Cause::Incident { incident: id });
        self.incidents.insert(
            id,
            Incident {
                id,
                kind,
                day: incident_day,
                group,
                penalty_applied: applied,
                outcome: None,
                appeal: AppealStatus::NotAppealed,
            },
        );
        self.today.reported.push(id);
        Ok(id)
    }

    /// Reports an incident by kind name.
    pub fn report_incident_named(
        &mut self,
        citizen: CitizenId,
        kind: &str,
        incident_day: Day,
    ) -> Result<IncidentId, Refusal> {
        let Some(k) = self.rules.incident_kind_index(kind) else {
            return Err(Refusal::UnknownIncidentKind {
                kind: kind.to_string(),
                known: self.rules.policy.incident_kinds.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", "),
            });
        };
        self.report_incident(citizen, k, incident_day)
    }

    /// A group-mate answers the notice about an incident: expel the offender, or keep them.
    /// Points move when the deadline passes (at the close of the day after the incident).
    pub fn answer_notice(&mut self, citizen: CitizenId, incident: IncidentId, answer: Answer) -> Result<(), Refusal> {
        self.locate(citizen)?;
        let Some(record) = self.incidents.get(&incident) else {
            return Err(Refusal::UnknownIncident { incident });
        };
        let Some(group) = record.group else {
            return Err(Refusal::NotARecipient { incident, citizen });
        };
        let g = &mut self.groups[group.index()];
        let Some(batch) = g.open.iter_mut().find(|b| b.incident == incident) else {
            return Err(match record.outcome {
                Some(_) => Refusal::DeadlinePassed { incident, deadline: incident.day + 1 },
                None if self.today.reported.contains(&incident) => {
                    Refusal::NoticeNotDelivered { incident, day: self.day }
                }
                None => Refusal::NotARecipient { incident, citizen },
            });
        };
        let Some(i) = batch.position(citizen) else {
            return Err(Refusal::NotARecipient { incident, citizen });
        };
        if batch.answers[i] != AnswerSlot::None {
            return Err(Refusal::AlreadyAnswered { incident, citizen });
        }
        debug_assert!(batch.deadline >= self.day, "open notices are tallied at their deadline");
        batch.answers[i] = answer.into();
        Ok(())
    }

    /// The offender appeals an incident within the appeal window.
    pub fn file_appeal(&mut self, citizen: CitizenId, incident: IncidentId) -> Result<(), Refusal> {
        self.locate(citizen)?;
        let window = self.rules.policy.appeals.window_days;
        let today = self.day;
        let Some(record) = self.incidents.get_mut(&incident) else {
            return Err(Refusal::UnknownIncident { incident });
        };
        if incident.citizen != citizen {
            return Err(Refusal::AppealNotByOffender { incident, offender: incident.citizen });
        }
        if record.appeal != AppealStatus::NotAppealed {
            return Err(Refusal::AppealAlreadyFiled { incident });
        }
        let last_day = incident.day.saturating_add(window);
        if today > last_day {
            return Err(Refusal::AppealWindowClosed { incident, last_day, today });
        }
        record.appeal = AppealStatus::Filed { day: today };
        self.today.appeals_filed += 1;
        Ok(())
    }

    /// The operator decides an appeal. Granted: the penalty is given back through a ledger
    /// entry. The group's answers already given, and any expulsion, stand.
    pub fn decide_appeal(&mut self, incident: IncidentId, granted: bool) -> Result<i32, Refusal> {
        let today = self.day;
        let Some(record) = self.incidents.get_mut(&incident) else {
            return Err(Refusal::UnknownIncident { incident });
        };
        let filed = match record.appeal {
            AppealStatus::NotAppealed => return Err(Refusal::AppealNotFiled { incident }),
            AppealStatus::Filed { day } => day,
            AppealStatus::Granted { .. } | AppealStatus::Rejected { .. } => {
                return Err(Refusal::AppealAlreadyDecided { incident });
            }
        };
        if !granted {
            record.appeal = AppealStatus::Rejected { filed, decided: today };
            self.today.appeals_rejected += 1;
            return Ok(0);
        }
        record.appeal = AppealStatus::Granted { filed, decided: today };
        let restore = -record.penalty_applied;
        self.today.appeals_granted += 1;
        Ok(self.change_score(incident.citizen, restore, Cause::AppealGranted { incident }))
    }

    /// A scandal about a product comes out today (like the 2008 milk scandal). KOLs who
    /// promoted it within the scandal window lose credibility when the day closes.
    pub fn reveal_scandal(&mut self, product: ProductId) -> Result<(), Refusal> {
        self.check_product(product)?;
        self.today.scandals.insert(product);
        Ok(())
    }

    /// Applies a score change to a citizen wherever they are; returns the applied delta.
    fn change_score(&mut self, citizen: CitizenId, requested: i32, cause: Cause) -> i32 {
        let at = self.locate(citizen).expect("score changes target existing citizens");
        let range = (self.rules.policy.score_max - self.rules.policy.score_min) as i64;
        let m = self.member_at_mut(at);
        let old = m.score_offset;
        let new = (old as i64 + requested as i64).clamp(0, range) as u16;
        m.score_offset = new;
        if new != old {
            m.flags |= FLAG_SCORE_CHANGED;
            self.scores.shift(old, new);
        }
        let delta = new as i32 - old as i32;
        self.ledger.record(LedgerEntry { day: self.day, citizen, delta, requested, cause });
        delta
    }

    // ----- the day close ---------------------------------------------------------------

    /// Closes the current day and opens the next. In this order:
    ///
    /// 1. **Tally** the notices whose deadline is today: each recipient gains
    ///    `expel_reward` for "expel", loses `keep_penalty` for "keep"; a recipient who did
    ///    not answer counts as `abstain_as`. An offender whose expel share reaches
    ///    `expel_quorum` is expelled (if still in that group) after all tallies: groupless,
    ///    regroupable after `regroup_after_days`.
    /// 2. **Deliver** notices for today's incidents to every other current member of the
    ///    offender's group at the time of the report; answers are due by the end of tomorrow.
    /// 3. **Settle** today's order pools: units per (group, product) select the pool tier;
    ///    every order in the pool pays list × (1 − pool tier) × (1 − credit tier), capped.
    /// 4. **KOLs**: a scandal revealed today multiplies by `scandal_factor` the credibility of
    ///    every KOL who promoted the product in the last `scandal_window_days` days; a
    ///    promotion whose window ends today without scandal adds `success_gain·(1 − c)`.
    /// 5. **Tiers**: every citizen whose score changed gets the tier (and restrictions) of
    ///    their new score.
    /// 6. **Regroup**: groupless citizens whose wait is over, in id order, join a group
    ///    suggested by the directory: the first candidate below `min_size` (a refill), else
    ///    the first with room.
    pub fn close_day(&mut self) -> DayReport {
        let d = self.day;
        let mut report = DayReport { day: d, ..DayReport::default() };
        report.incidents_reported = self.today.reported.len() as u64;

        self.tally(d, &mut report);
        self.deliver(d, &mut report);
        self.settle(&mut report);
        self.update_kols(d, &mut report);
        self.recompute_tiers();
        self.regroup(d, &mut report);

        report.orders_refused_travel = self.today.orders_refused_travel;
        report.orders_refused_other = self.today.orders_refused_other;
        report.appeals_filed = self.today.appeals_filed;
        report.appeals_granted = self.today.appeals_granted;
        report.appeals_rejected = self.today.appeals_rejected;
        report.promotions = self.today.promotions;
        self.prune(d);
        self.today = Today::default();
        assert!(d < DAY_MAX, "a run lasts at most {DAY_MAX} days");
        self.day = d + 1;
        report
    }

    fn tally(&mut self, d: Day, report: &mut DayReport) {
        let sanction = self.rules.policy.sanction.clone();
        let mut expulsions: Vec<(IncidentId, CitizenId, u32)> = Vec::new();
        for g in 0..self.groups.len() {
            if self.groups[g].open.iter().all(|b| b.deadline > d) {
                continue;
            }
            let (due, open): (Vec<NoticeBatch>, Vec<NoticeBatch>) =
                std::mem::take(&mut self.groups[g].open).into_iter().partition(|b| b.deadline <= d);
            self.groups[g].open = open;
            for batch in due {
                let mut outcome = VoteOutcome { notified: batch.recipients.len() as u32, ..VoteOutcome::default() };
                let mut expel_votes = 0u64;
                for (&recipient, &slot) in batch.recipients.iter().zip(&batch.answers) {
                    let (answer, abstained) = match slot.answer() {
                        Some(a) => (Some(a), false),
                        None => {
                            outcome.unanswered += 1;
                            match sanction.abstain_as {
                                AbstainAs::Keep => (Some(Answer::Keep), true),
                                AbstainAs::Expel => (Some(Answer::Expel), true),
                                AbstainAs::None => (None, true),
                            }
                        }
                    };
                    match slot {
                        AnswerSlot::Expel => outcome.expel += 1,
                        AnswerSlot::Keep => outcome.keep += 1,
                        AnswerSlot::None => {}
                    }
                    let Some(answer) = answer else { continue };
                    let requested = match answer {
                        Answer::Expel => {
                            expel_votes += 1;
                            sanction.expel_reward as i32
                        }
                        Answer::Keep => -(sanction.keep_penalty as i32),
                    };
                    self.change_score(
                        recipient,
                        requested,
                        Cause::Vote { incident: batch.incident, answer, abstained },
                    );
                }
                outcome.expelled = self.rules.quorum_reached(expel_votes, outcome.notified as u64);
                report.answers_expel += outcome.expel as u64;
                report.answers_keep += outcome.keep as u64;
                report.answers_none += outcome.unanswered as u64;
                self.groups[g].history.votes += 1;
                if outcome.expelled {
                    expulsions.push((batch.incident, batch.offender, g as u32));
                }
                if let Some(record) = self.incidents.get_mut(&batch.incident) {
                    record.outcome = Some(outcome);
                }
            }
        }
        // Expulsions after every tally, so all of today's votes were cast by the same members.
        expulsions.sort();
        let eligible = d.saturating_add(self.rules.policy.sanction.regroup_after_days);
        let mut leaving = Vec::new();
        for (incident, offender, g) in expulsions {
            if self.locations[offender.index()] != g {
                // Already expelled by another incident today, or moved: the vote stands, nothing to do.
                if let Some(record) = self.incidents.get_mut(&incident)
                    && let Some(o) = record.outcome.as_mut()
                {
                    o.expelled = false;
                }
                continue;
            }
            let slot = self.groups[g as usize].slot(offender).expect("offender is a member");
            let member = self.groups[g as usize].members.remove(slot);
            self.locations[offender.index()] = GROUPLESS;
            self.directory.left(offender, GroupId(g));
            leaving.push(GrouplessMember { member, eligible_day: eligible });
            self.groups[g as usize].history.expulsions += 1;
            report.expelled.push((incident, offender));
        }
        self.merge_into_groupless(leaving);
    }

    /// Merges new groupless entries into the sorted groupless list in one pass.
    fn merge_into_groupless(&mut self, mut entries: Vec<GrouplessMember>) {
        if entries.is_empty() {
            return;
        }
        entries.sort_by_key(|e| e.member.citizen);
        let old = std::mem::take(&mut self.groupless);
        let mut merged = Vec::with_capacity(old.len() + entries.len());
        let (mut a, mut b) = (old.into_iter().peekable(), entries.into_iter().peekable());
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            debug_assert_ne!(x.member.citizen, y.member.citizen);
            if x.member.citizen < y.member.citizen {
                merged.push(a.next().expect("peeked"));
            } else {
                merged.push(b.next().expect("peeked"));
            }
        }
        merged.extend(a);
        merged.extend(b);
        self.groupless = merged;
    }

    fn deliver(&mut self, d: Day, report: &mut DayReport) {
        let mut reported = std::mem::take(&mut self.today.reported);
        reported.sort();
        for incident in reported {
            let Some(group) = self.incidents[&incident].group else {
                continue;
            };
            let g = &mut self.groups[group.index()];
            let recipients: Vec<CitizenId> =
                g.members.iter().map(|m| m.citizen).filter(|&c| c != incident.citizen).collect();
            report.notices_delivered += recipients.len() as u64;
            let answers = vec![AnswerSlot::None; recipients.len()];
            g.open.push(NoticeBatch { incident, offender: incident.citizen, deadline: d + 1, recipients, answers });
        }
    }

    fn settle(&mut self, report: &mut DayReport) {
        let mut orders = std::mem::take(&mut self.today.orders);
        orders.sort_by_key(|o| o.id);
        report.pools_by_tier = vec![0; self.rules.group_discounts_bp.len() + 1];
        for (&(_, _), &units) in &self.today.pools {
            let (_, tier) = self.rules.group_discount(units);
            report.pools += 1;
            report.pools_by_tier[tier as usize] += 1;
        }
        for order in orders {
            let pool_units = order.group.map(|g| self.pool_units(g, order.product)).unwrap_or(0);
            let (group_bp, pool_tier) =
                if order.group.is_some() { self.rules.group_discount(pool_units) } else { (0, 0) };
            let list_price = self.products[order.product.index()].list_price;
            let price = pricing::unit_price(list_price, group_bp, order.credit_discount_bp, self.rules.max_discount_bp);
            let units = order.units as i64;
            report.orders += 1;
            report.units += order.units as u64;
            report.gmv += price.unit_price * units;
            report.discount_group += price.group_discount * units;
            report.discount_credit += price.credit_discount * units;
            if let Some(kol) = order.promotion {
                self.kols[kol.index()].units_sold += order.units as u64;
            }
            if self.options.keep_history {
                self.settled.push(SettledOrder {
                    order,
                    pool_units,
                    pool_tier,
                    price,
                    total: price.unit_price * units,
                });
            }
        }
    }

    fn update_kols(&mut self, d: Day, report: &mut DayReport) {
        let kol = self.rules.policy.kol.clone();
        let window = kol.scandal_window_days;
        let scandals = std::mem::take(&mut self.today.scandals);
        for &product in &scandals {
            let mut hit: BTreeSet<KolId> = BTreeSet::new();
            for p in self.promotions.iter() {
                if p.product == product && p.day + window >= d {
                    hit.insert(p.kol);
                }
            }
            for k in hit {
                let kol_state = &mut self.kols[k.index()];
                kol_state.credibility *= kol.scandal_factor;
                kol_state.scandals_hit += 1;
                report.kol_scandal_hits += 1;
            }
            self.products[product.index()].scandals.push(d);
        }
        report.scandals = scandals.into_iter().collect();
        // Promotions whose window completes today.
        if d >= window {
            let start = d - window;
            let completing: Vec<PromotionId> = self
                .promotions
                .range(PromotionId { day: start, kol: KolId(0), product: ProductId(0) }..)
                .take_while(|p| p.day == start)
                .copied()
                .collect();
            for p in completing {
                let clean = !self.products[p.product.index()].scandals.iter().any(|&s| s >= p.day && s <= d);
                if clean {
                    let c = &mut self.kols[p.kol.index()].credibility;
                    *c += kol.success_gain * (1.0 - *c);
                    report.kol_successes += 1;
                }
            }
        }
        // Promotions older than the window can no longer be hit nor complete.
        let keep_from = d.saturating_sub(window);
        self.promotions =
            self.promotions.split_off(&PromotionId { day: keep_from, kol: KolId(0), product: ProductId(0) });
    }

    fn recompute_tiers(&mut self) {
        let rules = &self.rules;
        let score_min = rules.policy.score_min;
        let update = |m: &mut Member| {
            if m.flags & FLAG_SCORE_CHANGED != 0 {
                m.tier = rules.tier_index(score_min + m.score_offset as i32);
                m.flags &= !FLAG_SCORE_CHANGED;
            }
        };
        for g in &mut self.groups {
            g.members.iter_mut().for_each(update);
        }
        self.groupless.iter_mut().for_each(|e| update(&mut e.member));
    }

    fn regroup(&mut self, d: Day, report: &mut DayReport) {
        if self.groups.is_empty() {
            report.unplaced = self.groupless.iter().filter(|e| e.eligible_day <= d).count() as u64;
            return;
        }
        let (min_size, max_size) = (self.rules.policy.groups.min_size, self.rules.policy.groups.max_size);
        let eligible: Vec<CitizenId> =
            self.groupless.iter().filter(|e| e.eligible_day <= d).map(|e| e.member.citizen).collect();
        let mut candidates = Vec::new();
        let group_count = self.groups.len() as u32;
        for citizen in eligible {
            let mut chosen = None;
            for attempt in 0..PLACEMENT_ATTEMPTS_MAX {
                self.directory.placement_candidates(citizen, attempt, group_count, &mut candidates);
                if candidates.is_empty() {
                    continue; // a narrow attempt may have nothing; a wider one may
                }
                let sizes = |g: &GroupId| self.groups.get(g.index()).map(|x| x.size());
                chosen = candidates
                    .iter()
                    .find(|g| sizes(g).is_some_and(|s| s < min_size))
                    .or_else(|| candidates.iter().find(|g| sizes(g).is_some_and(|s| s < max_size)))
                    .copied();
                if chosen.is_some() {
                    break;
                }
            }
            match chosen {
                Some(group) => {
                    let index = self.groupless.binary_search_by_key(&citizen, |e| e.member.citizen).expect("groupless");
                    // Inserting sets the location; the groupless entries go in one pass below.
                    let member = self.groupless[index].member;
                    self.insert_member(group, member);
                    report.regrouped += 1;
                }
                None => report.unplaced += 1,
            }
        }
        let locations = &self.locations;
        self.groupless.retain(|e| locations[e.member.citizen.index()] == GROUPLESS);
    }

    fn prune(&mut self, d: Day) {
        if self.options.keep_history {
            return;
        }
        // An incident can still be appealed until window_days after its report; once past
        // that, decided, and tallied, no rule refers to it again.
        let window = self.rules.policy.appeals.window_days;
        self.incidents.retain(|id, incident| {
            let appeal_open = matches!(incident.appeal, AppealStatus::Filed { .. });
            id.day + window + 1 >= d || appeal_open || (incident.outcome.is_none() && incident.group.is_some())
        });
    }

    // ----- state hash (determinism checks) --------------------------------------------

    /// A 64-bit digest of the whole state. Equal states give equal hashes on one
    /// platform (integers hash in native byte order).
    pub fn state_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = Fnv64::default();
        self.day.hash(&mut h);
        self.groups.hash(&mut h);
        self.groupless.hash(&mut h);
        self.locations.hash(&mut h);
        self.products.hash(&mut h);
        for k in &self.kols {
            k.name.hash(&mut h);
            k.credibility.to_bits().hash(&mut h);
            (k.promotions, k.units_sold, k.scandals_hit).hash(&mut h);
        }
        self.promotions.hash(&mut h);
        self.incidents.hash(&mut h);
        self.today.reported.hash(&mut h);
        self.today.orders.hash(&mut h);
        self.today.pools.hash(&mut h);
        self.settled.hash(&mut h);
        self.scores.hash(&mut h);
        let t = self.ledger.totals();
        (t.entries, t.delta_sum).hash(&mut h);
        h.finish()
    }
}

/// FNV-1a, 64 bits: a fixed, seedless hasher (std's default hasher is randomly keyed).
#[derive(Clone, Copy, Debug)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
