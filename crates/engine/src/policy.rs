//! The policy: every rule the operator sets (MODEL.md §2), with the article's numbers
//! as defaults and ours marked as such.
//!
//! [`Policy`] is the serde type read from a scenario's `[policy]` table. It is checked by
//! [`Policy::validate`], which names the offending key (`policy.groups.min_size`, ...) and
//! says why; the scenario loader turns the key into a file line. The engine works from
//! [`Rules`], the validated policy with money and rates in exact integer units.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A policy value that cannot be used, with the dotted key it came from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct PolicyError {
    /// Dotted path of the key, e.g. `policy.tiers[2].min_score`.
    pub key: String,
    /// What is wrong and what would be right.
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError { key: key.into(), message: message.into() }
}

/// How an unanswered notice counts when the deadline passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbstainAs {
    /// Counted as "keep": loses `keep_penalty` (the article offers only two choices).
    Keep,
    /// Counted as "expel": gains `expel_reward` and counts towards the quorum.
    Expel,
    /// Not counted: no points, not an expel vote.
    None,
}

/// A restriction attached to a credit tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restriction {
    /// Train and plane tickets (products flagged `travel`) are refused.
    Travel,
}

impl Restriction {
    pub const ALL: [Restriction; 1] = [Restriction::Travel];

    pub const fn bit(self) -> u8 {
        match self {
            Restriction::Travel => 1,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Restriction::Travel => "travel",
        }
    }
}

/// A set of restrictions as bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Restrictions(pub u8);

impl Restrictions {
    pub const NONE: Restrictions = Restrictions(0);

    pub fn contains(self, r: Restriction) -> bool {
        self.0 & r.bit() != 0
    }

    pub fn list(self) -> Vec<Restriction> {
        Restriction::ALL.into_iter().filter(|r| self.contains(*r)).collect()
    }
}

/// Interest group sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupPolicy {
    /// Smallest group the grouping forms; groups that fall below are refilled first.
    pub min_size: u32,
    /// Largest group; never exceeded.
    pub max_size: u32,
}

impl Default for GroupPolicy {
    fn default() -> Self {
        // The article: "groupe d'intérêt de 200 ou 300 personnes".
        GroupPolicy { min_size: 200, max_size: 300 }
    }
}

/// The peer sanction that follows an incident (the article's central example).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SanctionPolicy {
    /// Points gained by a member who answers "expel" (article: +3).
    pub expel_reward: u32,
    /// Points lost by a member who answers "keep" (article: −3).
    pub keep_penalty: u32,
    /// How an unanswered notice counts (default "keep": the article offers two choices).
    pub abstain_as: AbstainAs,
    /// Share of notified members answering "expel" at or above which the offender is
    /// expelled (our default 0.5).
    pub expel_quorum: f64,
    /// Days an expelled citizen stays groupless before being regrouped (our default 30).
    pub regroup_after_days: u32,
}

impl Default for SanctionPolicy {
    fn default() -> Self {
        SanctionPolicy {
            expel_reward: 3,
            keep_penalty: 3,
            abstain_as: AbstainAs::Keep,
            expel_quorum: 0.5,
            regroup_after_days: 30,
        }
    }
}

/// A group-buying discount tier: a pool of at least `min_units` gets `discount`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDiscount {
    pub min_units: u32,
    /// Fraction off the list price, e.g. 0.20.
    pub discount: f64,
}

/// A credit tier: scores at or above `min_score` (and below the next tier up).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    pub name: String,
    /// Lowest score of the tier; may be omitted on the last (lowest) tier only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<i32>,
    /// Personal discount on the citizen's favourite products, e.g. 0.10.
    #[serde(default)]
    pub favourite_discount: f64,
    #[serde(default)]
    pub restrictions: Vec<Restriction>,
}

/// A kind of incident the camera network (or a reporter) can attribute to a citizen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentKind {
    pub name: String,
    /// Points taken from the offender's score (positive number).
    pub penalty: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// How KOL credibility moves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KolPolicy {
    /// Credibility of a new KOL, in [0, 1] (our default 0.5).
    pub initial_credibility: f64,
    /// A scandal hits KOLs who promoted the product within this many days (our default 30).
    pub scandal_window_days: u32,
    /// Credibility is multiplied by this on a scandal (our default 0.5).
    pub scandal_factor: f64,
    /// A promotion that completes its window without scandal adds gain·(1 − c) (our default 0.02).
    pub success_gain: f64,
}

