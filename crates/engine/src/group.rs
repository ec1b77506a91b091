//! A group's part of a day: its members' incidents, answers and orders, then its local
//! close (tally, deliver, settle, tiers).
//!
//! Everything here reads only the group itself and read-only context ([`Ctx`]), and writes
//! only the group and its [`GroupOut`] / [`DayAcc`]. That is what lets the engine hand the
//! groups of a day to any executor (one thread, a pool, a cluster) and get the same result.
//! The engine's id-addressed commands (the service's) call the same functions.

use crate::directory::Directory;
use crate::engine::{EngineOptions, OrderReceipt};
use crate::ids::{CitizenId, Day, GroupId, IncidentId, KolId, OrderId, ProductId, PromotionId, ReportId};
use crate::ledger::{Answer, Cause, LedgerEntry, LedgerMode, LedgerTotals};
use crate::policy::{AbstainAs, Restriction, Rules};
use crate::pricing;
use crate::refusal::Refusal;
use crate::state::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Read-only context of a day's work.
pub(crate) struct Ctx<'a, D> {
    pub rules: &'a Rules,
    pub options: EngineOptions,
    pub day: Day,
    pub directory: &'a D,
    pub products: &'a [Product],
    pub promotions: &'a crate::promotions::PromotionBook,
    pub kols: &'a [Kol],
    /// Vouchers usable today (issued before today), by holder.
    pub vouchers: &'a BTreeMap<CitizenId, Vec<Voucher>>,
}

/// Score changes not yet in the global histogram.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Shifts {
    /// Dense deltas per score offset (allocated on first use in a fold).
    dense: Vec<i64>,
    /// Or a short list of (from, to), for single commands.
    sparse: Vec<(u16, u16)>,
    is_dense: bool,
}

impl Shifts {
    pub fn dense() -> Shifts {
        Shifts { is_dense: true, ..Shifts::default() }
    }

    pub fn sparse() -> Shifts {
        Shifts::default()
    }

    fn shift(&mut self, from: u16, to: u16, range: usize) {
        if self.is_dense {
            if self.dense.is_empty() {
                self.dense = vec![0; range];
            }
            self.dense[from as usize] -= 1;
            self.dense[to as usize] += 1;
        } else {
            self.sparse.push((from, to));
        }
    }

    pub fn merge(&mut self, other: Shifts) {
        if other.dense.is_empty() {
            self.sparse.extend(other.sparse);
            return;
        }
        if self.dense.is_empty() {
            self.dense = other.dense;
        } else {
            for (a, b) in self.dense.iter_mut().zip(other.dense) {
                *a += b;
            }
        }
        self.sparse.extend(other.sparse);
    }

    pub fn apply(self, histogram: &mut crate::stats::ScoreHistogram) {
        for (from, to) in self.sparse {
            histogram.shift(from, to);
        }
        if !self.dense.is_empty() {
            histogram.apply_deltas(&self.dense);
        }
    }
}

/// What one group's day produced, merged by the engine in group order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct GroupOut {
    pub ledger: Vec<LedgerEntry>,
    pub incidents: Vec<Incident>,
    pub outcomes: Vec<(IncidentId, VoteOutcome)>,
    /// Points for notice recipients who are no longer in this group.
    pub external: Vec<(CitizenId, i32, Cause)>,
    /// Offenders expelled (already removed from the group's members).
    pub leaving: Vec<(IncidentId, Member)>,
    pub settled: Vec<SettledOrder>,
    /// Denunciations filed or decided today.
    pub reports: Vec<Report>,
    pub vouchers_issued: Vec<Voucher>,
    pub vouchers_used: Vec<(Voucher, OrderId)>,
}

impl GroupOut {
    pub fn is_empty(&self) -> bool {
        self.ledger.is_empty()
            && self.incidents.is_empty()
            && self.outcomes.is_empty()
            && self.external.is_empty()
            && self.leaving.is_empty()
            && self.settled.is_empty()
            && self.reports.is_empty()
            && self.vouchers_issued.is_empty()
            && self.vouchers_used.is_empty()
    }
}

