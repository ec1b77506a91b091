//! What synthetic citizens do on a day: incidents (cameras and courts), answers to
//! notices, orders. Pure functions of the start-of-day state and of draws keyed by
//! (seed, stream, day, entity): the same plan whichever driver applies it and whatever
//! the thread count.

use crate::population::{Catalogue, GroupState, Kols, PROPENSITY_UNIT, People};
use crate::world::{VotingConfig, VotingModel, WorldConfig};
use rayon::prelude::*;
use xinyong_engine::{
    Answer, CitizenId, Day, GroupHistory, GroupId, GrouplessMember, IncidentId, KolId, Member, NoticeBatch, ProductId,
    Restriction, Rules,
};
use xinyong_random::math::{self, LogisticTable};
use xinyong_random::{Draws, Paired, PoissonTable, Prefix, Stream, dist::gamma, dist::poisson};

/// A group's (or the groupless') actions for a day, addressed by member slot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// (slot, incident kind, whether the citizen did nothing).
    pub incidents: Vec<(usize, u8, bool)>,
    /// (open notice index, recipient index, answer).
    pub answers: Vec<(usize, usize, Answer)>,
    /// (slot, product, units, bought in place through this KOL).
    pub orders: Vec<(usize, ProductId, u32, Option<KolId>)>,
    /// Denunciations, decided the same day by the confirmation model.
    pub denunciations: Vec<Denunciation>,
}

impl Plan {
    /// Empties every list, keeping its capacity (a worker reuses one plan for its groups).
    pub fn clear(&mut self) {
        self.incidents.clear();
        self.answers.clear();
        self.orders.clear();
        self.denunciations.clear();
    }
}

/// One citizen's report against a group-mate, and how it will be decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denunciation {
    pub denouncer: usize,
    pub accused: usize,
    pub kind: u8,
    /// The accused did nothing (a malicious report).
    pub innocent: bool,
    pub confirmed: bool,
}

/// Precomputed per (tier, score) parts of the voting model.
#[derive(Clone, Debug)]
pub struct VoteTables {
    /// `points[tier][score_offset]`: log-odds added because the points matter to the voter.
    points: Vec<Vec<f64>>,
    logistic: LogisticTable,
    /// Extra units per order.
    units: PoissonTable,
}

impl VoteTables {
    pub fn new(world: &WorldConfig, rules: &Rules) -> VoteTables {
        let v = &world.voting;
        let range = (rules.policy.score_max - rules.policy.score_min) as usize + 1;
        let points = (0..rules.tiers.len())
            .map(|t| {
                let tier = &rules.tiers[t];
                (0..range)
                    .map(|offset| {
                        let score = rules.policy.score_min + offset as i32;
                        // Close to a tier boundary, up or down, the points matter.
                        let gap_down = (score - tier.min_score + 1) as f64;
                        let gap_up = if t > 0 { (rules.tiers[t - 1].min_score - score) as f64 } else { f64::INFINITY };
                        let mut z = v.boundary_weight * math::exp(-gap_up.min(gap_down).max(0.0) / v.boundary_scale);
                        // A voter banned from travel wants out, the more so the closer the exit.
                        if tier.restrictions.contains(Restriction::Travel)
                            && let Some(needed) = rules.travel_score_needed(score)
                        {
                            z += v.banned_weight * math::exp(-((needed - score) as f64) / (5.0 * v.boundary_scale));
                        }
                        z
                    })
                    .collect()
            })
            .collect();
        VoteTables {
            points,
            logistic: LogisticTable::new(),
            units: PoissonTable::new(world.commerce.extra_units_mean.min(16.0)),
        }
    }
}

/// Everything the behaviour models read: the world, the catalogue, today's promotions.
pub struct Behaviour<'a> {
    pub seed: u64,
    pub day: Day,
    pub world: &'a WorldConfig,
    pub rules: &'a Rules,
    pub catalogue: &'a Catalogue,
    pub kols_info: &'a Kols,
    pub kind_weights: &'a [f64],
    pub debtor_kind: u8,
    /// Each KOL's offer today, by place ([`crate::population::Kols::place`]).
    pub offers: &'a [Offer],
    pub campaign_multiplier: f64,
    pub votes: &'a VoteTables,
    pub keys: DayKeys,
}