impl Default for KolPolicy {
    fn default() -> Self {
        KolPolicy { initial_credibility: 0.5, scandal_window_days: 30, scandal_factor: 0.5, success_gain: 0.02 }
    }
}

/// Appeals of incidents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppealPolicy {
    /// An incident may be appealed up to this many days after it was reported (our default 30).
    pub window_days: u32,
}

impl Default for AppealPolicy {
    fn default() -> Self {
        AppealPolicy { window_days: 30 }
    }
}

/// Denunciation for vouchers: citizens report citizens (the article's title). Off by default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DenunciationPolicy {
    pub enabled: bool,
    /// A confirmed report pays the denouncer a voucher: this fraction off one future order.
    pub voucher_percent: f64,
    /// Days a voucher can be used before it expires.
    pub voucher_days: u32,
    /// Points a confirmed report earns the denouncer.
    pub reward_points: u32,
    /// Points a rejected report costs the denouncer.
    pub false_report_penalty: u32,
    /// Most reports one citizen may file in a day.
    pub max_reports_per_day: u32,
}

impl Default for DenunciationPolicy {
    fn default() -> Self {
        DenunciationPolicy {
            enabled: false,
            voucher_percent: 0.1,
            voucher_days: 30,
            reward_points: 0,
            false_report_penalty: 0,
            max_reports_per_day: 3,
        }
    }
}

/// Limits on orders (explicit bounds on what one citizen can do in a day).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderPolicy {
    /// Most units in one order (our default 20).
    pub max_units_per_order: u32,
    /// Most orders one citizen may place in a day (our default 50).
    pub max_orders_per_day: u32,
}

impl Default for OrderPolicy {
    fn default() -> Self {
        OrderPolicy { max_units_per_order: 20, max_orders_per_day: 50 }
    }
}

/// Everything the operator sets. Read from a scenario's `[policy]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Score of a new citizen (our default 1000, after the Rongcheng pilot).
    pub initial_score: i32,
    /// Lowest possible score (our default 0).
    pub score_min: i32,
    /// Highest possible score (our default 2000).
    pub score_max: i32,
    pub groups: GroupPolicy,
    pub sanction: SanctionPolicy,
    /// Pool tiers, ascending by `min_units` (our thresholds; the article's 20–30 %).
    pub group_discounts: Vec<GroupDiscount>,
    /// Credit tiers, highest first (after Rongcheng's letter grades).
    pub tiers: Vec<TierSpec>,
    /// Cap on the total discount of one unit (our default 0.40).
    pub max_discount: f64,
    pub incident_kinds: Vec<IncidentKind>,
    pub kol: KolPolicy,
    pub appeals: AppealPolicy,
    pub orders: OrderPolicy,
    pub denunciation: DenunciationPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            initial_score: 1000,
            score_min: 0,
            score_max: 2000,
            groups: GroupPolicy::default(),
            sanction: SanctionPolicy::default(),
            group_discounts: vec![
                GroupDiscount { min_units: 10, discount: 0.20 },
                GroupDiscount { min_units: 25, discount: 0.25 },
                GroupDiscount { min_units: 50, discount: 0.30 },
            ],
            tiers: default_tiers(),
            max_discount: 0.40,
            incident_kinds: default_incident_kinds(),
            kol: KolPolicy::default(),
            appeals: AppealPolicy::default(),
            orders: OrderPolicy::default(),
            denunciation: DenunciationPolicy::default(),
        }
    }
}

fn tier(name: &str, min_score: Option<i32>, favourite_discount: f64, restrictions: &[Restriction]) -> TierSpec {
    TierSpec { name: name.into(), min_score, favourite_discount, restrictions: restrictions.to_vec() }
}

/// MODEL.md's table: AAA ≥1050 (+10 %), AA ≥1030 (+5 %), A ≥960, B ≥850, C ≥600, D <600 (no travel).
pub fn default_tiers() -> Vec<TierSpec> {
    vec![
        tier("AAA", Some(1050), 0.10, &[]),
        tier("AA", Some(1030), 0.05, &[]),
        tier("A", Some(960), 0.0, &[]),
        tier("B", Some(850), 0.0, &[]),
        tier("C", Some(600), 0.0, &[]),
        tier("D", None, 0.0, &[Restriction::Travel]),
    ]
}

