//! The state machine: commands in, outcomes (or refusals) out, and the day close.
//!
//! Everything that changes state goes through a method here; each validates first and
//! changes nothing when it refuses. A day's work on one group is done by the functions of
//! `group.rs`, which the id-addressed commands below call for one citizen at a time and
//! [`Engine::run_day`] calls for whole groups through an [`Executor`]. The order of the day
//! close is documented on [`Engine::close_day`] and in docs/model.md.

use crate::directory::Directory;
use crate::exec::{Executor, Sequential};
use crate::group::{self, Ctx, DayAcc, GroupOut, Shifts};
use crate::ids::{CitizenId, DAY_MAX, Day, GroupId, IncidentId, KolId, ProductId, PromotionId, ReportId};
use crate::incidents::IncidentBook;
use crate::ledger::{Answer, Cause, Ledger, LedgerEntry, LedgerMode, LedgerTotals};
use crate::policy::{Restriction, Rules};
use crate::pricing::{Fen, PriceBreakdown};
use crate::promotions::PromotionBook;
use crate::refusal::Refusal;
use crate::state::Kol;
use crate::state::*;
use crate::stats::ScoreHistogram;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Location value for a citizen with no group.
const GROUPLESS: u32 = u32::MAX;
/// On a shard: a location for a citizen in some group another shard holds (never a group id).
const REMOTE: u32 = u32::MAX - 1;
/// Most citizens one engine holds (ids are u32; the top value marks "groupless").
pub const CITIZENS_MAX: u32 = u32::MAX - 1;
/// Most incidents one citizen can be reported for in one day.
pub const INCIDENTS_PER_CITIZEN_PER_DAY_MAX: u32 = u8::MAX as u32;
/// Attempts the engine makes to place a groupless citizen before giving up for the day.
const PLACEMENT_ATTEMPTS_MAX: u32 = 16;
/// Days of regroupings an engine without a location index remembers, to find the
/// regrouped without scanning every group: the default appeal window (30 days) and a day.
/// Older moves are still found, by the scan. At China scale a day's regrouped are ~0.03 %
/// of everyone, at 8 bytes each: ~0.08 bytes a citizen for the whole span.
const RECENT_JOIN_DAYS_MAX: u32 = 31;

/// How much the engine remembers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineOptions {
    pub ledger: LedgerMode,
    /// Keep settled orders and every incident forever (the service).
    pub keep_history: bool,
    /// Keep a citizen → group index (4 bytes a citizen). Without it, commands addressed by
    /// citizen id are refused (except appeals) and drivers use [`Engine::run_day`].
    pub index_citizens: bool,
    /// Without `keep_history`: forget an incident this many days after its report unless an
    /// appeal of it is pending (None: once the appeal window has passed).
    pub incident_retention_days: Option<u32>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            ledger: LedgerMode::Full,
            keep_history: true,
            index_citizens: true,
            incident_retention_days: None,
        }
    }
}

/// What a placed order looks like before the day closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderReceipt {
    pub order: crate::ids::OrderId,
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
    pub denunciations: u64,
    pub denunciations_confirmed: u64,
    pub denunciations_rejected: u64,
    pub vouchers_issued: u64,
    pub vouchers_used: u64,
    pub vouchers_expired: u64,
    /// Money taken off orders by vouchers.
    pub discount_voucher: Fen,
}

/// Day-level counters kept by the engine between closes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Today {
    incidents_reported: u64,
    scandals: BTreeSet<ProductId>,
    orders_refused_travel: u64,
    orders_refused_other: u64,
    appeals_filed: u64,
    appeals_granted: u64,
    appeals_rejected: u64,
    promotions: u64,
    denunciations_confirmed: u64,
    denunciations_rejected: u64,
}

/// The citizens with no group, and what they did today.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Groupless {
    /// Sorted by citizen id.
    members: Vec<GrouplessMember>,
    today: GroupToday,
    incident_counts: BTreeMap<CitizenId, u8>,
    order_counts: BTreeMap<CitizenId, u16>,
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
    citizens: u32,
    groups: Vec<Group>,
    groupless: Groupless,
    /// Group of each citizen, or GROUPLESS (when `index_citizens`).
    locations: Option<Vec<u32>>,
    /// Without an index: where each citizen with pending appeals is, and how many they have
    /// pending (the decision must find them to give points back).
    appeal_locations: BTreeMap<CitizenId, (u32, u32)>,
    /// Without an index: who was regrouped on each of the last days, and into which group
    /// (sorted by citizen each day; newest day last). A hint for [`Engine::locate`], which
    /// otherwise finds a citizen who moved out of the groupless by scanning every group
    /// (see [`RECENT_JOIN_DAYS_MAX`]). Derived from the moves, so not part of the state.
    #[serde(skip)]
    recent_joins: std::collections::VecDeque<(Day, Vec<(CitizenId, u32)>)>,
    products: Vec<Product>,
    kols: Vec<Kol>,
    promotions: PromotionBook,
    incidents: IncidentBook,
    /// Denunciations filed on earlier days (pending, or kept with `keep_history`).
    #[serde(with = "crate::state::map_as_pairs")]
    reports: BTreeMap<ReportId, Report>,
    /// Vouchers usable from today, by holder (oldest first).
    vouchers: BTreeMap<CitizenId, Vec<Voucher>>,
    /// Vouchers issued today by commands, usable from tomorrow.
    new_vouchers: Vec<Voucher>,
    today: Today,
    settled: Vec<SettledOrder>,
    ledger: Ledger,
    scores: ScoreHistogram,
    /// Denunciations filed by id-addressed commands today (the fold counts its own).
    today_denunciations: u64,
    /// The groups whose members this engine holds (None: all). The others are remote:
    /// another shard holds them; this engine only tracks their sizes.
    shard: Option<(u32, u32)>,
    remote_sizes: Vec<u32>,
    /// Whether this engine's groupless day counts in the merged figures (one shard does;
    /// every shard keeps the same copy of the groupless).
    counts_groupless: bool,
    /// Effects of score changes made outside a day's fold on a sharded engine (appeals),
    /// merged with the shards' parts at the close.
    pending: Option<DayAcc>,
}

/// One shard's part of a day (see [`Engine::day_local`]): what its groups and the
/// groupless produced, to be merged by [`Engine::day_finish`] on every shard.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LocalDay {
    acc: DayAcc,
}

/// A group's part of a day, handed to the driver by [`Engine::run_day`]: read the group,
/// then act for its members with the same rules as the id-addressed commands.
pub struct GroupDay<'x, 'a, D> {
    ctx: &'x Ctx<'a, D>,
    gid: GroupId,
    group: &'x mut Group,
    out: &'x mut GroupOut,
    acc: &'x mut DayAcc,
}

impl<'x, 'a, D: Directory> GroupDay<'x, 'a, D> {
    pub fn id(&self) -> GroupId {
        self.gid
    }

    pub fn day(&self) -> Day {
        self.ctx.day
    }

    pub fn group(&self) -> &Group {
        self.group
    }

    pub fn members(&self) -> &[Member] {
        &self.group.members
    }

    pub fn open_notices(&self) -> &[NoticeBatch] {
        &self.group.open
    }

    pub fn directory(&self) -> &D {
        self.ctx.directory
    }

    pub fn rules(&self) -> &Rules {
        self.ctx.rules
    }

    /// KOLs as they stand at the start of the day (credibility moves at the close).
    pub fn kols(&self) -> &[Kol] {
        self.ctx.kols
    }

    /// Reports an incident of today against the member in `slot`.
    pub fn report_incident(&mut self, slot: usize, kind: u8) -> Result<IncidentId, Refusal> {
        let citizen = self.group.members[slot].citizen;
        let seq = self.group.today.incidents.iter().filter(|i| i.id.citizen == citizen).count() as u32;
        let (members, today) = (&mut self.group.members, &mut self.group.today);
        group::report_incident_at(
            self.ctx,
            &mut members[slot],
            Some(self.gid),
            today,
            seq,
            kind,
            self.ctx.day,
            IncidentSource::Camera,
            self.out,
            self.acc,
        )
    }

    /// Files a denunciation of the member in `accused` by the member in `denouncer`.
    pub fn denounce(&mut self, denouncer: usize, accused: usize, kind: u8) -> Result<ReportId, Refusal> {
        group::denounce_at(
            self.ctx,
            &self.group.members,
            &mut self.group.today,
            denouncer,
            accused,
            kind,
            self.ctx.day,
            self.acc,
        )
    }

    /// Decides a denunciation filed today in this group.
    pub fn decide_report(&mut self, report: ReportId, confirmed: bool) -> Result<Option<IncidentId>, Refusal> {
        group::decide_report_at(self.ctx, self.gid, self.group, report, confirmed, self.out, self.acc)
    }

    /// Answers open notice `batch` for its `recipient`-th recipient.
    pub fn answer(&mut self, batch: usize, recipient: usize, answer: Answer) -> Result<(), Refusal> {
        group::answer_at(&mut self.group.open[batch], &self.group.members, self.ctx.day, recipient, answer)
    }

    /// Places an order for the member in `slot`.
    pub fn place_order(
        &mut self,
        slot: usize,
        product: ProductId,
        units: u32,
        via: Option<KolId>,
    ) -> Result<OrderReceipt, Refusal> {
        let order = self.check_order(slot, product, units, via)?;
        let pool = group::pool_units_in(&self.group.today, product) + units as u64;
        let receipt = group::receipt(self.ctx, &order, pool);
        self.group.today.orders.push(order);
        Ok(receipt)
    }

    /// [`GroupDay::place_order`] without the receipt, for drivers that show nobody a price
    /// when ordering (the simulator). The order is checked and joins its pool as the same
    /// call with a receipt would, and is priced at the close like every order; what is
    /// saved is the receipt's walk over the group's orders of the day to count the pool.
    pub fn put_order(
        &mut self,
        slot: usize,
        product: ProductId,
        units: u32,
        via: Option<KolId>,
    ) -> Result<(), Refusal> {
        let order = self.check_order(slot, product, units, via)?;
        self.group.today.orders.push(order);
        Ok(())
    }

    /// The order a member would place, or the refusal (counted).
    fn check_order(
        &mut self,
        slot: usize,
        product: ProductId,
        units: u32,
        via: Option<KolId>,
    ) -> Result<Order, Refusal> {
        let member = self.group.members[slot];
        let placed = self.group.today.orders.iter().filter(|o| o.id.citizen == { member.citizen }).count() as u32;
        group::check_order_at(self.ctx, &member, Some(self.gid), &self.group.today, placed, product, units, via)
            .inspect_err(|refusal| group::count_refusal(refusal, self.acc))
    }
}

