//! The synthetic world: what a simulation assumes about people (MODEL.md §3).
//!
//! Only the simulator has this; in the live service real people decide. Every static
//! attribute of a citizen, product or KOL is a pure function of (seed, id), drawn from
//! its own stream, so adding a feature never shifts the draws of another.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use xinyong_engine::Policy;

/// How the simulator forms the initial interest groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupingMethod {
    /// The grouping crate's balanced clustering on interest profiles (docs/grouping.md):
    /// the most alike groups; holds every profile in memory while grouping (64 B a citizen
    /// with 16 topics), so meant for populations up to tens of millions.
    #[default]
    Balanced,
    /// Citizens sorted by their three main interests and cut into balanced groups, in two
    /// streaming passes that hold nothing per citizen: for China-scale populations.
    Sorted,
}

/// How people answer notices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VotingModel {
    /// Expel more likely when the points matter to the voter, less with a close tie to the
    /// offender, more when the group expelled before.
    Logistic,
    /// Everyone answers "expel" (for checking by hand).
    AlwaysExpel,
    /// Everyone answers "keep".
    AlwaysKeep,
    /// Nobody answers.
    NeverAnswer,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InterestConfig {
    /// Dirichlet concentration of a citizen's interest profile (smaller: more focused people).
    pub concentration: f64,
    /// Zipf exponent of topic popularity (0: all topics equally popular).
    pub popularity_exponent: f64,
}