fn kind(name: &str, penalty: u32, description: &str) -> IncidentKind {
    IncidentKind { name: name.into(), penalty, description: description.into() }
}

/// Our defaults, inside the range of Rongcheng's published table
/// (−5 for a traffic ticket up to −100 for destroying public equipment).
pub fn default_incident_kinds() -> Vec<IncidentKind> {
    vec![
        kind("traffic_violation", 5, "running a red light, jaywalking (Rongcheng: -5)"),
        kind("public_drunkenness", 10, "the article's example: leaving a club drunk at night"),
        kind("fare_evasion", 10, "riding without a ticket"),
        kind("littering", 5, "dropping litter in public"),
        kind("online_rumour", 20, "spreading rumours online"),
        kind("unpaid_judgement", 50, "ignoring a court judgement (court blacklist)"),
        kind("destroying_public_equipment", 100, "Rongcheng's harshest listed penalty"),
    ]
}

/// Basis points: 1/10,000. All money arithmetic is done in integers.
pub type BasisPoints = u32;

/// One credit tier, resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tier {
    pub name: String,
    pub min_score: i32,
    pub favourite_discount_bp: BasisPoints,
    pub restrictions: Restrictions,
}

/// The validated policy, in the units the engine computes with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    pub policy: Policy,
    /// Highest first; the last tier's `min_score` is `score_min`.
    pub tiers: Vec<Tier>,
    /// (min_units, discount) ascending.
    pub group_discounts_bp: Vec<(u32, BasisPoints)>,
    pub max_discount_bp: BasisPoints,
    /// The quorum as a fraction p/q compared exactly: expel if expel·q ≥ p·notified.
    pub quorum_bp: BasisPoints,
    /// A denunciation voucher's discount.
    pub voucher_bp: BasisPoints,
}

/// Converts a fraction in [0, 1] to basis points; the value must be a whole number of
/// basis points (0.2 is fine; 0.12345 is not) so that prices are exact.
fn fraction_to_bp(key: &str, value: f64) -> Result<BasisPoints, PolicyError> {
    if !value.is_finite() || !(0.0..=1.0).contains(&value) {
        return Err(err(key, format!("{value} is not a fraction between 0 and 1 (e.g. 0.2 for 20 %)")));
    }
    let bp = (value * 10_000.0).round();
    if (bp - value * 10_000.0).abs() > 1e-6 {
        return Err(err(key, format!("{value} is finer than a basis point (0.0001); round it")));
    }
    Ok(bp as BasisPoints)
}

/// Limits that keep state compact; checked on load.
/// A member's score offset takes 12 bits and its tier 3 of the 16 beside its id (a member
/// is 6 bytes: see [`crate::Member`]). Real schemes sit well inside: Sesame Credit spans
/// 350–950 in 5 bands, the default policy 0–2000 in 6 tiers.
pub const SCORE_RANGE_MAX: i64 = 4095;
pub const TIERS_MAX: usize = 8;
pub const INCIDENT_KINDS_MAX: usize = 250;
pub const GROUP_SIZE_MAX: u32 = 60_000;