/// What a KOL offers its followers today: its first promoted product (`u32::MAX`: none)
/// and its credibility as the day starts (the engine changes it only at the close).
///
/// Kept side by side, 16 B a KOL, because a follower's order reads both for a KOL drawn at
/// random: from the engine's KOL records (56 B each, 39 MB at China scale) the credibility
/// was a cache miss of its own (docs/BENCHMARKS.md, "A KOL's offer in one place"). Listed
/// by place (topic, then popularity rank), with the KOL's id, so that the draw's rank finds
/// the offer without the topic's list of KOLs, and the most followed KOLs' offers, side by
/// side, stay in the caches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Offer {
    pub kol: KolId,
    pub product: ProductId,
    pub credibility: f64,
}

/// The day's key prefixes (seed, stream, day), hashed once per day.
#[derive(Clone, Copy, Debug)]
pub struct DayKeys {
    incident: Prefix,
    false_identification: Prefix,
    vote: Prefix,
    tie: Prefix,
    deal: Prefix,
    order: Prefix,
    denunciation: Prefix,
    confirmation: Prefix,
    /// Who is a malicious denouncer: fixed for the run (no day in the key).
    malicious: Prefix,
}

/// The `day` part of keys that hold for the whole run (beyond any simulated day).
const STATIC_DAY: u64 = 1 << 40;

impl DayKeys {
    pub fn new(seed: u64, day: Day) -> DayKeys {
        let d = day as u64;
        DayKeys {
            incident: Prefix::new(seed, Stream::Incident, d),
            false_identification: Prefix::new(seed, Stream::FalseIdentification, d),
            vote: Prefix::new(seed, Stream::Vote, d),
            tie: Prefix::new(seed, Stream::Tie, 0),
            deal: Prefix::new(seed, Stream::Deal, d),
            order: Prefix::new(seed, Stream::Order, d),
            denunciation: Prefix::new(seed, Stream::Denunciation, d),
            confirmation: Prefix::new(seed, Stream::Confirmation, d),
            malicious: Prefix::new(seed, Stream::Denunciation, STATIC_DAY),
        }
    }
}

impl<'a> Behaviour<'a> {
    fn random_kind(&self, draws: &mut Draws) -> u8 {
        draws.weighted_index(self.kind_weights) as u8
    }

    /// A group's day: detected misconduct and court reports, false identifications,
    /// answers to the notices due today, the group's deal and individual orders.
    ///
    /// The plan is emptied first, so that a worker can reuse its lists from group to
    /// group: grown anew for every group, they were blocks of the mid-sized heap taken and
    /// given back millions of times a day, and the heap's lock was where the workers most
    /// often slept (docs/BENCHMARKS.md).
    #[allow(clippy::too_many_arguments)]
    pub fn plan_group_into(
        &self,
        gid: GroupId,
        members: &[Member],
        open: &[NoticeBatch],
        history: GroupHistory,
        people: &People,
        state: &GroupState,
        plan: &mut Plan,
    ) {
        let d = self.day;
        let world = self.world;
        plan.clear();
        if !members.is_empty() {
            // Cameras: detected misconduct, the offender in proportion to propensity.
            let total = state.propensity_sum;
            let mut draws = self.keys.incident.draws(gid.0 as u64);
            let mean = world.cameras.detection_rate * total as f64 * PROPENSITY_UNIT;
            for _ in 0..poisson(&mut draws, mean) {
                let offender = pick_by_propensity(members, people, total, &mut draws);
                plan.incidents.push((offender, self.random_kind(&mut draws), false));
            }
            // Judgement debtors are reported by the courts every `debtor_report_days`.
            let today = d % world.misconduct.debtor_report_days;
            for &(offset, citizen) in &state.debtors {
                if offset == today
                    && let Ok(slot) = members.binary_search_by_key(&citizen, |m| m.citizen)
                {
                    plan.incidents.push((slot, self.debtor_kind, false));
                }
            }
            // False identifications: anyone, uniformly.
            let mut draws = self.keys.false_identification.draws(gid.0 as u64);
            for _ in 0..poisson(&mut draws, members.len() as f64 * world.cameras.false_identification_rate) {
                let victim = draws.below(members.len() as u64) as usize;
                plan.incidents.push((victim, self.random_kind(&mut draws), true));
            }
            if self.rules.policy.denunciation.enabled && members.len() > 1 {
                self.plan_denunciations(gid, members, people, total, plan);
            }
            if world.commerce.enabled {
                self.plan_orders(Some((gid, state.main_topic)), members.len(), |i| members[i].citizen, people, plan);
            }
        }
        // Answers to the notices delivered at yesterday's close (due today).
        for (b, batch) in open.iter().enumerate().filter(|(_, b)| b.deadline == d) {
            let ballot = Ballot::new(batch.incident, history, &self.world.voting);
            let mut slot = 0;
            for (i, recipient) in batch.recipients(members).enumerate() {
                while slot < members.len() && { members[slot].citizen } < recipient {
                    slot += 1;
                }
                // Recipients are members unless moved since delivery (not in simulations).
                let Some(member) = members.get(slot).filter(|m| { m.citizen } == recipient) else { continue };
                if let Some(answer) = self.answer(&ballot, member, people, state) {
                    plan.answers.push((b, i, answer));
                }
            }
        }
    }