/// Sums over groups (they combine the same way in any grouping) and per-group outputs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct DayAcc {
    pub shifts: Shifts,
    pub totals: LedgerTotals,
    pub notices_delivered: u64,
    pub answers_expel: u64,
    pub answers_keep: u64,
    pub answers_none: u64,
    pub orders: u64,
    pub units: u64,
    pub gmv: i64,
    pub discount_group: i64,
    pub discount_credit: i64,
    pub discount_voucher: i64,
    pub pools: u64,
    pub pools_by_tier: Vec<u64>,
    pub orders_refused_travel: u64,
    pub orders_refused_other: u64,
    pub denunciations: u64,
    pub denunciations_confirmed: u64,
    pub denunciations_rejected: u64,
    pub kol_units: Vec<u64>,
    /// Per-group outputs, tagged with the group index (u32::MAX: the groupless).
    pub outs: Outs,
    /// A worker's buffers for the group at hand, emptied into `outs` after each group.
    #[serde(skip)]
    pub scratch: GroupOut,
    /// A worker's spare [`GroupToday`], lent to each group for its day and taken back at
    /// its close: the day's orders then grow in a buffer already grown by earlier groups,
    /// instead of from nothing in every group every day (docs/BENCHMARKS.md, "The day's
    /// lists lent from group to group").
    #[serde(skip)]
    pub spare_today: Option<Box<GroupToday>>,
}

/// What the groups of a day produced, kept flat: one list per kind, each item tagged with
/// its group's index. A group's own [`GroupOut`] would cost nine list headers (216 B) and
/// their allocations for every group with anything to report, which at China scale is
/// millions of groups a day; these lists hold only the items.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Outs {
    ledger: Vec<(u32, LedgerEntry)>,
    incidents: Vec<(u32, Incident)>,
    outcomes: Vec<(u32, (IncidentId, VoteOutcome))>,
    external: Vec<(u32, (CitizenId, i32, Cause))>,
    leaving: Vec<(u32, (IncidentId, Member))>,
    settled: Vec<(u32, SettledOrder)>,
    reports: Vec<(u32, Report)>,
    vouchers_issued: Vec<(u32, Voucher)>,
    vouchers_used: Vec<(u32, (Voucher, OrderId))>,
}

/// A day's incident records and tallies, each tagged with its group's index.
pub(crate) type DayRecords = (Vec<(u32, Incident)>, Vec<(u32, (IncidentId, VoteOutcome))>);

/// Calls `$m!(field)` for every list of [`Outs`] (and of [`GroupOut`], same names).
macro_rules! each_out {
    ($m:ident) => {
        $m!(ledger);
        $m!(incidents);
        $m!(outcomes);
        $m!(external);
        $m!(leaving);
        $m!(settled);
        $m!(reports);
        $m!(vouchers_issued);
        $m!(vouchers_used);
    };
}

impl Outs {
    /// Moves a group's outputs here (leaving `out` empty, its capacity kept for the next).
    pub fn absorb(&mut self, group: u32, out: &mut GroupOut) {
        macro_rules! absorb {
            ($f:ident) => {
                self.$f.extend(out.$f.drain(..).map(|x| (group, x)))
            };
        }
        each_out!(absorb);
    }

    pub fn append(&mut self, mut other: Outs) {
        macro_rules! append {
            ($f:ident) => {
                if self.$f.is_empty() {
                    self.$f = std::mem::take(&mut other.$f);
                } else {
                    self.$f.append(&mut other.$f);
                }
            };
        }
        each_out!(append);
    }

    /// Takes the day's incident records and tallies out (still tagged with their group),
    /// to be merged into the engine's records in one sorted pass rather than group by
    /// group (see `Engine::merge_records`).
    pub fn take_records(&mut self) -> DayRecords {
        (std::mem::take(&mut self.incidents), std::mem::take(&mut self.outcomes))
    }

    /// Yields each group's outputs in increasing group order; within a group and a kind,
    /// in the order they were produced (the sort is stable).
    pub fn into_groups(mut self) -> impl Iterator<Item = (u32, GroupOut)> {
        // Sorted, then reversed: each list pops its lowest group's items from its end, in
        // the order they were produced.
        macro_rules! prepare {
            ($f:ident) => {
                self.$f.sort_by_key(|(g, _)| *g);
                self.$f.reverse();
            };
        }
        each_out!(prepare);
        std::iter::from_fn(move || {
            let mut next: Option<u32> = None;
            macro_rules! lowest {
                ($f:ident) => {
                    if let Some(&(g, _)) = self.$f.last() {
                        next = Some(next.map_or(g, |n| n.min(g)));
                    }
                };
            }
            each_out!(lowest);
            let group = next?;
            let mut out = GroupOut::default();
            macro_rules! take {
                ($f:ident) => {
                    while self.$f.last().is_some_and(|(g, _)| *g == group) {
                        out.$f.push(self.$f.pop().expect("just seen").1);
                    }
                };
            }
            each_out!(take);
            Some((group, out))
        })
    }
}