impl Policy {
    /// Checks every value and resolves the policy into [`Rules`].
    pub fn validate(&self) -> Result<Rules, PolicyError> {
        let p = self;
        if p.score_min >= p.score_max {
            return Err(err(
                "policy.score_max",
                format!("{} must be larger than score_min ({})", p.score_max, p.score_min),
            ));
        }
        if (p.score_max as i64 - p.score_min as i64) > SCORE_RANGE_MAX {
            return Err(err(
                "policy.score_max",
                format!(
                    "score_max − score_min must be at most {SCORE_RANGE_MAX} (a member's score is stored in 12 bits)"
                ),
            ));
        }
        if !(p.score_min..=p.score_max).contains(&p.initial_score) {
            return Err(err(
                "policy.initial_score",
                format!("{} is outside [score_min, score_max] = [{}, {}]", p.initial_score, p.score_min, p.score_max),
            ));
        }
        if p.groups.min_size == 0 {
            return Err(err("policy.groups.min_size", "must be at least 1"));
        }
        if p.groups.min_size > p.groups.max_size {
            return Err(err(
                "policy.groups.min_size",
                format!(
                    "{} is larger than max_size ({}); min_size must be ≤ max_size",
                    p.groups.min_size, p.groups.max_size
                ),
            ));
        }
        if p.groups.max_size > GROUP_SIZE_MAX {
            return Err(err("policy.groups.max_size", format!("must be at most {GROUP_SIZE_MAX}")));
        }
        let q = p.sanction.expel_quorum;
        if !q.is_finite() || !(0.0..=1.0).contains(&q) {
            return Err(err("policy.sanction.expel_quorum", format!("{q} is outside [0, 1]")));
        }
        let quorum_bp = fraction_to_bp("policy.sanction.expel_quorum", q)?;
        let range = (p.score_max - p.score_min) as u32;
        if p.sanction.expel_reward > range {
            return Err(err("policy.sanction.expel_reward", "is larger than the whole score range"));
        }
        if p.sanction.keep_penalty > range {
            return Err(err("policy.sanction.keep_penalty", "is larger than the whole score range"));
        }
        if p.sanction.regroup_after_days > 36_500 {
            return Err(err("policy.sanction.regroup_after_days", "must be at most 36500 (100 years)"));
        }

        let max_discount_bp = fraction_to_bp("policy.max_discount", p.max_discount)?;
        if max_discount_bp >= 10_000 {
            return Err(err("policy.max_discount", "must be below 1 (a unit cannot be free)"));
        }

        let mut group_discounts_bp = Vec::with_capacity(p.group_discounts.len());
        for (i, d) in p.group_discounts.iter().enumerate() {
            let key = format!("policy.group_discounts[{i}]");
            if d.min_units == 0 {
                return Err(err(format!("{key}.min_units"), "must be at least 1 unit"));
            }
            let bp = fraction_to_bp(&format!("{key}.discount"), d.discount)?;
            if bp > max_discount_bp {
                return Err(err(
                    format!("{key}.discount"),
                    format!("{} is above max_discount ({})", d.discount, p.max_discount),
                ));
            }
            if let Some(&(prev_units, prev_bp)) = group_discounts_bp.last() {
                if d.min_units <= prev_units {
                    return Err(err(
                        format!("{key}.min_units"),
                        format!(
                            "{} is not above the previous tier's {prev_units}: list tiers by ascending min_units",
                            d.min_units
                        ),
                    ));
                }
                if bp < prev_bp {
                    return Err(err(
                        format!("{key}.discount"),
                        "is smaller than the previous tier's: a bigger pool cannot get a smaller discount",
                    ));
                }
            }
            group_discounts_bp.push((d.min_units, bp));
        }

        if p.tiers.is_empty() {
            return Err(err("policy.tiers", "needs at least one tier"));
        }
        if p.tiers.len() > TIERS_MAX {
            return Err(err("policy.tiers", format!("at most {TIERS_MAX} tiers")));
        }
        let mut tiers: Vec<Tier> = Vec::with_capacity(p.tiers.len());
        for (i, t) in p.tiers.iter().enumerate() {
            let key = format!("policy.tiers[{i}]");
            if t.name.trim().is_empty() || t.name.len() > 32 {
                return Err(err(format!("{key}.name"), "needs a name of 1 to 32 characters"));
            }
            if !t.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+' || c == '-') {
                return Err(err(format!("{key}.name"), format!("{:?}: use letters, digits, _ + -", t.name)));
            }
            if tiers.iter().any(|o| o.name == t.name) {
                return Err(err(format!("{key}.name"), format!("tier name {:?} is used twice", t.name)));
            }
            let last = i + 1 == p.tiers.len();
            let min_score = match t.min_score {
                Some(s) => s,
                None if last => p.score_min,
                None => {
                    return Err(err(format!("{key}.min_score"), "is required on every tier but the last"));
                }
            };
            if let Some(prev) = tiers.last()
                && min_score >= prev.min_score
            {
                return Err(err(
                    format!("{key}.min_score"),
                    format!(
                        "{min_score} is not below the tier above ({} ≥ {}): list tiers from highest to lowest without overlap",
                        prev.name, prev.min_score
                    ),
                ));
            }
            if last && min_score > p.score_min {
                return Err(err(
                    format!("{key}.min_score"),
                    format!("the lowest tier must cover score_min ({}); got {min_score}", p.score_min),
                ));
            }
            if !last && (min_score <= p.score_min || min_score > p.score_max) {
                return Err(err(
                    format!("{key}.min_score"),
                    format!("{min_score} must lie in (score_min, score_max] = ({}, {}]", p.score_min, p.score_max),
                ));
            }
            let favourite_discount_bp = fraction_to_bp(&format!("{key}.favourite_discount"), t.favourite_discount)?;
            if favourite_discount_bp > max_discount_bp {
                return Err(err(format!("{key}.favourite_discount"), "is above max_discount"));
            }
            let mut bits = 0u8;
            for r in &t.restrictions {
                bits |= r.bit();
            }
            tiers.push(Tier {
                name: t.name.clone(),
                min_score: min_score.max(p.score_min),
                favourite_discount_bp,
                restrictions: Restrictions(bits),
            });
        }