    /// Denunciations in a group today (see [`crate::world::DenunciationModel`]): honest
    /// reports of misconduct the cameras missed, then malicious ones, each with the
    /// confirmation it will get. Draws come from streams of their own, so switching
    /// denunciation on changes no other draw.
    fn plan_denunciations(&self, gid: GroupId, members: &[Member], people: &People, total: u64, plan: &mut Plan) {
        let model = &self.world.denunciation;
        let n = members.len();
        let mut draws = self.keys.denunciation.draws(gid.0 as u64);
        let mut confirm = self.keys.confirmation.draws(gid.0 as u64);
        let mut filed = 0u32;
        // What a voucher is worth to a citizen: their buying rate against the mean (0..2).
        let worth = |slot: usize| {
            let mean = self.world.commerce.buy_rate_mean.max(f64::MIN_POSITIVE);
            (people.buy_rate(members[slot].citizen) / mean).min(2.0)
        };
        let willing = |slot: usize, filed: u32| {
            let value = 1.0 + model.voucher_weight * (worth(slot) - 1.0);
            (model.propensity * value.max(0.0) * (1.0 + model.contagion * filed as f64)).min(1.0)
        };
        let missed = (1.0 - self.world.cameras.detection_rate).max(0.0);
        let mean = missed * model.witness_rate * total as f64 * PROPENSITY_UNIT;
        for _ in 0..poisson(&mut draws, mean) {
            let accused = pick_by_propensity(members, people, total, &mut draws);
            let mut witness = draws.below(n as u64 - 1) as usize;
            if witness >= accused {
                witness += 1;
            }
            let kind = self.random_kind(&mut draws);
            if draws.bernoulli(willing(witness, filed)) {
                let confirmed = confirm.bernoulli(model.confirm_rate_true);
                plan.denunciations.push(Denunciation { denouncer: witness, accused, kind, innocent: false, confirmed });
                filed += 1;
            }
        }
        if model.malicious_share > 0.0 && model.malicious_rate > 0.0 {
            for (slot, m) in members.iter().enumerate() {
                if self.keys.malicious.uniform(m.citizen.0 as u64) >= model.malicious_share {
                    continue;
                }
                let mut own = self.keys.denunciation.draws((1 << 32) | m.citizen.0 as u64);
                if !own.bernoulli(model.malicious_rate) {
                    continue;
                }
                let mut accused = own.below(n as u64 - 1) as usize;
                if accused >= slot {
                    accused += 1;
                }
                let kind = self.random_kind(&mut own);
                let confirmed = own.bernoulli(model.confirm_rate_false);
                plan.denunciations.push(Denunciation { denouncer: slot, accused, kind, innocent: true, confirmed });
            }
        }
    }