impl DayAcc {
    pub fn new(rules: &Rules, kols: usize, dense: bool) -> DayAcc {
        DayAcc {
            shifts: if dense { Shifts::dense() } else { Shifts::sparse() },
            pools_by_tier: vec![0; rules.group_discounts_bp.len() + 1],
            kol_units: vec![0; kols],
            ..DayAcc::default()
        }
    }

    pub fn merge(mut self, other: DayAcc) -> DayAcc {
        self.shifts.merge(other.shifts);
        self.totals.merge(&other.totals);
        self.notices_delivered += other.notices_delivered;
        self.answers_expel += other.answers_expel;
        self.answers_keep += other.answers_keep;
        self.answers_none += other.answers_none;
        self.orders += other.orders;
        self.units += other.units;
        self.gmv += other.gmv;
        self.discount_group += other.discount_group;
        self.discount_credit += other.discount_credit;
        self.discount_voucher += other.discount_voucher;
        self.pools += other.pools;
        if self.pools_by_tier.len() < other.pools_by_tier.len() {
            self.pools_by_tier.resize(other.pools_by_tier.len(), 0);
        }
        for (x, y) in self.pools_by_tier.iter_mut().zip(other.pools_by_tier) {
            *x += y;
        }
        self.orders_refused_travel += other.orders_refused_travel;
        self.orders_refused_other += other.orders_refused_other;
        self.denunciations += other.denunciations;
        self.denunciations_confirmed += other.denunciations_confirmed;
        self.denunciations_rejected += other.denunciations_rejected;
        if self.kol_units.len() < other.kol_units.len() {
            self.kol_units.resize(other.kol_units.len(), 0);
        }
        for (x, y) in self.kol_units.iter_mut().zip(other.kol_units) {
            *x += y;
        }
        self.outs.append(other.outs);
        self
    }
}

/// Applies a score change to one member; records it in the ledger (or its totals).
pub(crate) fn change_member_score<D>(
    ctx: &Ctx<D>,
    member: &mut Member,
    requested: i32,
    cause: Cause,
    ledger: &mut Vec<LedgerEntry>,
    totals: &mut LedgerTotals,
    shifts: &mut Shifts,
) -> i32 {
    let range = (ctx.rules.policy.score_max - ctx.rules.policy.score_min) as i64;
    let old = member.score_offset();
    let new = (old as i64 + requested as i64).clamp(0, range) as u16;
    member.set_score_offset(new);
    if new != old {
        member.mark_score_changed();
        shifts.shift(old, new, range as usize + 1);
    }
    let delta = new as i32 - old as i32;
    let entry = LedgerEntry { day: ctx.day, citizen: member.citizen, delta, requested, cause };
    totals.add(&entry);
    if ctx.options.ledger == LedgerMode::Full {
        ledger.push(entry);
    }
    delta
}

/// Reports an incident against `member` (already located); `seq` is how many incidents
/// this citizen already had reported today.
#[allow(clippy::too_many_arguments)]
pub(crate) fn report_incident_at<D>(
    ctx: &Ctx<D>,
    member: &mut Member,
    group: Option<GroupId>,
    today: &mut GroupToday,
    seq: u32,
    kind: u8,
    incident_day: Day,
    source: IncidentSource,
    out: &mut GroupOut,
    acc: &mut DayAcc,
) -> Result<IncidentId, Refusal> {
    let kinds = &ctx.rules.policy.incident_kinds;
    let Some(spec) = kinds.get(kind as usize) else {
        return Err(Refusal::UnknownIncidentKind {
            kind: kind.to_string(),
            known: kinds.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", "),
        });
    };
    if incident_day > ctx.day {
        return Err(Refusal::IncidentInFuture { incident_day, today: ctx.day });
    }
    let max = crate::engine::INCIDENTS_PER_CITIZEN_PER_DAY_MAX;
    if seq >= max {
        return Err(Refusal::TooManyIncidents { citizen: member.citizen, max });
    }
    let id = IncidentId { day: ctx.day, citizen: member.citizen, seq: seq as u8 };
    let penalty = spec.penalty as i32;
    let applied = change_member_score(
        ctx,
        member,
        -penalty,
        Cause::Incident { incident: id },
        &mut out.ledger,
        &mut acc.totals,
        &mut acc.shifts,
    );
    today.incidents.push(TodayIncident { id, kind });
    // Most groups report one incident a day or none, and every group's records wait for
    // the day's end: one slot, not the four a first push would take (~1 B a citizen).
    out.incidents.reserve_exact(1);
    out.incidents.push(Incident {
        id,
        kind,
        day: incident_day,
        group,
        penalty_applied: applied,
        source,
        outcome: None,
        appeal: AppealStatus::NotAppealed,
    });
    Ok(id)
}