        if p.incident_kinds.is_empty() {
            return Err(err("policy.incident_kinds", "needs at least one kind of incident"));
        }
        if p.incident_kinds.len() > INCIDENT_KINDS_MAX {
            return Err(err("policy.incident_kinds", format!("at most {INCIDENT_KINDS_MAX} kinds")));
        }
        for (i, k) in p.incident_kinds.iter().enumerate() {
            let key = format!("policy.incident_kinds[{i}]");
            if k.name.trim().is_empty() || k.name.len() > 64 {
                return Err(err(format!("{key}.name"), "needs a name of 1 to 64 characters"));
            }
            if p.incident_kinds[..i].iter().any(|o| o.name == k.name) {
                return Err(err(format!("{key}.name"), format!("{:?} is used twice", k.name)));
            }
            if k.penalty > range {
                return Err(err(format!("{key}.penalty"), "is larger than the whole score range"));
            }
        }

        let c = p.kol.initial_credibility;
        if !c.is_finite() || !(0.0..=1.0).contains(&c) {
            return Err(err("policy.kol.initial_credibility", format!("{c} is outside [0, 1]")));
        }
        let f = p.kol.scandal_factor;
        if !f.is_finite() || !(0.0..=1.0).contains(&f) {
            return Err(err("policy.kol.scandal_factor", format!("{f} is outside [0, 1]")));
        }
        let g = p.kol.success_gain;
        if !g.is_finite() || !(0.0..=1.0).contains(&g) {
            return Err(err("policy.kol.success_gain", format!("{g} is outside [0, 1]")));
        }
        if p.kol.scandal_window_days == 0 || p.kol.scandal_window_days > 3650 {
            return Err(err("policy.kol.scandal_window_days", "must be between 1 and 3650"));
        }
        if p.appeals.window_days > 3650 {
            return Err(err("policy.appeals.window_days", "must be at most 3650"));
        }
        if p.orders.max_units_per_order == 0 || p.orders.max_units_per_order > 10_000 {
            return Err(err("policy.orders.max_units_per_order", "must be between 1 and 10000"));
        }
        if p.orders.max_orders_per_day == 0 || p.orders.max_orders_per_day > u16::MAX as u32 {
            return Err(err("policy.orders.max_orders_per_day", "must be between 1 and 65535"));
        }

        let d = &p.denunciation;
        let voucher_bp = fraction_to_bp("policy.denunciation.voucher_percent", d.voucher_percent)?;
        if voucher_bp >= 10_000 {
            return Err(err("policy.denunciation.voucher_percent", "must be below 1 (an order cannot be free)"));
        }
        if d.voucher_days == 0 || d.voucher_days > 3650 {
            return Err(err("policy.denunciation.voucher_days", "must be between 1 and 3650"));
        }
        if d.reward_points > range {
            return Err(err("policy.denunciation.reward_points", "is larger than the whole score range"));
        }
        if d.false_report_penalty > range {
            return Err(err("policy.denunciation.false_report_penalty", "is larger than the whole score range"));
        }
        if d.max_reports_per_day == 0 || d.max_reports_per_day > u8::MAX as u32 {
            return Err(err("policy.denunciation.max_reports_per_day", "must be between 1 and 255"));
        }

        Ok(Rules { policy: p.clone(), tiers, group_discounts_bp, max_discount_bp, quorum_bp, voucher_bp })
    }
}

impl Rules {
    /// The default policy, resolved.
    pub fn default_rules() -> Rules {
        Policy::default().validate().expect("the default policy is valid")
    }

    /// Index of the tier for a score (0 is the highest tier).
    pub fn tier_index(&self, score: i32) -> u8 {
        // Tiers are few (≤ 32): a linear scan from the top is the fastest lookup.
        for (i, t) in self.tiers.iter().enumerate() {
            if score >= t.min_score {
                return i as u8;
            }
        }
        (self.tiers.len() - 1) as u8
    }

    pub fn tier(&self, index: u8) -> &Tier {
        &self.tiers[index as usize]
    }