    /// The groupless' day: their own misconduct, court reports, false identifications and
    /// individual orders (no group deal: they are outside any group).
    ///
    /// Planned in chunks on the threads of the pool this runs in (the groupless' day had
    /// one thread while the other waited: ~5 % of a day at 100 M), and joined in chunk
    /// order: the same plan as one pass over the list, since each citizen's draws are
    /// their own and the incidents still come before the orders.
    pub fn plan_groupless(&self, members: &[GrouplessMember], people: &People) -> Plan {
        const CHUNK: usize = 1 << 13;
        let parts: Vec<Plan> = members
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(k, chunk)| self.plan_groupless_from(k * CHUNK, chunk, people))
            .collect();
        let mut plan = Plan::default();
        plan.incidents.reserve_exact(parts.iter().map(|p| p.incidents.len()).sum());
        plan.orders.reserve_exact(parts.iter().map(|p| p.orders.len()).sum());
        for part in parts {
            plan.incidents.extend(part.incidents);
            plan.orders.extend(part.orders);
        }
        plan
    }

    /// [`Behaviour::plan_groupless`] for the part of the list that starts at index `first`.
    fn plan_groupless_from(&self, first: usize, members: &[GrouplessMember], people: &People) -> Plan {
        let d = self.day;
        let world = self.world;
        let mut plan = Plan::default();
        for (i, entry) in (first..).zip(members) {
            let c = entry.member.citizen;
            let mut draws = self.keys.incident.draws((1u64 << 40) | c.0 as u64);
            for _ in 0..poisson(&mut draws, world.cameras.detection_rate * people.propensity(c)) {
                plan.incidents.push((i, self.random_kind(&mut draws), false));
            }
            if people.debt_offset(c) == Some(d % world.misconduct.debtor_report_days) {
                plan.incidents.push((i, self.debtor_kind, false));
            }
            for _ in 0..poisson(&mut draws, world.cameras.false_identification_rate) {
                plan.incidents.push((i, self.random_kind(&mut draws), true));
            }
        }
        if world.commerce.enabled {
            let mut one = Plan::default();
            for (i, entry) in (first..).zip(members) {
                let c = entry.member.citizen;
                one.orders.clear();
                self.plan_orders(None, 1, |_| c, people, &mut one);
                plan.orders.extend(one.orders.iter().map(|&(_, p, u, v)| (i, p, u, v)));
            }
        }
        plan
    }

    /// Orders of a group's members (or of one groupless citizen): the group's deal of the
    /// day, and individual orders (tickets, KOL promotions, favourites).
    fn plan_orders(
        &self,
        group: Option<(GroupId, u8)>,
        size: usize,
        citizen_at: impl Fn(usize) -> CitizenId,
        people: &People,
        plan: &mut Plan,
    ) {
        let c = &self.world.commerce;
        let multiplier = self.campaign_multiplier;
        let max_units = self.rules.policy.orders.max_units_per_order;
        // The group buy: a deal of the day from the group's main topic; its appeal varies.
        if let Some((g, topic)) = group
            && c.deal_rate > 0.0
        {
            let mut draws = self.keys.deal.draws(g.0 as u64);
            let product = self.catalogue.popular_in(topic as usize, &mut draws);
            let appeal = gamma(&mut draws, c.deal_appeal_shape) / c.deal_appeal_shape;
            for _ in 0..poisson(&mut draws, size as f64 * c.deal_rate * multiplier * appeal) {
                let slot = draws.below(size as u64) as usize;
                let units = (1 + self.votes.units.sample(&mut draws) as u32).min(max_units);
                plan.orders.push((slot, product, units, None));
            }
        }
        let max_rate = 2.0 * c.buy_rate_mean * multiplier;
        if max_rate <= 0.0 {
            return;
        }
        let entity = match group {
            Some((g, _)) => g.0 as u64,
            None => (1u64 << 40) | citizen_at(0).0 as u64,
        };
        let mut draws = self.keys.order.draws(entity);
        for _ in 0..poisson(&mut draws, size as f64 * max_rate) {
            let slot = draws.below(size as u64) as usize;
            let buyer = citizen_at(slot);
            // Thinning: each citizen buys at their own rate.
            if draws.uniform() * max_rate >= people.buy_rate(buyer) * multiplier {
                continue;
            }
            let units = (1 + self.votes.units.sample(&mut draws) as u32).min(max_units);
            let (product, via) = if draws.uniform() < c.travel_share && !self.catalogue.travel.is_empty() {
                (self.catalogue.travel[draws.below(self.catalogue.travel.len() as u64) as usize], None)
            } else {
                self.kol_or_favourite(buyer, people, &mut draws)
            };
            plan.orders.push((slot, product, units, via));
        }
    }

    fn kol_or_favourite(&self, buyer: CitizenId, people: &People, draws: &mut Draws) -> (ProductId, Option<KolId>) {
        let conversion = self.world.kols.conversion;
        let interests = people.interests(buyer);
        for j in 0..people.follow_count() {
            let Some(place) = people.followed_place(buyer, &interests, j) else { continue };
            let offer = self.offers[place];
            if offer.product.0 != u32::MAX && draws.bernoulli(conversion * offer.credibility) {
                return (offer.product, Some(offer.kol));
            }
        }
        let i = draws.below(people.favourite_count() as u64) as usize;
        (people.favourite(buyer, &interests, i), None)
    }

    /// A recipient's answer to a notice, by the scenario's voting model.
    #[inline]
    pub fn answer(&self, ballot: &Ballot, voter: &Member, people: &People, state: &GroupState) -> Option<Answer> {
        let v = &self.world.voting;
        match v.model {
            VotingModel::AlwaysExpel => return Some(Answer::Expel),
            VotingModel::AlwaysKeep => return Some(Answer::Keep),
            VotingModel::NeverAnswer => return None,
            VotingModel::Logistic => {}
        }
        let c = voter.citizen;
        let offender = ballot.incident.citizen;
        let mut draws = self.keys.vote.draws(ballot.vote.with(c.0 as u64));
        if !draws.bernoulli(v.answer_rate) {
            return None;
        }
        let mut z = v.intercept + people.disposition(c) + state.culture as f64;
        z += self.votes.points[voter.tier() as usize][voter.score_offset() as usize];
        // Ties: mostly weak; a close friend is hard to expel.
        let tie = self.keys.tie.uniform(tie_key(ballot.tie, c.0 as u64, offender.0 as u64));
        z -= v.tie_weight * tie * tie * tie * tie;
        // Conformity: a group that expelled before expels again.
        z += ballot.conformity;
        Some(if draws.uniform() < self.votes.logistic.get(z) { Answer::Expel } else { Answer::Keep })
    }
}