/// Checks and builds an order by `member` (already located); `placed` is how many orders
/// they already placed today.
// Every argument is a distinct piece of the day being checked; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_order_at<D: Directory>(
    ctx: &Ctx<D>,
    member: &Member,
    group: Option<GroupId>,
    today: &GroupToday,
    placed: u32,
    product: ProductId,
    units: u32,
    via: Option<KolId>,
) -> Result<Order, Refusal> {
    let citizen = member.citizen;
    let Some(p) = ctx.products.get(product.index()) else { return Err(Refusal::UnknownProduct { product }) };
    let max_units = ctx.rules.policy.orders.max_units_per_order;
    if units == 0 || units > max_units {
        return Err(Refusal::InvalidUnits { units, max: max_units });
    }
    if placed >= ctx.rules.policy.orders.max_orders_per_day {
        return Err(Refusal::TooManyOrders { citizen, max: ctx.rules.policy.orders.max_orders_per_day });
    }
    if let Some(kol) = via {
        if kol.index() >= ctx.kols.len() {
            return Err(Refusal::UnknownKol { kol });
        }
        if !ctx.promotions.contains(&PromotionId { day: ctx.day, kol, product }) {
            return Err(Refusal::PromotionNotActive { kol, product });
        }
        if !ctx.directory.follows(citizen, kol) {
            return Err(Refusal::NotFollowing { citizen, kol });
        }
    }
    let tier = ctx.rules.tier(member.tier());
    if p.travel && tier.restrictions.contains(Restriction::Travel) {
        let score = ctx.rules.policy.score_min + member.score_offset() as i32;
        return Err(Refusal::TravelBanned {
            citizen,
            tier: tier.name.clone(),
            score,
            score_needed: ctx.rules.travel_score_needed(score).unwrap_or(i32::MAX),
        });
    }
    let credit_discount_bp = if ctx.directory.is_favourite(citizen, product) { tier.favourite_discount_bp } else { 0 };
    // The citizen's oldest voucher not yet used today goes on this order.
    let voucher = ctx.vouchers.get(&citizen).and_then(|held| {
        held.iter()
            .find(|v| v.expires >= ctx.day && !today.orders.iter().any(|o| o.voucher.is_some_and(|u| u.id == v.id)))
            .copied()
    });
    Ok(Order {
        id: OrderId { day: ctx.day, citizen, seq: placed as u16 },
        product,
        units,
        group,
        credit_discount_bp,
        promotion: via,
        voucher,
    })
}

/// Units in a pool today: the group's orders for the product.
pub(crate) fn pool_units_in(today: &GroupToday, product: ProductId) -> u64 {
    today.orders.iter().filter(|o| o.product == product).map(|o| o.units as u64).sum()
}

/// What an order would cost if the day closed with `pool_units` in its pool.
pub(crate) fn receipt<D>(ctx: &Ctx<D>, order: &Order, pool_units: u64) -> OrderReceipt {
    let product = &ctx.products[order.product.index()];
    let (group_bp, _) = if order.group.is_some() { ctx.rules.group_discount(pool_units) } else { (0, 0) };
    let mut price =
        pricing::unit_price(product.list_price, group_bp, order.credit_discount_bp, ctx.rules.max_discount_bp);
    if let Some(v) = order.voucher {
        price = price.with_voucher(v.discount_bp);
    }
    OrderReceipt {
        order: order.id,
        provisional: price,
        provisional_total: price.unit_price * order.units as i64,
        pool_units: if order.group.is_some() { pool_units } else { 0 },
        next_tier: if order.group.is_some() { ctx.rules.next_group_discount(pool_units) } else { None },
    }
}

/// Counts a refused order in the day's figures.
pub(crate) fn count_refusal(refusal: &Refusal, acc: &mut DayAcc) {
    if matches!(refusal, Refusal::TravelBanned { .. }) {
        acc.orders_refused_travel += 1;
    } else if !refusal.is_not_found() {
        acc.orders_refused_other += 1;
    }
}