    /// The group discount for a pool of `units`, in basis points (0 below the first tier),
    /// and the tier number (0 = none, 1 = first tier, ...).
    pub fn group_discount(&self, units: u64) -> (BasisPoints, u8) {
        let mut result = (0, 0);
        for (i, &(min_units, bp)) in self.group_discounts_bp.iter().enumerate() {
            if units >= min_units as u64 {
                result = (bp, (i + 1) as u8);
            }
        }
        result
    }

    /// The next pool tier above `units`: (units still needed, its discount).
    pub fn next_group_discount(&self, units: u64) -> Option<(u64, BasisPoints)> {
        self.group_discounts_bp
            .iter()
            .find(|&&(min_units, _)| units < min_units as u64)
            .map(|&(min_units, bp)| (min_units as u64 - units, bp))
    }

    /// The score at which travel is no longer restricted, for a citizen at `score`: the
    /// lowest tier above it without the travel restriction (None: no score lifts it).
    pub fn travel_score_needed(&self, score: i32) -> Option<i32> {
        self.tiers
            .iter()
            .filter(|t| !t.restrictions.contains(Restriction::Travel) && t.min_score > score)
            .map(|t| t.min_score)
            .min()
    }

    pub fn incident_kind_index(&self, name: &str) -> Option<u8> {
        self.policy.incident_kinds.iter().position(|k| k.name == name).map(|i| i as u8)
    }

    /// Whether `expel` answers out of `notified` reach the quorum (exact integer test).
    pub fn quorum_reached(&self, expel: u64, notified: u64) -> bool {
        notified > 0 && expel * 10_000 >= self.quorum_bp as u64 * notified
    }
}