/// The groupless citizens' part of a day, handed to the driver by [`Engine::run_day`].
pub struct GrouplessDay<'x, 'a, D> {
    ctx: &'x Ctx<'a, D>,
    groupless: &'x mut Groupless,
    out: &'x mut GroupOut,
    acc: &'x mut DayAcc,
}

impl<'x, 'a, D: Directory> GrouplessDay<'x, 'a, D> {
    pub fn members(&self) -> &[GrouplessMember] {
        &self.groupless.members
    }

    pub fn day(&self) -> Day {
        self.ctx.day
    }

    pub fn directory(&self) -> &D {
        self.ctx.directory
    }

    pub fn kols(&self) -> &[Kol] {
        self.ctx.kols
    }

    /// Reports an incident of today against the groupless citizen at `index`.
    pub fn report_incident(&mut self, index: usize, kind: u8) -> Result<IncidentId, Refusal> {
        let citizen = self.groupless.members[index].member.citizen;
        let seq = self.groupless.incident_counts.get(&citizen).copied().unwrap_or(0) as u32;
        let g = &mut *self.groupless;
        let id = group::report_incident_at(
            self.ctx,
            &mut g.members[index].member,
            None,
            &mut g.today,
            seq,
            kind,
            self.ctx.day,
            IncidentSource::Camera,
            self.out,
            self.acc,
        )?;
        g.incident_counts.insert(citizen, seq as u8 + 1);
        Ok(id)
    }

    /// Places an order for the groupless citizen at `index` (list price: no pool).
    pub fn place_order(
        &mut self,
        index: usize,
        product: ProductId,
        units: u32,
        via: Option<KolId>,
    ) -> Result<OrderReceipt, Refusal> {
        let member = self.groupless.members[index].member;
        let placed = self.groupless.order_counts.get(&{ member.citizen }).copied().unwrap_or(0) as u32;
        match group::check_order_at(self.ctx, &member, None, &self.groupless.today, placed, product, units, via) {
            Ok(order) => {
                let receipt = group::receipt(self.ctx, &order, units as u64);
                self.groupless.today.orders.push(order);
                self.groupless.order_counts.insert(member.citizen, placed as u16 + 1);
                Ok(receipt)
            }
            Err(refusal) => {
                group::count_refusal(&refusal, self.acc);
                Err(refusal)
            }
        }
    }
}

/// Streams new citizens into new groups (see [`Engine::populate`]).
pub struct Populate<'e, D> {
    engine: &'e mut Engine<D>,
    end: u32,
    sizes: Vec<u32>,
    placed: Vec<u32>,
    /// The next citizen id that may be placed; ids below it are placed or groupless.
    next: u32,
    first_group: usize,
    member: Member,
}

impl<D: Directory> Populate<'_, D> {
    /// Places `citizen` (ids in increasing order) in the `index`-th of the new groups.
    pub fn place(&mut self, citizen: CitizenId, index: u32) -> Result<(), Refusal> {
        if citizen.0 < self.next || citizen.0 >= self.end {
            return Err(Refusal::InvalidValue {
                field: "citizen".into(),
                reason: format!("{citizen} is out of order or not among the new citizens"),
            });
        }
        let g = self.first_group + index as usize;
        let Some(&size) = self.sizes.get(index as usize) else {
            return Err(Refusal::UnknownGroup { group: GroupId(g as u32) });
        };
        if self.placed[index as usize] == size {
            return Err(Refusal::GroupFull { group: GroupId(g as u32), max: size });
        }
        self.skip_to(citizen.0);
        self.join(index, citizen);
        self.next = citizen.0 + 1;
        Ok(())
    }

    /// Puts `citizen` in the `index`-th new group (room checked by the caller).
    fn join(&mut self, index: u32, citizen: CitizenId) {
        let g = self.first_group + index as usize;
        self.placed[index as usize] += 1;
        if self.engine.is_local(GroupId(g as u32)) {
            self.engine.groups[g].push_member(Member { citizen, ..self.member });
            self.engine.directory.joined(citizen, GroupId(g as u32));
        } else {
            self.engine.remote_sizes[g] += 1;
        }
        if let Some(locations) = self.engine.locations.as_mut() {
            locations[citizen.index()] = g as u32;
        }
    }

    /// A new citizen who stays groupless (placed in id order).
    fn leave_groupless(&mut self, citizen: CitizenId) {
        let member = Member { citizen, ..self.member };
        self.engine.groupless.members.push(GrouplessMember { member, eligible_day: self.engine.day });
    }

    /// Places the citizens of the next id range, `next..end`, given grouped: `by_group` lists
    /// (group index, citizen) sorted by group then id; the range's citizens it does not list
    /// stay groupless. The result is the same as [`Populate::place`] for each listed citizen
    /// in id order (a group's members arrive in id order either way); walking the groups in
    /// order instead of the citizens keeps the writes near one another, which is most of
    /// the set-up time at a billion citizens. Checked first: a refusal changes nothing.
    pub fn place_grouped(&mut self, end: u32, by_group: &[(u32, CitizenId)]) -> Result<(), Refusal> {
        let start = self.next;
        let invalid = |field: &str, reason: String| Refusal::InvalidValue { field: field.into(), reason };
        if end < start || end > self.end {
            return Err(invalid("end", format!("{end} is outside the unplaced range {start}..{}", self.end)));
        }
        let mut seen = vec![0u64; ((end - start) as usize).div_ceil(64)];
        let mut run = 0u32;
        for (i, &(index, citizen)) in by_group.iter().enumerate() {
            if i > 0 && by_group[i - 1] >= (index, citizen) {
                return Err(invalid("by_group", "not sorted by group, then citizen".into()));
            }
            if citizen.0 < start || citizen.0 >= end {
                return Err(invalid("citizen", format!("{citizen} is not in {start}..{end}")));
            }
            let bit = (citizen.0 - start) as usize;
            if seen[bit / 64] & (1 << (bit % 64)) != 0 {
                return Err(invalid("citizen", format!("{citizen} is placed twice")));
            }
            seen[bit / 64] |= 1 << (bit % 64);
            let Some(&size) = self.sizes.get(index as usize) else {
                return Err(Refusal::UnknownGroup { group: GroupId((self.first_group + index as usize) as u32) });
            };
            run = if i > 0 && by_group[i - 1].0 == index { run + 1 } else { 1 };
            if self.placed[index as usize] + run > size {
                return Err(Refusal::GroupFull {
                    group: GroupId((self.first_group + index as usize) as u32),
                    max: size,
                });
            }
        }
        for c in start..end {
            let bit = (c - start) as usize;
            if seen[bit / 64] & (1 << (bit % 64)) == 0 {
                self.leave_groupless(CitizenId(c));
            }
        }
        for &(index, citizen) in by_group {
            self.join(index, citizen);
        }
        self.next = end;
        Ok(())
    }

    /// Citizens between the last placed and `to` stay groupless.
    fn skip_to(&mut self, to: u32) {
        for c in self.next..to {
            self.leave_groupless(CitizenId(c));
        }
    }

    /// Ends the population: every group must be filled to the size it was given.
    pub fn finish(mut self) -> Result<(), Refusal> {
        self.skip_to(self.end);
        self.next = self.end;
        for (i, (&placed, &size)) in self.placed.iter().zip(&self.sizes).enumerate() {
            if placed != size {
                return Err(Refusal::InvalidValue {
                    field: "group_sizes".into(),
                    reason: format!("group {} got {placed} members, not {size}", self.first_group + i),
                });
            }
        }
        Ok(())
    }
}

/// Builds the read-only context from the engine's fields (disjoint from groups).
macro_rules! ctx {
    ($e:expr) => {
        Ctx {
            rules: &$e.rules,
            options: $e.options,
            day: $e.day,
            directory: &$e.directory,
            products: &$e.products,
            promotions: &$e.promotions,
            kols: &$e.kols,
            vouchers: &$e.vouchers,
        }
    };
}

impl<D: Directory> Engine<D> {
    pub fn new(rules: Rules, directory: D, options: EngineOptions) -> Engine<D> {
        let scores = ScoreHistogram::new(rules.policy.score_min, rules.policy.score_max);
        Engine {
            rules,
            options,
            directory,
            day: 0,
            citizens: 0,
            groups: Vec::new(),
            groupless: Groupless::default(),
            locations: options.index_citizens.then(Vec::new),
            appeal_locations: BTreeMap::new(),
            recent_joins: std::collections::VecDeque::new(),
            products: Vec::new(),
            kols: Vec::new(),
            promotions: PromotionBook::new(),
            incidents: IncidentBook::new(),
            reports: BTreeMap::new(),
            vouchers: BTreeMap::new(),
            new_vouchers: Vec::new(),
            today: Today::default(),
            settled: Vec::new(),
            ledger: Ledger::new(options.ledger),
            scores,
            today_denunciations: 0,
            shard: None,
            remote_sizes: Vec::new(),
            counts_groupless: true,
            pending: None,
        }
    }

    /// Makes this engine one shard of several: it will hold the members of groups
    /// `first..end` only (set before populating). `counts_groupless`: whether its groupless
    /// day counts in the merged figures (exactly one shard must say yes).
    pub fn set_shard(&mut self, first: u32, end: u32, counts_groupless: bool) {
        assert!(first <= end);
        assert_eq!(self.citizens, 0, "set the shard before populating");
        self.shard = Some((first, end));
        self.counts_groupless = counts_groupless;
        self.pending = Some(DayAcc::new(&self.rules, 0, false));
    }

    /// Whether this engine holds the members of `group`.
    pub fn is_local(&self, group: GroupId) -> bool {
        self.shard.is_none_or(|(a, b)| (a..b).contains(&group.0))
    }

    /// The size of any group, local or remote.
    pub fn group_size(&self, group: GroupId) -> u32 {
        if self.is_local(group) {
            self.groups.get(group.index()).map_or(0, |g| g.size())
        } else {
            self.remote_sizes.get(group.index()).copied().unwrap_or(0)
        }
    }