/// Files a denunciation by the member in `denouncer` against the member in `accused`
/// (same group); `filed` is how many the denouncer already filed today.
// Every argument is a distinct piece of the day being checked; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn denounce_at<D>(
    ctx: &Ctx<D>,
    members: &[Member],
    today: &mut GroupToday,
    denouncer: usize,
    accused: usize,
    kind: u8,
    incident_day: Day,
    acc: &mut DayAcc,
) -> Result<ReportId, Refusal> {
    let policy = &ctx.rules.policy.denunciation;
    if !policy.enabled {
        return Err(Refusal::DenunciationDisabled);
    }
    let (who, whom) = (members[denouncer].citizen, members[accused].citizen);
    if who == whom {
        return Err(Refusal::SelfReport { citizen: who });
    }
    let kinds = &ctx.rules.policy.incident_kinds;
    if kind as usize >= kinds.len() {
        return Err(Refusal::UnknownIncidentKind {
            kind: kind.to_string(),
            known: kinds.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", "),
        });
    }
    if incident_day > ctx.day {
        return Err(Refusal::IncidentInFuture { incident_day, today: ctx.day });
    }
    let filed = today.reports.iter().filter(|r| r.id.citizen == who).count() as u32;
    if filed >= policy.max_reports_per_day {
        return Err(Refusal::TooManyReports { citizen: who, max: policy.max_reports_per_day });
    }
    let id = ReportId { day: ctx.day, citizen: who, seq: filed as u8 };
    today.reports.push(Report { id, accused: whom, kind, day: incident_day, status: ReportStatus::Pending });
    acc.denunciations += 1;
    Ok(id)
}

/// Decides a denunciation filed today in this group (both citizens are members): a
/// confirmed one becomes an incident against the accused and pays the denouncer; a
/// rejected one may cost them points.
pub(crate) fn decide_report_at<D>(
    ctx: &Ctx<D>,
    gid: GroupId,
    group: &mut Group,
    report: ReportId,
    confirmed: bool,
    out: &mut GroupOut,
    acc: &mut DayAcc,
) -> Result<Option<IncidentId>, Refusal> {
    let Some(r) = group.today.reports.iter().position(|r| r.id == report) else {
        return Err(Refusal::UnknownReport { report });
    };
    if group.today.reports[r].status != ReportStatus::Pending {
        return Err(Refusal::ReportAlreadyDecided { report });
    }
    let found = group.today.reports[r];
    let (Some(denouncer), Some(accused)) = (group.slot(found.id.citizen), group.slot(found.accused)) else {
        return Err(Refusal::NotInYourGroup { citizen: found.id.citizen, accused: found.accused });
    };
    let policy = &ctx.rules.policy.denunciation;
    if !confirmed {
        group.today.reports[r].status = ReportStatus::Rejected { decided: ctx.day };
        acc.denunciations_rejected += 1;
        if policy.false_report_penalty > 0 {
            let cause = Cause::FalseReport { report };
            let penalty = -(policy.false_report_penalty as i32);
            change_member_score(
                ctx,
                &mut group.members[denouncer],
                penalty,
                cause,
                &mut out.ledger,
                &mut acc.totals,
                &mut acc.shifts,
            );
        }
        return Ok(None);
    }
    let seq = group.today.incidents.iter().filter(|i| i.id.citizen == found.accused).count() as u32;
    let source = IncidentSource::Denunciation { report };
    let incident = report_incident_at(
        ctx,
        &mut group.members[accused],
        Some(gid),
        &mut group.today,
        seq,
        found.kind,
        found.day,
        source,
        out,
        acc,
    )?;
    group.today.reports[r].status = ReportStatus::Confirmed { incident, decided: ctx.day };
    acc.denunciations_confirmed += 1;
    reward_denouncer(ctx, &mut group.members[denouncer], report, incident, out, acc);
    Ok(Some(incident))
}

/// Pays a denouncer for a confirmed report: points and a voucher (issued at the close).
pub(crate) fn reward_denouncer<D>(
    ctx: &Ctx<D>,
    denouncer: &mut Member,
    report: ReportId,
    incident: IncidentId,
    out: &mut GroupOut,
    acc: &mut DayAcc,
) {
    let policy = &ctx.rules.policy.denunciation;
    if policy.reward_points > 0 {
        let cause = Cause::DenunciationReward { report, incident };
        change_member_score(
            ctx,
            denouncer,
            policy.reward_points as i32,
            cause,
            &mut out.ledger,
            &mut acc.totals,
            &mut acc.shifts,
        );
    }
    if ctx.rules.voucher_bp > 0 {
        out.vouchers_issued.push(Voucher {
            id: incident,
            holder: denouncer.citizen,
            discount_bp: ctx.rules.voucher_bp,
            expires: ctx.day.saturating_add(policy.voucher_days),
        });
    }
}