impl fmt::Display for AbstainAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AbstainAs::Keep => "keep",
            AbstainAs::Expel => "expel",
            AbstainAs::None => "none",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(mutate: impl FnOnce(&mut Policy)) -> PolicyError {
        let mut p = Policy::default();
        mutate(&mut p);
        p.validate().expect_err("policy should be refused")
    }

    #[test]
    fn default_policy_is_the_articles() {
        let rules = Rules::default_rules();
        assert_eq!(rules.policy.sanction.expel_reward, 3);
        assert_eq!(rules.policy.sanction.keep_penalty, 3);
        assert_eq!(rules.policy.groups.min_size, 200);
        assert_eq!(rules.policy.groups.max_size, 300);
        assert_eq!(rules.group_discounts_bp, vec![(10, 2000), (25, 2500), (50, 3000)]);
        assert_eq!(rules.tiers.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["AAA", "AA", "A", "B", "C", "D"]);
        assert_eq!(rules.tiers[5].min_score, 0);
        assert!(rules.tiers[5].restrictions.contains(Restriction::Travel));
    }

    #[test]
    fn tiers_map_scores_at_their_boundaries() {
        let r = Rules::default_rules();
        let name = |s| r.tier(r.tier_index(s)).name.clone();
        assert_eq!(name(1050), "AAA");
        assert_eq!(name(1049), "AA");
        assert_eq!(name(1030), "AA");
        assert_eq!(name(1029), "A");
        assert_eq!(name(960), "A");
        assert_eq!(name(959), "B");
        assert_eq!(name(850), "B");
        assert_eq!(name(600), "C");
        assert_eq!(name(599), "D");
        assert_eq!(name(0), "D");
    }

    #[test]
    fn pool_tiers_follow_units() {
        let r = Rules::default_rules();
        assert_eq!(r.group_discount(9), (0, 0));
        assert_eq!(r.group_discount(10), (2000, 1));
        assert_eq!(r.group_discount(24), (2000, 1));
        assert_eq!(r.group_discount(25), (2500, 2));
        assert_eq!(r.group_discount(500), (3000, 3));
        assert_eq!(r.next_group_discount(7), Some((3, 2000)));
        assert_eq!(r.next_group_discount(18), Some((7, 2500)));
        assert_eq!(r.next_group_discount(50), None);
    }

    #[test]
    fn quorum_is_exact() {
        let r = Rules::default_rules();
        assert!(r.quorum_reached(125, 250));
        assert!(!r.quorum_reached(124, 250));
        assert!(!r.quorum_reached(0, 0));
    }

    #[test]
    fn min_size_above_max_size_is_refused_by_name() {
        let e = invalid(|p| p.groups.min_size = 400);
        assert_eq!(e.key, "policy.groups.min_size");
        assert!(e.message.contains("max_size"), "{e}");
    }

    #[test]
    fn quorum_outside_unit_interval_is_refused() {
        assert_eq!(invalid(|p| p.sanction.expel_quorum = 1.5).key, "policy.sanction.expel_quorum");
        assert_eq!(invalid(|p| p.sanction.expel_quorum = -0.1).key, "policy.sanction.expel_quorum");
        assert_eq!(invalid(|p| p.sanction.expel_quorum = f64::NAN).key, "policy.sanction.expel_quorum");
    }

    #[test]
    fn overlapping_or_unordered_tiers_are_refused() {
        let e = invalid(|p| p.tiers[2].min_score = Some(1040));
        assert_eq!(e.key, "policy.tiers[2].min_score");
        let e = invalid(|p| p.tiers.swap(0, 1));
        assert_eq!(e.key, "policy.tiers[1].min_score");
        let e = invalid(|p| p.tiers[1].name = "AAA".into());
        assert_eq!(e.key, "policy.tiers[1].name");
        let e = invalid(|p| p.tiers[0].min_score = None);
        assert_eq!(e.key, "policy.tiers[0].min_score");
        let e = invalid(|p| p.tiers[5].min_score = Some(100));
        assert_eq!(e.key, "policy.tiers[5].min_score");
    }

    #[test]
    fn bad_discounts_are_refused() {
        assert_eq!(invalid(|p| p.group_discounts[0].discount = -0.2).key, "policy.group_discounts[0].discount");
        assert_eq!(invalid(|p| p.group_discounts[1].min_units = 5).key, "policy.group_discounts[1].min_units");
        assert_eq!(invalid(|p| p.group_discounts[2].discount = 0.5).key, "policy.group_discounts[2].discount");
        assert_eq!(invalid(|p| p.group_discounts[2].discount = 0.22).key, "policy.group_discounts[2].discount");
        assert_eq!(invalid(|p| p.max_discount = 1.0).key, "policy.max_discount");
        assert_eq!(invalid(|p| p.max_discount = 0.123456).key, "policy.max_discount");
        assert_eq!(invalid(|p| p.tiers[0].favourite_discount = 0.5).key, "policy.tiers[0].favourite_discount");
    }

    #[test]
    fn bad_scores_are_refused() {
        assert_eq!(invalid(|p| p.initial_score = 5000).key, "policy.initial_score");
        assert_eq!(invalid(|p| p.score_max = -1).key, "policy.score_max");
        assert_eq!(invalid(|p| p.score_max = 100_000).key, "policy.score_max");
        // The range a 6-byte member holds: 4,095 points, not one more.
        let widest = |p: &mut Policy| p.score_max = p.score_min + SCORE_RANGE_MAX as i32;
        let mut p = Policy::default();
        widest(&mut p);
        assert!(p.validate().is_ok(), "a range of exactly {SCORE_RANGE_MAX} is allowed");
        let e = invalid(|p| p.score_max = p.score_min + SCORE_RANGE_MAX as i32 + 1);
        assert_eq!(e.key, "policy.score_max");
        assert!(e.message.contains("4095"), "{}", e.message);
    }

    #[test]
    fn more_tiers_than_a_member_can_hold_are_refused() {
        let e = invalid(|p| {
            while p.tiers.len() <= TIERS_MAX {
                let last = p.tiers.last().unwrap().clone();
                p.tiers.push(last);
            }
        });
        assert_eq!(e.key, "policy.tiers");
        assert!(e.message.contains("at most 8 tiers"), "{}", e.message);
    }

    #[test]
    fn bad_denunciation_settings_are_refused() {
        assert_eq!(invalid(|p| p.denunciation.voucher_percent = 1.0).key, "policy.denunciation.voucher_percent");
        assert_eq!(invalid(|p| p.denunciation.voucher_days = 0).key, "policy.denunciation.voucher_days");
        assert_eq!(invalid(|p| p.denunciation.max_reports_per_day = 0).key, "policy.denunciation.max_reports_per_day");
        assert_eq!(invalid(|p| p.denunciation.reward_points = 5000).key, "policy.denunciation.reward_points");
    }

    #[test]
    fn unknown_policy_keys_are_refused_by_serde() {
        let e = serde_json::from_str::<Policy>(r#"{"initial_scroe": 3}"#);
        assert!(e.is_err());
    }
}