/// What a notice's voters share: the incident, the halves of their keys that depend on it
/// alone, mixed once a notice instead of once a voter (`pair` is two mixing rounds), and
/// the group's conformity term.
pub struct Ballot {
    incident: IncidentId,
    /// `pair(incident, voter)` keys the voter's draws.
    vote: Paired,
    /// `pair(offender, voter)` keys the tie to a voter whose id is above the offender's.
    tie: Paired,
    /// The log-odds the group's past expulsions add (`conformity_weight` × (rate − ½), the
    /// rate ½ before any vote).
    conformity: f64,
}

impl Ballot {
    pub fn new(incident: IncidentId, history: GroupHistory, voting: &VotingConfig) -> Ballot {
        let rate = if history.votes == 0 { 0.5 } else { history.expulsions as f64 / history.votes as f64 };
        Ballot {
            incident,
            vote: Paired::first(incident.to_u64()),
            tie: Paired::first(incident.citizen.0 as u64),
            conformity: voting.conformity_weight * (rate - 0.5),
        }
    }
}

/// The key of the tie between a voter and the offender: `pair(lower id, higher id)`, where
/// `offender_first` is `Paired::first(offender)` (the ballot's). Which id is lower is a coin
/// toss from one voter to the next, so both halves are mixed and one is selected without a
/// branch (a branch would be mispredicted for about every other voter).
#[inline]
fn tie_key(offender_first: Paired, voter: u64, offender: u64) -> u64 {
    let lower = voter < offender;
    let first = std::hint::select_unpredictable(lower, Paired::first(voter), offender_first);
    let second = std::hint::select_unpredictable(lower, offender, voter);
    first.with(second)
}

/// A member chosen with probability proportional to misconduct propensity (`total` is the
/// members' sum of fixed-point propensities).
fn pick_by_propensity(members: &[Member], people: &People, total: u64, draws: &mut Draws) -> usize {
    let mut target = (draws.uniform() * total as f64) as u64;
    for (slot, m) in members.iter().enumerate() {
        let p = people.propensity_fixed(m.citizen);
        if target < p {
            return slot;
        }
        target -= p;
    }
    members.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use xinyong_random::pair;

    #[test]
    fn a_tie_is_keyed_by_the_pair_lower_id_then_higher_id() {
        // Part of the reproducibility contract: the branch-free key is the pair's definition.
        let ids = [0u64, 1, 2, 7, 1_000, 999_999_999, 1_399_999_999, u32::MAX as u64];
        let mut seen = std::collections::HashSet::new();
        for &offender in &ids {
            let ballot_half = Paired::first(offender);
            for &voter in &ids {
                let key = tie_key(ballot_half, voter, offender);
                assert_eq!(key, pair(voter.min(offender), voter.max(offender)), "voter {voter}, offender {offender}");
                assert_eq!(
                    key,
                    tie_key(Paired::first(voter), offender, voter),
                    "the same tie seen from the other side"
                );
                if voter != offender {
                    seen.insert(key);
                }
            }
        }
        assert_eq!(seen.len(), ids.len() * (ids.len() - 1) / 2, "one key a pair of distinct ids");
    }
}