/// Records an answer to the `index`-th recipient of an open notice.
/// `members` are the batch's group's members now.
pub(crate) fn answer_at(
    batch: &mut NoticeBatch,
    members: &[Member],
    day: Day,
    index: usize,
    answer: Answer,
) -> Result<(), Refusal> {
    if batch.deadline < day {
        return Err(Refusal::DeadlinePassed { incident: batch.incident, deadline: batch.deadline });
    }
    if batch.answers.get(index) != AnswerSlot::None {
        let citizen = batch.recipient(members, index);
        return Err(Refusal::AlreadyAnswered { incident: batch.incident, citizen });
    }
    batch.answers.set(index, answer.into());
    Ok(())
}

/// The local close of one group (steps 1–3 and 5 of `Engine::close_day`):
/// tally due notices and remove the offenders the quorum expels; deliver notices about
/// today's incidents; settle today's pools; recompute changed tiers.
pub(crate) fn close_group<D>(ctx: &Ctx<D>, gid: GroupId, group: &mut Group, out: &mut GroupOut, acc: &mut DayAcc) {
    tally(ctx, group, out, acc);
    deliver(ctx, group, acc);
    if let Some(today) = group.today.allocated_mut() {
        settle(ctx, &mut today.orders, out, acc);
        today.incidents.clear();
        out.reports.append(&mut today.reports);
    }
    // Empty now (settled, delivered, handed on): back to the worker for the next group.
    group.today.take_back(&mut acc.spare_today);
    group.today.release_if_empty();
    recompute_tiers(ctx.rules, group.members.iter_mut());
    debug_assert!(group.members.len() as u32 <= ctx.rules.policy.groups.max_size, "{gid} exceeds max_size");
}

fn tally<D>(ctx: &Ctx<D>, group: &mut Group, out: &mut GroupOut, acc: &mut DayAcc) {
    if group.open.iter().all(|b| b.deadline > ctx.day) {
        return;
    }
    let sanction = &ctx.rules.policy.sanction;
    let open = std::mem::take(&mut group.open);
    let mut expel: Vec<(IncidentId, CitizenId)> = Vec::new();
    for batch in open {
        if batch.deadline > ctx.day {
            group.open.push(batch);
            continue;
        }
        let mut outcome = VoteOutcome { notified: batch.len() as u32, ..VoteOutcome::default() };
        let mut expel_votes = 0u64;
        // Members' ids do not change below (scores do): the recipients are read up front
        // when written out, and the roster is checked once when they are not.
        batch.check_roster(&group.members);
        let listed: Vec<CitizenId> =
            if batch.is_listed() { batch.recipients(&group.members).collect() } else { Vec::new() };
        // Unlisted: the recipients are the members but the offender (at this slot, if any).
        let roster = (!batch.is_listed()).then(|| group.slot(batch.offender));
        // Recipients and members are both sorted by id: walk them together.
        let mut slot = 0usize;
        for (i, answer_slot) in batch.answers.iter().enumerate() {
            match answer_slot {
                AnswerSlot::Expel => outcome.expel += 1,
                AnswerSlot::Keep => outcome.keep += 1,
                AnswerSlot::None => outcome.unanswered += 1,
            }
            let (answer, abstained) = match answer_slot.answer() {
                Some(a) => (a, false),
                None => match sanction.abstain_as {
                    AbstainAs::Keep => (Answer::Keep, true),
                    AbstainAs::Expel => (Answer::Expel, true),
                    AbstainAs::None => continue,
                },
            };
            let requested = match answer {
                Answer::Expel => {
                    expel_votes += 1;
                    sanction.expel_reward as i32
                }
                Answer::Keep => -(sanction.keep_penalty as i32),
            };
            let cause = Cause::Vote { incident: batch.incident, answer, abstained };
            let recipient = match roster {
                Some(offender) => {
                    slot = i + offender.is_some_and(|o| o <= i) as usize;
                    group.members[slot].citizen
                }
                None => {
                    let recipient = listed[i];
                    while slot < group.members.len() && { group.members[slot].citizen } < recipient {
                        slot += 1;
                    }
                    recipient
                }
            };
            if slot < group.members.len() && { group.members[slot].citizen } == recipient {
                let member = &mut group.members[slot];
                change_member_score(ctx, member, requested, cause, &mut out.ledger, &mut acc.totals, &mut acc.shifts);
            } else {
                // The recipient left the group since the notice went out (an operator moved them).
                out.external.push((recipient, requested, cause));
            }
        }
        outcome.expelled = ctx.rules.quorum_reached(expel_votes, outcome.notified as u64);
        acc.answers_expel += outcome.expel as u64;
        acc.answers_keep += outcome.keep as u64;
        acc.answers_none += outcome.unanswered as u64;
        group.history.votes += 1;
        if outcome.expelled {
            expel.push((batch.incident, batch.offender));
        }
        out.outcomes.push((batch.incident, outcome));
    }
    // Expulsions after every tally of the day, so all votes were cast by the same members.
    expel.sort();
    for (incident, offender) in expel {
        match group.slot(offender) {
            Some(slot) => {
                let member = group.remove_member(slot);
                group.history.expulsions += 1;
                out.leaving.push((incident, member));
            }
            None => {
                // Already expelled by another of today's incidents (or moved): the vote stands.
                if let Some((_, o)) = out.outcomes.iter_mut().find(|(i, _)| *i == incident) {
                    o.expelled = false;
                }
            }
        }
    }
}