impl Default for InterestConfig {
    fn default() -> Self {
        InterestConfig { concentration: 0.3, popularity_exponent: 0.8 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MisconductConfig {
    /// Mean daily probability that a citizen misbehaves in a way cameras can see.
    pub daily_rate_mean: f64,
    /// Gamma shape of the per-citizen propensity (small: a few people do most of it).
    pub heterogeneity: f64,
    /// Relative frequency of each incident kind (names from the policy).
    pub kinds: BTreeMap<String, f64>,
    /// Share of citizens who owe a court judgement and do not pay (the court blacklist).
    pub debtor_share: f64,
    /// A debtor is reported again every this many days while the debt stays unpaid.
    pub debtor_report_days: u32,
    /// The incident kind of a debtor's report (a kind of the policy).
    pub debtor_kind: String,
}

impl Default for MisconductConfig {
    fn default() -> Self {
        let kinds = [
            ("traffic_violation", 40.0),
            ("public_drunkenness", 20.0),
            ("fare_evasion", 15.0),
            ("littering", 15.0),
            ("online_rumour", 6.0),
            ("unpaid_judgement", 3.0),
            ("destroying_public_equipment", 1.0),
        ];
        MisconductConfig {
            daily_rate_mean: 0.001,
            heterogeneity: 0.25,
            kinds: kinds.into_iter().map(|(k, w)| (k.to_string(), w)).collect(),
            debtor_share: 0.01,
            debtor_report_days: 30,
            debtor_kind: "unpaid_judgement".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CameraConfig {
    /// Share of real misconduct the cameras catch.
    pub detection_rate: f64,
    /// Probability per citizen-day of being flagged for something one did not do.
    pub false_identification_rate: f64,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig { detection_rate: 0.6, false_identification_rate: 0.0002 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VotingConfig {
    pub model: VotingModel,
    /// Probability that a recipient answers at all (logistic model).
    pub answer_rate: f64,
    /// Log-odds of "expel" for a typical voter with nothing at stake.
    pub intercept: f64,
    /// Spread of a citizen's lasting leniency (log-odds, normal).
    pub disposition_sd: f64,
    /// Spread of a group's lasting culture (log-odds, normal).
    pub group_culture_sd: f64,
    /// Extra log-odds when the voter is close below the next tier up.
    pub boundary_weight: f64,
    /// Points below a tier boundary at which its pull has fallen by e.
    pub boundary_scale: f64,
    /// Extra log-odds for a voter banned from travel, fading with the points still needed.
    pub banned_weight: f64,
    /// Log-odds removed for the strongest tie to the offender (ties are mostly weak).
    pub tie_weight: f64,
    /// Extra log-odds per unit of the group's past expulsion rate above one half.
    pub conformity_weight: f64,
}

impl Default for VotingConfig {
    fn default() -> Self {
        VotingConfig {
            model: VotingModel::Logistic,
            answer_rate: 0.9,
            intercept: 0.3,
            disposition_sd: 1.5,
            group_culture_sd: 0.6,
            boundary_weight: 1.5,
            boundary_scale: 20.0,
            banned_weight: 2.0,
            tie_weight: 3.0,
            conformity_weight: 1.0,
        }
    }
}

/// A shopping festival: more buying on its days (overlapping festivals multiply).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignDay {
    pub name: String,
    /// Last day of the festival, as a day of the year (0 = 1 January).
    pub day_of_year: u32,
    /// How many days it lasts, ending on `day_of_year`.
    #[serde(default = "one_day")]
    pub days: u32,
    /// Buying rate multiplier on those days.
    pub multiplier: f64,
}

fn one_day() -> u32 {
    1
}

impl CampaignDay {
    /// Whether a day of the year falls in the festival (festivals may wrap the new year).
    pub fn covers(&self, day_of_year: u32) -> bool {
        let back = (self.day_of_year + 365 - day_of_year) % 365;
        back < self.days
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommerceConfig {
    pub enabled: bool,
    /// Products per interest topic (plus the travel tickets).
    pub products_per_topic: u32,
    /// Train and plane tickets in the catalogue.
    pub travel_products: u32,
    /// Median list price of a product, in yuan (log-normal).
    pub price_median_yuan: f64,
    pub price_sigma: f64,
    /// Mean individual orders per citizen per day (favourites, KOL promotions, tickets).
    pub buy_rate_mean: f64,
    /// Favourite products per citizen.
    pub favourites: u32,
    /// Orders per group member per day on the group's deal of the day (the group buy).
    pub deal_rate: f64,
    /// Gamma shape of a deal's appeal (mean 1; small: a few deals are hits).
    pub deal_appeal_shape: f64,
    /// Share of orders that are travel tickets.
    pub travel_share: f64,
    /// Mean extra units per order (units = 1 + Poisson(mean)).
    pub extra_units_mean: f64,
    /// Mean daily probability of a scandal per product.
    pub scandal_rate: f64,
    pub campaign_days: Vec<CampaignDay>,
}

fn campaign(name: &str, day_of_year: u32, days: u32, multiplier: f64) -> CampaignDay {
    CampaignDay { name: name.into(), day_of_year, days, multiplier }
}

/// China's shopping festivals: 618 (JD.com, 1–18 June), Singles' Day (Alibaba, presales
/// from 21 October, peak 11 November), Double 12 (12 December).
pub fn default_campaigns() -> Vec<CampaignDay> {
    vec![
        campaign("618 season", 168, 18, 1.5),
        campaign("618", 168, 1, 2.0),
        campaign("Singles' Day season", 314, 22, 1.5),
        campaign("Singles' Day 11.11", 314, 1, 3.0),
        campaign("Double 12", 345, 1, 2.0),
    ]
}

impl Default for CommerceConfig {
    fn default() -> Self {
        CommerceConfig {
            enabled: true,
            products_per_topic: 20,
            travel_products: 12,
            price_median_yuan: 60.0,
            price_sigma: 0.9,
            buy_rate_mean: 0.04,
            favourites: 6,
            deal_rate: 0.04,
            deal_appeal_shape: 1.0,
            travel_share: 0.2,
            extra_units_mean: 0.5,
            scandal_rate: 0.0005,
            campaign_days: default_campaigns(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KolConfig {
    /// KOLs per million citizens (at least 4 in any run).
    pub per_million: f64,
    /// KOLs each citizen follows.
    pub follows_per_citizen: u32,
    /// Zipf exponent of KOL popularity (follower counts are heavy-tailed).
    pub zipf_exponent: f64,
    pub promotions_per_day: u32,
    /// Probability that a follower buys a promoted product in place, at credibility 1.
    pub conversion: f64,
}

impl Default for KolConfig {
    fn default() -> Self {
        KolConfig {
            per_million: 500.0,
            follows_per_citizen: 3,
            zipf_exponent: 1.1,
            promotions_per_day: 1,
            conversion: 0.6,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppealModel {
    /// Probability that a falsely identified citizen appeals.
    pub file_rate_false: f64,
    /// Probability that a real offender appeals.
    pub file_rate_true: f64,
    /// Probability that the operator grants an appeal of a false identification.
    pub grant_rate_false: f64,
    pub grant_rate_true: f64,
    /// Days between filing and decision.
    pub review_days: u32,
}

impl Default for AppealModel {
    fn default() -> Self {
        AppealModel {
            file_rate_false: 0.4,
            file_rate_true: 0.05,
            grant_rate_false: 0.5,
            grant_rate_true: 0.05,
            review_days: 14,
        }
    }
}

/// Who denounces whom, and how reports are decided (ours: the article gives no figures).
///
/// Honest reports: a group-mate witnesses misconduct the cameras missed
/// (`witness_rate` of it) and files a report with a probability that starts at
/// `propensity`, rises with what a voucher is worth to the witness (`voucher_weight` ×
/// their buying rate relative to the mean) and with every report already filed in the
/// group that day (`contagion`). Malicious reports: a fixed `malicious_share` of
/// citizens each file, on a given day with probability `malicious_rate`, a report against
/// a random group-mate who did nothing. A report is confirmed with `confirm_rate_true`
/// when the accused did it, `confirm_rate_false` when not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DenunciationModel {
    pub witness_rate: f64,
    pub propensity: f64,
    pub voucher_weight: f64,
    pub contagion: f64,
    pub malicious_share: f64,
    pub malicious_rate: f64,
    pub confirm_rate_true: f64,
    pub confirm_rate_false: f64,
}

impl Default for DenunciationModel {
    fn default() -> Self {
        DenunciationModel {
            witness_rate: 0.3,
            propensity: 0.3,
            voucher_weight: 0.5,
            contagion: 0.2,
            malicious_share: 0.01,
            malicious_rate: 0.01,
            confirm_rate_true: 0.7,
            confirm_rate_false: 0.2,
        }
    }
}

/// Everything the simulation assumes about people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorldConfig {
    /// Interest topics (product categories follow them).
    pub topics: u32,
    /// Regions (provinces) citizens live in.
    pub regions: u32,
    /// How the initial groups are formed.
    pub grouping: GroupingMethod,
    pub interests: InterestConfig,
    pub misconduct: MisconductConfig,
    pub cameras: CameraConfig,
    pub voting: VotingConfig,
    pub commerce: CommerceConfig,
    pub kols: KolConfig,
    pub appeals: AppealModel,
    /// Citizens denouncing citizens (acts only when `[policy.denunciation] enabled`).
    pub denunciation: DenunciationModel,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            topics: 16,
            regions: 31,
            grouping: GroupingMethod::Balanced,
            interests: InterestConfig::default(),
            misconduct: MisconductConfig::default(),
            cameras: CameraConfig::default(),
            voting: VotingConfig::default(),
            commerce: CommerceConfig::default(),
            kols: KolConfig::default(),
            appeals: AppealModel::default(),
            denunciation: DenunciationModel::default(),
        }
    }
}

fn probability(key: &str, v: f64) -> Result<(), (String, String)> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err((key.into(), format!("{v} is not a probability in [0, 1]")))
    }
}

fn positive(key: &str, v: f64) -> Result<(), (String, String)> {
    if v.is_finite() && v > 0.0 { Ok(()) } else { Err((key.into(), format!("{v} must be a positive number"))) }
}

fn finite(key: &str, v: f64) -> Result<(), (String, String)> {
    if v.is_finite() { Ok(()) } else { Err((key.into(), format!("{v} must be a finite number"))) }
}

impl WorldConfig {
    /// Checks every value; keys are relative to `world.`.
    pub fn check(&self, policy: &Policy) -> Result<(), (String, String)> {
        if self.topics == 0 || self.topics > 64 {
            return Err(("topics".into(), "must be between 1 and 64".into()));
        }
        if self.regions == 0 || self.regions > 1000 {
            return Err(("regions".into(), "must be between 1 and 1000".into()));
        }
        positive("interests.concentration", self.interests.concentration)?;
        if !(0.0..=5.0).contains(&self.interests.popularity_exponent) {
            return Err(("interests.popularity_exponent".into(), "must be between 0 and 5".into()));
        }
        probability("misconduct.daily_rate_mean", self.misconduct.daily_rate_mean)?;
        positive("misconduct.heterogeneity", self.misconduct.heterogeneity)?;
        if self.misconduct.kinds.is_empty() {
            return Err(("misconduct.kinds".into(), "needs at least one incident kind with a weight".into()));
        }
        for (name, &w) in &self.misconduct.kinds {
            if !policy.incident_kinds.iter().any(|k| &k.name == name) {
                let known: Vec<&str> = policy.incident_kinds.iter().map(|k| k.name.as_str()).collect();
                return Err((
                    format!("misconduct.kinds.{name}"),
                    format!("is not an incident kind of the policy ({})", known.join(", ")),
                ));
            }
            if !(w.is_finite() && w >= 0.0) {
                return Err((format!("misconduct.kinds.{name}"), "a weight is a non-negative number".into()));
            }
        }
        probability("misconduct.debtor_share", self.misconduct.debtor_share)?;
        if self.misconduct.debtor_report_days == 0 || self.misconduct.debtor_report_days > 3650 {
            return Err(("misconduct.debtor_report_days".into(), "must be between 1 and 3650".into()));
        }
        if self.misconduct.debtor_share > 0.0
            && !policy.incident_kinds.iter().any(|k| k.name == self.misconduct.debtor_kind)
        {
            return Err((
                "misconduct.debtor_kind".into(),
                format!("{:?} is not an incident kind of the policy", self.misconduct.debtor_kind),
            ));
        }
        if self.misconduct.kinds.values().sum::<f64>() <= 0.0 {
            return Err(("misconduct.kinds".into(), "at least one weight must be positive".into()));
        }
        probability("cameras.detection_rate", self.cameras.detection_rate)?;
        probability("cameras.false_identification_rate", self.cameras.false_identification_rate)?;
        let v = &self.voting;
        probability("voting.answer_rate", v.answer_rate)?;
        for (k, x) in [
            ("voting.intercept", v.intercept),
            ("voting.boundary_weight", v.boundary_weight),
            ("voting.banned_weight", v.banned_weight),
            ("voting.tie_weight", v.tie_weight),
            ("voting.conformity_weight", v.conformity_weight),
        ] {
            finite(k, x)?;
        }
        if !(v.disposition_sd.is_finite() && v.disposition_sd >= 0.0) {
            return Err(("voting.disposition_sd".into(), "must be ≥ 0".into()));
        }
        if !(v.group_culture_sd.is_finite() && v.group_culture_sd >= 0.0) {
            return Err(("voting.group_culture_sd".into(), "must be ≥ 0".into()));
        }
        positive("voting.boundary_scale", v.boundary_scale)?;
        let c = &self.commerce;
        if c.products_per_topic == 0 || c.products_per_topic > 100_000 {
            return Err(("commerce.products_per_topic".into(), "must be between 1 and 100000".into()));
        }
        if c.travel_products > 100_000 {
            return Err(("commerce.travel_products".into(), "at most 100000".into()));
        }
        positive("commerce.price_median_yuan", c.price_median_yuan)?;
        if !(c.price_sigma.is_finite() && (0.0..=3.0).contains(&c.price_sigma)) {
            return Err(("commerce.price_sigma".into(), "must be between 0 and 3".into()));
        }
        if !(c.buy_rate_mean.is_finite() && (0.0..=10.0).contains(&c.buy_rate_mean)) {
            return Err(("commerce.buy_rate_mean".into(), "must be between 0 and 10 orders a day".into()));
        }
        if c.favourites == 0 || c.favourites > xinyong_engine::directory::FAVOURITES_MAX as u32 {
            return Err(("commerce.favourites".into(), "must be between 1 and 16".into()));
        }
        if !(c.deal_rate.is_finite() && (0.0..=10.0).contains(&c.deal_rate)) {
            return Err(("commerce.deal_rate".into(), "must be between 0 and 10 orders a day".into()));
        }
        positive("commerce.deal_appeal_shape", c.deal_appeal_shape)?;
        probability("commerce.travel_share", c.travel_share)?;
        if c.travel_share > 0.0 && c.travel_products == 0 {
            return Err(("commerce.travel_share".into(), "needs travel_products > 0".into()));
        }
        if !(c.extra_units_mean.is_finite() && (0.0..=16.0).contains(&c.extra_units_mean)) {
            return Err(("commerce.extra_units_mean".into(), "must be between 0 and 16".into()));
        }
        probability("commerce.scandal_rate", c.scandal_rate)?;
        for (i, day) in c.campaign_days.iter().enumerate() {
            if day.day_of_year > 364 {
                return Err((format!("commerce.campaign_days[{i}].day_of_year"), "0 to 364".into()));
            }
            if day.days == 0 || day.days > 365 {
                return Err((format!("commerce.campaign_days[{i}].days"), "1 to 365".into()));
            }
            if !(day.multiplier.is_finite() && (0.0..=100.0).contains(&day.multiplier)) {
                return Err((format!("commerce.campaign_days[{i}].multiplier"), "0 to 100".into()));
            }
        }
        let k = &self.kols;
        if !(k.per_million.is_finite() && (0.0..=1_000_000.0).contains(&k.per_million)) {
            return Err(("kols.per_million".into(), "must be between 0 and 1000000".into()));
        }
        if k.follows_per_citizen > xinyong_engine::directory::FOLLOWS_MAX as u32 {
            return Err(("kols.follows_per_citizen".into(), "at most 64".into()));
        }
        if !(k.zipf_exponent.is_finite() && (0.0..=5.0).contains(&k.zipf_exponent)) {
            return Err(("kols.zipf_exponent".into(), "must be between 0 and 5".into()));
        }
        if k.promotions_per_day > 16 {
            return Err(("kols.promotions_per_day".into(), "at most 16".into()));
        }
        probability("kols.conversion", k.conversion)?;
        let a = &self.appeals;
        probability("appeals.file_rate_false", a.file_rate_false)?;
        probability("appeals.file_rate_true", a.file_rate_true)?;
        probability("appeals.grant_rate_false", a.grant_rate_false)?;
        probability("appeals.grant_rate_true", a.grant_rate_true)?;
        if a.review_days == 0 || a.review_days > 365 {
            return Err(("appeals.review_days".into(), "must be between 1 and 365".into()));
        }
        let n = &self.denunciation;
        probability("denunciation.witness_rate", n.witness_rate)?;
        probability("denunciation.propensity", n.propensity)?;
        probability("denunciation.malicious_share", n.malicious_share)?;
        probability("denunciation.malicious_rate", n.malicious_rate)?;
        probability("denunciation.confirm_rate_true", n.confirm_rate_true)?;
        probability("denunciation.confirm_rate_false", n.confirm_rate_false)?;
        for (key, v) in [("denunciation.voucher_weight", n.voucher_weight), ("denunciation.contagion", n.contagion)] {
            if !(v.is_finite() && (0.0..=10.0).contains(&v)) {
                return Err((key.into(), format!("{v} must be between 0 and 10")));
            }
        }
        Ok(())
    }

    /// Number of KOLs for a population.
    pub fn kol_count(&self, citizens: u32) -> u32 {
        let n = (citizens as f64 * self.kols.per_million / 1e6).round() as u32;
        n.max(4)
    }
}