    fn local_range(&self) -> std::ops::Range<usize> {
        match self.shard {
            None => 0..self.groups.len(),
            Some((a, b)) => (a as usize).min(self.groups.len())..(b as usize).min(self.groups.len()),
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
        self.citizens
    }

    pub fn group_count(&self) -> u32 {
        self.groups.len() as u32
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Heap bytes the engine holds now, by part: capacities, which is what the allocator
    /// handed out, not lengths. Ordered maps are counted at their entries' size plus 16 B
    /// (a B-tree node's share); the directory counts its own.
    pub fn heap_use(&self) -> Vec<(&'static str, u64)> {
        fn cap<T>(v: &Vec<T>) -> u64 {
            (v.capacity() * std::mem::size_of::<T>()) as u64
        }
        fn map<K, V>(len: usize) -> u64 {
            (len * (std::mem::size_of::<K>() + std::mem::size_of::<V>() + 16)) as u64
        }
        fn today(t: &GroupToday) -> u64 {
            cap(&t.incidents) + cap(&t.orders) + cap(&t.reports)
        }
        let member = std::mem::size_of::<Member>() as u64;
        let members: u64 = self.groups.iter().map(|g| g.members.len() as u64 * member).sum();
        let slack: u64 = self.groups.iter().map(|g| (g.members.capacity() - g.members.len()) as u64 * member).sum();
        let notices: u64 =
            self.groups.iter().map(|g| cap(&g.open) + g.open.iter().map(NoticeBatch::heap_bytes).sum::<u64>()).sum();
        let buffers: u64 = self.groups.iter().map(|g| g.today.box_bytes() + today(&g.today)).sum::<u64>()
            + today(&self.groupless.today);
        let g = &self.groupless;
        let groupless = cap(&g.members)
            + map::<CitizenId, u8>(g.incident_counts.len())
            + map::<CitizenId, u16>(g.order_counts.len());
        let vouchers: u64 = self.vouchers.values().map(|v| cap(v) + map::<CitizenId, Vec<Voucher>>(1)).sum::<u64>()
            + cap(&self.new_vouchers);
        vec![
            ("members", members),
            ("member capacity beyond the members", slack),
            ("group table", cap(&self.groups)),
            ("open notices", notices),
            ("groups' buffers of the day", buffers),
            ("groupless", groupless),
            ("incidents kept", self.incidents.heap_bytes()),
            ("reports kept", map::<ReportId, Report>(self.reports.len())),
            ("promotions kept", self.promotions.heap_bytes()),
            ("vouchers", vouchers),
            ("appeal locations", map::<CitizenId, (u32, u32)>(self.appeal_locations.len())),
            ("recent regroupings", self.recent_joins.iter().map(|(_, joins)| cap(joins)).sum::<u64>()),
            ("settled orders", cap(&self.settled)),
            ("ledger", self.ledger.heap_bytes()),
            ("citizen locations", self.locations.as_ref().map_or(0, cap) + cap(&self.remote_sizes)),
        ]
    }

    pub fn group(&self, group: GroupId) -> Option<&Group> {
        self.groups.get(group.index())
    }

    pub fn groupless(&self) -> &[GrouplessMember] {
        &self.groupless.members
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

    /// A denunciation (filed today, or kept from an earlier day).
    pub fn report(&self, id: ReportId) -> Option<Report> {
        self.reports
            .get(&id)
            .copied()
            .or_else(|| self.groups.iter().find_map(|g| g.today.reports.iter().find(|r| r.id == id).copied()))
    }

    /// Denunciations waiting for a decision, oldest first.
    pub fn pending_reports(&self) -> Vec<Report> {
        let mut out: Vec<Report> =
            self.reports.values().filter(|r| r.status == ReportStatus::Pending).copied().collect();
        for g in &self.groups {
            out.extend(g.today.reports.iter().filter(|r| r.status == ReportStatus::Pending));
        }
        out.sort_by_key(|r| r.id);
        out
    }

    /// Every denunciation still held (pending ones, and decided ones when `keep_history`),
    /// in id order.
    pub fn reports(&self) -> Vec<Report> {
        let mut out: Vec<Report> = self.reports.values().copied().collect();
        for g in &self.groups {
            out.extend(g.today.reports.iter().copied());
        }
        out.sort_by_key(|r| r.id);
        out
    }

    /// A citizen's vouchers, usable from today or issued today.
    pub fn vouchers_of(&self, citizen: CitizenId) -> Vec<Voucher> {
        let mut out: Vec<Voucher> = self.vouchers.get(&citizen).cloned().unwrap_or_default();
        out.extend(self.new_vouchers.iter().filter(|v| v.holder == citizen));
        out
    }

    /// Orders settled so far (kept when `keep_history`).
    pub fn settled_orders(&self) -> &[SettledOrder] {
        &self.settled
    }

    /// Orders placed today, not yet settled (groups in id order, then the groupless).
    pub fn pending_orders(&self) -> Vec<Order> {
        self.groups.iter().map(|g| &g.today.orders).chain([&self.groupless.today.orders]).flatten().cloned().collect()
    }

    /// Units in a group's pool for a product today.
    pub fn pool_units(&self, group: GroupId, product: ProductId) -> u64 {
        self.groups.get(group.index()).map(|g| group::pool_units_in(&g.today, product)).unwrap_or(0)
    }

    pub fn is_promoted_today(&self, kol: KolId, product: ProductId) -> bool {
        self.promotions.contains(&PromotionId { day: self.day, kol, product })
    }

    /// Promotions active today, in id order.
    pub fn promotions_today(&self) -> impl Iterator<Item = PromotionId> + '_ {
        self.promotions.on_day(self.day)
    }

    pub fn score_of_member(&self, m: &Member) -> i32 {
        self.rules.policy.score_min + m.score_offset() as i32
    }

    /// Where a citizen is: from the index, or (without one) from the tracked location of
    /// a pending appeal, the groupless list, or a scan of the groups.
    fn locate(&self, citizen: CitizenId) -> Result<Location, Refusal> {
        if citizen.0 >= self.citizens {
            return Err(Refusal::UnknownCitizen { citizen });
        }
        let hint = match &self.locations {
            Some(index) => Some(index[citizen.index()]),
            None => self.appeal_locations.get(&citizen).map(|&(location, _)| location),
        };
        if let Some(g) = hint {
            if let Some(at) = self.find_in(citizen, g) {
                return Ok(at);
            }
            assert!(self.locations.is_none(), "the index says where {citizen} is");
        }
        if let Some(at) = self.find_in(citizen, GROUPLESS) {
            return Ok(at);
        }
        // Regrouped lately? The newest placement is where they are (a later expulsion
        // would have put them in the groupless, looked at above).
        if let Some((_, g)) = self.recent_join(citizen)
            && let Some(at) = self.find_in(citizen, g)
        {
            return Ok(at);
        }
        // Without an index and without a hint: a scan (rare: appeals track their citizens,
        // and the regrouped of the last days are listed).
        (0..self.groups.len() as u32)
            .find_map(|g| self.find_in(citizen, g))
            .ok_or(Refusal::UnknownCitizen { citizen })
            .inspect(|_| debug_assert!(self.locations.is_none()))
    }

    /// The day and group of `citizen`'s newest regrouping among the remembered ones.
    fn recent_join(&self, citizen: CitizenId) -> Option<(Day, u32)> {
        self.recent_joins
            .iter()
            .rev()
            .find_map(|(day, joins)| joins.binary_search_by_key(&citizen, |&(c, _)| c).ok().map(|i| (*day, joins[i].1)))
    }

    fn find_in(&self, citizen: CitizenId, g: u32) -> Option<Location> {
        if g == GROUPLESS {
            self.groupless
                .members
                .binary_search_by_key(&citizen, |m| m.member.citizen)
                .ok()
                .map(|index| Location::Groupless { index })
        } else {
            self.groups.get(g as usize)?.slot(citizen).map(|slot| Location::Group { group: g, slot })
        }
    }

    fn member_at(&self, at: Location) -> &Member {
        match at {
            Location::Group { group, slot } => &self.groups[group as usize].members[slot],
            Location::Groupless { index } => &self.groupless.members[index].member,
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
        Ok(match self.locate(citizen)? {
            Location::Group { group, .. } => Some(GroupId(group)),
            Location::Groupless { .. } => None,
        })
    }

    /// The score at which travel is no longer restricted, for a citizen at `score`.
    pub fn travel_score_needed(&self, score: i32) -> Option<i32> {
        self.rules.travel_score_needed(score)
    }

    pub fn view(&self, citizen: CitizenId) -> Result<CitizenView, Refusal> {
        let at = self.locate(citizen)?;
        let m = *self.member_at(at);
        let tier = self.rules.tier(m.tier());
        let score = self.score_of_member(&m);
        let (group, regroup_day) = match at {
            Location::Group { group, .. } => (Some(GroupId(group)), None),
            Location::Groupless { index } => (None, Some(self.groupless.members[index].eligible_day)),
        };
        let travel_banned = tier.restrictions.contains(Restriction::Travel);
        Ok(CitizenView {
            citizen,
            score,
            tier: tier.name.clone(),
            tier_index: m.tier(),
            restrictions: tier.restrictions.list(),
            group,
            group_size: group.map(|g| self.group_size(g)),
            regroup_day,
            travel_score_needed: if travel_banned { self.travel_score_needed(score) } else { None },
        })
    }

    /// Why `citizen`'s score is what it is.
    pub fn explain(&self, citizen: CitizenId) -> Result<Explanation, Refusal> {
        let m = self.member(citizen)?;
        let entries: Vec<LedgerEntry> = self.ledger.of(citizen).copied().collect();
        // The tier in force (tiers move at the day's close, not with each entry).
        let tier = self.rules.tier(m.tier());
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
        let at = self.locate(citizen)?;
        let mut out = Vec::new();
        let mut visit = |g: usize| {
            for batch in &self.groups[g].open {
                if let Some(i) = batch.position(&self.groups[g].members, citizen) {
                    let kind = self.incidents.get(&batch.incident).map(|x| x.kind).unwrap_or(0);
                    out.push(NoticeView {
                        incident: batch.incident,
                        offender: batch.offender,
                        kind,
                        group: GroupId(g as u32),
                        deadline: batch.deadline,
                        answer: batch.answers.get(i).answer(),
                    });
                }
            }
        };
        // A recipient who left the group since delivery keeps their notice: look everywhere.
        match at {
            Location::Group { group, .. } => visit(group as usize),
            Location::Groupless { .. } => (0..self.groups.len()).for_each(&mut visit),
        }
        out.sort_by_key(|n| n.incident);
        Ok(out)
    }

    fn require_index(&self, what: &str) -> Result<(), Refusal> {
        if self.locations.is_none() {
            return Err(Refusal::Unsupported {
                what: what.to_string(),
                reason: "this engine runs without a citizen index; drive it with run_day".into(),
            });
        }
        Ok(())
    }

    // ----- set-up commands -------------------------------------------------------------

    /// Registers a new citizen at the initial score, groupless, placed at the next close.
    pub fn register_citizen(&mut self) -> Result<CitizenId, Refusal> {
        Ok(CitizenId(self.register_citizens(1)?.start))
    }

    /// Registers `n` citizens at once; returns their id range.
    pub fn register_citizens(&mut self, n: u32) -> Result<std::ops::Range<u32>, Refusal> {
        let first = self.citizens as u64;
        if first + n as u64 > CITIZENS_MAX as u64 {
            return Err(Refusal::LimitReached { what: "citizens".into(), max: CITIZENS_MAX as u64 });
        }
        let offset = (self.rules.policy.initial_score - self.rules.policy.score_min) as u16;
        let tier = self.rules.tier_index(self.rules.policy.initial_score);
        if let Some(index) = self.locations.as_mut() {
            index.resize(index.len() + n as usize, GROUPLESS);
        }
        self.groupless.members.reserve(n as usize);
        for i in 0..n {
            let citizen = CitizenId(first as u32 + i);
            // Ids only grow, so pushing keeps the groupless list sorted.
            self.groupless
                .members
                .push(GrouplessMember { member: Member::new(citizen, offset, tier), eligible_day: self.day });
        }
        self.scores.add_many(offset, n as u64);
        self.citizens += n;
        Ok(first as u32..first as u32 + n)
    }

    /// Creates an empty group.
    pub fn create_group(&mut self) -> Result<GroupId, Refusal> {
        if self.groups.len() as u64 >= GROUPLESS as u64 {
            return Err(Refusal::LimitReached { what: "groups".into(), max: GROUPLESS as u64 });
        }
        self.groups.push(Group::default());
        self.remote_sizes.push(0);
        Ok(GroupId(self.groups.len() as u32 - 1))
    }

    /// Puts a groupless citizen into a group with room (operator's or grouping's decision).
    pub fn assign_group(&mut self, citizen: CitizenId, group: GroupId) -> Result<(), Refusal> {
        let at = self.locate(citizen)?;
        let Some(g) = self.groups.get(group.index()) else { return Err(Refusal::UnknownGroup { group }) };
        if let Location::Group { group: current, .. } = at {
            return Err(Refusal::AlreadyInGroup { citizen, group: GroupId(current) });
        }
        if g.size() >= self.rules.policy.groups.max_size {
            return Err(Refusal::GroupFull { group, max: self.rules.policy.groups.max_size });
        }
        let Location::Groupless { index } = at else { unreachable!() };
        let entry = self.groupless.members.remove(index);
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
        let mut sorted = assignments.to_vec();
        sorted.sort();
        // Walk the sorted assignments and the sorted groupless list together.
        let mut cursor = 0usize;
        for (i, &(citizen, group)) in sorted.iter().enumerate() {
            if citizen.0 >= self.citizens {
                return Err(Refusal::UnknownCitizen { citizen });
            }
            if i > 0 && sorted[i - 1].0 == citizen {
                return Err(Refusal::InvalidValue {
                    field: "assignments".into(),
                    reason: format!("{citizen} is listed twice"),
                });
            }
            let members = &self.groupless.members;
            while cursor < members.len() && { members[cursor].member.citizen } < citizen {
                cursor += 1;
            }
            if cursor == members.len() || { members[cursor].member.citizen } != citizen {
                let group = self.group_of(citizen)?.expect("not groupless, so in a group");
                return Err(Refusal::AlreadyInGroup { citizen, group });
            }
            sizes[group.index()] += 1;
            if sizes[group.index()] > max_size {
                return Err(Refusal::GroupFull { group, max: max_size });
            }
        }
        self.groups.resize_with(group_count as usize, Group::default);
        self.remote_sizes.resize(self.groups.len(), 0);
        for (g, &size) in self.groups.iter_mut().zip(&sizes) {
            g.members.reserve_exact(size as usize - g.members.len());
        }
        let mut cursor = 0usize;
        for &(citizen, group) in &sorted {
            let members = &self.groupless.members;
            while { members[cursor].member.citizen } < citizen {
                cursor += 1;
            }
            let member = members[cursor].member;
            let g = &mut self.groups[group.index()];
            // Citizens arrive in id order, so pushing keeps members sorted unless the group
            // already had members with larger ids.
            match g.members.last() {
                Some(last) if { last.citizen } > citizen => {
                    let at = g.members.binary_search_by_key(&citizen, |m| m.citizen).expect_err("new member");
                    g.insert_member(at, member);
                }
                _ => g.push_member(member),
            }
            self.directory.joined(citizen, group);
        }
        self.drop_from_groupless(sorted.iter().map(|&(c, _)| c));
        if let Some(index) = self.locations.as_mut() {
            for &(citizen, group) in &sorted {
                index[citizen.index()] = group.0;
            }
        }
        Ok(())
    }

    /// Registers `citizens` new citizens directly into new groups of the given sizes, for
    /// populations too large to pass through the groupless list: call
    /// [`Populate::place`] for each citizen in increasing id order, then
    /// [`Populate::finish`]; citizens not placed are groupless.
    pub fn populate(&mut self, citizens: u32, group_sizes: &[u32]) -> Result<Populate<'_, D>, Refusal> {
        let first = self.citizens;
        if first as u64 + citizens as u64 > CITIZENS_MAX as u64 {
            return Err(Refusal::LimitReached { what: "citizens".into(), max: CITIZENS_MAX as u64 });
        }
        if self.groups.len() as u64 + group_sizes.len() as u64 >= GROUPLESS as u64 {
            return Err(Refusal::LimitReached { what: "groups".into(), max: GROUPLESS as u64 - 1 });
        }
        let max_size = self.rules.policy.groups.max_size;
        if let Some(&big) = group_sizes.iter().find(|&&s| s > max_size) {
            return Err(Refusal::InvalidValue {
                field: "group_sizes".into(),
                reason: format!("a group of {big} exceeds max_size ({max_size})"),
            });
        }
        if group_sizes.iter().map(|&s| s as u64).sum::<u64>() > citizens as u64 {
            return Err(Refusal::InvalidValue {
                field: "group_sizes".into(),
                reason: "more places than citizens".into(),
            });
        }
        let first_group = self.groups.len();
        self.groups.reserve_exact(group_sizes.len());
        for (i, &size) in group_sizes.iter().enumerate() {
            let local = self.is_local(GroupId((first_group + i) as u32));
            self.groups
                .push(Group { members: Vec::with_capacity(if local { size as usize } else { 0 }), ..Group::default() });
        }
        self.remote_sizes.resize(self.groups.len(), 0);
        if let Some(index) = self.locations.as_mut() {
            index.resize(index.len() + citizens as usize, GROUPLESS);
        }
        let offset = (self.rules.policy.initial_score - self.rules.policy.score_min) as u16;
        let tier = self.rules.tier_index(self.rules.policy.initial_score);
        self.scores.add_many(offset, citizens as u64);
        self.citizens += citizens;
        Ok(Populate {
            engine: self,
            end: first + citizens,
            sizes: group_sizes.to_vec(),
            placed: vec![0; group_sizes.len()],
            next: first,
            first_group,
            member: Member::new(CitizenId(first), offset, tier),
        })
    }

    /// Takes a citizen out of their group; they may be placed again at the next close.
    pub fn remove_from_group(&mut self, citizen: CitizenId) -> Result<(), Refusal> {
        match self.locate(citizen)? {
            Location::Groupless { .. } => Err(Refusal::NotInGroup { citizen }),
            Location::Group { group, slot } => {
                let member = self.groups[group as usize].remove_member(slot);
                self.directory.left(citizen, GroupId(group));
                self.merge_into_groupless(vec![GrouplessMember { member, eligible_day: self.day }]);
                Ok(())
            }
        }
    }

    fn set_location(&mut self, citizen: CitizenId, location: u32) {
        if let Some(index) = self.locations.as_mut() {
            index[citizen.index()] = location;
        }
        if let Some(tracked) = self.appeal_locations.get_mut(&citizen) {
            tracked.0 = location;
        }
    }

    fn insert_member(&mut self, group: GroupId, member: Member) {
        if !self.is_local(group) {
            // Another shard holds this group and inserts the member (the same decision is
            // taken on every shard); here only its size moves.
            self.remote_sizes[group.index()] += 1;
            self.set_location(member.citizen, group.0);
            return;
        }
        let g = &mut self.groups[group.index()];
        let at = g.members.binary_search_by_key(&{ member.citizen }, |m| m.citizen).expect_err("not yet a member");
        if g.members.len() == g.members.capacity() {
            // Grow by little: groups are many and most never grow.
            g.reserve_members(8);
        }
        g.insert_member(at, member);
        assert!(g.members.len() as u32 <= self.rules.policy.groups.max_size, "group sizes never exceed max_size");
        self.set_location(member.citizen, group.0);
        self.directory.joined(member.citizen, group);
    }

    /// Drops `citizens` (in increasing id order) from the groupless list, which is sorted by
    /// citizen too, in one pass (`retain` visits the entries in order). Returns how many
    /// entries went; a citizen not in the list is passed over.
    fn drop_from_groupless(&mut self, citizens: impl Iterator<Item = CitizenId>) -> usize {
        let before = self.groupless.members.len();
        let mut next = citizens.peekable();
        self.groupless.members.retain(|e| {
            while next.peek().is_some_and(|&c| c < { e.member.citizen }) {
                next.next();
            }
            next.peek().is_none_or(|&c| c != { e.member.citizen })
        });
        before - self.groupless.members.len()
    }

    /// Merges new groupless entries into the sorted groupless list in one pass.
    fn merge_into_groupless(&mut self, mut entries: Vec<GrouplessMember>) {
        if entries.is_empty() {
            return;
        }
        entries.sort_by_key(|e| e.member.citizen);
        for e in &entries {
            self.set_location(e.member.citizen, GROUPLESS);
        }
        let old = std::mem::take(&mut self.groupless.members);
        let mut merged = Vec::with_capacity(old.len() + entries.len());
        let (mut a, mut b) = (old.into_iter().peekable(), entries.into_iter().peekable());
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            debug_assert_ne!({ x.member.citizen }, { y.member.citizen });
            if { x.member.citizen } < { y.member.citizen } {
                merged.push(a.next().expect("peeked"));
            } else {
                merged.push(b.next().expect("peeked"));
            }
        }
        merged.extend(a);
        merged.extend(b);
        self.groupless.members = merged;
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

    fn orders_placed_today(&self, citizen: CitizenId, at: Location) -> u32 {
        match at {
            Location::Group { group, .. } => {
                self.groups[group as usize].today.orders.iter().filter(|o| o.id.citizen == citizen).count() as u32
            }
            Location::Groupless { .. } => self.groupless.order_counts.get(&citizen).copied().unwrap_or(0) as u32,
        }
    }

    /// Prices an order as if placed now, without placing it.
    pub fn quote(
        &self,
        citizen: CitizenId,
        product: ProductId,
        units: u32,
        via: Option<KolId>,
    ) -> Result<Quote, Refusal> {
        self.require_index("a quote by citizen id")?;
        let at = self.locate(citizen)?;
        let ctx = ctx!(self);
        let (gid, today) = match at {
            Location::Group { group, .. } => (Some(GroupId(group)), &*self.groups[group as usize].today),
            Location::Groupless { .. } => (None, &self.groupless.today),
        };
        let placed = self.orders_placed_today(citizen, at);
        let order = group::check_order_at(&ctx, self.member_at(at), gid, today, placed, product, units, via)?;
        let pool = if gid.is_some() { group::pool_units_in(today, product) } else { 0 } + units as u64;
        Ok(group::receipt(&ctx, &order, pool))
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
        self.require_index("an order by citizen id")?;
        let at = self.locate(citizen)?;
        let ctx = ctx!(self);
        let mut acc = DayAcc::new(&self.rules, 0, false);
        let mut out = GroupOut::default();
        let result = match at {
            Location::Group { group, .. } => {
                let mut day = GroupDay {
                    ctx: &ctx,
                    gid: GroupId(group),
                    group: &mut self.groups[group as usize],
                    out: &mut out,
                    acc: &mut acc,
                };
                let slot = day.group.slot(citizen).expect("located");
                day.place_order(slot, product, units, via)
            }
            Location::Groupless { index } => {
                let mut day = GrouplessDay { ctx: &ctx, groupless: &mut self.groupless, out: &mut out, acc: &mut acc };
                day.place_order(index, product, units, via)
            }
        };
        self.today.orders_refused_travel += acc.orders_refused_travel;
        self.today.orders_refused_other += acc.orders_refused_other;
        debug_assert!(out.is_empty());
        result
    }

    /// Reports an incident against a citizen (the camera network or a reporter). The
    /// penalty applies now; the offender's group-mates are notified when today closes.
    pub fn report_incident(&mut self, citizen: CitizenId, kind: u8, incident_day: Day) -> Result<IncidentId, Refusal> {
        self.report_incident_from(citizen, kind, incident_day, IncidentSource::Camera)
    }

    fn report_incident_from(
        &mut self,
        citizen: CitizenId,
        kind: u8,
        incident_day: Day,
        source: IncidentSource,
    ) -> Result<IncidentId, Refusal> {
        self.require_index("an incident by citizen id")?;
        let at = self.locate(citizen)?;
        let ctx = ctx!(self);
        let mut acc = DayAcc::new(&self.rules, 0, false);
        let mut out = GroupOut::default();
        let result = match at {
            Location::Group { group, slot } => {
                let g = &mut self.groups[group as usize];
                let seq = g.today.incidents.iter().filter(|i| i.id.citizen == citizen).count() as u32;
                group::report_incident_at(
                    &ctx,
                    &mut g.members[slot],
                    Some(GroupId(group)),
                    &mut g.today,
                    seq,
                    kind,
                    incident_day,
                    source,
                    &mut out,
                    &mut acc,
                )
            }
            Location::Groupless { index } => {
                let seq = self.groupless.incident_counts.get(&citizen).copied().unwrap_or(0) as u32;
                let g = &mut self.groupless;
                let id = group::report_incident_at(
                    &ctx,
                    &mut g.members[index].member,
                    None,
                    &mut g.today,
                    seq,
                    kind,
                    incident_day,
                    source,
                    &mut out,
                    &mut acc,
                );
                if id.is_ok() {
                    g.incident_counts.insert(citizen, seq as u8 + 1);
                }
                id
            }
        };
        self.absorb(acc, out);
        result
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

    /// Applies what a single command produced (ledger, scores, records) at once.
    fn absorb(&mut self, acc: DayAcc, out: GroupOut) {
        self.today.denunciations_confirmed += acc.denunciations_confirmed;
        self.today.denunciations_rejected += acc.denunciations_rejected;
        self.ledger.add_totals(&acc.totals);
        acc.shifts.apply(&mut self.scores);
        for entry in out.ledger {
            self.ledger.append(entry);
        }
        self.today.incidents_reported += out.incidents.len() as u64;
        for incident in out.incidents {
            self.incidents.insert(incident);
        }
        // After the points, as in the day's merge: the reward, then the voucher.
        self.issue_vouchers(out.vouchers_issued);
        debug_assert!(out.outcomes.is_empty() && out.leaving.is_empty() && out.settled.is_empty());
    }

    /// Vouchers issued today become usable tomorrow; each issue is recorded in the ledger.
    fn issue_vouchers(&mut self, vouchers: Vec<Voucher>) {
        for v in vouchers {
            self.ledger.record(LedgerEntry {
                day: self.day,
                citizen: v.holder,
                delta: 0,
                requested: 0,
                cause: Cause::VoucherIssued { voucher: v.id },
            });
            self.new_vouchers.push(v);
        }
    }

    /// A citizen reports a group-mate (denunciation for vouchers). Not an incident until
    /// decided by a reporter or the operator.
    pub fn denounce(
        &mut self,
        citizen: CitizenId,
        accused: CitizenId,
        kind: &str,
        incident_day: Day,
    ) -> Result<ReportId, Refusal> {
        self.require_index("a denunciation by citizen id")?;
        if !self.rules.policy.denunciation.enabled {
            return Err(Refusal::DenunciationDisabled);
        }
        let at = self.locate(citizen)?;
        self.locate(accused)?;
        let Some(k) = self.rules.incident_kind_index(kind) else {
            return Err(Refusal::UnknownIncidentKind {
                kind: kind.to_string(),
                known: self.rules.policy.incident_kinds.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", "),
            });
        };
        if citizen == accused {
            return Err(Refusal::SelfReport { citizen });
        }
        let Location::Group { group, slot } = at else {
            return Err(Refusal::NotInYourGroup { citizen, accused });
        };
        let Some(accused_slot) = self.groups[group as usize].slot(accused) else {
            return Err(Refusal::NotInYourGroup { citizen, accused });
        };
        let ctx = ctx!(self);
        let mut acc = DayAcc::new(&self.rules, 0, false);
        let g = &mut self.groups[group as usize];
        let id = group::denounce_at(&ctx, &g.members, &mut g.today, slot, accused_slot, k, incident_day, &mut acc)?;
        self.today_denunciations += 1;
        Ok(id)
    }

    /// A reporter or the operator decides a denunciation: confirmed, it becomes an incident
    /// against the accused (notices, answers, exactly as a camera's) and pays the denouncer;
    /// rejected, it may cost the denouncer points.
    pub fn decide_report(&mut self, report: ReportId, confirmed: bool) -> Result<Option<IncidentId>, Refusal> {
        // Filed today: decided within the group it was filed in, if both are still there.
        if let Some(g) = self.groups.iter().position(|g| g.today.reports.iter().any(|r| r.id == report)) {
            let r = *self.groups[g].today.reports.iter().find(|r| r.id == report).expect("found");
            if self.groups[g].slot(r.id.citizen).is_some() && self.groups[g].slot(r.accused).is_some() {
                let ctx = ctx!(self);
                let mut acc = DayAcc::new(&self.rules, 0, false);
                let mut out = GroupOut::default();
                let result = group::decide_report_at(
                    &ctx,
                    GroupId(g as u32),
                    &mut self.groups[g],
                    report,
                    confirmed,
                    &mut out,
                    &mut acc,
                );
                self.absorb(acc, out);
                return result;
            }
            // Someone moved since: decide it as an older report.
            let moved = self.groups[g].today.reports.iter().position(|r| r.id == report).expect("found");
            let r = self.groups[g].today.reports.remove(moved);
            self.reports.insert(report, r);
        }
        let Some(r) = self.reports.get(&report).copied() else { return Err(Refusal::UnknownReport { report }) };
        if r.status != ReportStatus::Pending {
            return Err(Refusal::ReportAlreadyDecided { report });
        }
        let policy = self.rules.policy.denunciation.clone();
        if !confirmed {
            self.reports.get_mut(&report).expect("found").status = ReportStatus::Rejected { decided: self.day };
            self.today.denunciations_rejected += 1;
            if policy.false_report_penalty > 0 {
                self.change_score(r.id.citizen, -(policy.false_report_penalty as i32), Cause::FalseReport { report });
            }
            return Ok(None);
        }
        let source = IncidentSource::Denunciation { report };
        let incident = self.report_incident_from(r.accused, r.kind, r.day, source)?;
        self.reports.get_mut(&report).expect("found").status = ReportStatus::Confirmed { incident, decided: self.day };
        self.today.denunciations_confirmed += 1;
        if policy.reward_points > 0 {
            let cause = Cause::DenunciationReward { report, incident };
            self.change_score(r.id.citizen, policy.reward_points as i32, cause);
        }
        if self.rules.voucher_bp > 0 {
            let voucher = Voucher {
                id: incident,
                holder: r.id.citizen,
                discount_bp: self.rules.voucher_bp,
                expires: self.day.saturating_add(policy.voucher_days),
            };
            self.issue_vouchers(vec![voucher]);
        }
        Ok(Some(incident))
    }

    /// A group-mate answers the notice about an incident: expel the offender, or keep them.
    /// Points move when the deadline passes (at the close of the day after the incident).
    pub fn answer_notice(&mut self, citizen: CitizenId, incident: IncidentId, answer: Answer) -> Result<(), Refusal> {
        self.require_index("an answer by citizen id")?;
        self.locate(citizen)?;
        let Some(record) = self.incidents.get(&incident) else { return Err(Refusal::UnknownIncident { incident }) };
        let Some(group) = record.group else { return Err(Refusal::NotARecipient { incident, citizen }) };
        let g = &mut self.groups[group.index()];
        let Some(batch) = g.open.iter_mut().find(|b| b.incident == incident) else {
            return Err(match record.outcome {
                Some(_) => Refusal::DeadlinePassed { incident, deadline: incident.day + 1 },
                None if g.today.incidents.iter().any(|i| i.id == incident) => {
                    Refusal::NoticeNotDelivered { incident, day: self.day }
                }
                None => Refusal::NotARecipient { incident, citizen },
            });
        };
        let Some(i) = batch.position(&g.members, citizen) else {
            return Err(Refusal::NotARecipient { incident, citizen });
        };
        group::answer_at(batch, &g.members, self.day, i, answer)
    }

    /// The offender appeals an incident within the appeal window.
    pub fn file_appeal(&mut self, citizen: CitizenId, incident: IncidentId) -> Result<(), Refusal> {
        if citizen.0 >= self.citizens {
            return Err(Refusal::UnknownCitizen { citizen });
        }
        let window = self.rules.policy.appeals.window_days;
        let today = self.day;
        let Some(record) = self.incidents.get(&incident) else { return Err(Refusal::UnknownIncident { incident }) };
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
        let report_group = record.group;
        if self.locations.is_none() {
            // Track the appellant until the decision (there is no index to find them then).
            if let Some(entry) = self.appeal_locations.get_mut(&citizen) {
                entry.1 += 1;
            } else {
                let at = report_group
                    .and_then(|g| self.find_in(citizen, g.0))
                    .or_else(|| self.find_in(citizen, GROUPLESS))
                    .map_or_else(|| self.locate(citizen), Ok);
                let location = match at {
                    Ok(Location::Group { group, .. }) => group,
                    Ok(Location::Groupless { .. }) => GROUPLESS,
                    // On a shard: neither groupless nor in a group held here, so in a group
                    // another shard holds (which one does not matter here: that shard makes
                    // the change; moves update the location on every shard alike).
                    Err(_) if self.shard.is_some() => REMOTE,
                    Err(e) => return Err(e),
                };
                self.appeal_locations.insert(citizen, (location, 1));
            }
        }
        self.incidents.get_mut(&incident).expect("checked").appeal = AppealStatus::Filed { day: today };
        self.today.appeals_filed += 1;
        Ok(())
    }

    /// The operator decides an appeal. Granted: the penalty is given back through a ledger
    /// entry. The group's answers already given, and any expulsion, stand.
    pub fn decide_appeal(&mut self, incident: IncidentId, granted: bool) -> Result<i32, Refusal> {
        let today = self.day;
        let Some(record) = self.incidents.get_mut(&incident) else { return Err(Refusal::UnknownIncident { incident }) };
        let filed = match record.appeal {
            AppealStatus::NotAppealed => return Err(Refusal::AppealNotFiled { incident }),
            AppealStatus::Filed { day } => day,
            AppealStatus::Granted { .. } | AppealStatus::Rejected { .. } => {
                return Err(Refusal::AppealAlreadyDecided { incident });
            }
        };
        let restore = -record.penalty_applied;
        record.appeal = if granted {
            AppealStatus::Granted { filed, decided: today }
        } else {
            AppealStatus::Rejected { filed, decided: today }
        };
        let citizen = incident.citizen;
        let result = if granted {
            self.today.appeals_granted += 1;
            self.change_score(citizen, restore, Cause::AppealGranted { incident })
        } else {
            self.today.appeals_rejected += 1;
            0
        };
        if let Some(entry) = self.appeal_locations.get_mut(&citizen) {
            entry.1 -= 1;
            if entry.1 == 0 {
                self.appeal_locations.remove(&citizen);
            }
        }
        Ok(result)
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
        if self.shard.is_some()
            && let Some(&(g, _)) = self.appeal_locations.get(&citizen)
            && g != GROUPLESS
            && !self.is_local(GroupId(g))
        {
            // Another shard holds this citizen and makes the same change there.
            return 0;
        }
        let at = match self.locate(citizen) {
            Ok(at) => at,
            // On a shard: a citizen in a group another shard holds, which makes the change.
            Err(_) if self.shard.is_some() => return 0,
            Err(e) => panic!("score changes target existing citizens: {e}"),
        };
        let ctx = ctx!(self);
        let member = match at {
            Location::Group { group, slot } => &mut self.groups[group as usize].members[slot],
            Location::Groupless { index } => &mut self.groupless.members[index].member,
        };
        let mut entries = Vec::new();
        let mut totals = LedgerTotals::default();
        let mut shifts = Shifts::sparse();
        let delta = group::change_member_score(&ctx, member, requested, cause, &mut entries, &mut totals, &mut shifts);
        if let Some(pending) = self.pending.as_mut() {
            // On a shard, the change counts once, when the shards' parts are merged.
            let counted = match at {
                Location::Group { .. } => true,
                Location::Groupless { .. } => self.counts_groupless,
            };
            if counted {
                pending.totals.merge(&totals);
                pending.shifts.merge(shifts);
                pending.outs.absorb(u32::MAX - 1, &mut GroupOut { ledger: entries, ..GroupOut::default() });
            }
            return delta;
        }
        self.ledger.add_totals(&totals);
        shifts.apply(&mut self.scores);
        for e in entries {
            self.ledger.append(e);
        }
        delta
    }

    // ----- the day close ---------------------------------------------------------------

    /// Closes the current day and opens the next. In this order:
    ///
    /// 1. **Tally** the notices whose deadline is today: each recipient gains
    ///    `expel_reward` for "expel", loses `keep_penalty` for "keep"; a recipient who did
    ///    not answer counts as `abstain_as`. An offender whose expel share reaches
    ///    `expel_quorum` is expelled (if still in that group) after all of the group's
    ///    tallies: groupless, regroupable after `regroup_after_days`.
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
    ///
    /// Steps 1–3 and 5 are local to each group and run group by group; 4 and 6, and the
    /// merge of what the groups produced, run after.
    pub fn close_day(&mut self) -> DayReport {
        self.close_day_with(&Sequential)
    }

    /// [`Engine::close_day`] with the groups' local work spread by an executor.
    pub fn close_day_with<E: Executor>(&mut self, executor: &E) -> DayReport {
        self.run_day(executor, |_| {}, |_| {})
    }

    /// Runs a whole day for drivers that act group by group (the simulator): for every group,
    /// `act` (the members' incidents, answers and orders through [`GroupDay`]) then the
    /// group's local close; then `act_groupless` and the groupless' close; then the global
    /// steps. The result is the same as issuing the same commands by citizen id and calling
    /// [`Engine::close_day`], because a group's day reads nothing that another group's day
    /// writes.
    pub fn run_day<E, A, G>(&mut self, executor: &E, act: A, act_groupless: G) -> DayReport
    where
        E: Executor,
        A: Fn(&mut GroupDay<D>) + Sync + Send,
        G: FnOnce(&mut GrouplessDay<D>),
    {
        self.run_day_collect(
            executor,
            |g| -> Option<()> {
                act(g);
                None
            },
            |g| act_groupless(g),
        )
        .0
    }

    /// [`Engine::run_day`] where `act` may return something per group (what the driver
    /// learned, e.g. which incidents it made up): returned in group order.
    pub fn run_day_collect<E, R, A, G>(
        &mut self,
        executor: &E,
        act: A,
        act_groupless: G,
    ) -> (DayReport, Vec<(GroupId, R)>)
    where
        E: Executor,
        R: Send,
        A: Fn(&mut GroupDay<D>) -> Option<R> + Sync + Send,
        G: FnOnce(&mut GrouplessDay<D>),
    {
        let (local, collected) = self.day_local(executor, act, act_groupless);
        (self.day_finish(vec![local]), collected)
    }

    /// The first half of a day on one shard: `act` and the local close for every group
    /// this engine holds, then the groupless' day. Returns this shard's part, which every
    /// shard passes (with the others' parts) to [`Engine::day_finish`].
    pub fn day_local<E, R, A, G>(&mut self, executor: &E, act: A, act_groupless: G) -> (LocalDay, Vec<(GroupId, R)>)
    where
        E: Executor,
        R: Send,
        A: Fn(&mut GroupDay<D>) -> Option<R> + Sync + Send,
        G: FnOnce(&mut GrouplessDay<D>),
    {
        let range = self.local_range();
        let first = range.start;
        let ctx = ctx!(self);
        let rules = &self.rules;
        let kols = self.kols.len();
        let (mut acc, mut collected) = executor.fold(
            &mut self.groups[range],
            || (DayAcc::new(rules, kols, true), Vec::new()),
            |i, group, (acc, collected): &mut (DayAcc, Vec<(GroupId, R)>)| {
                let gid = GroupId((first + i) as u32);
                let mut out = std::mem::take(&mut acc.scratch);
                debug_assert!(out.is_empty(), "the scratch was emptied after the last group");
                group.today.lend(&mut acc.spare_today);
                group::prefetch(&group.members);
                group::prefetch(&group.open);
                let r = act(&mut GroupDay { ctx: &ctx, gid, group: &mut *group, out: &mut out, acc: &mut *acc });
                if let Some(r) = r {
                    collected.push((gid, r));
                }
                group::close_group(&ctx, gid, group, &mut out, acc);
                acc.outs.absorb(gid.0, &mut out);
                acc.scratch = out;
            },
            |(a, mut x), (b, y)| {
                x.extend(y);
                (a.merge(b), x)
            },
        );
        collected.sort_by_key(|(g, _)| *g);
        // Every shard keeps the same groupless and runs their day; one shard counts it.
        let mut groupless_acc = DayAcc::new(rules, kols, false);
        let mut out = GroupOut::default();
        act_groupless(&mut GrouplessDay {
            ctx: &ctx,
            groupless: &mut self.groupless,
            out: &mut out,
            acc: &mut groupless_acc,
        });
        group::settle(&ctx, &mut self.groupless.today.orders, &mut out, &mut groupless_acc);
        group::recompute_tiers(&self.rules, self.groupless.members.iter_mut().map(|e| &mut e.member));
        self.groupless.today = GroupToday::default();
        self.groupless.incident_counts.clear();
        self.groupless.order_counts.clear();
        if self.counts_groupless {
            groupless_acc.outs.absorb(GROUPLESS, &mut out);
            acc = acc.merge(groupless_acc);
        } else {
            // The groupless' records (incidents) are still needed here for appeals.
            let incidents = out.incidents;
            for incident in incidents {
                self.incidents.insert(incident);
            }
        }
        if let Some(pending) = self.pending.as_mut() {
            let p = std::mem::replace(pending, DayAcc::new(&self.rules, 0, false));
            acc = acc.merge(p);
        }
        (LocalDay { acc }, collected)
    }

    /// The second half of a day: merges every shard's part (in group order, so the result
    /// does not depend on how groups were split) and runs the global steps. Every shard
    /// calls it with the same parts and ends in the same global state.
    pub fn day_finish(&mut self, parts: Vec<LocalDay>) -> DayReport {
        let d = self.day;
        let mut parts = parts.into_iter();
        let first = parts.next().map(|p| p.acc).unwrap_or_else(|| DayAcc::new(&self.rules, self.kols.len(), false));
        let acc = parts.fold(first, |a, p| a.merge(p.acc));
        self.finish_day(d, acc)
    }

    /// The global steps of the close: merge what the groups produced (in group order),
    /// expel, update KOLs, regroup, forget what no rule needs any more.
    fn finish_day(&mut self, d: Day, mut acc: DayAcc) -> DayReport {
        let mut report = DayReport { day: d, ..DayReport::default() };
        self.ledger.add_totals(&acc.totals);
        acc.shifts.apply(&mut self.scores);
        let mut leaving = Vec::new();
        let mut external = Vec::new();
        let mut expelled = Vec::new();
        let mut outs = std::mem::take(&mut acc.outs);
        self.merge_records(outs.take_records(), &mut report);
        for (g, out) in outs.into_groups() {
            debug_assert!(out.incidents.is_empty() && out.outcomes.is_empty(), "merged above");
            for entry in out.ledger {
                self.ledger.append(entry);
            }
            for (incident, member) in out.leaving {
                if self.is_local(GroupId(g)) {
                    self.directory.left(member.citizen, GroupId(g));
                } else {
                    self.remote_sizes[g as usize] -= 1;
                }
                expelled.push((incident, member.citizen));
                leaving.push(GrouplessMember {
                    member,
                    eligible_day: d.saturating_add(self.rules.policy.sanction.regroup_after_days),
                });
            }
            external.extend(out.external);
            self.settled.extend(out.settled);
            for r in out.reports {
                if r.status == ReportStatus::Pending || self.options.keep_history {
                    self.reports.insert(r.id, r);
                }
            }
            for v in out.vouchers_issued {
                self.ledger.record(LedgerEntry {
                    day: d,
                    citizen: v.holder,
                    delta: 0,
                    requested: 0,
                    cause: Cause::VoucherIssued { voucher: v.id },
                });
                self.new_vouchers.push(v);
            }
            for (v, order) in out.vouchers_used {
                if let Some(held) = self.vouchers.get_mut(&v.holder) {
                    held.retain(|x| x.id != v.id);
                }
                self.ledger.record(LedgerEntry {
                    day: d,
                    citizen: v.holder,
                    delta: 0,
                    requested: 0,
                    cause: Cause::VoucherUsed { voucher: v.id, order },
                });
                report.vouchers_used += 1;
            }
        }
        // Vouchers that can no longer be used expire; today's become usable tomorrow.
        for (holder, held) in self.vouchers.iter_mut() {
            held.retain(|v| {
                let keep = v.expires > d;
                if !keep {
                    self.ledger.record(LedgerEntry {
                        day: d,
                        citizen: *holder,
                        delta: 0,
                        requested: 0,
                        cause: Cause::VoucherExpired { voucher: v.id },
                    });
                    report.vouchers_expired += 1;
                }
                keep
            });
        }
        self.vouchers.retain(|_, held| !held.is_empty());
        let mut fresh = std::mem::take(&mut self.new_vouchers);
        fresh.sort_by_key(|v| (v.holder, v.id));
        report.vouchers_issued = fresh.len() as u64;
        for v in fresh {
            self.vouchers.entry(v.holder).or_default().push(v);
        }
        report.denunciations = acc.denunciations + self.today_denunciations;
        report.denunciations_confirmed = acc.denunciations_confirmed + self.today.denunciations_confirmed;
        report.denunciations_rejected = acc.denunciations_rejected + self.today.denunciations_rejected;
        report.discount_voucher = acc.discount_voucher;
        self.today_denunciations = 0;
        report.incidents_reported += self.today.incidents_reported;
        expelled.sort();
        report.expelled = expelled;
        self.merge_into_groupless(leaving);
        // Points for recipients who left their group since the notice went out.
        for (citizen, requested, cause) in external {
            // On a shard, a groupless citizen is replicated and every shard runs this step
            // alike: the change applies now, everywhere, as in one engine. (A citizen in a
            // group is held by one shard, whose change counts with its next part.)
            let replicated = self.shard.is_some() && self.find_in(citizen, GROUPLESS).is_some();
            let held = if replicated { self.pending.take() } else { None };
            self.change_score(citizen, requested, cause);
            if replicated {
                self.pending = held;
            }
            if let Ok(at) = self.locate(citizen) {
                let m = match at {
                    Location::Group { group, slot } => &mut self.groups[group as usize].members[slot],
                    Location::Groupless { index } => &mut self.groupless.members[index].member,
                };
                group::recompute_tiers(&self.rules, std::iter::once(m));
            }
        }
        for (kol, &units) in acc.kol_units.iter().enumerate() {
            self.kols[kol].units_sold += units;
        }
        report.notices_delivered = acc.notices_delivered;
        report.answers_expel = acc.answers_expel;
        report.answers_keep = acc.answers_keep;
        report.answers_none = acc.answers_none;
        report.orders = acc.orders;
        report.units = acc.units;
        report.gmv = acc.gmv;
        report.discount_group = acc.discount_group;
        report.discount_credit = acc.discount_credit;
        report.pools = acc.pools;
        report.pools_by_tier = acc.pools_by_tier;
        report.orders_refused_travel = acc.orders_refused_travel + self.today.orders_refused_travel;
        report.orders_refused_other = acc.orders_refused_other + self.today.orders_refused_other;
        self.update_kols(d, &mut report);
        self.regroup(d, &mut report);
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

    /// Merges the day's incident records and tallies into the records kept.
    ///
    /// Group by group, each insert and each tally landed at a random place of a map far
    /// beyond the caches (at China scale ~1.6 M of each a day, into ~5 M records kept:
    /// docs/BENCHMARKS.md, "The day's records merged in order"). Now the day's records are
    /// sorted by id, in place, and handed to the [`IncidentBook`] as one sorted run: on
    /// the simulator's days it becomes that day's list, and nothing kept is touched. The
    /// tallies are sorted too and applied in order.
    ///
    /// The result is that of merging group by group: a day's ids are unique (an incident's
    /// id names its citizen, who is in one group, and their count that day; a tally is one
    /// per incident), so the order among equals cannot matter, and a tally refers to an
    /// incident of an earlier day, so adding every record before applying any tally
    /// changes nothing.
    fn merge_records(&mut self, (incidents, mut outcomes): group::DayRecords, report: &mut DayReport) {
        report.incidents_reported += incidents.len() as u64;
        // Untagged in place (same alignment, smaller items): the sorted list the book keeps.
        let mut incidents: Vec<Incident> = incidents.into_iter().map(|(_, x)| x).collect();
        incidents.sort_unstable_by_key(|x| x.id);
        debug_assert!(incidents.windows(2).all(|w| w[0].id < w[1].id), "a day's incident ids are unique");
        self.incidents.extend_sorted(incidents);
        outcomes.sort_unstable_by_key(|(_, (id, _))| *id);
        debug_assert!(outcomes.windows(2).all(|w| w[0].1.0 < w[1].1.0), "one tally an incident");
        for (_, (id, outcome)) in outcomes {
            if let Some(record) = self.incidents.get_mut(&id) {
                record.outcome = Some(outcome);
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
            let completing: Vec<PromotionId> = self.promotions.on_day(start).collect();
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
        self.promotions.forget_before(keep_from);
    }

    fn regroup(&mut self, d: Day, report: &mut DayReport) {
        if self.groups.is_empty() {
            report.unplaced = self.groupless.members.iter().filter(|e| e.eligible_day <= d).count() as u64;
            return;
        }
        let (min_size, max_size) = (self.rules.policy.groups.min_size, self.rules.policy.groups.max_size);
        // The eligible, and where each is in the groupless list (which does not change until
        // every placement is made).
        let (eligible, at): (Vec<CitizenId>, Vec<usize>) = self
            .groupless
            .members
            .iter()
            .enumerate()
            .filter(|(_, e)| e.eligible_day <= d)
            .map(|(i, e)| (e.member.citizen, i))
            .unzip();
        let mut candidates = Vec::new();
        let group_count = self.groups.len() as u32;
        let mut placed = Vec::new();
        // Without an index, the placements are remembered for `locate`.
        let remember_joins = self.locations.is_none();
        let mut joins = Vec::new();
        // Groups below min_size (a refill is preferred), and the places left in each group
        // before max_size, both kept up to date as they fill, from one pass over the sizes
        // (none when nobody is to be placed). Places left are two bytes a group, where a
        // search that passes over many full groups would otherwise read each one's table
        // entry (the groups' table outgrows the caches at 100 M citizens). Placements only
        // add members, so a group without room as they start has none later: the
        // directory may prepare its choices among the others (it checks room when asked),
        // and weigh how many citizens are likely to want the same groups.
        let (mut refill, mut free) = (Vec::new(), Vec::new());
        let places_left = |size: u32| max_size.saturating_sub(size).min(u16::MAX as u32) as u16;
        if !eligible.is_empty() {
            free.reserve_exact(group_count as usize);
            for g in (0..group_count).map(GroupId) {
                let size = self.group_size(g);
                if size < min_size {
                    refill.push(g);
                }
                free.push(places_left(size));
            }
        }
        self.directory.prepare_placements(&eligible, &free);
        for (&citizen, index) in eligible.iter().zip(at) {
            let mut chosen = None;
            let has_room = |g: GroupId| {
                let open = free.get(g.index()).is_some_and(|&left| left > 0);
                debug_assert_eq!(open, g.index() < self.groups.len() && self.group_size(g) < max_size);
                open
            };
            // A narrow attempt may find nothing; a wider one may.
            for attempt in 0..PLACEMENT_ATTEMPTS_MAX {
                chosen =
                    self.directory.choose_group(citizen, attempt, group_count, &refill, &has_room, &mut candidates);
                if chosen.is_some() {
                    break;
                }
            }
            match chosen {
                Some(group) => {
                    // Inserting updates the location; the groupless entries go in one pass below.
                    let member = self.groupless.members[index].member;
                    debug_assert_eq!({ member.citizen }, citizen, "the eligible's place in the groupless list");
                    self.insert_member(group, member);
                    let size = self.group_size(group);
                    free[group.index()] = places_left(size);
                    if let Ok(at) = refill.binary_search(&group)
                        && size >= min_size
                    {
                        refill.remove(at);
                    }
                    placed.push(citizen);
                    if remember_joins {
                        joins.push((citizen, group.0));
                    }
                    report.regrouped += 1;
                }
                None => report.unplaced += 1,
            }
        }
        self.directory.prepare_placements(&[], &[]);
        if !placed.is_empty() {
            let dropped = self.drop_from_groupless(placed.iter().copied());
            debug_assert_eq!(dropped, placed.len(), "every one placed was groupless");
        }
        if remember_joins {
            // `eligible` follows the groupless list, sorted by citizen, and so do the joins.
            debug_assert!(joins.is_sorted_by_key(|&(c, _)| c));
            while self.recent_joins.front().is_some_and(|&(day, _)| day + RECENT_JOIN_DAYS_MAX <= d) {
                self.recent_joins.pop_front();
            }
            if !joins.is_empty() {
                self.recent_joins.push_back((d, joins));
            }
        }
    }

    fn prune(&mut self, d: Day) {
        if self.options.keep_history {
            return;
        }
        // An incident can be appealed until window_days after its report; once past that
        // (or the configured retention), tallied, and with no appeal pending, no rule refers
        // to it again.
        let keep_days = self.options.incident_retention_days.unwrap_or(self.rules.policy.appeals.window_days + 1);
        // Only records reported before `d - keep_days` can go: the book keeps them by
        // reporting day, so the later days are not walked.
        let Some(last_day_kept) = d.checked_sub(keep_days) else { return };
        self.incidents.prune(last_day_kept, |incident| {
            let appeal_open = matches!(incident.appeal, AppealStatus::Filed { .. });
            appeal_open || (incident.outcome.is_none() && incident.group.is_some())
        });
    }

    // ----- state hash (determinism checks) --------------------------------------------

    /// A 64-bit digest of the whole state (not of the day's refusal counts). Equal states
    /// give equal hashes on one platform (integers hash in native byte order).
    pub fn state_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = Fnv64::default();
        self.day.hash(&mut h);
        self.citizens.hash(&mut h);
        self.groups.hash(&mut h);
        self.groupless.hash(&mut h);
        self.products.hash(&mut h);
        for k in &self.kols {
            k.name.hash(&mut h);
            k.credibility.to_bits().hash(&mut h);
            (k.promotions, k.units_sold, k.scandals_hit).hash(&mut h);
        }
        self.promotions.hash(&mut h);
        self.incidents.hash(&mut h);
        self.reports.hash(&mut h);
        self.vouchers.hash(&mut h);
        self.new_vouchers.hash(&mut h);
        // Refusal counters are observations for the day's figures, not state: a replay of the
        // accepted commands (the service's log) cannot and need not reproduce them.
        let t = &self.today;
        (t.incidents_reported, &t.scandals, t.appeals_filed, t.appeals_granted, t.appeals_rejected, t.promotions)
            .hash(&mut h);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;
    use crate::directory::StoredDirectory;

    /// An engine without a location index (as the simulator's at scale): one group of
    /// citizens 0-2, citizen 3 new and groupless, regrouped at the first close.
    fn unindexed() -> (Engine<StoredDirectory>, GroupId) {
        let mut p = Policy::default();
        p.groups.min_size = 2;
        p.groups.max_size = 10;
        p.sanction.regroup_after_days = 1;
        p.sanction.abstain_as = crate::policy::AbstainAs::Expel;
        let options = EngineOptions { index_citizens: false, ..EngineOptions::default() };
        let mut e = Engine::new(p.validate().unwrap(), StoredDirectory::new(), options);
        e.register_citizens(4).unwrap();
        let g = e.create_group().unwrap();
        for c in 0..3 {
            e.assign_group(CitizenId(c), g).unwrap();
        }
        (e, g)
    }

    /// A day in which `offender` (wherever they are) has an incident, driven group by group
    /// as an engine without an index must be. Returns the day's report and the incident.
    fn day_with_incident(e: &mut Engine<StoredDirectory>, offender: CitizenId) -> (DayReport, IncidentId) {
        let kind = e.rules.incident_kind_index("public_drunkenness").unwrap();
        let reported = std::sync::Mutex::new(None);
        let report = e.run_day(
            &crate::exec::Sequential,
            |g| {
                if let Some(slot) = g.members().iter().position(|m| { m.citizen } == offender) {
                    *reported.lock().unwrap() = Some(g.report_incident(slot, kind).unwrap());
                }
            },
            |g| {
                if let Some(i) = g.members().iter().position(|m| { m.member.citizen } == offender) {
                    *reported.lock().unwrap() = Some(g.report_incident(i, kind).unwrap());
                }
            },
        );
        (report, reported.into_inner().unwrap().expect("the offender is somewhere"))
    }

    #[test]
    fn the_regrouped_are_found_through_the_recent_joins_and_forgotten_after_a_while() {
        let (mut e, g) = unindexed();
        let c3 = CitizenId(3);
        // Reported while groupless (no report group), then regrouped at the same close.
        let (report, incident) = day_with_incident(&mut e, c3);
        assert_eq!(report.regrouped, 1);
        assert_eq!(e.incident(incident).unwrap().group, None);
        assert_eq!(e.recent_join(c3), Some((0, g.0)));
        assert_eq!(e.locate(c3), Ok(Location::Group { group: g.0, slot: 3 }));
        // The appeal finds them in their new group, and so does its decision.
        e.file_appeal(c3, incident).unwrap();
        assert_eq!(e.decide_appeal(incident, true).unwrap(), 10);
        assert_eq!(e.score(c3).unwrap(), 1000);
        // Expelled from the new group: the groupless list answers first, not the old hint.
        day_with_incident(&mut e, c3); // day 1: notices
        e.close_day(); // day 2: the tally expels; eligible again from day 3
        assert_eq!(e.group_of(c3).unwrap(), None);
        assert_eq!(e.recent_join(c3), Some((0, g.0)), "a stale hint, not consulted before the groupless");
        e.close_day(); // day 3: regrouped again
        assert_eq!(e.recent_join(c3), Some((3, g.0)), "the newest placement is listed last");
        assert_eq!(e.group_of(c3).unwrap(), Some(g));
        // Moves older than RECENT_JOIN_DAYS_MAX are forgotten; the scan still finds them.
        for _ in 0..RECENT_JOIN_DAYS_MAX {
            e.close_day();
        }
        assert!(e.recent_joins.is_empty(), "{:?}", e.recent_joins);
        assert_eq!(e.group_of(c3).unwrap(), Some(g));
    }

    #[test]
    fn an_indexed_engine_keeps_no_recent_joins() {
        let mut p = Policy::default();
        p.groups.min_size = 2;
        p.groups.max_size = 10;
        let mut e = Engine::new(p.validate().unwrap(), StoredDirectory::new(), EngineOptions::default());
        e.register_citizens(3).unwrap();
        let g = e.create_group().unwrap();
        e.assign_group(CitizenId(0), g).unwrap();
        assert_eq!(e.close_day().regrouped, 2);
        assert!(e.recent_joins.is_empty());
    }

    fn record(day: Day, citizen: u32, seq: u8) -> Incident {
        Incident {
            id: IncidentId { day, citizen: CitizenId(citizen), seq },
            kind: 0,
            day,
            group: Some(GroupId(citizen % 7)),
            penalty_applied: -10,
            source: IncidentSource::Camera,
            outcome: None,
            appeal: AppealStatus::NotAppealed,
        }
    }

    proptest::proptest! {
        /// Sorting a day's records and tallies, then handing the records to the book as one
        /// run, gives exactly what inserting and applying them group by group gave.
        #[test]
        fn merging_the_days_records_in_order_is_merging_them_group_by_group(
            kept in proptest::collection::btree_set((0u32..4, 0u32..60, 0u8..2), 0..80),
            batch in proptest::collection::btree_set((0u32..60, 0u8..2), 0..80),
            batch_day in 0u32..6,
            tallied in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..40),
            shuffle in proptest::prelude::any::<u64>(),
        ) {
            let (mut e, _) = unindexed();
            for &(day, citizen, seq) in &kept {
                e.incidents.insert(record(day, citizen, seq));
            }
            // The day's batch in some group order (ids unique, as a day's are), tagged with
            // groups; ids may fall before, among or after the records kept.
            let mut incidents: Vec<(u32, Incident)> =
                batch.iter().map(|&(citizen, seq)| (citizen % 7, record(batch_day, citizen, seq))).collect();
            let n = incidents.len();
            for i in (1..n).rev() {
                incidents.swap(i, (shuffle.wrapping_mul(i as u64 + 1) >> 7) as usize % (i + 1));
            }
            // Tallies of distinct records kept (and one of an unknown id, ignored).
            let kept_ids: Vec<IncidentId> = e.incidents.values().map(|x| x.id).collect();
            let mut ids: Vec<IncidentId> =
                tallied.iter().filter(|_| !kept_ids.is_empty()).map(|i| kept_ids[i.index(kept_ids.len())]).collect();
            ids.sort();
            ids.dedup();
            ids.push(IncidentId { day: 99, citizen: CitizenId(0), seq: 0 });
            let outcomes: Vec<(u32, (IncidentId, VoteOutcome))> = ids
                .iter()
                .enumerate()
                .rev()
                .map(|(k, &id)| (k as u32, (id, VoteOutcome { notified: k as u32, expel: 1, keep: 0, unanswered: 0, expelled: k % 2 == 0 })))
                .collect();

            let mut expected: BTreeMap<IncidentId, Incident> = e.incidents.values().map(|x| (x.id, x.clone())).collect();
            for (_, r) in &incidents {
                expected.insert(r.id, r.clone());
            }
            for (_, (id, o)) in &outcomes {
                if let Some(r) = expected.get_mut(id) {
                    r.outcome = Some(*o);
                }
            }
            let mut report = DayReport::default();
            e.merge_records((incidents, outcomes), &mut report);
            proptest::prop_assert_eq!(report.incidents_reported, n as u64);
            proptest::prop_assert_eq!(e.incidents.values().collect::<Vec<_>>(), expected.values().collect::<Vec<_>>());
            proptest::prop_assert_eq!(e.incidents.len(), expected.len());
        }
    }
}