fn deliver<D>(ctx: &Ctx<D>, group: &mut Group, acc: &mut DayAcc) {
    if group.today.incidents.is_empty() {
        return;
    }
    // Taken, not cleared: a group keeping its busiest day's buffer costs ~0.3 B a citizen
    // at China scale, where most groups see an incident every few days.
    let mut reported = std::mem::take(&mut group.today.incidents);
    reported.sort_unstable_by_key(|i| i.id); // ids are unique
    group.open.reserve_exact(reported.len());
    for incident in &reported {
        let batch = NoticeBatch::to_roster(incident.id, ctx.day + 1, &group.members);
        acc.notices_delivered += batch.len() as u64;
        group.open.push(batch);
    }
}

/// Settles a day's orders: pool units per product select the tier; every order pays.
pub(crate) fn settle<D>(ctx: &Ctx<D>, orders: &mut Vec<Order>, out: &mut GroupOut, acc: &mut DayAcc) {
    if orders.is_empty() {
        return;
    }
    // Only the settled orders kept as history and the vouchers used are written out one by
    // one; everything else is a sum over the pool, the same in any order. Without them
    // the orders are put in pools only (a sort on two fields instead of five: ~4 % of a
    // simulated day went to this sort, docs/BENCHMARKS.md).
    if ctx.options.keep_history || orders.iter().any(|o| o.voucher.is_some()) {
        // Order ids are unique (a citizen's `seq` counts their orders of the day), so the
        // keys are distinct and an unstable sort gives the one order a stable sort would.
        let key = |o: &Order| (o.group, o.product, o.id);
        orders.sort_unstable_by_key(key);
        debug_assert!(orders.windows(2).all(|w| key(&w[0]) < key(&w[1])));
    } else {
        orders.sort_unstable_by_key(|o| (o.group, o.product));
    }
    let rules = ctx.rules;
    let mut start = 0;
    while start < orders.len() {
        let (group, product) = (orders[start].group, orders[start].product);
        let mut end = start;
        while end < orders.len() && orders[end].group == group && orders[end].product == product {
            end += 1;
        }
        // A groupless citizen's order is its own "pool" of one, at the list price.
        let pooled = group.is_some();
        let pool_units: u64 = orders[start..end].iter().map(|o| o.units as u64).sum();
        let (group_bp, pool_tier) = if pooled { rules.group_discount(pool_units) } else { (0, 0) };
        if pooled {
            acc.pools += 1;
            acc.pools_by_tier[pool_tier as usize] += 1;
        }
        let list_price = ctx.products[product.index()].list_price;
        for order in &orders[start..end] {
            let mut price = pricing::unit_price(list_price, group_bp, order.credit_discount_bp, rules.max_discount_bp);
            if let Some(v) = order.voucher {
                price = price.with_voucher(v.discount_bp);
                out.vouchers_used.push((v, order.id));
                acc.discount_voucher += price.voucher_discount * order.units as i64;
            }
            let units = order.units as i64;
            acc.orders += 1;
            acc.units += order.units as u64;
            acc.gmv += price.unit_price * units;
            acc.discount_group += price.group_discount * units;
            acc.discount_credit += price.credit_discount * units;
            if let Some(kol) = order.promotion {
                acc.kol_units[kol.index()] += order.units as u64;
            }
            if ctx.options.keep_history {
                out.settled.push(SettledOrder {
                    order: order.clone(),
                    pool_units: if pooled { pool_units } else { 0 },
                    pool_tier,
                    price,
                    total: price.unit_price * units,
                });
            }
        }
        start = end;
    }
    // Emptied, capacity kept: the list belongs to the box the worker lends to each group in
    // turn (`DayAcc::spare_today`), never to a group between days. A group kept its busiest
    // day's buffer once (measured: up to ~40 B a citizen after a year with shopping
    // festivals); re-growing it for every group cost a handful of allocations a group a day.
    orders.clear();
}

/// Asks the processor to start bringing `items` into its caches, a hint that changes no
/// result. A group's members are first read at random slots (the day's buyers), and a
/// group's list is rarely in any cache when its day starts: fetched line after line as
/// they were asked for, the misses came one after the other (docs/BENCHMARKS.md, "A
/// group's members fetched before its day").
#[inline]
pub(crate) fn prefetch<T>(items: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        const LINE: usize = 64;
        let start = items.as_ptr().cast::<i8>();
        let bytes = std::mem::size_of_val(items);
        let mut offset = 0;
        while offset < bytes {
            // SAFETY: a prefetch never faults nor writes, and the address is inside `items`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset)) };
            offset += LINE;
        }
        if bytes > 0 {
            // The last line, when the list does not start on a line's boundary.
            // SAFETY: as above.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(bytes - 1)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = items;
}

/// Gives every member whose score changed the tier of their new score.
pub(crate) fn recompute_tiers<'m>(rules: &Rules, members: impl Iterator<Item = &'m mut Member>) {
    let score_min = rules.policy.score_min;
    for m in members {
        if m.score_changed() {
            m.set_tier(rules.tier_index(score_min + m.score_offset() as i32));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(citizen: u32) -> IncidentId {
        IncidentId { day: 0, citizen: CitizenId(citizen), seq: 0 }
    }

    fn entry(citizen: u32, delta: i32) -> LedgerEntry {
        LedgerEntry {
            day: Default::default(),
            citizen: CitizenId(citizen),
            delta,
            requested: delta,
            cause: Cause::Incident { incident: incident(7) },
        }
    }

    #[test]
    fn flat_outputs_come_back_group_by_group_in_the_order_produced() {
        // Two workers' accumulators, merged in order; groups interleave across kinds.
        let mut left = Outs::default();
        let mut out = GroupOut {
            ledger: vec![entry(1, -3), entry(2, 3)],
            external: vec![(CitizenId(9), 3, Cause::Incident { incident: incident(1) })],
            ..GroupOut::default()
        };
        left.absorb(5, &mut out);
        assert!(out.is_empty(), "absorb empties the scratch");
        out.ledger = vec![entry(3, 1)];
        left.absorb(2, &mut out);
        let mut right = Outs::default();
        out.ledger = vec![entry(4, 2), entry(5, 2)];
        right.absorb(u32::MAX, &mut out);
        out.external = vec![(CitizenId(8), -3, Cause::Incident { incident: incident(2) })];
        right.absorb(2, &mut out);
        out.ledger = vec![entry(6, -1)];
        right.absorb(5, &mut out);
        left.append(right);

        let groups: Vec<(u32, GroupOut)> = left.into_groups().collect();
        let order: Vec<u32> = groups.iter().map(|(g, _)| *g).collect();
        assert_eq!(order, vec![2, 5, u32::MAX]);
        let ids = |o: &GroupOut| o.ledger.iter().map(|e| e.citizen.0).collect::<Vec<_>>();
        assert_eq!(ids(&groups[0].1), vec![3]);
        assert_eq!(groups[0].1.external.len(), 1);
        assert_eq!(ids(&groups[1].1), vec![1, 2, 6], "within a group, in the order produced");
        assert_eq!(groups[1].1.external[0].0, CitizenId(9));
        assert_eq!(ids(&groups[2].1), vec![4, 5]);
        assert!(groups.iter().all(|(_, o)| o.incidents.is_empty() && o.leaving.is_empty()));
    }
}
